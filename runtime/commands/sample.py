"""`leadrules sample`: synthetic leads with embedded events that fit a rule file (runtime/analysis/sample.py),
as JSON Lines, for demos and benchmarks. See docs/simulate.md.
"""
from __future__ import annotations

import datetime as dt
import sys

import click

from dsl import nodes as n

from runtime.commands.options import DATE, Failure, today_utc


def default_as_of(rules) -> dt.date:
    """The first simulation block's `as of` (the sample then fits the file's own simulation), else
    today (UTC)."""
    for s in rules.checked.file.of(n.Simulation):
        if s.as_of:
            try:
                return dt.date.fromisoformat(str(s.as_of)[:10])
            except ValueError:
                pass
    return today_utc()


@click.command("sample")
@click.argument("file")
@click.option("-n", "count", type=click.IntRange(min=0), required=True, help="How many leads.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same leads.")
@click.option("-o", "--output", default=None, help="Write here (.jsonl, .jsonl.gz) instead of stdout.")
@click.option("--as-of", "as_of", type=DATE, default=None,
              help="Event dates and ages are relative to this day. Default: the first simulation "
                   "block's `as of`, else today (UTC).")
@click.option("--id-field", default="id", show_default=True, help="The name of the id key.")
def sample(file, count, seed, output, as_of, id_field):
    """Write N synthetic leads (JSON Lines, events embedded) that fit FILE's fields and events and are
    varied enough to reach every band."""
    from runtime.report.progress import progress
    from runtime.backends.load import load_rules
    from runtime.analysis.sample import write_sample

    rules = load_rules(file)
    day = as_of or default_as_of(rules)
    if output not in (None, "-"):
        low = output.lower()
        if not low.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json", ".json.gz")):
            raise Failure(f"{output}: sample writes JSON Lines; name the file .jsonl (or .jsonl.gz)")
        from runtime.io.files import open_output

        fh = open_output(output)  # whole or absent (runtime/io/files.py)
        own = True
    else:
        fh, own = sys.stdout, False
    try:
        with progress(range(1, count + 1), "sampling") as it:
            write_sample(rules.checked, fh, count, seed=seed, as_of=day, id_field=id_field, progress=it)
    except BaseException:
        if own:
            fh.discard()
        raise
    finally:
        if own:
            fh.close()
        else:
            fh.flush()
    if own:
        click.echo(f"wrote {count:,} leads to {output} (seed {seed}, as of {day.isoformat()})", err=True)
