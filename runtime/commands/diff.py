"""`leadrules diff OLD NEW`: score the same leads under two versions of a rule file and report what
changes, for the pull request where the change is reviewed. See runtime/analysis/diff.py (the engine),
runtime/report/diff.py (text, markdown, json) and docs/cli.md ("diff").

OLD and NEW are paths or `REV:PATH` git revisions. The leads are `--leads` (and `--events`), else
NEW's `simulation` blocks' leads. Exit 1 when a gate (`--fail-on`, `--max-changed`) is crossed.
"""
from __future__ import annotations

import sys

import click

from runtime.commands.options import (EXIT_FAIL, Failure, as_of_field_option, as_of_option, day_of_field, input_notes,
                                      input_options, input_summary, load_worked_days, text_of, today_utc)
from runtime.backends.scoring import check_engine
from runtime.commands.options import engine_options


class Percent(click.ParamType):
    """`5`, `5%` or `2.5%`: a share of leads, 0 to 100."""

    name = "PCT"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            x = float(value)
        else:
            s = str(value).strip().removesuffix("%").strip()
            try:
                x = float(s)
            except ValueError:
                self.fail(f"{value!r} is not a percentage; write e.g. 5 or 5% (the share of leads that may "
                          "change grade, route or queue)", param, ctx)
        if not 0 <= x <= 100:
            self.fail(f"{value!r} is not between 0 and 100", param, ctx)
        return x


def _gates(values: tuple[str, ...]) -> list[str]:
    from runtime.analysis.diff import GATES

    out = []
    for v in values:
        for g in v.split(","):
            g = g.strip().lower()
            if not g:
                continue
            if g not in GATES:
                raise click.BadParameter(f"{g!r} is not a gate; use grade or route (repeat the option or "
                                         "separate with commas: --fail-on grade,route)", param_hint="--fail-on")
            out.append(g)
    return out


def _load(spec: str, role: str):
    """A rule file for one side; its errors printed with its own text (a revision has no file to read)."""
    from runtime.report import diagnostics as render
    from runtime.backends.load import RulesInputError, load_rules
    from runtime.report.term import is_tty

    try:
        rules = load_rules(spec, require_ok=False)
    except RulesInputError as e:
        msg = str(e)
        if rules_is_rev(spec):
            msg += ("\n  hint: REV:PATH reads PATH (relative to the current directory) as it was at git "
                    "revision REV; check both with `git log --oneline` and `git show REV:PATH`")
        raise Failure(f"{role}: {msg}")
    if rules.engine is None:
        errors = [d for d in rules.checked.diagnostics if d.is_error]
        click.echo(render.text(errors, {spec: rules.text}, color=is_tty(sys.stderr)), err=True)
        raise Failure(f"{role} {spec}: does not compile ({len(errors)} error{'s' if len(errors) != 1 else ''}); "
                      f"run `leadrules lint {spec}` for details")
    return rules


def rules_is_rev(spec: str) -> bool:
    from runtime.backends.load import split_rev

    return split_rev(spec)[0] is not None


def _inputs(old, new, new_spec: str, leads_path, events_path, as_of):
    """NEW's simulation blocks (or --leads) as inputs. A block's path is relative to NEW's file; when
    nothing is there (NEW is a copy edited elsewhere), the same path relative to OLD's file is used."""
    from pathlib import Path

    from dsl import nodes as n

    from runtime.commands.simulate import resolve_path, simulation_runs
    from runtime.analysis.diff import Input

    runs = simulation_runs(new, new_spec, leads_path, events_path, as_of, None)
    if leads_path is None:
        for r, s in zip(runs, new.checked.file.of(n.Simulation)):
            alt = resolve_path(old.base_dir, s.leads)
            if not Path(r.leads).exists() and Path(alt).exists():
                r.leads = alt
                if s.events:
                    r.events = resolve_path(old.base_dir, s.events)
    out, seen = [], set()
    for r in runs:
        key = (r.leads, r.events, r.as_of)
        if key in seen:  # two blocks over the same sample on the same day: score it once
            continue
        seen.add(key)
        out.append(Input(r.name, r.leads, r.events, r.as_of))
    return out


@click.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--leads", "leads_path", default=None,
              help="Leads to score (.jsonl, .csv, .parquet, .gz, - for stdin). Default: NEW's simulation blocks.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json", "html"]), default="text",
              show_default=True, help="markdown is made for a pull-request comment or $GITHUB_STEP_SUMMARY; html is "
                                      "one self-contained page with charts.")
@click.option("-o", "--output", "report_path", default=None, metavar="FILE",
              help="Write the report to FILE instead of stdout.")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True,
              help="How many of the leads that moved to list, biggest score movers first.")
@click.option("--fail-on", "fail_on", multiple=True, metavar="grade|route",
              help="Exit 1 if any lead changes grade / route or queue. Repeat, or separate with commas.")
@click.option("--max-changed", "max_changed", type=Percent(), default=None,
              help="Exit 1 if more than PCT% of the leads change grade, route or queue.")
@input_options
@as_of_option
@as_of_field_option
@engine_options
def diff(old, new, leads_path, fmt, report_path, limit, fail_on, max_changed, events_path, on_bad_row, rejects, id_field,
         delimiter, strict_events, as_of, as_of_field, outcomes_path, engine, workers):
    """Score the same leads under OLD and NEW (paths or REV:PATH) and report what changes: grades,
    routes and queues, the rule changes themselves, and the leads that moved."""
    from runtime.report import diff as diffreport
    from runtime.analysis.diff import evaluate_gates, run_diff

    gates = _gates(fail_on)
    old_rules, new_rules = None, None
    failures = []
    for role, spec in (("OLD", old), ("NEW", new)):
        try:
            r = _load(spec, role)
        except Failure as e:
            failures.append(e)
            continue
        if role == "OLD":
            old_rules = r
        else:
            new_rules = r
    if failures:
        for e in failures[:-1]:
            click.echo(f"error: {e}", err=True)
        raise failures[-1]
    check_engine(old_rules, engine)
    check_engine(new_rules, engine)
    inputs = _inputs(old_rules, new_rules, new, leads_path, events_path, as_of)
    day_of_for = None
    if as_of_field is None:
        day_of_field(new_rules, None, today_utc(), outcomes_path)   # --outcomes alone: exit 2
    if as_of_field is not None:
        from runtime.backends.replay import account_model_of

        worked_days = load_worked_days(outcomes_path) if outcomes_path is not None else None
        for r in (old_rules, new_rules):   # exit 2 unless a date field of both versions (or worked_at)
            day_of_field(r, as_of_field, today_utc(), outcomes_path, worked_days=worked_days)
        if engine == "duckdb":
            raise Failure("--as-of-field scores each lead as of its own date, which the duckdb engine cannot do "
                          "yet: use --engine python")
        if account_model_of(old_rules.engine) is not None or account_model_of(new_rules.engine) is not None:
            raise Failure("--as-of-field: diff scores accounts as of one date; with an accounts block, diff "
                          "without --as-of-field (or replay each version with `leadrules calibrate --scores-out`)")
        day_of_for = lambda d: day_of_field(new_rules, as_of_field, d, worked_days=worked_days)  # noqa: E731
    from runtime.io.files import open_output

    rej_fh = open_output(rejects) if (on_bad_row == "skip" and rejects) else None
    try:
        from runtime.report.progress import progress

        doc, readers = run_diff(old_rules, new_rules, inputs, progress=progress, id_field=id_field,
                                on_bad_row=on_bad_row, rejects=rej_fh, limit=limit, engine=engine, workers=workers,
                                day_of_for=day_of_for, delimiter=delimiter, strict_events=strict_events)
    except BaseException:
        if rej_fh:
            rej_fh.discard()
        raise
    finally:
        if rej_fh:
            rej_fh.close()
    for reader, run in zip(readers, doc["inputs"]):
        input_notes(reader)
        if reader.rejected or reader.bad_events:
            input_summary(reader, run["scored"], rejects if rej_fh else None, notes=False)
    evaluate_gates(doc, gates, max_changed)
    from runtime.report.html import write_page

    if fmt == "html":
        from runtime.report import diff_html

        write_page(diff_html.render(doc), report_path)
    elif fmt == "json":
        write_page(diffreport.as_json(doc) + "\n", report_path)
    elif fmt == "markdown":
        write_page(diffreport.as_markdown(doc), report_path)
    elif report_path not in (None, "-"):
        write_page(text_of(diffreport.print_text, doc), report_path)
    else:
        diffreport.print_text(doc)
    if fmt != "text" or report_path not in (None, "-"):
        for line in diffreport.gate_lines(doc):  # the report may be going to a file: say it where CI shows it
            if line.startswith("FAIL"):
                click.echo(line, err=True)
    if not doc["passed"]:
        sys.exit(EXIT_FAIL)

