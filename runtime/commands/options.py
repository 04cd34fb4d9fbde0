"""Pieces shared by every command: options, the as-of date, input summaries, the `Failure` error.

Every command lives in runtime/commands/ (cli.py keeps the group and the error mapping); they all use
these so that options, messages and exit codes read the same everywhere.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from dsl.diagnostics import RuleError

from runtime.core.errors import EXIT_ERROR, EXIT_FAIL, EXIT_OK, Failure  # noqa: F401 (re-exported)


class DateType(click.ParamType):
    name = "DATE"

    def convert(self, value, param, ctx):
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-11-01", param, ctx)


DATE = DateType()


def today_utc() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def as_of_option(f):
    return click.option("--as-of", "as_of", type=DATE, default=None,
                        help="Score as of this date (YYYY-MM-DD). Default: today (UTC).")(f)


def input_options(f):
    f = click.option("--id-field", default="id", show_default=True, help="The field that identifies a lead.")(f)
    f = click.option("--rejects", type=click.Path(dir_okay=False), default=None,
                     help="With --on-bad-row skip: write every bad row here (JSONL).")(f)
    f = click.option("--on-bad-row", type=click.Choice(["fail", "skip"]), default="fail", show_default=True,
                     help="fail: stop with exit 2 on a bad row; skip: set it aside and go on.")(f)
    f = click.option("--events", "events_path", type=str, default=None,
                     help="Events in a separate file (JSONL, CSV or Parquet with lead_id, type, at, ...).")(f)
    return f


def schema_of(rules, id_field: str = "id"):
    from runtime.core import model

    return model.schema_of(rules.checked, id_field)


def beside(path: str, suffix: str) -> str:
    p = Path(path)
    name = p.name
    for ext in (".jsonl.gz", ".csv.gz", ".jsonl", ".csv", ".json"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
            break
    return str(p.with_name(name + suffix))


def input_summary(reader, scored: int, rejects_path: str | None) -> None:
    parts = [f"read {reader.read:,}", f"scored {scored:,}", f"rejected {reader.rejected:,}"]
    line = " · ".join(parts)
    if reader.rejected:
        line += f" (rejected rows: {rejects_path})" if rejects_path else ""
    orphans = getattr(reader, "orphan_events", 0)
    if orphans:
        line += f" · {orphans:,} events for leads not in the leads file"
    bad_ev = getattr(reader, "bad_events", 0)
    if bad_ev:
        line += f" · {bad_ev:,} bad events skipped"
    click.echo(line, err=True)
    if reader.rejected and not rejects_path:
        for b in reader.bad_rows[:5]:
            click.echo(f"  {b.source or 'input'}:{b.line}: {b.reason}", err=True)
        if reader.rejected > 5:
            click.echo(f"  ... and {reader.rejected - 5:,} more (use --rejects FILE to keep them)", err=True)




ENGINES = ("python", "duckdb")


def engine_options(f):
    """`--engine` and `--workers`, as every scoring command spells them."""
    f = click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Score in N processes (python engine, JSONL or CSV leads without --events); with "
                          "--engine duckdb, DuckDB's threads. Default: 1 process; DuckDB: every core.")(f)
    f = click.option("--engine", type=click.Choice(ENGINES), default="python", show_default=True,
                     help="python: the built-in engine; duckdb: the rule file compiled to SQL and run in DuckDB "
                          "(needs `pip install 'leadrules[sql]'`). Both give the same results.")(f)
    return f


def print_rule_error(err: RuleError, sources: dict[str, str] | None = None) -> None:
    from runtime.report import diagnostics as render

    diags = [d for d in err.diagnostics]
    if sources is None:
        sources = {}
        for d in diags:
            if d.file not in sources:
                try:
                    sources[d.file] = Path(d.file).read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    sources[d.file] = ""
    click.echo(render.text(diags, sources), err=True)
    n = sum(1 for d in diags if d.is_error)
    click.echo(f"{diags[0].file if diags else 'rule file'}: does not compile ({n} error{'s' if n != 1 else ''}); "
               f"run `leadrules lint` for details", err=True)


class EveryType(click.ParamType):
    """`--every N` for the over-time commands: whole days, written `7`, `7d`, `7 days` or `1 week`.
    0 and negative steps are rejected here (exit 2)."""

    name = "N"

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            n = value
        else:
            import re

            m = re.fullmatch(r"\s*(-?\d+)\s*(d|days?|w|weeks?)?\s*", str(value), re.IGNORECASE)
            if not m:
                self.fail(f"{value!r} is not a step: give a whole number of days, like 7 (or `7 days`, `1 week`)",
                          param, ctx)
            n = int(m.group(1)) * (7 if (m.group(2) or "d").lower().startswith("w") else 1)
        if n < 1:
            self.fail(f"{value} is not a step: give a whole number of days, 1 or more", param, ctx)
        return n


EVERY = EveryType()
