"""The compiled SQL of a rule file kept in the user cache (dsl/cache.py), so that `--engine duckdb`
neither imports sqlglot nor builds the query again (~0.3 s of every run) for a file it has compiled
before. An entry is named by the rule file's text, what the query is built for, and a hash of the
code that builds it (dsl/, runtime/core/, the SQL generator, sqlglot's version): any change is a miss."""
from __future__ import annotations

from typing import Callable

from dsl import cache

_CODE = ("dsl", "runtime/core", "runtime/backends/sql.py", "runtime/backends/duckdb_engine.py",
         "runtime/backends/capability.py")


def _name(kind: str, text: str, parts: tuple) -> str | None:
    try:
        from importlib.metadata import version

        code = cache.code_key(*_CODE, extra=(version("sqlglot"),))
    except Exception:  # noqa: BLE001 - no sqlglot, a source file that cannot be read: no cache
        return None
    return f"{kind}-" + cache.key(text, repr(parts), code)


def sql_text(kind: str, text: str, parts: tuple, build: Callable[[], str]) -> str:
    """The SQL `build()` gives for rule text `text` and `parts` (what else it depends on), from the
    cache when it holds it; also marks the file as one the SQL generator takes (see `builds`)."""
    name = _name(kind, text, parts)
    if name is not None:
        hit = cache.read(name)
        if hit is not None:
            return hit.decode("utf-8")
    sql = build()
    if name is not None:
        cache.write(name, sql.encode("utf-8"))
        cache.prune(f"{kind}-", 64)
        mark_builds(text)
    return sql


def builds(text: str) -> bool:
    """Has the SQL generator built a query for this rule text before (with this code)?"""
    name = _name("sqlok", text, ())
    return name is not None and cache.read(name) is not None


def mark_builds(text: str) -> None:
    name = _name("sqlok", text, ())
    if name is not None:
        cache.write(name, b"1")
        cache.prune("sqlok-", 256)
