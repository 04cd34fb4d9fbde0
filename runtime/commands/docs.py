"""`leadrules docs FILE`: the scoring sheet — the rule file in words, with its tests as worked examples
and its `rules_sha256` — as markdown or a self-contained HTML page to print and sign. See docs/cli.md
("docs"); the content is runtime/analysis/sheet.py, the rendering runtime/report/sheet.py.
"""
from __future__ import annotations

import click

from runtime.commands.options import as_of_option


@click.command("docs")
@click.argument("file")
@click.option("--format", "fmt", type=click.Choice(["markdown", "html"]), default="markdown", show_default=True,
              help="markdown for a repository or wiki; html: one self-contained page to print and sign.")
@click.option("-o", "--output", "out", default=None, metavar="FILE", help="Write the sheet to FILE instead of stdout.")
@as_of_option
def docs(file, fmt, out, as_of):
    """The scoring sheet of FILE: every dimension with its criteria in words, bands, routes with SLAs,
    disqualification reasons, account scoring, the tests as worked examples, and the ruleset's name,
    version and hash — the page Marketing and Sales sign. Tests without `as of` are run as of --as-of (default:
    today)."""
    from runtime.analysis.sheet import sheet
    from runtime.backends.load import load_rules
    from runtime.report import sheet as render
    from runtime.report.html import write_page

    rules = load_rules(file)
    doc = sheet(rules, as_of)
    write_page(render.as_html(doc) if fmt == "html" else render.as_markdown(doc), out, "scoring sheet")
