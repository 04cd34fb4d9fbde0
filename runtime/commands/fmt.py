"""`leadrules fmt FILE…`: rewrite rule files in the one canonical layout (docs/formatting.md).

Default: rewrite each file in place when its layout changes and say which files were reformatted.
`--check`: change nothing, exit 1 when a file would change. `--diff`: print unified diffs, change
nothing. `-` formats stdin to stdout. A file that does not parse: its diagnostics, exit 2.
"""
from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

from dsl.diagnostics import RuleError
from runtime.commands.options import EXIT_ERROR, EXIT_FAIL, EXIT_OK, Failure
from runtime.io.files import open_output


def _print_diagnostics(err: RuleError, display: str, text: str) -> None:
    from runtime.report import diagnostics as render

    click.echo(render.text(list(err.diagnostics), {display: text}), err=True)


def _read(name: str) -> str:
    if name == "-":
        data = sys.stdin.buffer.read()
    else:
        data = Path(name).read_bytes()
    return data.decode("utf-8")


def _write(path: Path, text: str) -> None:
    # open_output: a temporary file renamed over the rule file (a failure never leaves a truncated
    # one), no "\n" -> "\r\n" translation, the file's permissions kept
    with open_output(str(path)) as fh:
        fh.write(text)


@click.command("fmt")
@click.argument("files", nargs=-1, required=True)
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if a file is not formatted.")
@click.option("--diff", "show_diff", is_flag=True, help="Change nothing; print what formatting would change.")
def fmt(files, check, show_diff):
    """Rewrite rule files in the one canonical layout, keeping every comment.

    FILE may be `-` to format stdin to stdout.
    """
    from dsl.formatter import format_text

    write = not (check or show_diff)
    changed: list[str] = []      # display names of the inputs whose layout changes
    unchanged = broken = 0
    for name in files:
        display = "<stdin>" if name == "-" else name
        try:
            text = _read(name)
        except FileNotFoundError:
            click.echo(f"error: {name}: no such file", err=True)
            broken += 1
            continue
        except IsADirectoryError:
            click.echo(f"error: {name}: is a directory, not a rule file", err=True)
            broken += 1
            continue
        except OSError as e:
            click.echo(f"error: {name}: cannot read ({e.strerror})", err=True)
            broken += 1
            continue
        except UnicodeDecodeError as e:
            click.echo(f"error: {display}: not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8",
                       err=True)
            broken += 1
            continue
        try:
            out = format_text(text, display)
        except RuleError as e:
            _print_diagnostics(e, display, text)
            click.echo(f"{display}: not formatted: it does not parse", err=True)
            broken += 1
            continue
        if out == text:
            unchanged += 1
        else:
            changed.append(display)
        if show_diff and out != text:
            diff = difflib.unified_diff(text.splitlines(keepends=True), out.splitlines(keepends=True),
                                        f"{display} (original)", f"{display} (formatted)")
            for line in diff:
                click.echo(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n", nl=False)
        if name == "-":
            if write:
                click.echo(out, nl=False)
            continue
        if write and out != text:
            try:
                _write(Path(name), out)
            except Failure as e:  # open_output: "<file>: cannot write (...)"
                click.echo(f"error: {e}", err=True)
                broken += 1
                changed.remove(display)
                continue
            click.echo(f"reformatted {name}")

    if check:
        for name in changed:
            click.echo(f"would reformat {name}")
    if not (write and files == ("-",)):
        # The summary goes to stderr: stdout carries only file names, diffs (and, for `-`, the text).
        plural = "s" if len(changed) != 1 else ""
        summary = f"{len(changed)} file{plural} {'would be reformatted' if not write else 'reformatted'}, " \
                  f"{unchanged} already formatted"
        if broken:
            summary += f", {broken} could not be formatted"
        click.echo(summary, err=True)
    ctx = click.get_current_context()
    if broken:
        ctx.exit(EXIT_ERROR)
    if check and changed:
        ctx.exit(EXIT_FAIL)
    ctx.exit(EXIT_OK)
