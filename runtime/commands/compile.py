"""`leadrules compile`: print a rule file as generated Python (runtime/backends/pygen.py) or as one SQL
query (runtime/backends/sql.py) for duckdb, postgres, spark, snowflake or bigquery (docs/sql.md), or
write it as a dbt model with its schema.yml and unit tests (runtime/backends/dbt.py, docs/dbt.md).
"""
from __future__ import annotations

import click

from runtime.commands.options import Failure, as_of_option
from runtime.io.files import open_output


@click.command("compile")
@click.argument("file")
@click.option("--target", type=click.Choice(["python", "sql", "dbt"]), required=True,
              help="python: the generated scoring module; sql: one query over tables leads and events; "
                   "dbt: a dbt model, schema.yml and unit tests, written under --out DIR.")
@click.option("--dialect", type=click.Choice(["duckdb", "postgres", "spark", "snowflake", "bigquery"]),
              default="duckdb", show_default=True, help="SQL dialect (with --target sql).")
@click.option("-o", "--output", default=None, help="Write here instead of stdout.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="With --target dbt: the dbt project directory (models/ is written in it).")
@click.option("--source", "dbt_source", default="leadrules", show_default=True,
              help="With --target dbt: the dbt source the model reads.")
@click.option("--source-schema", default=None, help="With --target dbt: the source's schema (default: dbt's, "
                                                     "the source name).")
@click.option("--leads-table", default="leads", show_default=True, help="With --target dbt: the leads table of the source.")
@click.option("--events-table", default="events", show_default=True,
              help="With --target dbt: the events table of the source.")
@click.option("--model", "dbt_model", default="lead_scores", show_default=True,
              help="With --target dbt: the model's name (models/NAME.sql).")
@click.option("--force", is_flag=True, help="With --target dbt: overwrite files leadrules did not write.")
@as_of_option
def compile_cmd(file, target, dialect, output, out_dir, dbt_source, source_schema, leads_table, events_table,
                dbt_model, force, as_of):
    """Print FILE compiled to Python or SQL.

    With --target dbt, write it as a dbt model, schema.yml and unit tests under --out DIR instead
    (docs/dbt.md). The SQL query reads table `leads` (column `id` plus one column per declared field; a text list
    is an array) and table `events` (`lead_id`, `type`, `at` as a UTC timestamp, one column per event
    attribute), each column by the name the rule file reads it from (`from "Job Title"`) and returns one row per lead with the columns of `score`'s CSV. It scores as of
    --as-of, else the database's CURRENT_DATE. With --target python, --as-of becomes the default
    of the generated `score(lead, asof)`."""
    from runtime.backends.load import load_rules

    if target == "dbt":
        return _dbt(file, dialect, out_dir, dbt_source, source_schema, leads_table, events_table, dbt_model, force,
                    as_of)
    if out_dir is not None:
        raise click.UsageError("--out is for --target dbt; use -o FILE")
    from runtime.backends.capability import python_limits, sql_limits

    rules = load_rules(file)
    if target == "sql":
        from runtime.backends.sql import SqlGenError, to_sql

        lim = sql_limits(rules.checked, build=False)  # (to_sql raises SqlGenError for the rest)
        if lim:
            raise Failure(f"cannot compile to SQL: {lim[0].text(rules.display)}")
        try:
            text = to_sql(rules.checked, dialect, as_of, source_columns=True,
                          provenance=rules.engine.plan.provenance) + ";\n"
        except SqlGenError as e:
            raise Failure(f"{rules.display}: cannot compile to SQL: {e}")
    else:
        from runtime.backends.pygen import python_source

        lim = python_limits(rules.checked)
        if lim:
            raise Failure(f"cannot generate Python: {lim[0].text(rules.display)} (the built-in engine still "
                          "scores it: `leadrules score`)")
        text = python_source(rules.checked, as_of)
    if output in (None, "-"):
        click.echo(text, nl=False)
    else:
        with open_output(output) as fh:  # whole or absent (runtime/io/files.py)
            fh.write(text)


def _dbt(file, dialect, out_dir, source, source_schema, leads_table, events_table, model, force, as_of):
    """Write the dbt model, schema.yml (and dbt_project.yml when the directory has none)."""
    from pathlib import Path

    from runtime.backends.load import load_rules

    if out_dir is None:
        raise click.UsageError("--target dbt writes several files: give the dbt project directory with --out DIR")
    try:
        from runtime.backends.dbt import DBT_PROJECT, MARK, DbtGenError, DbtOptions, dbt_files
        from runtime.backends.sql import SqlGenError
    except ImportError:
        raise Failure("--target dbt needs sqlglot: pip install 'leadrules[sql]'")
    rules = load_rules(file)
    opts = DbtOptions(dialect=dialect, as_of=as_of, source=source, source_schema=source_schema,
                      leads_table=leads_table, events_table=events_table, model=model)
    try:
        out = dbt_files(rules, opts)
    except (SqlGenError, DbtGenError) as e:
        raise Failure(f"{rules.display}: cannot compile to a dbt model: {e}")
    root = Path(out_dir)
    files = dict(out.files)
    if not (root / "dbt_project.yml").exists():
        files["dbt_project.yml"] = DBT_PROJECT
    for rel in files:
        p = root / rel
        if p.exists() and not force and rel != "dbt_project.yml":
            try:
                ours = MARK in p.read_text(encoding="utf-8")[:2000]
            except (OSError, UnicodeDecodeError):
                ours = False
            if not ours:
                raise Failure(f"{p}: exists and was not written by leadrules; move it, or overwrite it with --force")
    for rel, text in files.items():
        p = root / rel
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise Failure(f"{p}: cannot write ({e.strerror})")
        with open_output(str(p)) as fh:  # whole or absent (runtime/io/files.py)
            fh.write(text)
        click.echo(f"wrote {p}", err=True)
    for note in out.notes:
        click.echo(f"note: {note}", err=True)
