"""`leadrules compile`: print a rule file as generated Python (dsl/pycodegen.py) or as one SQL query
(dsl/sqlgen.py) for duckdb, postgres, spark, snowflake or bigquery. See docs/sql.md.
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

    rules = load_rules(file)
    if target == "sql":
        from runtime.backends.sql import SqlGenError, to_sql

        try:
            text = to_sql(rules.checked, dialect, as_of) + ";\n"
        except SqlGenError as e:
            raise Failure(f"{rules.display}: cannot compile to SQL: {e}")
    else:
        from runtime.backends.pygen import Unsupported, python_source

        try:
            text = python_source(rules.checked, as_of)
        except Unsupported as e:
            raise Failure(f"{rules.display}: cannot generate Python for it: {e} "
                          "(the built-in engine still scores it: `leadrules score`)")
    if output in (None, "-"):
        click.echo(text, nl=False)
    else:
        from runtime.io.files import open_output

        with open_output(output) as fh:  # whole or absent (runtime/io/files.py)
            fh.write(text)
