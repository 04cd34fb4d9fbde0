"""`leadrules test`: run the `test` blocks of rule files."""
from __future__ import annotations

import sys

import click

from dsl.diagnostics import RuleError
from runtime.commands.options import EXIT_ERROR, EXIT_FAIL, as_of_option, print_rule_error, today_utc


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("-k", "select", default=None, help="Only tests whose name contains this text.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit"]), default="text", show_default=True)
@as_of_option
def test(files, select, fmt, as_of):
    """Run the `test` blocks of rule files."""
    from runtime.backends.load import load_rules
    from runtime.analysis.testing import run_tests
    from runtime.report import tests as testreport

    default = as_of or today_utc()
    results, broken = [], False
    for f in files:
        try:
            rules = load_rules(f)
        except RuleError as e:
            print_rule_error(e)
            broken = True
            continue
        results.append((f, run_tests(rules.engine, default, select)))
    if broken and not results:
        # nothing ran: a "0 passed, 0 failed" summary would read as success
        click.echo(f"error: no tests ran: {'the rule file does' if len(files) == 1 else 'no rule file does'} "
                   "not compile", err=True)
        sys.exit(EXIT_ERROR)
    if fmt == "json":
        click.echo(testreport.as_json(results))
    elif fmt == "junit":
        click.echo(testreport.as_junit(results))
    else:
        from runtime.report.term import is_tty

        click.echo(testreport.as_text(results, color=is_tty()))
    if broken:
        sys.exit(EXIT_ERROR)
    if any(not o.passed for _, outs in results for o in outs):
        sys.exit(EXIT_FAIL)
