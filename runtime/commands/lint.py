"""`leadrules lint`: parse, check and lint rule files; every finding with its position and hint."""
from __future__ import annotations

import sys

import click

from runtime.commands.options import EXIT_ERROR, EXIT_FAIL


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github", "sarif"]), default="text",
              show_default=True)
@click.option("--strict", is_flag=True, help="Warnings fail too (exit 1).")
def lint(files, fmt, strict):
    """Parse and check rule files; report every finding with file, line, column, code and hint."""
    from dsl.checker import check_text
    from dsl.diagnostics import sort_key
    from dsl.lint import lint as lint_findings, suppress
    from runtime.report import diagnostics as render
    from runtime.backends.load import RulesInputError, read_rules_text

    diags, sources, unreadable = [], {}, []
    for f in files:
        try:
            text, _ = read_rules_text(f)
        except RulesInputError as e:
            unreadable.append(str(e))
            continue
        sources[f] = text
        checked = check_text(text, f, cached=True)  # (dsl/parser.py: the tree is kept for the next run)
        diags.extend(suppress(checked.diagnostics + lint_findings(checked), checked.file))
    diags.sort(key=sort_key)
    if fmt == "json":
        click.echo(render.as_json(diags, list(sources)))
    elif fmt == "github":
        out = render.github(diags)
        if out:
            click.echo(out)
    elif fmt == "sarif":
        from runtime.report import sarif

        click.echo(sarif.to_sarif(diags, sources))
    else:
        from runtime.report.term import is_tty

        if diags:
            click.echo(render.text(diags, sources, color=is_tty()))
        if sources or not unreadable:  # "0 files checked: no problems" would read as success
            click.echo(render.summary(diags, len(sources)))
    for msg in unreadable:
        click.echo(f"error: {msg}", err=True)
    if unreadable:
        sys.exit(EXIT_ERROR)
    errors = any(d.is_error for d in diags)
    if errors or (strict and diags):
        sys.exit(EXIT_FAIL)
