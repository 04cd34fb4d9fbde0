"""`leadrules explain`: why one lead gets its scores, grade and route."""
from __future__ import annotations

import json

import click

from runtime.commands.options import (DATE, EVERY, Failure, as_of_field_option, as_of_option, day_of_field,
                                      input_options, schema_of, today_utc)


@click.command()
@click.argument("file")
@click.option("--lead", "lead_json", default=None, help="The lead as a JSON object (events embedded).")
@click.option("--leads", "leads_path", default=None, help="A leads file to find the lead in (with --id).")
@click.option("--id", "lead_id", default=None, help="The id of the lead to explain.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True,
              help="markdown: for --from/--to and --next.")
@click.option("--from", "date_from", type=DATE, default=None,
              help="With --to: the lead's timeline, its scores, grade and route on each date from this one.")
@click.option("--to", "date_to", type=DATE, default=None, help="The last date of the timeline (YYYY-MM-DD).")
@click.option("--every", type=EVERY, default=None, metavar="N",
              help="With --from/--to: a date every N days (7, `7 days`, `1 week`; default 1); --to is always included.")
@click.option("--next", "next_step", is_flag=True, default=False,
              help="The smallest changes that would give the lead a better grade or route, each verified.")
@input_options
@as_of_option
@as_of_field_option
def explain(file, lead_json, leads_path, lead_id, fmt, events_path, on_bad_row, rejects, id_field, delimiter,
            strict_events, as_of, as_of_field=None, outcomes_path=None, date_from=None, date_to=None, every=None,
            next_step=False):
    """Show why one lead gets its scores, grade and route, criterion by criterion."""
    from dsl import nodes as n
    from runtime.analysis import explain as ex
    from runtime.core.kernel import date_ordinal
    from runtime.io.readers import lead_from_object
    from runtime.backends.load import load_rules
    from runtime.report.term import console, is_tty

    rules = load_rules(file)
    engine = rules.engine
    schema = schema_of(rules, id_field, strict_events)
    day_of = day_of_field(rules, as_of_field, as_of or today_utc(), outcomes_path)
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
        lead = _find_lead(leads_path, schema, events_path, lead_id, on_bad_row, delimiter)
    over_time = date_from is not None or date_to is not None or every is not None
    if over_time or next_step:
        if day_of is not None:
            raise click.UsageError("--as-of-field scores the lead at one date of its own; it does not go with "
                                   "--from/--to/--every or --next")
        _over_time_or_next(engine, lead, leads_path, schema, events_path, fmt, date_from, date_to, every,
                           next_step, as_of, delimiter)
        return
    if fmt == "markdown":
        raise click.UsageError("--format markdown goes with --from/--to or --next")
    asof = date_ordinal((as_of or today_utc()).isoformat())
    if day_of is not None:
        asof = day_of(lead)   # the lead's own date; its account as of that day too
    others = ()
    if leads_path is not None and engine.checked.file.first(n.Accounts) is not None:
        from runtime.io.readers import LeadReader

        # the rest of its account: the file's other leads with the same key (runtime/backends/accounts.py)
        others = LeadReader(leads_path, schema, events_path=events_path, on_bad_row="skip", delimiter=delimiter)
    d = ex.as_dict(engine, lead, asof, others)
    if fmt == "json":
        click.echo(ex.as_json(d))
    else:
        from runtime.report.explain import render_text

        console().print(render_text(d, is_tty()))


def _find_lead(path, schema, events_path, lead_id, on_bad_row, delimiter=None):
    from runtime.io.readers import LeadReader

    reader = LeadReader(path, schema, events_path=events_path, on_bad_row=on_bad_row, delimiter=delimiter)
    for lead in reader:
        if lead.id == lead_id:
            return lead
    raise Failure(f"{path}: no lead with id {lead_id!r} ({reader.read:,} rows read)")


def _over_time_or_next(engine, lead, leads_path, schema, events_path, fmt, date_from, date_to, every,
                       next_step, as_of, delimiter=None):
    """`--from/--to [--every N]` (runtime/analysis/timeline.py) or `--next` (runtime/analysis/nextstep.py)."""
    from runtime.analysis import timeline as tl
    from runtime.report.term import console, is_tty

    # the options first, so that a mistake is reported before the leads file is read again
    dates = None
    if next_step:
        if date_from is not None or date_to is not None or every is not None:
            raise click.UsageError("--next goes with --as-of, not with --from/--to/--every")
    else:
        if as_of is not None:
            raise click.UsageError("--as-of goes with one date; a timeline takes --from and --to")
        if date_from is None or date_to is None:
            raise click.UsageError("a timeline needs both --from DATE and --to DATE")
        if every is not None and every < 1:
            raise click.BadParameter(f"{every} is not a step: give a whole number of days, 1 or more",
                                     param_hint="'--every'")
        dates = tl.date_range(date_from, date_to, every or 1)
    members = []
    if leads_path is not None:
        from runtime.io.readers import LeadReader

        # the rest of the lead's account, read once and kept (an account is a handful of leads)
        members = tl.account_members(engine, lead, LeadReader(leads_path, schema, events_path=events_path,
                                                              on_bad_row="skip", delimiter=delimiter))
    if next_step:
        from runtime.analysis import nextstep
        from runtime.core.kernel import date_ordinal
        from runtime.report import nextstep as render

        d = nextstep.next_steps(engine, lead, date_ordinal((as_of or today_utc()).isoformat()), members)
        if fmt == "json":
            click.echo(render.as_json(d))
        elif fmt == "markdown":
            click.echo(render.as_markdown(d), nl=False)
        else:
            console().print(render.as_text(d, is_tty()))
        return
    from runtime.report import timeline as render

    t = tl.timeline(engine, lead, dates, members)
    if fmt == "json":
        click.echo(render.as_json(t))
    elif fmt == "markdown":
        click.echo(render.as_markdown(t), nl=False)
    else:
        console().print(render.as_text(t, is_tty()))
