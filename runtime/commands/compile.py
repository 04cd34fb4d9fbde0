"""`leadrules compile`: print a rule file as generated Python (runtime/backends/pygen.py) or as one SQL
query (runtime/backends/sql.py) for duckdb, postgres, spark, snowflake or bigquery. See docs/sql.md.
"""
from __future__ import annotations

import click

from runtime.commands.options import Failure, as_of_option


@click.command("compile")
@click.argument("file")
@click.option("--target", type=click.Choice(["python", "sql"]), required=True,
              help="python: the generated scoring module; sql: one query over tables leads and events.")
@click.option("--dialect", type=click.Choice(["duckdb", "postgres", "spark", "snowflake", "bigquery"]),
              default="duckdb", show_default=True, help="SQL dialect (with --target sql).")
@click.option("-o", "--output", default=None, help="Write here instead of stdout.")
@as_of_option
def compile_cmd(file, target, dialect, output, as_of):
    """Print FILE compiled to Python or SQL.

    The SQL query reads table `leads` (column `id` plus one column per declared field; a text list
    is an array) and table `events` (`lead_id`, `type`, `at` as a UTC timestamp, one column per event
    attribute) and returns one row per lead with the columns of `score`'s CSV. It scores as of
    --as-of, else the database's CURRENT_DATE. With --target python, --as-of becomes the default
    of the generated `score(lead, asof)`."""
    from runtime.backends.load import load_rules

    from runtime.backends.capability import python_limits, sql_limits

    rules = load_rules(file)
    if target == "sql":
        from runtime.backends.sql import to_sql

        lim = sql_limits(rules.checked)
        if lim:
            raise Failure(f"cannot compile to SQL: {lim[0].text(rules.display)}")
        text = to_sql(rules.checked, dialect, as_of, provenance=rules.engine.plan.provenance) + ";\n"
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
        try:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as e:
            raise Failure(f"{output}: cannot write ({e.strerror})")
