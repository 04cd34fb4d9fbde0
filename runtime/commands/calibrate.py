"""`leadrules calibrate`: replay what the rules said when sales chose, against what happened — conversion
by grade and route, cherry-picking, missed signals and a sweep of the sales threshold. See
docs/calibrate.md.

The outcomes file is loaded first (a small record per lead); then the leads stream through the engine,
each scored as of its `worked_at` date (else `--as-of`), into a `runtime.analysis.calibrate.Calibrator`.
"""
from __future__ import annotations

import click

from dsl import nodes as n

from runtime.commands.options import (Failure, as_of_option, input_notes, input_options, input_summary,
                                      rejects_output, schema_of, settle, text_of,
                                      today_utc)
from runtime.io.files import open_output


def run(rules, schema, leads_path: str, outcomes_path: str, *, events_path=None, as_of, on_bad_row="fail",
        rejects_fh=None, min_support: int = 5, as_of_field: str = "worked_at", scores_out=None,
        suggest_path: str | None = None, keep_bands: bool = False, delimiter: str | None = None) -> dict:
    """The whole report as a JSON-ready dict (plus the readers, under "_readers", for the summary)."""
    from runtime.analysis.calibrate import REPORT_VERSION, Calibrator, account_model_of, replay
    from runtime.core.kernel import date_ordinal
    from runtime.io.outcomes import OutcomeBook, OutcomeReader
    from runtime.report.progress import progress
    from runtime.io.readers import LeadReader

    engine = rules.engine
    asof = date_ordinal(as_of.isoformat())
    oreader = OutcomeReader(outcomes_path, on_bad_row=on_bad_row, rejects=rejects_fh)
    reader = LeadReader(leads_path, schema, events_path=events_path, on_bad_row=on_bad_row, rejects=rejects_fh,
                        delimiter=delimiter)
    scan = None
    if as_of_field != "worked_at" and schema.fields.get(as_of_field) != "date":
        raise Failure(f"--as-of-field {as_of_field}: not a date field of {rules.display} (declared date fields: "
                      + (", ".join(k for k, t in schema.fields.items() if t == "date") or "none")
                      + "); give one of them, or worked_at (from the outcomes)")
    if suggest_path is not None:
        from runtime.analysis.scorecard import load_sklearn

        load_sklearn()
        import os

        folder = os.path.dirname(os.path.abspath(suggest_path))
        if not os.path.isdir(folder):
            raise Failure(f"--suggest {suggest_path}: no such folder {folder}")
        for p in (leads_path, events_path):
            if p is not None and not _rereadable(p):
                raise Failure(f"--suggest reads the leads again to re-cut the bands; {p} cannot be read again "
                              "(stdin or a pipe): give a file path")
    if account_model_of(engine) is not None:
        # accounts are scored at each worked_at day, which takes one more pass over the leads
        if not _rereadable(leads_path) or (events_path is not None and not _rereadable(events_path)):
            raise Failure(f"{rules.display} scores accounts, so calibrate reads the leads twice; "
                          f"{leads_path if not _rereadable(leads_path) else events_path} cannot be read again "
                          "(stdin or a pipe): give a file path")
        scan = lambda: LeadReader(leads_path, schema, events_path=events_path, on_bad_row="skip",  # noqa: E731
                                  delimiter=delimiter)
    book = OutcomeBook(oreader.load())
    outcomes = book.outcomes
    cal = Calibrator(engine, schema, min_support=min_support)
    cal.asof_ordinal = asof
    cal.keep_scores = suggest_path is not None
    take, add = book.take, cal.add

    def day_of(lead):
        if as_of_field != "worked_at":
            d = lead.fields.get(as_of_field)
            return d if isinstance(d, int) and d <= asof else asof
        o = None if lead.numbered else outcomes.get(lead.id)
        return o.worked_day if (o is not None and o.worked_day is not None) else asof

    writer = None
    if scores_out is not None:
        from runtime.io.writers import ScoredWriter

        try:
            writer = ScoredWriter(engine, scores_out, as_of_column=True)
        except OSError as e:
            raise Failure(f"{scores_out}: cannot write the scores ({e.strerror or e})")
    settle()
    try:
        with progress(replay(engine, lambda: reader, day_of, scan), "calibrating") as scored:
            for lead, r, day in scored:
                add(lead, r, None if lead.numbered else take(lead.id), day)
                if writer is not None:
                    writer.write(r, as_of=day)
    finally:
        if writer is not None:
            writer.close()
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
    doc["as_of_field"] = as_of_field
    doc.update(cal.report())
    if suggest_path is not None:
        doc["suggested"] = _suggest(rules, schema, cal, doc, suggest_path, keep_bands, day_of, leads_path,
                                    events_path, delimiter)
    doc["_readers"] = (reader, oreader)
    return doc


def _suggest(rules, schema, cal, doc, out_path, keep_bands, day_of, leads_path, events_path,
             delimiter=None) -> dict:
    """Fit the points, write the new version (bands re-cut to keep today's shares unless keep_bands),
    and say how it does held out."""
    from dsl import printer
    from dsl.checker import check_text
    from dsl.formatter import format_text
    from runtime.analysis import scorecard as sc
    from runtime.analysis.calibrate import replay
    from runtime.backends.pygen import compile_fast
    from runtime.io.readers import LeadReader

    signals, _, members = cal.signal_table()
    p = sc.plan(cal, signals, members)
    pos = sum(p.y)
    fewest = min(pos, len(p.y) - pos)
    if fewest < sc.MIN_EACH:
        raise Failure(f"--suggest fits points on the worked leads the rules scored: it needs at least {sc.MIN_EACH} "
                      f"that converted and {sc.MIN_EACH} that did not (here {pos:,} and {len(p.y) - pos:,})")
    if p.groups is not None and len(set(p.groups)) < 2 * sc.FOLDS:
        raise Failure(f"--suggest cross-validates by account: it needs worked leads from at least {2 * sc.FOLDS} "
                      f"accounts (here {len(set(p.groups))})")
    rows = cal.scored_rows()
    try:
        model = sc.fit(p.X, p.y, p.groups)
        held = sc.held_out(p, [w.total for w in rows])
    except ValueError as e:   # a fold without both outcomes: too few leads of one kind in some accounts
        raise Failure(f"--suggest cannot fit points on these outcomes ({e}); more worked leads would help")
    pts, factor = sc.points_of(p, list(model.coef_[0]))

    def compiled(text):
        checked = check_text(text, out_path)
        if not checked.ok:
            raise Failure(f"{out_path}: the suggested rules do not check ({checked.diagnostics[0].message}); "
                          "this is a bug in leadrules calibrate --suggest")
        return checked

    import os

    def repath(rel: str) -> str:
        """A simulation's file, relative to the rule file, as seen from the suggested file."""
        if os.path.isabs(rel):
            return rel
        target = os.path.normpath(os.path.join(str(rules.base_dir), rel))
        return os.path.relpath(target, os.path.dirname(os.path.abspath(out_path))).replace(os.sep, "/")

    text = format_text(sc.write(rules.checked, rules.text, p, pts, doc["criteria"], None, None, repath=repath),
                       out_path)
    thresholds = why = None
    shares = {}
    for dim, bands in rules.engine.grade_blocks:
        shares[dim] = [(b, th, cal.band_counts.get((dim, b), 0)) for b, th in bands]
    scan = lambda: LeadReader(leads_path, schema, events_path=events_path, on_bad_row="skip",  # noqa: E731
                              delimiter=delimiter)
    dims = [d for d, _mx, _fl, _ in rules.engine.dims]
    lit_tests = sc.account_dim_tests(rules.checked, set(dims))
    literals = []
    if (not keep_bands and shares) or lit_tests:
        # the leads once more under the new points: where the new scores fall
        eng = compile_fast(compiled(text))
        scores: dict[str, list[float]] = {d: [] for d in dims}
        for lead, r, _ in replay(eng, scan, day_of, scan):
            if r.disqualified is None:
                for d in scores:
                    scores[d].append(r.scores[d])
        if not keep_bands and shares:
            thresholds, why = sc.recut(scores, shares, {d: fl for d, _mx, fl, _ in rules.engine.dims})
        for lit, dim, op in lit_tests:
            new_v = sc.remap(cal.dim_scores.get(dim, []), scores[dim], float(lit.value))
            share = sum(1 for x in cal.dim_scores.get(dim, []) if x >= lit.value) / max(1, len(cal.dim_scores.get(dim, [])))
            literals.append((lit, new_v, f"# was {dim} {op} {printer.num(lit.value)}: the same "
                                         f"{100 * share:.0f}% of leads on the new points"))
        text = format_text(sc.write(rules.checked, rules.text, p, pts, doc["criteria"], thresholds, why, literals,
                                    repath=repath), out_path)
    checked = compiled(text)
    # the route shares, today and with the suggested file, over the same leads as of the same days
    routes_new: dict = {}
    n_new = 0
    for lead, r, _ in replay(compile_fast(checked), scan, day_of, scan):
        routes_new[r.route] = routes_new.get(r.route, 0) + 1
        n_new += 1
    routes_old: dict = {}
    for row in doc["by_route"]:
        routes_old[row["route"]] = routes_old.get(row["route"], 0) + row["leads"]
    n_old = sum(routes_old.values())
    route_shares = [{"route": k, "now": round(routes_old.get(k, 0) / n_old, 6) if n_old else None,
                     "suggested": round(routes_new.get(k, 0) / n_new, 6) if n_new else None}
                    for k in sorted(set(routes_old) | set(routes_new), key=str)]
    with open_output(out_path) as f:  # whole or absent (runtime/io/files.py)
        f.write(text)
    crits = rules.engine.criteria
    changed = len({c.crit for c, pt in zip(p.columns, pts)
                   if (c.kind == "crit" and pt != crits[c.crit].node.points)
                   or (c.kind == "tier" and pt != crits[c.crit].node.tiers[c.tier].points)})
    recut = sorted(thresholds or {})
    return {"file": out_path, "all_zero": not any(pts), "bands_recut": recut, "route_shares": route_shares,
            "account_thresholds": [{"dimension": dim, "was": lit.value, "now": v} for (lit, v, _), (_, dim, _)
                                   in zip(literals, lit_tests)], "factor": round(factor, 4), "folds": held.pop("folds"), "held_out_auc": held,
            "reweighted": changed, "bands": ("kept (--keep-bands)" if keep_bands else "re-cut to keep each band's share" if recut
                      else "kept (the suggested points cannot keep each band's share)"),
            "added": [{"criterion": c.name, "dimension": c.dim, "when": c.cond, "points": pt,
                       "signal": c.signal["label"]} for c, pt in zip(p.columns, pts) if c.kind == "new" and pt],
            "points": [{"criterion": (rules.engine.criteria[c.crit].key if c.crit is not None else c.name),
                        "tier": c.tier, "points": pt} for c, pt in zip(p.columns, pts)]}


@click.command("calibrate")
@click.argument("file")
@click.option("--leads", "leads_path", required=True,
              help="The leads (.jsonl, .csv, .parquet, .gz, - for stdin), with their events.")
@click.option("--outcomes", "outcomes_path", required=True,
              help="What happened: .csv or .jsonl with lead_id, worked_at, converted [, converted_at, stage].")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown", "html"]), default="text",
              show_default=True, help="html: one self-contained page with charts (no matplotlib needed).")
@click.option("-o", "--output", "report_path", default=None, metavar="FILE",
              help="Write the report to FILE instead of stdout.")
@click.option("--min-support", type=click.IntRange(min=1), default=5, show_default=True,
              help="Missed signals: the fewest converting cherry-picks a signal must appear in.")
@click.option("--plot", "plot_path", default=None, metavar="FILE.png|svg",
              help="Also draw conversion by grade to this file (needs matplotlib: pip install 'leadrules[plot]').")
@click.option("--suggest", "suggest_path", default=None, metavar="FILE.rules",
              help="Write a new version of the rule file with points fitted to the outcomes (needs "
                   "pip install 'leadrules[calibrate]'); review it with `leadrules diff`.")
@click.option("--keep-bands", is_flag=True, default=False,
              help="With --suggest: keep today's band thresholds (default: re-cut them to keep each band's share).")
@click.option("--scores-out", default=None, metavar="FILE",
              help="Also write every lead's replayed score (as of its own day) here: .jsonl or .csv.")
@click.option("--as-of-field", default="worked_at", show_default=True, metavar="NAME",
              help="Score each lead as of this date: worked_at (from the outcomes) or a date field of the leads; "
                   "leads without it are scored as of --as-of.")
@input_options
@as_of_option
def calibrate(file, leads_path, outcomes_path, fmt, report_path, min_support, plot_path, suggest_path, keep_bands,
              scores_out, as_of_field, events_path, on_bad_row, rejects, id_field, delimiter, strict_events, as_of):
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
    schema = schema_of(rules, id_field, strict_events)
    with rejects_output(rejects, on_bad_row) as rej_fh:
        doc = run(rules, schema, leads_path, outcomes_path, events_path=events_path, as_of=as_of or today_utc(),
                  on_bad_row=on_bad_row, rejects_fh=rej_fh, min_support=min_support, as_of_field=as_of_field,
                  scores_out=scores_out, suggest_path=suggest_path, keep_bands=keep_bands, delimiter=delimiter)
    reader, oreader = doc.pop("_readers")
    input_notes(reader)
    if reader.rejected or reader.bad_events:
        input_summary(reader, doc["inputs"]["leads"]["scored"], rejects if rej_fh else None, notes=False)
    if oreader.rejected:
        _outcome_summary(oreader, rejects if rej_fh else None)
    o = doc["inputs"]["outcomes"]
    if o["accepted"] and not o["matched"]:
        click.echo(f"warning: no outcome in {outcomes_path} matched a lead in {leads_path} (outcome ids look like "
                   f"{', '.join(repr(x) for x in o['unknown_lead_ids'][:3])}); check the lead_id column, or "
                   f"--id-field if the leads' id is not in `{schema.id_field}`", err=True)
    from runtime.report.html import write_page

    if fmt == "html":
        from runtime.report import calibrate_html

        write_page(calibrate_html.render(doc), report_path)
    elif fmt == "json":
        write_page(calreport.as_json(doc) + "\n", report_path)
    elif fmt == "markdown":
        write_page(calreport.as_markdown(doc), report_path)
    elif report_path not in (None, "-"):
        write_page(text_of(calreport.print_text, doc), report_path)
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
