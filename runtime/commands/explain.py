"""`leadrules explain`: why one lead gets its scores, grade and route."""
from __future__ import annotations

import json

import click

from runtime.commands.options import Failure, as_of_option, input_options, schema_of, today_utc


@click.command()
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
    from runtime.core.kernel import date_ordinal
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

        # the rest of its account: the file's other leads with the same key (runtime/backends/accounts.py)
        others = LeadReader(leads_path, schema, events_path=events_path, on_bad_row="skip")
    d = ex.as_dict(engine, lead, asof, others)
    if fmt == "json":
        click.echo(ex.as_json(d))
    else:
        from runtime.report.explain import render_text

        console().print(render_text(d, is_tty()))


def _find_lead(path, schema, events_path, lead_id, on_bad_row):
    from runtime.io.readers import LeadReader

    reader = LeadReader(path, schema, events_path=events_path, on_bad_row=on_bad_row)
    for lead in reader:
        if lead.id == lead_id:
            return lead
    raise Failure(f"{path}: no lead with id {lead_id!r} ({reader.read:,} rows read)")
