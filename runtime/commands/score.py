"""`leadrules score`: score leads and stream one record per lead, in input order."""
from __future__ import annotations

import click

from runtime.commands.options import (Failure, as_of_field_option, as_of_option, beside, day_of_field,
                                      engine_options, input_options, input_summary, rejects_output, settle,
                                      today_utc)


@click.command()
@click.argument("file")
@click.option("--leads", "leads_path", required=True, help="Leads: .jsonl, .csv, .parquet (.gz), or - for stdin.")
@click.option("-o", "--output", default=None, help="Write here instead of stdout; .csv for CSV, else JSONL.")
@click.option("--explain", "with_explain", is_flag=True, help="Add the points of every criterion that fired.")
@click.option("--changed-since", "previous", default=None, metavar="PREVIOUS",
              help="A file an earlier `score` wrote: write only leads that are new or whose grade, route, queue "
                   "or a score changed.")
@input_options
@as_of_option
@as_of_field_option
@engine_options
def score(file, leads_path, output, with_explain, previous, events_path, on_bad_row, rejects, id_field, delimiter,
          strict_events, as_of, as_of_field, outcomes_path, engine, workers):
    """Score leads and stream one result per lead, in input order."""
    from runtime.backends import scoring
    from runtime.io.writers import ScoredWriter
    from runtime.report.progress import progress
    from runtime.backends.load import load_rules

    rules = load_rules(file)
    before = None
    if previous is not None:
        from runtime.io.writers import PreviousError, read_previous

        try:
            before = read_previous(previous)
        except PreviousError as e:
            raise Failure(f"--changed-since {e}")
    scoring.check_engine(rules, engine, leads_path, events_path)
    scoring.say_limits(rules, engine, lambda text: click.echo(text, err=True))
    day = as_of or today_utc()
    day_of = day_of_field(rules, as_of_field, day, outcomes_path)
    scoring.check_day_of(rules, engine, leads_path, events_path, day_of)
    rejects_path = rejects
    if on_bad_row == "skip" and rejects_path is None and output not in (None, "-"):
        rejects_path = beside(output, ".rejects.jsonl")
    from runtime.io.files import check_writable

    if output not in (None, "-"):
        check_writable(output)  # before any work: a bad -o is exit 2 with a message
    with rejects_output(rejects_path, on_bad_row) as rej_fh:
        opts = dict(as_of=day, workers=workers, events_path=events_path, on_bad_row=on_bad_row, rejects=rej_fh,
                    id_field=id_field, note=lambda text: click.echo(text, err=True), day_of=day_of,
                    delimiter=delimiter, strict_events=strict_events)
        # the fast path: output lines straight from the generated scorer, or DuckDB's rows a batch at a time
        fmt = "csv" if (output or "").lower().endswith((".csv", ".csv.gz")) else "jsonl"
        settle()
        # (with --changed-since, Results are compared with the previous file's before they are written)
        chunks = None if before is not None else \
            scoring.text_chunks(rules, leads_path, fmt=fmt, explain=with_explain, engine=engine, **opts)
        src = chunks if chunks is not None else \
            scoring.results(rules, leads_path, engine=engine, criteria=with_explain, **opts)
        writer = ScoredWriter(rules.engine, output, explain=with_explain, as_of=day)
        scored = unchanged = 0
        try:
            if chunks is not None:
                write = writer.fh.write
                for chunk in scoring.chunk_progress(chunks, "scoring"):
                    write(chunk)
                scored = chunks.scored
            else:
                with progress(src, "scoring") as results:
                    w = writer.write
                    if day_of is not None:   # each lead as of its own date: its own `as_of`
                        for r, own in src.with_days():
                            w(r, own)
                            scored += 1
                    elif before is None:
                        for r in results:
                            w(r)
                            scored += 1
                    else:
                        from runtime.io.writers import result_key

                        get = before.get
                        for r in results:
                            scored += 1
                            if get(r.id) == result_key(r):
                                unchanged += 1
                            else:
                                w(r)
        except BaseException:  # an error, Ctrl-C or SIGTERM: no half-written -o (nor --rejects: rejects_output)
            writer.discard()
            raise
        finally:
            writer.close()
    input_summary(src, scored, rejects_path if rej_fh else None)
    if before is not None:
        click.echo(f"{unchanged:,} unchanged since {previous} (not written) · {scored - unchanged:,} new or changed "
                   "written", err=True)
