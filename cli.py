"""The `leadrules` command line (see docs/cli.md and ../shared/CLI.md).

Exit codes for every command: 0 done; 1 a check failed (lint errors, a failing test, a broken
guardrail, a diff over its gate); 2 could not run (bad usage, unreadable file, a rule file that does not
compile, bad input rows under `--on-bad-row fail`). A user's mistake never ends in a traceback.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

import click

from dsl.diagnostics import RuleError

from runtime.commands.options import (EXIT_ERROR, EXIT_FAIL, EXIT_OK, Failure, as_of_option, beside,
                             input_options, input_summary, schema_of, today_utc)
from runtime.backends.scoring import engine_options


def _print_rule_error(err: RuleError, sources: dict[str, str] | None = None) -> None:
    from runtime.report import diagnostics as render

    diags = [d for d in err.diagnostics]
    if sources is None:
        sources = {}
        for d in diags:
            if d.file not in sources:
                try:
                    sources[d.file] = Path(d.file).read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    sources[d.file] = ""
    click.echo(render.text(diags, sources), err=True)
    n = sum(1 for d in diags if d.is_error)
    click.echo(f"{diags[0].file if diags else 'rule file'}: does not compile ({n} error{'s' if n != 1 else ''}); "
               f"run `leadrules lint` for details", err=True)


class LeadrulesGroup(click.Group):
    """Turns every user-facing failure into a message and exit code 2 instead of a traceback."""

    def invoke(self, ctx):
        from runtime.io.readers import BadRowsError, InputError
        from runtime.backends.load import RulesInputError

        try:
            return super().invoke(ctx)
        except RuleError as e:
            _print_rule_error(e)
            ctx.exit(EXIT_ERROR)
        except (RulesInputError, InputError) as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(EXIT_ERROR)
        except BadRowsError as e:
            click.echo(f"error: bad input rows (use --on-bad-row skip --rejects FILE to set them aside):\n{e}", err=True)
            ctx.exit(EXIT_ERROR)
        except Failure as e:
            click.echo(f"error: {e}", err=True)
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
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as e:  # an internal bug: say so plainly; the traceback only on request
            if os.environ.get("LEADRULES_DEBUG"):
                raise
            click.echo(f"internal error: {type(e).__name__}: {e}\n"
                       "This is a bug in leadrules, not in your input. Set LEADRULES_DEBUG=1 to see the "
                       "traceback and please report it.", err=True)
            ctx.exit(EXIT_ERROR)


# Commands that live in their own modules, loaded only when used (fast start-up, small cli.py).
LAZY_COMMANDS = {
    "simulate": "runtime.commands.simulate:simulate",
    "diff": "runtime.commands.diff:diff",
    "fmt": "runtime.commands.fmt:fmt",
    "compile": "runtime.commands.compile:compile_cmd",
    "sample": "runtime.commands.sample:sample",
    "calibrate": "runtime.commands.calibrate:calibrate",
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


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="leadrules", prog_name="leadrules")
def main():
    """leadrules: lead scoring as code — lint, test, simulate, diff, explain and score rule files."""


# ---- lint ---------------------------------------------------------------------------------------


@main.command()
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
        checked = check_text(text, f)
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
        click.echo(render.summary(diags, len(sources)))
    for msg in unreadable:
        click.echo(f"error: {msg}", err=True)
    if unreadable:
        sys.exit(EXIT_ERROR)
    errors = any(d.is_error for d in diags)
    if errors or (strict and diags):
        sys.exit(EXIT_FAIL)


# ---- test ---------------------------------------------------------------------------------------


@main.command()
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
            _print_rule_error(e)
            broken = True
            continue
        results.append((f, run_tests(rules.engine, default, select)))
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


# ---- explain ------------------------------------------------------------------------------------


@main.command()
@click.argument("file")
@click.option("--lead", "lead_json", default=None, help="The lead as a JSON object (events embedded).")
@click.option("--leads", "leads_path", default=None, help="A leads file to find the lead in (with --id).")
@click.option("--id", "lead_id", default=None, help="The id of the lead to explain.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@input_options
@as_of_option
def explain(file, lead_json, leads_path, lead_id, fmt, events_path, on_bad_row, rejects, id_field, as_of):
    """Show why one lead gets its scores, grade and route, criterion by criterion."""
    from dsl import nodes as n
    from runtime.analysis import explain as ex
    from runtime.backends.closure import date_ordinal
    from runtime.io.readers import lead_from_object
    from runtime.backends.load import load_rules
    from runtime.report.term import console, is_tty

    rules = load_rules(file)
    engine = rules.engine
    schema = schema_of(rules, id_field)
    if (lead_json is None) == (leads_path is None):
        raise click.UsageError("give either --lead JSON or --leads PATH --id ID")
    if lead_json is not None:
        try:
            obj = json.loads(lead_json)
        except json.JSONDecodeError as e:
            raise Failure(f"--lead is not valid JSON: {e.msg} at column {e.colno}")
        if not isinstance(obj, dict):
            raise Failure("--lead must be a JSON object, like '{\"title\": \"VP Sales\"}'")
        lead = lead_from_object(obj, schema)
    else:
        if lead_id is None:
            raise click.UsageError("--leads needs --id ID to pick the lead")
        lead = _find_lead(leads_path, schema, events_path, lead_id, on_bad_row)
    asof = date_ordinal((as_of or today_utc()).isoformat())
    others = ()
    if leads_path is not None and engine.checked.file.first(n.Accounts) is not None:
        from runtime.io.readers import LeadReader

        # the rest of its account: the file's other leads with the same key (runtime/accounts.py)
        others = LeadReader(leads_path, schema, events_path=events_path, on_bad_row="skip")
    d = ex.as_dict(engine, lead, asof, others)
    if fmt == "json":
        click.echo(ex.as_json(d))
    else:
        console().print(ex.render_text(d, is_tty()))


def _find_lead(path, schema, events_path, lead_id, on_bad_row):
    from runtime.io.readers import LeadReader

    reader = LeadReader(path, schema, events_path=events_path, on_bad_row=on_bad_row)
    for lead in reader:
        if lead.id == lead_id:
            return lead
    raise Failure(f"{path}: no lead with id {lead_id!r} ({reader.read:,} rows read)")


# ---- score --------------------------------------------------------------------------------------


@main.command()
@click.argument("file")
@click.option("--leads", "leads_path", required=True, help="Leads: .jsonl, .csv, .parquet (.gz), or - for stdin.")
@click.option("-o", "--output", default=None, help="Write here instead of stdout; .csv for CSV, else JSONL.")
@click.option("--explain", "with_explain", is_flag=True, help="Add the points of every criterion that fired.")
@input_options
@as_of_option
@engine_options
def score(file, leads_path, output, with_explain, events_path, on_bad_row, rejects, id_field, as_of, engine, workers):
    """Score leads and stream one result per lead, in input order."""
    from runtime.backends import scoring
    from runtime.io.writers import ScoredWriter
    from runtime.report.progress import progress
    from runtime.backends.load import load_rules

    rules = load_rules(file)
    scoring.check_engine(rules, engine, leads_path, events_path)
    day = as_of or today_utc()
    rejects_path = rejects
    if on_bad_row == "skip" and rejects_path is None and output not in (None, "-"):
        rejects_path = beside(output, ".rejects.jsonl")
    rej_fh = open(rejects_path, "w", encoding="utf-8") if (on_bad_row == "skip" and rejects_path) else None
    opts = dict(as_of=day, workers=workers, events_path=events_path, on_bad_row=on_bad_row, rejects=rej_fh,
                id_field=id_field, note=lambda text: click.echo(text, err=True))
    # the fast path: output lines straight from the generated scorer, or DuckDB's rows a batch at a time
    fmt = "csv" if (output or "").lower().endswith((".csv", ".csv.gz")) else "jsonl"
    chunks = scoring.text_chunks(rules, leads_path, fmt=fmt, explain=with_explain, engine=engine, **opts)
    src = chunks if chunks is not None else \
        scoring.results(rules, leads_path, engine=engine, criteria=with_explain, **opts)
    writer = ScoredWriter(rules.engine, output, explain=with_explain)
    scored = 0
    try:
        if chunks is not None:
            write = writer.fh.write
            for chunk in scoring.chunk_progress(chunks, "scoring"):
                write(chunk)
            scored = chunks.scored
        else:
            with progress(src, "scoring") as results:
                w = writer.write
                for r in results:
                    w(r)
                    scored += 1
    finally:
        writer.close()
        if rej_fh:
            rej_fh.close()
    input_summary(src, scored, rejects_path if rej_fh else None)


if __name__ == "__main__":
    main()
