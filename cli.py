"""The `leadrules` command line (docs/cli.md): the group, the error → exit-code mapping and the command table.

Exit codes for every command: 0 done; 1 a check failed (lint errors, a failing test, a broken
guardrail, a diff over its gate); 2 could not run (bad usage, unreadable file, a rule file that does not
compile, bad input rows under `--on-bad-row fail`). A user's mistake never ends in a traceback.
"""
from __future__ import annotations

import os
import signal
import sys

import click

from runtime.core.errors import EXIT_ERROR, EXIT_OK, Failure, InputError


def _never_unencodable() -> None:
    """Reports use a few characters beyond ASCII (→, ✅, ·). On a stream whose encoding lacks them
    (`PYTHONIOENCODING=cp1252`, a Windows console or file) they are written as backslash escapes
    (\\u2192), so the output keeps the user's encoding, loses nothing and never crashes."""
    for stream in (sys.stdout, sys.stderr):
        enc = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
        if enc and enc not in ("utf8", "utf8sig") and getattr(stream, "errors", "") == "strict":
            try:
                stream.reconfigure(errors="backslashreplace")
            except (AttributeError, ValueError, OSError):
                pass


class Terminated(BaseException):
    """SIGTERM, raised where the process is so that output files are discarded (runtime/io/files.py)."""


def _on_sigterm():
    """Turn SIGTERM into `Terminated` while a command runs (main thread only); returns the old handler."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    me = os.getpid()

    def handler(signum, frame):
        if os.getpid() != me:  # a forked worker (--workers) inherits the handler: die as usual
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise Terminated()
    handler.leadrules = True
    try:
        return signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):
        return None


_held: list = []  # the handler set aside while the process forks


def _sigterm_default_for_fork() -> None:
    """A forked worker (--workers, the DuckDB engine's readers) must die on SIGTERM, the signal its
    pool ends it with. One stuck in C code (a lock another thread of the parent held at fork:
    DuckDB's, Arrow's) never runs a Python handler, so with `handler` above inherited the pool waited
    for it for ever. So the default disposition is in place across the fork itself (the child starts
    with it, whatever it runs first) and the parent's handler comes back right after."""
    h = signal.getsignal(signal.SIGTERM)
    if getattr(h, "leadrules", False):
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _held.append(h)
        except (ValueError, OSError):  # not the main thread: the child's hook below does it
            pass


def _sigterm_back_in_parent() -> None:
    if _held:
        signal.signal(signal.SIGTERM, _held.pop())


def _sigterm_default_in_child() -> None:
    _held.clear()
    if getattr(signal.getsignal(signal.SIGTERM), "leadrules", False):
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        except (ValueError, OSError):
            pass


os.register_at_fork(before=_sigterm_default_for_fork, after_in_parent=_sigterm_back_in_parent,
                    after_in_child=_sigterm_default_in_child)


class _ClosedStdout:
    """sys.stdout when the process started without one: writing is a clear error, not a crash."""

    encoding, errors = "utf-8", "strict"

    def write(self, s):
        if s:
            raise Failure("standard output is closed: nothing can be printed (write to a file with -o FILE, "
                          "or redirect the output)")
        return 0

    def flush(self):
        pass

    def isatty(self):
        return False


def _flush_stdout(ctx) -> None:
    """Output still buffered for stdout is written now, where a full disk can be reported."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        pass
    except OSError as e:
        try:
            sys.stdout = open(os.devnull, "w")  # nothing more to write there
        except OSError:
            pass
        click.echo(f"error: cannot write the output: {e.strerror or e}", err=True)
        ctx.exit(EXIT_ERROR)


class _NeverRaised(Exception):
    """Stands for an error class whose module was never imported (so it cannot have been raised)."""


def _reader_error(name: str) -> type:
    """runtime/io/readers.py's error class `name`, looked up when an exception is matched (an `except`
    clause is evaluated then): a command that never imported the readers cannot have raised it, and
    `lint` and `test` start faster without importing them."""
    readers = sys.modules.get("runtime.io.readers")
    return getattr(readers, name) if readers is not None else _NeverRaised


class LeadrulesGroup(click.Group):
    """Turns every user-facing failure into a message and exit code 2 instead of a traceback."""

    def invoke(self, ctx):
        _never_unencodable()
        if sys.stdout is None:  # started with stdout closed (`>&-`): say so if anything is printed
            sys.stdout = _ClosedStdout()
        old_term = _on_sigterm()
        try:
            code = self._invoke(ctx)
            _flush_stdout(ctx)
            return code
        finally:
            if old_term is not None:
                signal.signal(signal.SIGTERM, old_term)

    def _invoke(self, ctx):
        # imported here, not at the top, so that `leadrules --help` starts without them
        from dsl.diagnostics import RuleError
        from runtime.backends.load import RulesInputError
        from runtime.commands.options import print_rule_error
        from runtime.report.term import clean


        try:
            return super().invoke(ctx)
        except RuleError as e:
            print_rule_error(e)
            ctx.exit(EXIT_ERROR)
        except (RulesInputError, InputError) as e:
            click.echo(clean(f"error: {e}"), err=True)
            ctx.exit(EXIT_ERROR)
        except _reader_error("BadRowsError") as e:
            click.echo(clean(f"error: bad input rows (use --on-bad-row skip --rejects FILE to set them aside):\n{e}"),
                       err=True)
            ctx.exit(EXIT_ERROR)
        except Failure as e:
            click.echo(clean(f"error: {e}"), err=True)
            ctx.exit(e.code)
        except BrokenPipeError:
            try:
                sys.stdout = open(os.devnull, "w")
            except OSError:
                pass
            ctx.exit(EXIT_OK)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Terminated:
            click.echo("terminated", err=True)
            ctx.exit(143)
        except OSError as e:  # the disk is full, a device fails: what and where, not a traceback
            where = f"{e.filename}: " if getattr(e, "filename", None) else ""
            click.echo(clean(f"error: {where}{e.strerror or e}"), err=True)
            ctx.exit(EXIT_ERROR)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as e:  # an internal bug: say so plainly; the traceback only on request
            if os.environ.get("LEADRULES_DEBUG"):
                raise
            click.echo(f"internal error: {type(e).__name__}: {e}\n"
                       "This is a bug in leadrules, not in your input. Set LEADRULES_DEBUG=1 to see the "
                       "traceback and please report it.", err=True)
            ctx.exit(EXIT_ERROR)


# The command table: each command lives in runtime/commands/, imported only when used (fast start-up).
LAZY_COMMANDS = {
    "lint": "runtime.commands.lint:lint",
    "test": "runtime.commands.test:test",
    "explain": "runtime.commands.explain:explain",
    "score": "runtime.commands.score:score",
    "simulate": "runtime.commands.simulate:simulate",
    "diff": "runtime.commands.diff:diff",
    "fmt": "runtime.commands.fmt:fmt",
    "compile": "runtime.commands.compile:compile_cmd",
    "sample": "runtime.commands.sample:sample",
    "calibrate": "runtime.commands.calibrate:calibrate",
    "docs": "runtime.commands.docs:docs",
    "lsp": "runtime.commands.lsp:lsp",
    "serve": "runtime.commands.serve:serve",
}


# What `leadrules --help` lists for each command, so that help needs no command module imported; a test
# (tests/test_cli.py) keeps each line equal to its command's docstring.
SUMMARIES = {
    "calibrate": "Learn from outcomes: conversion by grade and route, cherry-picking, missed signals and the "
                 "sales threshold, each lead scored as of the day sales worked it.",
    "compile": "Print FILE compiled to Python or SQL.",
    "docs": "The scoring sheet of FILE: every dimension with its criteria in words, bands, routes with SLAs, "
            "disqualification reasons, account scoring, the tests as worked examples, and the ruleset's name, "
            "version and hash — the page Marketing and Sales sign. Tests without `as of` are run as of --as-of "
            "(default: today).",
    "diff": "Score the same leads under OLD and NEW (paths or REV:PATH) and report what changes: grades, routes "
            "and queues, the rule changes themselves, and the leads that moved.",
    "explain": "Show why one lead gets its scores, grade and route, criterion by criterion.",
    "fmt": "Rewrite rule files in the one canonical layout, keeping every comment.",
    "lint": "Parse and check rule files; report every finding with file, line, column, code and hint.",
    "lsp": "Run the leadrules language server over stdio (diagnostics, formatting, hover, completion, go to "
           "definition, outline, and a code lens that runs each test).",
    "sample": "Write N synthetic leads (JSON Lines, events embedded) that fit FILE's fields and events and are "
              "varied enough to reach every band.",
    "score": "Score leads and stream one result per lead, in input order.",
    "serve": "Serve FILE(s) over HTTP: POST /v1/score, POST /v1/explain, GET /healthz, GET /readyz.",
    "simulate": "Score a sample of leads and report grades, routes, score histograms and criteria; check the "
                "file's simulation guardrails (exit 1 when one breaks).",
    "test": "Run the `test` blocks of rule files.",
}


class LazyGroup(LeadrulesGroup):
    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx, name):
        if name in LAZY_COMMANDS:
            import importlib

            mod, attr = LAZY_COMMANDS[name].split(":")
            return getattr(importlib.import_module(mod), attr)
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter):
        from click.utils import make_default_short_help

        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in SUMMARIES:
                rows.append((name, make_default_short_help(SUMMARIES[name], limit)))
            else:
                cmd = self.get_command(ctx, name)
                if cmd is not None and not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _version(ctx, value) -> None:
    """`leadrules --version`: the version, and which JSON parser reads JSON Lines (msgspec with the
    `fast` extra, else the standard library: the same results, docs/input.md)."""
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import PackageNotFoundError, version

    from runtime.io.fastjson import describe

    try:
        v = version("leadrules")
    except PackageNotFoundError:
        v = "unknown"
    click.echo(f"leadrules, version {v}")
    click.echo(describe())
    ctx.exit(0)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=lambda c, p, v: _version(c, v),
              help="Show the version and which JSON parser reads the input, and exit.")
def main():
    """leadrules: lead scoring as code — lint, test, simulate, diff, explain and score rule files."""


if __name__ == "__main__":
    main()
