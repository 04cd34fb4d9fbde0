"""The DuckDB engine: score a leads file with the rule file's compiled SQL (runtime/backends/sql.py) in DuckDB.

DuckDB reads JSONL (events embedded as `events: [{type, at, …}]`), CSV and Parquet directly, plus an
optional separate events file; two views give the compiled query its `leads` and `events` tables, in
the declared types and with the input row number as the join and order key. Results come back in
input order as `runtime.backends.closure.Result`s (without per-criterion points), identical to the Python
engine's. File paths reach SQL only as sqlglot string literals.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterator

from sqlglot import exp

from runtime.backends import sql as sqlgen
from runtime.backends.sql import ident, s

from runtime.core.model import Result

TEXT, NUMBER, DATE, BOOL, TEXT_LIST = "text", "number", "date", "bool", "text list"
_SQL_TYPE = {TEXT: "VARCHAR", NUMBER: "DOUBLE", DATE: "VARCHAR", BOOL: "BOOLEAN", TEXT_LIST: "VARCHAR[]"}
BATCH = 20_000


def _input_error(msg: str) -> Exception:
    try:
        from runtime.io.readers import InputError
    except ImportError:  # pragma: no cover - readers.py is always there in the package
        return RuntimeError(msg)
    return InputError(msg)


def _q(e: exp.Expression) -> str:
    return e.sql(dialect="duckdb")


def _lit(text: str) -> str:
    return _q(s(text))


def _id(name: str) -> str:
    return _q(ident(name))


def _kind(path: str) -> str:
    low = path.lower()
    if low.endswith((".parquet", ".pq")):
        return "parquet"
    if low.endswith((".csv", ".csv.gz", ".tsv")):
        return "csv"
    if low.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".json", ".json.gz", ".ndjson.gz")):
        return "jsonl"
    raise _input_error(f"{path}: unknown file type; the duckdb engine reads .jsonl, .csv and .parquet (.gz for "
                       "JSONL and CSV)")


def connect(threads: int | None = None, memory_limit: str | None = None):
    import duckdb

    con = duckdb.connect(config={"preserve_insertion_order": True})
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")  # `at` without an offset is UTC, and dates are UTC dates
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = {_lit(memory_limit)}")
    return con


def _columns(con, source: str) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    return {r[0]: r[1] for r in rows}


_WS = r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\pZ]"  # Python's str.isspace, for RE2


def _strip(e: str) -> str:
    return f"regexp_replace({e}, '^{_WS}+|{_WS}+$', '', 'g')"


def _as_utc_timestamp(e: str) -> str:
    """Date or ISO text (with or without an offset; none = UTC) to a naive UTC timestamp; NULL when
    it is not one."""
    return f"TRY_CAST(TRY_CAST({e} AS TIMESTAMPTZ) AS TIMESTAMP)"


_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
            "FLOAT", "DOUBLE")


class _Col:
    """One raw value as (json_type, text, JSON) SQL, whatever the file gave: JSON (JSON Lines),
    VARCHAR (CSV) or a native Parquet type."""

    def __init__(self, expr: str, native: str | None):
        self.native = native or "JSON"
        if self.native == "JSON":
            self.raw = expr
        elif self.native == "VARCHAR":
            self.raw = f"to_json({expr})"
        else:
            self.raw = f"to_json({expr})"
        self.expr = expr
        self.jt = f"json_type({self.raw})"
        self.s = f"({self.raw} ->> '$')" if self.native == "JSON" else f"CAST({expr} AS VARCHAR)"
        if self.native == "VARCHAR":
            self.jt = f"CASE WHEN {expr} IS NULL THEN 'NULL' ELSE 'VARCHAR' END"


def _coerce(c: _Col, typ: str) -> tuple[str, str]:
    """(value, bad) SQL: the value as runtime/io/readers.py coerces it to the declared type (NULL when
    missing), and whether the reader would call the row bad for it."""
    n, jt, s = c.native, c.jt, c.s
    if typ == TEXT and n in ("VARCHAR",):
        return c.expr, "FALSE"
    if typ == NUMBER and n in _NUMERIC:
        v = f"CAST({c.expr} AS DOUBLE)"
        return f"CASE WHEN isfinite({v}) THEN {v} END", f"({c.expr} IS NOT NULL AND NOT isfinite({v}))"
    if typ == BOOL and n == "BOOLEAN":
        return c.expr, "FALSE"
    if typ == DATE and n in ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE"):
        return f"CAST({_as_utc_timestamp(c.expr)} AS DATE)", "FALSE"
    if typ == TEXT_LIST and n == "VARCHAR[]":
        return c.expr, "FALSE"
    null = f"{jt} = 'NULL'"
    blank = f"({jt} = 'VARCHAR' AND {_strip(s)} = '')"
    if typ == TEXT:
        d = f"CAST({c.raw} AS DOUBLE)"
        v = (f"CASE {jt} WHEN 'VARCHAR' THEN {s} WHEN 'BIGINT' THEN {s} WHEN 'UBIGINT' THEN {s} "
             f"WHEN 'BOOLEAN' THEN {s} WHEN 'DOUBLE' THEN CASE WHEN isfinite({d}) AND {d} = trunc({d}) "
             f"THEN CAST(CAST({d} AS HUGEINT) AS VARCHAR) ELSE CAST({d} AS VARCHAR) END END")
        return v, f"({jt} IN ('ARRAY', 'OBJECT'))"
    if typ == NUMBER:
        v = (f"CASE {jt} WHEN 'BIGINT' THEN CAST({c.raw} AS DOUBLE) WHEN 'UBIGINT' THEN CAST({c.raw} AS DOUBLE) "
             f"WHEN 'DOUBLE' THEN CAST({c.raw} AS DOUBLE) "
             f"WHEN 'VARCHAR' THEN TRY_CAST(NULLIF({_strip(s)}, '') AS DOUBLE) END")
        v = f"CASE WHEN isfinite({v}) THEN {v} END"
        return v, f"(NOT ({null} OR {blank}) AND ({v}) IS NULL)"
    if typ == DATE:
        v = f"CASE {jt} WHEN 'VARCHAR' THEN CAST({_as_utc_timestamp(_strip(s))} AS DATE) END"
        return v, f"(NOT ({null} OR {blank}) AND ({v}) IS NULL)"
    if typ == BOOL:
        v = (f"CASE {jt} WHEN 'BOOLEAN' THEN CAST({c.raw} AS BOOLEAN) "
             f"WHEN 'VARCHAR' THEN CASE lower({_strip(s)}) WHEN 'true' THEN TRUE WHEN 'yes' THEN TRUE WHEN '1' THEN TRUE "
             f"WHEN 'false' THEN FALSE WHEN 'no' THEN FALSE WHEN '0' THEN FALSE END "
             f"WHEN 'BIGINT' THEN CASE {s} WHEN '1' THEN TRUE WHEN '0' THEN FALSE END "
             f"WHEN 'UBIGINT' THEN CASE {s} WHEN '1' THEN TRUE WHEN '0' THEN FALSE END END")
        return v, f"(NOT ({null} OR {blank}) AND ({v}) IS NULL)"
    # text list: a JSON list of scalars, or one text split on ';'
    items = f"CAST({c.raw} AS JSON[])"
    v = (f"CASE {jt} WHEN 'ARRAY' THEN list_transform({items}, lambda x: x ->> '$') "
         f"WHEN 'VARCHAR' THEN string_split({s}, ';') END")
    bad = (f"({jt} NOT IN ('NULL', 'ARRAY', 'VARCHAR') OR ({jt} = 'ARRAY' AND "
           f"len(list_filter({items}, lambda x: json_type(x) IN ('ARRAY', 'OBJECT'))) > 0))")
    return v, bad


class _StrictFailed(Exception):
    """The fast, strict reading does not apply to this input: read it leniently."""


class DuckSource:
    """`leads` and `events` over the input files, in the rule file's declared types, as CTEs to put
    in front of the compiled query (`self.ctes`). The raw input is numbered once (a materialized
    CTE, or Parquet's own row numbers) so that leads, their embedded events and the output order all
    agree on the row number. Values are coerced as runtime/io/readers.py coerces them; `leads.lr_bad`
    says which rows the reader would reject (and `lr_reason` why)."""

    def __init__(self, con, checked, leads_path: str, events_path: str | None, id_field: str = "id", *,
                 lenient: bool = False):
        """`lenient`: read JSON Lines values as JSON and coerce them here (any form the reader
        accepts); else DuckDB reads them in the declared types (fast; a value in another form makes
        the query fail, and DuckScore retries leniently)."""
        fields: dict[str, str] = dict(checked.fields)
        events: dict[str, dict[str, str]] = {k: dict(v) for k, v in checked.events.items()}
        attrs: dict[str, str] = {}
        for _et, at in events.items():
            for a, t in at.items():
                if a not in ("type", "at"):
                    attrs.setdefault(a, t)
        self.attrs = attrs
        self.events_stats: str | None = None  # CTEs over every row of a separate events file
        for p in [leads_path] + ([events_path] if events_path else []):
            if not Path(p).exists():
                raise _input_error(f"{p}: no such file")
        kind = _kind(leads_path)
        if kind == "jsonl":
            if lenient:
                cols = {id_field: "JSON"}
                for f in fields:
                    cols[f] = "JSON"
                if events:
                    cols.setdefault("events", "JSON")
            else:
                cols = {id_field: "VARCHAR"}
                for f, t in fields.items():
                    cols[f] = _SQL_TYPE[t]
                if events:
                    st = ", ".join([f"{_id('type')} VARCHAR", f"{_id('at')} VARCHAR"]
                                   + [f"{_id(a)} {_SQL_TYPE[t]}" for a, t in attrs.items()])
                    cols.setdefault("events", f"STRUCT({st})[]")
            spec = ", ".join(f"{_id(k)}: {_lit(v)}" for k, v in cols.items())
            src = (f"read_json({_lit(leads_path)}, format = 'newline_delimited', columns = {{{spec}}}, "
                   f"maximum_object_size = 104857600)")
        elif kind == "csv":
            src = f"read_csv({_lit(leads_path)}, header = true, all_varchar = true)"
        else:
            src = f"read_parquet({_lit(leads_path)})"
        have = _columns(con, src)
        if kind == "parquet":
            src = f"read_parquet({_lit(leads_path)}, file_row_number = true)"
            ctes = [("lr_raw", f"SELECT file_row_number + 1 AS lr_row, * EXCLUDE (file_row_number) FROM {src}")]
        else:
            ctes = [("lr_raw", f"SELECT row_number() OVER () AS lr_row, * FROM {src}")]

        sel = ["lr_row"]
        bads = []
        if id_field in have:
            # the id as text, as written; a blank one: the lead is numbered by its row
            v, idbad = _coerce(_Col(_id(id_field), have[id_field]), TEXT)
            idv = f"CASE WHEN {_strip(v)} <> '' THEN {v} END"
            bads.append((idbad, f"field \"{id_field}\": not a text"))
        else:
            idv = "NULL"
        sel.append(f"COALESCE({idv}, CAST(lr_row AS VARCHAR)) AS id")
        sel.append(f"({idv}) IS NULL AS lr_numbered")
        for f, t in fields.items():
            if f in have:
                if t == DATE and not lenient and have[f] == "VARCHAR":
                    # strict: a text that is not a date stops the query, which is then run leniently
                    v, bad = f"CAST(CAST(NULLIF({_strip(_id(f))}, '') AS TIMESTAMPTZ) AS DATE)", "FALSE"
                else:
                    v, bad = _coerce(_Col(_id(f), have[f]), t)
                bads.append((bad, f"field \"{f}\": not a {t}"))
            else:
                v = "NULL"
            sel.append(f"{v} AS {_id(f)}")

        # embedded events: from a list of structs (typed) or from JSON, checked and coerced like the
        # reader does; a bad embedded event makes its lead a bad row
        ev_rows = []
        ev_type = have.get("events")
        types = ", ".join(_lit(t) for t in events)
        plain_attrs = all(t in (TEXT, NUMBER) for t in attrs.values())
        if events and ev_type is not None:
            is_list = ev_type.startswith("STRUCT") and ev_type.endswith("[]")
            if is_list and not lenient and plain_attrs:
                # fast: events as structs, `at` cast strictly (an unreadable one stops the query, which
                # is then run leniently); an event of an undeclared type makes the lead a bad row
                st = self._struct_fields(ev_type)
                typ = f"CAST(x.{_id('type')} AS VARCHAR)" if "type" in st else "CAST(NULL AS VARCHAR)"
                bads.append((f"list_bool_or(list_transform(events, lambda x: x IS NULL OR {typ} IS NULL OR "
                             f"{typ} NOT IN ({types})))", "an embedded event has no or an undeclared type"))
                ev_rows.append(self._typed_events(st, types))
            elif is_list:
                ev_rows.append(self._json_events("(SELECT lr_row AS lead_id, UNNEST(CAST(to_json(events) AS JSON[])) "
                                                 "AS e FROM lr_raw)", types, False))
            else:
                evc = _Col("events", ev_type)
                bads.append((f"NOT ({evc.jt} IN ('NULL', 'ARRAY') OR ({evc.jt} = 'VARCHAR' AND {_strip(evc.s)} = ''))",
                             '"events": not a list of events'))
                ev_rows.append(self._json_events(f"(SELECT lr_row AS lead_id, UNNEST(CAST({evc.raw} AS JSON[])) AS e "
                                                 f"FROM lr_raw WHERE {evc.jt} = 'ARRAY')", types, False))
        sel_bad = " OR ".join(f"COALESCE({b}, FALSE)" for b, _r in bads) or "FALSE"
        reason = ("CASE " + " ".join(f"WHEN COALESCE({b}, FALSE) THEN {_lit(r)}" for b, r in bads) + " END"
                  if bads else "CAST(NULL AS VARCHAR)")
        ctes.append(("lr_leads0", f"SELECT {', '.join(sel)}, {sel_bad} AS lr_bad, {reason} AS lr_reason FROM lr_raw"))
        if events and events_path:
            # a separate events file, joined on the lead's id (numbered leads get none); a bad row of
            # it is dropped (and counted), as the reader does under --on-bad-row skip
            ek = _kind(events_path)
            if ek == "jsonl":
                esrc = (f"(SELECT json AS e FROM read_json({_lit(events_path)}, format = 'newline_delimited', "
                        f"records = false, columns = {{json: 'JSON'}}))")
            elif ek == "csv":
                esrc = f"(SELECT to_json(x) AS e FROM read_csv({_lit(events_path)}, header = true, all_varchar = true) AS x)"
            else:
                esrc = f"(SELECT to_json(x) AS e FROM read_parquet({_lit(events_path)}) AS x)"
            lid = "(x.e ->> 'lead_id')"
            lid_text = (f"CASE WHEN json_type(x.e -> 'lead_id') = 'DOUBLE' AND CAST(x.e -> 'lead_id' AS DOUBLE) = "
                        f"trunc(CAST(x.e -> 'lead_id' AS DOUBLE)) THEN CAST(CAST(CAST(x.e -> 'lead_id' AS DOUBLE) AS HUGEINT) "
                        f"AS VARCHAR) ELSE {lid} END")
            joined = (f"(SELECT l.lr_row AS lead_id, x.e AS e FROM {esrc} AS x JOIN lr_leads0 AS l "
                      f"ON l.id = {lid_text} AND NOT l.lr_numbered)")
            ev_rows.append(self._json_events(joined, types, True))
            # every row of the events file, for the counts runtime.io.readers.LeadReader gives: rows read,
            # bad rows (no lead_id, an undeclared type, an unreadable `at` or attribute) and orphans
            # (good events whose lead_id names no lead that was read)
            every = (f"(SELECT CASE WHEN {_strip(lid_text)} <> '' THEN {lid_text} END AS lead_id, x.e AS e, "
                     f"row_number() OVER () AS lr_n FROM {esrc} AS x)")
            self.events_stats = (
                f"lr_eall AS ({self._json_events(every, types, True, extra='lr_n')}), "
                f"lr_egood AS (SELECT lead_id, lr_n FROM lr_eall WHERE NOT lr_bad AND lead_id IS NOT NULL), "
                f"lr_eorph AS (SELECT lead_id, count(*) AS n, min(lr_n) AS first FROM lr_egood WHERE lead_id NOT IN "
                f"(SELECT id FROM leads WHERE NOT lr_bad AND NOT lr_numbered) GROUP BY lead_id)")
        checked_rows = any("AS lr_bad" in r and "FALSE AS lr_bad" not in r for r in ev_rows)
        if ev_rows and not checked_rows:
            ctes.append(("lr_ev1", " UNION ALL ".join(ev_rows)))
            ctes.append(("leads", "SELECT * FROM lr_leads0"))
            acols = "".join(f", {_id(a)}" for a in attrs)
            ctes.append(("events", f"SELECT lead_id, \"type\", \"at\"{acols} FROM lr_ev1"))
        elif ev_rows:
            ctes.append(("lr_ev1", " UNION ALL ".join(ev_rows)))
            ctes.append(("lr_evbad", "SELECT DISTINCT lead_id FROM lr_ev1 WHERE lr_bad AND NOT lr_file"))
            ctes.append(("leads", "SELECT l.* REPLACE (l.lr_bad OR b.lead_id IS NOT NULL AS lr_bad, "
                                  "CASE WHEN l.lr_bad THEN l.lr_reason WHEN b.lead_id IS NOT NULL "
                                  "THEN 'an embedded event cannot be read' END AS lr_reason) "
                                  "FROM lr_leads0 AS l LEFT JOIN lr_evbad AS b ON b.lead_id = l.lr_row"))
            acols = "".join(f", {_id(a)}" for a in attrs)
            ctes.append(("events", f"SELECT lead_id, \"type\", \"at\"{acols} FROM lr_ev1 WHERE NOT lr_bad"))
        else:
            ctes.append(("leads", "SELECT * FROM lr_leads0"))
            asel = ["CAST(NULL AS BIGINT) AS lead_id", "CAST(NULL AS VARCHAR) AS \"type\"",
                    "CAST(NULL AS TIMESTAMP) AS \"at\""]
            asel += [f"CAST(NULL AS {_SQL_TYPE[t] if t != DATE else 'DATE'}) AS {_id(a)}" for a, t in attrs.items()]
            ctes.append(("events", f"SELECT {', '.join(asel)} WHERE FALSE"))
        ctes[0] = ("lr_raw", ctes[0][1], "MATERIALIZED")
        self.ctes = ctes

    @staticmethod
    def _struct_fields(struct_list_type: str) -> dict[str, str]:
        """Field names (and types) of a `STRUCT(...)[]` type string from DESCRIBE."""
        import re

        body = struct_list_type[len("STRUCT("):-len(")[]")]
        out, depth, cur = {}, 0, ""
        for ch in body + ",":
            if ch == "," and depth == 0:
                m = re.match(r'\s*("(?:[^"]|"")*"|\S+)\s+(.*)$', cur)
                if m:
                    name = m.group(1)
                    if name.startswith('"'):
                        name = name[1:-1].replace('""', '"')
                    out[name] = m.group(2).strip()
                cur = ""
                continue
            depth += ch in "(["
            depth -= ch in ")]"
            cur += ch
        return out

    def _typed_events(self, have: dict[str, str], types: str) -> str:
        """Event rows from a list-of-struct `events` column (typed JSON Lines, Parquet): `at` cast
        strictly (the lenient run checks it), the lead's bad flag comes from the list itself."""
        if "at" not in have:
            raise _StrictFailed()
        a = f"e.{_id('at')}"
        # `...Z` (the common case) needs no time zone machinery; other offsets go through TIMESTAMPTZ
        at = (f"CASE WHEN suffix(CAST({a} AS VARCHAR), 'Z') THEN CAST({a} AS TIMESTAMP) "
              f"ELSE CAST(CAST({a} AS TIMESTAMPTZ) AS TIMESTAMP) END")
        typ = f"CAST(e.{_id('type')} AS VARCHAR)" if "type" in have else "CAST(NULL AS VARCHAR)"
        sel = ["lead_id", f"{typ} AS \"type\"", f"{at} AS \"at\""]
        for a, t in self.attrs.items():
            if a in have:
                v, bad = _coerce(_Col(f"e.{_id(a)}", have[a]), t)
                if bad != "FALSE":
                    raise _StrictFailed()
            else:
                v = "NULL"
            sel.append(f"{v} AS {_id(a)}")
        return (f"SELECT {', '.join(sel)}, FALSE AS lr_bad, FALSE AS lr_file "
                f"FROM (SELECT lr_row AS lead_id, UNNEST(events) AS e FROM lr_raw) WHERE e IS NOT NULL")

    def _json_events(self, source: str, types: str, from_file: bool, extra: str | None = None) -> str:
        """Event rows from JSON objects `e` (with `lead_id`) of `source`."""
        at_ts = _as_utc_timestamp("(e ->> 'at')")
        sel = ["lead_id", "(e ->> 'type') AS \"type\"", f"{at_ts} AS \"at\""]
        bads = ["json_type(e) <> 'OBJECT'", "(e ->> 'type') IS NULL", f"(e ->> 'type') NOT IN ({types})",
                "json_type(e -> 'at') <> 'VARCHAR'", f"{at_ts} IS NULL"]
        bads = [f"COALESCE({b}, TRUE)" for b in bads]
        for a, t in self.attrs.items():
            v, bad = _coerce(_Col(f"(e -> {_lit(a)})", "JSON"), t)
            sel.append(f"{v} AS {_id(a)}")
            bads.append(f"COALESCE({bad}, FALSE)")
        if extra:
            sel.append(extra)
        return (f"SELECT {', '.join(sel)}, ({' OR '.join(bads)}) AS lr_bad, {'TRUE' if from_file else 'FALSE'} "
                f"AS lr_file FROM {source}")

    def with_query(self, sql: str) -> str:
        """The compiled query (which starts with WITH) with these CTEs in front."""
        assert sql.startswith("WITH "), sql[:20]
        return self.prefix() + ", " + sql[len("WITH "):]

    def prefix(self) -> str:
        defs = []
        for c in self.ctes:
            name, body = c[0], c[1]
            mat = f" {c[2]}" if len(c) > 2 else ""
            defs.append(f"{name} AS{mat} ({body})")
        return "WITH " + ", ".join(defs)


def query_sql(checked, as_of: dt.date, passthrough=("lr_numbered",), criteria: bool = False,
              skip_column: str | None = None) -> str:
    """The compiled query over `DuckSource`'s CTEs (or tables of the same shape); `criteria=True`
    adds every criterion's points, raw points and whether it fired (see sqlgen.build_query)."""
    q = sqlgen.build_query(checked, "duckdb", as_of, id_column="id", key_column="lr_row", order_column="lr_row",
                           passthrough=tuple(passthrough), criteria=criteria, skip_column=skip_column,
                           reasons=False)  # each criterion's points instead: runtime/io/writers.py computes them
    return q.sql(dialect="duckdb")


class DuckScore:
    """Iterate for the `Result`s (no per-criterion points) of a leads file scored in DuckDB, in input
    order. Like runtime.io.readers.LeadReader it counts `read` and `rejected`, keeps `bad_rows`, writes
    rejects under on_bad_row="skip" and raises BadRowsError under "fail" (after the results of the
    rows before the first bad one). A bad row's `line` is its row number in the file (blank lines
    not counted) and its `raw` is empty: DuckDB does not keep the text of the row."""

    def __init__(self, rules, leads_path: str, events_path: str | None, as_of: dt.date, id_field: str = "id", *,
                 on_bad_row: str = "fail", rejects=None, threads: int | None = None, criteria: bool = False,
                 with_rows: bool = False):
        """`criteria=True`: the Results carry every criterion's points, raw points and whether it
        fired, as the Python engine's do (for `--explain`, `simulate`, `diff`)."""
        self.rules, self.leads_path, self.events_path, self.as_of = rules, leads_path, events_path, as_of
        self.id_field, self.on_bad_row, self.rejects, self.threads = id_field, on_bad_row, rejects, threads
        self.criteria = criteria
        self.with_rows = with_rows  # yield (row number, Result) pairs (to line up two runs)
        self.read = self.rejected = self.bad_events = self.orphan_events = self.events_read = 0
        self.bad_rows: list = []
        self.orphan_lead_ids: list[str] = []
        self.account_stats = None  # runtime.backends.accounts.AccountStats, with criteria=True and an accounts block

    def _run(self, con, checked, *, lenient: bool):
        """(source, cursor, first rows): the compiled query started; DuckDB errors propagate."""
        from runtime.core.model import BadRow
        from runtime.io.readers import BadRowsError

        src = DuckSource(con, checked, self.leads_path, self.events_path, self.id_field, lenient=lenient)
        if self.events_path and checked.events and src.events_stats:
            pre = src.prefix() + ", " + src.events_stats
            read, bad_ev = con.execute(pre + " SELECT count(*), count(*) FILTER (WHERE lr_bad OR lead_id IS NULL) "
                                             "FROM lr_eall").fetchone()
            self.events_read, self.bad_events = read, bad_ev
            orph = con.execute(pre + " SELECT lead_id, n FROM lr_eorph ORDER BY first").fetchall()
            self.orphan_events = sum(n for _lid, n in orph)
            self.orphan_lead_ids = [lid for lid, _n in orph[:20]]
            if bad_ev and self.on_bad_row == "fail":
                raise BadRowsError([BadRow(0, f"{bad_ev:,} rows of the events file cannot be read (a lead_id, "
                                              "a declared type and a date or timestamp `at` are needed)",
                                           "", self.events_path)])
        sql = src.with_query(query_sql(checked, self.as_of, ("lr_numbered", "lr_bad", "lr_reason", "lr_row"),
                                       criteria=self.criteria, skip_column="lr_bad"))
        cur = con.execute(sql)
        return src, cur, cur.fetchmany(BATCH)

    def __iter__(self) -> Iterator[Result]:
        import duckdb

        from runtime.core.model import BadRow
        from runtime.io.readers import MAX_FAIL_ROWS, MAX_KEPT_ROWS, BadRowsError

        checked = self.rules.checked
        con = connect(self.threads)
        fail_rows: list = []
        try:
            try:
                src, cur, first = self._run(con, checked, lenient=False)
            except (duckdb.Error, _StrictFailed):
                try:  # a value in a form DuckDB does not read as its type: read the values as JSON
                    src, cur, first = self._run(con, checked, lenient=True)
                except duckdb.Error as e2:
                    raise _input_error(f"{self.leads_path}: DuckDB could not read or score the input: "
                                       f"{_short(e2)}") from None
            src_name = self.leads_path
            names = [d[0] for d in cur.description]
            nacc = sum(1 for nm in names if nm.startswith("lr_account_fired_"))
            extra = ("lr_bad", "lr_reason", "lr_row")
            if "lr_account_size" in names:
                from runtime.backends.accounts import AccountStats

                self.account_stats = AccountStats()
                extra += ("lr_account_size",) + tuple(f"lr_account_fired_{j}" for j in range(nacc))
            seen: set = set()
            for r, bad, reason, row, *acct in _results(cur, checked, extra=extra, first=first):
                self.read += 1
                if bad:
                    self.rejected += 1
                    b = BadRow(row, reason or "a value cannot be read as its declared type", "", src_name)
                    if len(self.bad_rows) < MAX_KEPT_ROWS:
                        self.bad_rows.append(b)
                    if self.on_bad_row == "fail":
                        fail_rows.append(b)
                        if len(fail_rows) >= MAX_FAIL_ROWS:
                            break
                    elif self.rejects is not None:
                        import json

                        self.rejects.write(json.dumps({"source": b.source, "line": b.line, "reason": b.reason,
                                                       "row": b.raw}, ensure_ascii=False) + "\n")
                    continue
                if acct:  # one account per key (and every keyless lead): simulate's account statistics
                    key = r.account
                    if key is None or key not in seen:
                        if key is not None:
                            seen.add(key)
                        self.account_stats.add(_Account(tuple(bool(x) for x in acct[1:]),
                                                        tuple(r.account_bands.values())), acct[0], key is None)
                if not fail_rows:
                    yield (row, r) if self.with_rows else r
        finally:
            con.close()
        if fail_rows:
            raise BadRowsError(fail_rows, more=len(fail_rows) >= MAX_FAIL_ROWS)


class _Account:
    """What runtime.backends.accounts.AccountStats.add reads of an account."""

    __slots__ = ("fired", "band_names")

    def __init__(self, fired, band_names):
        self.fired, self.band_names = fired, band_names


def score_with_duckdb(rules, leads_path: str, events_path: str | None, as_of: dt.date,
                      id_field: str = "id", **kw) -> Iterator[Result]:
    """Score a leads file in DuckDB; yields `Result`s (no per-criterion points) in input order.
    Keyword arguments: on_bad_row ("fail"|"skip"), rejects (a text file), threads. For the counters
    (read, rejected, bad_rows) iterate a `DuckScore` instead."""
    return iter(DuckScore(rules, leads_path, events_path, as_of, id_field, **kw))


def _short(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _results(cur, checked, extra: tuple[str, ...] = (), first: list | None = None) -> Iterator:
    """Results from the compiled query's rows; with `extra` column names, (Result, *extras) tuples."""
    import duckdb

    from dsl import nodes as n

    rf = checked.file
    dims = [sc.dim for sc in rf.of(n.Score)]
    graded = {g.dim for g in rf.of(n.Grade)}
    names = [d[0] for d in cur.description]
    pos = {nm: i for i, nm in enumerate(names)}
    score_pos = [(d, pos[f"{d}_score"]) for d in dims]
    band_pos = [(d, pos[f"{d}_band"]) for d in dims if d in graded]
    i_id, i_grade, i_route, i_queue, i_sla, i_dq = (pos[k] for k in ("id", "grade", "route", "queue", "sla", "disqualified"))
    i_num = pos["lr_numbered"]
    i_extra = [pos[x] for x in extra]
    k = 0
    while f"lr_points_{k}" in pos:
        k += 1
    i_p = [pos[f"lr_points_{j}"] for j in range(k)]
    # without criteria=True only the points are there (for the reasons): raw and fired are left empty
    full = k and "lr_raw_0" in pos
    i_r = [pos[f"lr_raw_{j}"] for j in range(k)] if full else []
    i_f = [pos[f"lr_fired_{j}"] for j in range(k)] if full else []
    zeros, nones = (0,) * k, (False,) * k
    i_li = pos.get("lr_route_line")
    i_reasons = pos.get("reasons")  # kernel.reasons, computed in the query
    # accounts: the account key, scores and bands of every lead
    i_acc = pos.get("account")
    acc_score_pos = [(nm[len("account_"):-len("_score")], i) for nm, i in pos.items()
                     if i_acc is not None and i > i_acc and nm.startswith("account_") and nm.endswith("_score")]
    acc_band_pos = [(nm[len("account_"):-len("_band")], i) for nm, i in pos.items()
                    if i_acc is not None and i > i_acc and nm.startswith("account_") and nm.endswith("_band")]
    while True:
        if first is not None:
            rows, first = first, None
        else:
            try:
                rows = cur.fetchmany(BATCH)
            except duckdb.Error as e:
                raise _input_error(f"DuckDB could not score the input: {_short(e)}") from None
        if not rows:
            break
        for r in rows:
            if r[i_dq] is not None:
                res = Result(r[i_id], {}, {}, "disqualified", r[i_route], r[i_queue], r[i_sla], r[i_dq],
                             zeros if k else (), zeros if k else (), nones if k else (), numbered=bool(r[i_num]),
                             route_line=None if i_li is None else r[i_li])
            elif k:
                res = Result(r[i_id], {d: r[i] for d, i in score_pos}, {d: r[i] for d, i in band_pos}, r[i_grade],
                             r[i_route], r[i_queue], r[i_sla], None, tuple([r[i] for i in i_p]),
                             tuple([r[i] for i in i_r]), tuple([bool(r[i]) for i in i_f]), numbered=bool(r[i_num]),
                             route_line=None if i_li is None else r[i_li])
            else:
                res = Result(r[i_id], {d: r[i] for d, i in score_pos}, {d: r[i] for d, i in band_pos}, r[i_grade],
                             r[i_route], r[i_queue], r[i_sla], None, numbered=bool(r[i_num]))
            if i_reasons is not None:
                res.reasons = r[i_reasons]
            if i_acc is not None:
                res.account = r[i_acc]
                res.account_scores = {d: r[i] for d, i in acc_score_pos}
                res.account_bands = {d: r[i] for d, i in acc_band_pos if r[i] is not None}
            yield (res, *[r[i] for i in i_extra]) if extra else res


def score_leads(checked, leads, as_of: dt.date, *, con=None, criteria: bool = False) -> list[Result]:
    """Score in-memory `runtime.core.model.Lead`s (already coerced, as the Python engine sees them) in
    DuckDB. Used by the differential tests: it compares the engines on exactly the same data.
    `criteria=True`: the Results carry per-criterion points, raw points, fired and the route line."""
    import pyarrow as pa

    fields: dict[str, str] = dict(checked.fields)
    events: dict[str, dict[str, str]] = {k: dict(v) for k, v in checked.events.items()}
    attrs: dict[str, str] = {}
    for at in events.values():
        for a, t in at.items():
            attrs.setdefault(a, t)
    arrow_t = {TEXT: pa.string(), NUMBER: pa.float64(), DATE: pa.date32(), BOOL: pa.bool_(), TEXT_LIST: pa.list_(pa.string())}

    def conv(v, t):
        if v is None:
            return None
        if t == DATE:
            return dt.date.fromordinal(v)
        if t == NUMBER:
            return float(v)
        if t == TEXT_LIST:
            return list(v)
        return v

    lcols = {"lr_row": [], "id": [], "lr_numbered": []}
    for f in fields:
        lcols[f] = []
    ecols = {"lead_id": [], "type": [], "at": []}
    for a in attrs:
        ecols[a] = []
    for i, lead in enumerate(leads, 1):
        lcols["lr_row"].append(i)
        lcols["id"].append(lead.id)
        lcols["lr_numbered"].append(lead.numbered)
        for f, t in fields.items():
            lcols[f].append(conv(lead.fields.get(f), t))
        for e in lead.events:
            ecols["lead_id"].append(i)
            ecols["type"].append(e.type)
            ecols["at"].append(dt.datetime.combine(dt.date.fromordinal(e.day), dt.time(12)))
            for a, t in attrs.items():
                ecols[a].append(conv(e.attrs.get(a), t) if a in events.get(e.type, {}) else None)
    lschema = pa.schema([("lr_row", pa.int64()), ("id", pa.string()), ("lr_numbered", pa.bool_())]
                        + [(f, arrow_t[t]) for f, t in fields.items()])
    eschema = pa.schema([("lead_id", pa.int64()), ("type", pa.string()), ("at", pa.timestamp("us"))]
                        + [(a, arrow_t[t]) for a, t in attrs.items()])
    ltab = pa.table(lcols, schema=lschema)
    etab = pa.table(ecols, schema=eschema)
    own = con is None
    con = con or connect()
    try:
        con.register("leads", ltab)
        con.register("events", etab)
        sql = query_sql(checked, as_of, criteria=criteria)
        cur = con.execute(sql)
        out = list(_results(cur, checked))
        con.unregister("leads")
        con.unregister("events")
        return out
    finally:
        if own:
            con.close()


file_kind = _kind  # public name (runtime/backends/scoring.py checks the input up front with it)
