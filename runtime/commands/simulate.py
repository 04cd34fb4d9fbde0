"""`leadrules simulate`: score a sample of leads, report what the rules do to it, and check the
file's `simulation` guardrails (exit 1 when one breaks). See docs/simulate.md.

With `--leads`, one run over that file; without, one run per `simulation` block, with its leads and
events paths resolved against the rule file's directory. Leads stream through the engine into a
`runtime.analysis.simulate.Aggregator`, so memory stays flat however many leads there are.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from dsl import nodes as n

from runtime.commands.options import (EXIT_ERROR, EXIT_FAIL, Failure, as_of_field_option, as_of_option, beside,
                                      day_of_field, input_notes, input_options, input_summary, load_worked_days,
                                      schema_of, settle, today_utc)
from runtime.commands.options import DATE, EVERY, engine_options, rejects_output

HOW_TO_ADD = '''add a block like this to the rule file, or pass --leads PATH:

  simulation "weekly sample" {
    leads "samples/leads.jsonl"          # relative to the rule file
    as of 2026-11-01
    expect share of route sales between 5% and 25%
  }'''


class SimRun:
    __slots__ = ("name", "line", "leads", "events", "as_of", "expects")

    def __init__(self, name, line, leads, events, as_of, expects):
        self.name, self.line, self.leads, self.events, self.as_of, self.expects = \
            name, line, leads, events, as_of, expects


def simulation_runs(rules, file: str, leads_path, events_path, as_of, pick) -> list[SimRun]:
    """The runs of `simulate` (and `diff`): one over --leads, else one per simulation block."""
    import datetime as dt

    sims = list(rules.checked.file.of(n.Simulation))
    if pick:
        names = [s.name for s in sims]
        sims = [s for s in sims if s.name == pick]
        if not sims:
            known = ", ".join(f'"{x}"' for x in names) or "none"
            raise Failure(f'{file}: no simulation block named "{pick}" (the file has: {known})')
    if leads_path is not None:
        # one run over the given leads, checked against every guardrail of the file's blocks
        expects = [(s.name, e) for s in sims for e in s.expects]
        return [SimRun(None, None, leads_path, events_path, as_of or today_utc(), expects)]
    if events_path is not None:
        raise click.UsageError("--events goes with --leads; a simulation block names its own events file "
                               "(events \"path\")")
    if not sims:
        raise Failure(f"{file}: no --leads given and the file has no simulation block; {HOW_TO_ADD}")
    runs = []
    base: Path = rules.base_dir
    for s in sims:
        where = f"{file}:{s.span.line}:{s.span.col}" if s.span.line else file
        if not s.leads:
            raise Failure(f'{where}: simulation "{s.name}" names no leads file; add a line like '
                          f'`leads "samples/leads.jsonl"` (a path relative to the rule file), or pass --leads PATH')
        day = as_of
        if day is None and s.as_of:
            try:
                day = dt.date.fromisoformat(str(s.as_of)[:10])
            except ValueError:
                raise Failure(f'{where}: simulation "{s.name}": "as of {s.as_of}" is not a date (YYYY-MM-DD)')
        runs.append(SimRun(s.name, s.span.line or None, resolve_path(base, s.leads),
                         resolve_path(base, s.events) if s.events else None, day or today_utc(),
                         [(s.name, e) for e in s.expects]))
    return runs


def resolve_path(base: Path, p: str) -> str:
    if p == "-" or Path(p).is_absolute():
        return p
    return str(base / p)


def run_one(rules, run: SimRun, schema, *, on_bad_row: str, rejects_fh, writer, engine: str = "python",
            workers: int | None = None, as_of_field: str | None = None, worked_days: dict | None = None,
            delimiter: str | None = None) -> dict:
    """Score one sample and return its part of the report."""
    from runtime.report.progress import progress
    from runtime.backends.scoring import check_engine, results
    from runtime.analysis.simulate import Aggregator, check_guardrail

    check_engine(rules, engine, run.leads, run.events)
    day_of = day_of_field(rules, as_of_field, run.as_of, worked_days=worked_days)
    reader = results(rules, run.leads, as_of=run.as_of, engine=engine, workers=workers, events_path=run.events,
                     on_bad_row=on_bad_row, rejects=rejects_fh, id_field=schema.id_field,
                     note=lambda text: click.echo(text, err=True), day_of=day_of, delimiter=delimiter,
                     strict_events=schema.strict_events)
    settle()
    agg = Aggregator(rules.engine)
    add = agg.add
    label = f'simulating "{run.name}"' if run.name else "simulating"
    with progress(reader, label) as scored:
        if writer is None:
            for r in scored:
                add(r)
        else:
            write = writer.write
            for r in scored:
                add(r)
                write(r)
    agg.account_stats = getattr(reader, "account_stats", None)  # per account (runtime/backends/accounts.py)
    _data_quality(agg, run, schema)
    rep = agg.report()
    out = {"simulation": run.name, "line": run.line, "leads_file": run.leads, "events_file": run.events,
           "as_of": run.as_of.isoformat()}
    rep["leads"] = {"read": reader.read, "scored": agg.total, "rejected": reader.rejected, **{
        k: v for k, v in rep["leads"].items() if k != "scored"}}
    out.update(rep)
    out["events"] = {"read_from_events_file": reader.events_read, "orphans": reader.orphan_events,
                     "orphan_lead_ids": list(reader.orphan_lead_ids), "bad": reader.bad_events,
                     "ignored": dict(sorted(getattr(reader, "ignored_events", {}).items()))}
    # the input's header, as the reader matched it to the rule file (docs/input.md)
    out["columns"] = {"missing": list(getattr(reader, "missing_columns", [])),
                      "unused": list(getattr(reader, "unused_columns", []))}
    guards = []
    for block, e in run.expects:
        g = check_guardrail(e, agg)
        g["simulation"] = block
        guards.append(g)
    out["guardrails"] = guards
    out["passed"] = all(g["passed"] for g in guards)
    out["_reader"] = reader
    return out


def _data_quality(agg, run: SimRun, schema) -> None:
    """The data-quality section: a second pass over the leads with the reader (every engine scores
    its own way; the reader sees every lead's fields and events as declared). Bad rows were reported
    by the scoring pass, so here they are skipped quietly."""
    from runtime.io.readers import LeadReader

    if run.leads == "-":
        agg.quality_note = ("the leads came from stdin, which cannot be read a second time, so there is no "
                            "data-quality section; give the leads file's path to get one")
        return
    agg.feed_quality(LeadReader(run.leads, schema, events_path=run.events, on_bad_row="skip"))


def _html_target(fmt: str, output: str | None, scored: str | None) -> tuple[str | None, str | None]:
    """(where the report goes, where the scored leads go). With --format html, -o is the page (a page
    is a file); otherwise -o is the scored leads, as it always was. --scored is the scored leads in
    every format."""
    if fmt == "html":
        return output, scored
    if output is not None and scored is not None:
        raise click.UsageError("-o/--output and --scored both name the scored-leads file here; give one")
    return None, output if output is not None else scored


@click.command("simulate")
@click.argument("file")
@click.option("--leads", "leads_path", default=None,
              help="Leads to score (.jsonl, .csv, .parquet, .gz, - for stdin). Default: the file's simulation blocks.")
@click.option("--simulation", "pick", default=None, metavar="NAME", help="Run only the simulation block with this name.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown", "html"]), default="text",
              show_default=True, help="html: one self-contained page with charts (to -o FILE, else stdout).")
@click.option("-o", "--output", default=None,
              help="With --format html: write the page here. Otherwise: also write every scored lead here "
                   "(.csv for CSV, else JSONL).")
@click.option("--scored", "scored_path", default=None, metavar="PATH",
              help="Also write every scored lead here (.csv for CSV, else JSONL), in any format.")
@click.option("--from", "date_from", type=DATE, default=None,
              help="With --to: the sales load over time, leads entering and leaving each route per date.")
@click.option("--to", "date_to", type=DATE, default=None, help="The last date of the range (YYYY-MM-DD).")
@click.option("--every", type=EVERY, default=None, metavar="N",
              help="With --from/--to: a date every N days (7, `7 days`, `1 week`; default 1); --to is always included.")
@input_options
@as_of_option
@as_of_field_option
@engine_options
def simulate(file, leads_path, pick, fmt, output, scored_path, events_path, on_bad_row, rejects, id_field, delimiter,
             strict_events, as_of, engine, workers, as_of_field=None, outcomes_path=None, date_from=None, date_to=None,
             every=None):
    """Score a sample of leads and report grades, routes, score histograms and criteria; check the
    file's simulation guardrails (exit 1 when one breaks)."""
    from runtime.report import simulate as simreport
    from runtime.io.writers import ScoredWriter
    from runtime.backends.load import load_rules

    report_path, output = _html_target(fmt, output, scored_path)
    if output == "-":
        raise click.UsageError("--output - would mix scored leads into the report on stdout; give a file name")
    if date_from is not None or date_to is not None or every is not None:
        if fmt == "html":
            raise click.UsageError("--format html is the one-date report; the load over time (--from/--to) is "
                                   "text, json or markdown")
        if as_of_field is not None:
            raise click.UsageError("--as-of-field scores each lead at one date of its own; it does not go with "
                                   "--from/--to/--every")
        _over_time(file, leads_path, pick, fmt, output, events_path, on_bad_row, rejects, id_field, as_of, engine,
                   workers, date_from, date_to, every, delimiter=delimiter, strict_events=strict_events)
        return
    rules = load_rules(file)
    runs = simulation_runs(rules, file, leads_path, events_path, as_of, pick)
    from runtime.backends.scoring import say_limits

    say_limits(rules, engine, lambda text: click.echo(text, err=True))
    worked_days = None
    # exit 2 on a bad option before reading anything
    day_of_field(rules, as_of_field, today_utc(), outcomes_path, worked_days={} if outcomes_path else None)
    if as_of_field is not None:
        from runtime.backends.scoring import check_day_of

        if outcomes_path is not None:
            worked_days = load_worked_days(outcomes_path)
        for run in runs:   # exit 2 before any output
            check_day_of(rules, engine, run.leads, run.events,
                         day_of_field(rules, as_of_field, run.as_of, worked_days=worked_days or {}))
    for r in runs:
        for block, e in _flows_of(rules, r):
            click.echo(f'note: simulation "{block}": `expect {_flow_text(e)}` is checked by '
                       "`leadrules simulate --from DATE --to DATE`, not in a one-date run", err=True)
    if output is not None and len(runs) > 1:
        raise Failure(f"{file}: --output writes one run's leads, but the file has {len(runs)} simulation blocks; "
                      "pick one with --simulation NAME, or pass --leads PATH")
    schema = schema_of(rules, id_field, strict_events)
    rejects_path = rejects
    if on_bad_row == "skip" and rejects_path is None and output not in (None, "-"):
        rejects_path = beside(output, ".rejects.jsonl")
    from runtime.io.files import check_writable

    if output is not None:
        check_writable(output)
    done = []
    with rejects_output(rejects_path, on_bad_row) as rej_fh:
        writer = ScoredWriter(rules.engine, output, as_of=runs[0].as_of) if output is not None else None
        try:
            for run in runs:
                done.append(run_one(rules, run, schema, on_bad_row=on_bad_row, rejects_fh=rej_fh, writer=writer,
                                    engine=engine, workers=workers, as_of_field=as_of_field, worked_days=worked_days,
                                    delimiter=delimiter))
        except BaseException:  # no half-written -o (nor --rejects: rejects_output)
            if writer is not None:
                writer.discard()
            raise
        finally:
            if writer is not None:
                writer.close()
    for r in done:
        reader = r.pop("_reader")
        input_notes(reader)
        if reader.rejected or reader.bad_events:
            input_summary(reader, r["leads"]["scored"], rejects_path if rej_fh else None, notes=False)
    rf = rules.checked.file
    head = rf.first(n.Ruleset)
    failed = sum(1 for r in done for g in r["guardrails"] if g["passed"] is False)
    errors = sum(1 for r in done for g in r["guardrails"] if g["passed"] is None)
    doc = {"version": 1, "rules": rules.display,
           "ruleset": head.name if head else None, "ruleset_version": head.version if head else None,
           "passed": failed == 0 and errors == 0, "guardrails_failed": failed, "runs": done}
    _emit(doc, fmt, simreport, report_path)
    if errors:
        sys.exit(EXIT_ERROR)
    if failed:
        sys.exit(EXIT_FAIL)


def _flows_of(rules, run: SimRun):
    """The over-time guardrails that go with a run: its block's, or every block's for a --leads run."""
    sims = list(rules.checked.file.of(n.Simulation))
    if run.name is not None:
        sims = [s for s in sims if s.name == run.name]
    return [(s.name, e) for s in sims for e in s.flows]


def _flow_text(e) -> str:
    from runtime.analysis.load import flow_expect_text

    return flow_expect_text(e)


LONG_RANGE = 92   # dates (a quarter, day by day) beyond which --from/--to warns about its cost


def _over_time(file, leads_path, pick, fmt, output, events_path, on_bad_row, rejects, id_field, as_of, engine,
               workers, date_from, date_to, every, delimiter=None, strict_events=False):
    """`--from/--to [--every N]`: one pass over each run's leads, every lead scored at every date
    (runtime/analysis/load.py); checks the `expect new leads …` guardrails (exit 1 when one breaks)."""
    from runtime.analysis.load import Load, check_flow
    from runtime.analysis.timeline import date_range
    from runtime.backends.load import load_rules
    from runtime.io.readers import LeadReader
    from runtime.report import load as render
    from runtime.report.progress import progress

    if date_from is None or date_to is None:
        raise click.UsageError("the sales load over time needs both --from DATE and --to DATE")
    if as_of is not None:
        raise click.UsageError("--as-of goes with a one-date run; --from/--to give the dates")
    if every is not None and every < 1:
        raise click.BadParameter(f"{every} is not a step: give a whole number of days, 1 or more",
                                 param_hint="'--every'")
    if output is not None:
        raise click.UsageError("--output writes the leads of a one-date run; it does not go with --from/--to")
    if engine != "python":
        raise Failure("--from/--to scores each lead at every date on the python engine; "
                      "--engine duckdb is not supported for it (drop --engine)")
    if workers is not None:
        raise click.UsageError("--workers is not used with --from/--to (one pass in one process)")
    dates = date_range(date_from, date_to, every or 1)
    if len(dates) > LONG_RANGE:
        # the cost is dates x leads scorings (docs/over-time.md): say so before a long wait
        click.echo(f"note: {len(dates):,} dates: each lead is scored {len(dates) + 1:,} times; "
                   f"--every 7 would take about a seventh of the time", err=True)
    rules = load_rules(file)
    runs = simulation_runs(rules, file, leads_path, events_path, dates[-1], pick)
    schema = schema_of(rules, id_field, strict_events)
    done = []
    with rejects_output(rejects, on_bad_row) as rej_fh:  # whole or absent
        for run in runs:
            reader = LeadReader(run.leads, schema, events_path=run.events, on_bad_row=on_bad_row, rejects=rej_fh,
                                delimiter=delimiter)
            load = Load(rules.engine, dates, every or 1)
            label = f'load of "{run.name}"' if run.name else "load over time"
            with progress(reader, label) as leads:
                for lead in leads:
                    load.add(lead)
            rep = load.report(rules.checked)
            guards = []
            for block, e in _flows_of(rules, run):
                g = check_flow(e, load)
                g["simulation"] = block
                guards.append(g)
            out = {"simulation": run.name, "line": run.line, "leads_file": run.leads, "events_file": run.events,
                   "every_days": every or 1, **rep,
                   "leads": {"read": reader.read, "scored": load.scored, "rejected": reader.rejected},
                   "scorings": load.scored * len(load.ords),
                   "guardrails": guards,
                   "not_checked": [{"simulation": b, "expect": expectation_text(e), "line": e.span.line or None}
                                   for b, e in run.expects],
                   "passed": all(g["passed"] for g in guards)}
            done.append(out)
            if reader.rejected or reader.bad_events:
                input_summary(reader, load.scored, rejects if rej_fh else None)
    head = rules.checked.file.first(n.Ruleset)
    failed = sum(1 for r in done for g in r["guardrails"] if g["passed"] is False)
    doc = {"version": 1, "rules": rules.display, "ruleset": head.name if head else None,
           "ruleset_version": head.version if head else None, "passed": failed == 0, "guardrails_failed": failed,
           "runs": done}
    _emit(doc, fmt, render)
    if failed:
        sys.exit(EXIT_FAIL)


def _emit(doc: dict, fmt: str, render, report_path: str | None = None) -> None:
    """The report in `fmt` by the renderer module `render` (html: the simulate page, to
    `report_path`); under any format but text, what failed on stderr too: the report may be going
    to a file, and a CI log shows stderr."""
    if fmt == "html":
        from runtime.report import simulate_html
        from runtime.report.html import write_page

        write_page(simulate_html.render(doc), report_path)
    elif fmt == "json":
        click.echo(render.as_json(doc))
    elif fmt == "markdown":
        click.echo(render.as_markdown(doc), nl=False)
    else:
        render.print_text(doc)
    if fmt != "text":
        for line in render.failure_lines(doc):
            click.echo(line, err=True)


def expectation_text(e) -> str:
    from runtime.analysis.simulate import expectation_text as text

    return text(e)
