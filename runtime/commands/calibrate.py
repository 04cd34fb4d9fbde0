"""`leadrules calibrate`: replay what the rules said when sales chose, against what happened — conversion
by grade and route, cherry-picking, missed signals and a sweep of the sales threshold. See
docs/calibrate.md.

The outcomes file is loaded first (a small record per lead); then the leads stream through the engine,
each scored as of its `worked_at` date (else `--as-of`), into a `runtime.analysis.calibrate.Calibrator`.
"""
from __future__ import annotations

import click

from dsl import nodes as n

from runtime.commands.options import Failure, as_of_option, input_options, input_summary, schema_of, today_utc


def run(rules, schema, leads_path: str, outcomes_path: str, *, events_path=None, as_of, on_bad_row="fail",
        rejects_fh=None, min_support: int = 5) -> dict:
    """The whole report as a JSON-ready dict (plus the readers, under "_readers", for the summary)."""
    from runtime.analysis.calibrate import REPORT_VERSION, Calibrator, account_model_of, replay
    from runtime.core.kernel import date_ordinal
    from runtime.io.outcomes import OutcomeBook, OutcomeReader
    from runtime.report.progress import progress
    from runtime.io.readers import LeadReader

    engine = rules.engine
    asof = date_ordinal(as_of.isoformat())
    oreader = OutcomeReader(outcomes_path, on_bad_row=on_bad_row, rejects=rejects_fh)
    reader = LeadReader(leads_path, schema, events_path=events_path, on_bad_row=on_bad_row, rejects=rejects_fh)
    scan = None
    if account_model_of(engine) is not None:
        # accounts are scored at each worked_at day, which takes two more passes over the leads
        if not _rereadable(leads_path) or (events_path is not None and not _rereadable(events_path)):
            raise Failure(f"{rules.display} scores accounts, so calibrate reads the leads three times; "
                          f"{leads_path if not _rereadable(leads_path) else events_path} cannot be read again "
                          "(stdin or a pipe): give a file path")
        scan = lambda: LeadReader(leads_path, schema, events_path=events_path, on_bad_row="skip")  # noqa: E731
    book = OutcomeBook(oreader.load())
    outcomes = book.outcomes
    cal = Calibrator(engine, schema, min_support=min_support)
    take, add = book.take, cal.add

    def day_of(lead):
        o = None if lead.numbered else outcomes.get(lead.id)
        return o.worked_day if (o is not None and o.worked_day is not None) else asof

    with progress(replay(engine, lambda: reader, day_of, scan), "calibrating") as scored:
        for lead, r, day in scored:
            add(lead, r, None if lead.numbered else take(lead.id), day)
    unknown, unknown_ids = book.unknown()
    head = rules.checked.file.first(n.Ruleset)
    doc = {"version": REPORT_VERSION, "rules": rules.display,
           "ruleset": head.name if head else None, "ruleset_version": head.version if head else None,
           "leads_file": leads_path, "events_file": events_path, "outcomes_file": outcomes_path,
           "as_of": as_of.isoformat(),
           "inputs": {
               "leads": {"read": reader.read, "scored": cal.total, "rejected": reader.rejected},
               "events": {"read_from_events_file": reader.events_read, "orphans": reader.orphan_events,
                          "bad": reader.bad_events},
               "outcomes": {"read": oreader.read, "accepted": len(book.outcomes), "rejected": oreader.rejected,
                            "duplicates": oreader.duplicates, "matched": len(book.matched),
                            "unknown_leads": unknown, "unknown_lead_ids": unknown_ids},
           }}
    doc.update(cal.report())
    doc["_readers"] = (reader, oreader)
    return doc


@click.command("calibrate")
@click.argument("file")
@click.option("--leads", "leads_path", required=True,
              help="The leads (.jsonl, .csv, .parquet, .gz, - for stdin), with their events.")
@click.option("--outcomes", "outcomes_path", required=True,
              help="What happened: .csv or .jsonl with lead_id, worked_at, converted [, converted_at, stage].")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--min-support", type=click.IntRange(min=1), default=5, show_default=True,
              help="Missed signals: the fewest converting cherry-picks a signal must appear in.")
@click.option("--plot", "plot_path", default=None, metavar="FILE.png|svg",
              help="Also draw conversion by grade to this file (needs matplotlib: pip install 'leadrules[plot]').")
@input_options
@as_of_option
def calibrate(file, leads_path, outcomes_path, fmt, min_support, plot_path, events_path, on_bad_row, rejects,
              id_field, as_of):
    """Learn from outcomes: conversion by grade and route, cherry-picking, missed signals and the sales
    threshold, each lead scored as of the day sales worked it."""
    from runtime.report import calibrate as calreport
    from runtime.backends.load import load_rules

    plt = None
    if plot_path is not None:
        if not plot_path.lower().endswith(calreport.PLOT_SUFFIXES):
            raise click.UsageError(f"--plot {plot_path}: the chart is written as PNG or SVG; "
                                   "give a file name ending in .png or .svg")
        try:
            plt = calreport.load_pyplot()
        except calreport.PlotUnavailable as e:
            raise Failure(str(e))
    rules = load_rules(file)
    schema = schema_of(rules, id_field)
    rej_fh = None
    if on_bad_row == "skip" and rejects:
        try:
            rej_fh = open(rejects, "w", encoding="utf-8")
        except OSError as e:
            raise Failure(f"{rejects}: cannot write the rejects file ({e.strerror or e})")
    try:
        doc = run(rules, schema, leads_path, outcomes_path, events_path=events_path, as_of=as_of or today_utc(),
                  on_bad_row=on_bad_row, rejects_fh=rej_fh, min_support=min_support)
    finally:
        if rej_fh:
            rej_fh.close()
    reader, oreader = doc.pop("_readers")
    if reader.rejected or reader.bad_events:
        input_summary(reader, doc["inputs"]["leads"]["scored"], rejects if rej_fh else None)
    if oreader.rejected:
        _outcome_summary(oreader, rejects if rej_fh else None)
    o = doc["inputs"]["outcomes"]
    if o["accepted"] and not o["matched"]:
        click.echo(f"warning: no outcome in {outcomes_path} matched a lead in {leads_path} (outcome ids look like "
                   f"{', '.join(repr(x) for x in o['unknown_lead_ids'][:3])}); check the lead_id column, or "
                   f"--id-field if the leads' id is not in `{id_field}`", err=True)
    if fmt == "json":
        click.echo(calreport.as_json(doc))
    elif fmt == "markdown":
        click.echo(calreport.as_markdown(doc), nl=False)
    else:
        calreport.print_text(doc)
    if plt is not None:
        try:
            calreport.plot(doc, plot_path, plt)
        except OSError as e:
            raise Failure(f"{plot_path}: cannot write the chart ({e.strerror or e})")
        click.echo(f"chart written to {plot_path}", err=True)


def _rereadable(path: str) -> bool:
    import os
    import stat

    if path == "-":
        return False
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True  # LeadReader says what is wrong with it


def _outcome_summary(oreader, rejects_path: str | None) -> None:
    accepted = oreader.read - oreader.rejected
    line = f"outcomes: read {oreader.read:,} · kept {accepted:,} · rejected {oreader.rejected:,}"
    if rejects_path:
        line += f" (rejected rows: {rejects_path})"
    click.echo(line, err=True)
    if not rejects_path:
        for b in oreader.bad_rows[:5]:
            click.echo(f"  {b.source or 'outcomes'}:{b.line}: {b.reason}", err=True)
        if oreader.rejected > 5:
            click.echo(f"  ... and {oreader.rejected - 5:,} more (use --rejects FILE to keep them)", err=True)


__all__ = ["calibrate", "run"]
