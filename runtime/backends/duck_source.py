"""DuckDB reads a leads file itself: the input contract of runtime/io/coerce.py in SQL, for clean files.

`stage(con, schema, path)` parses a JSON Lines (or Parquet) file in DuckDB into the temporary tables
`lr_leads` and `lr_events` (the shape runtime/backends/duckdb_engine.py scores), with each value read
by the SQL builder of its coercion rule (`sql_text`, `sql_number`, ... — one per rule of
runtime/io/coerce.py, each pinned to it by a property test in tests/test_duck_source.py). A builder
gives the value and whether the value is *plain*: read here exactly as coerce.py reads it. When every
row, value and event is plain and no id repeats, there is no bad row and the staged tables are what
runtime.io.readers.LeadReader would have built; otherwise (or when DuckDB cannot parse the file) it
returns the reason and the caller reads the file through LeadReader instead, with its bad rows and
physical lines. See docs/input.md ("The DuckDB engine's own reader").
"""
from __future__ import annotations

import os

from runtime.core.model import BOOL, DATE, NUMBER, TEXT, TEXT_LIST, Schema

# the characters Python's str.isspace() and str.strip() see as white space (pinned by a test)
WS = (r"[\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
      r"\x{205f}\x{3000}]")


def _str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_blank(s: str) -> str:
    """coerce.blank of a VARCHAR expression (empty or only white space). A text that starts with a
    printable ASCII character other than the space is not blank: no regular expression for it."""
    return f"CASE WHEN ord({s}) BETWEEN 33 AND 126 THEN false ELSE regexp_full_match({s}, {_str(WS + '*')}) END"


def sql_strip(s: str) -> str:
    """Python's str.strip() of a VARCHAR expression."""
    return f"regexp_replace({s}, {_str('^' + WS + '+|' + WS + '+$')}, '', 'g')"


# Each builder takes `t`, the JSON type of a value (json_type: 'VARCHAR', 'BIGINT', 'UBIGINT',
# 'DOUBLE', 'BOOLEAN', 'ARRAY', 'OBJECT', 'NULL'; SQL NULL when the key is absent) and `s`, its
# json_extract_string text, and returns (value, plain): the value in the engine's column type and
# whether coerce.py reads the value to exactly that. A value that is not plain may be fine (coerce.py
# reads it, differently or with more work) or bad: either way the file is read by runtime.io.readers.
_NUM = "('BIGINT', 'UBIGINT', 'DOUBLE')"


def sql_text(t: str, s: str) -> tuple[str, str]:
    value = f"CASE WHEN {t} = 'VARCHAR' AND NOT {sql_blank(s)} THEN {s} END"
    return value, f"coalesce({t} IN ('NULL', 'VARCHAR'), true)"


def sql_number(t: str, s: str) -> tuple[str, str]:
    d = f"TRY_CAST({s} AS DOUBLE)"
    value = f"CASE WHEN {t} IN {_NUM} THEN {d} END"
    return value, f"coalesce({t} = 'NULL' OR ({t} IN {_NUM} AND isfinite({d})), true)"


def sql_bool(t: str, s: str) -> tuple[str, str]:
    value = f"CASE WHEN {t} = 'BOOLEAN' THEN {s} = 'true' END"
    return value, f"coalesce({t} IN ('NULL', 'BOOLEAN'), true)"


_DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z)?"


def sql_day(s: str, day: str | None = None) -> tuple[str, str]:
    """The UTC date of a VARCHAR `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ` (runtime.io.coerce.day_ordinal
    of those forms), and whether `s` is one of them and a real date in the years 1-9999. `day`: a
    column that already holds `sql_try_day(s)`."""
    day = day or sql_try_day(s)
    ok = f"(regexp_full_match({s}, {_str(_DATE_RE)}) AND left({s}, 4) <> '0000' AND {day} IS NOT NULL)"
    return f"CASE WHEN {ok} THEN {day} END", ok


def sql_try_day(s: str) -> str:
    """The date of the first ten characters of `s`, NULL when they are none (see sql_day)."""
    return f"TRY_CAST(left({s}, 10) AS DATE)"


def sql_date(t: str, s: str) -> tuple[str, str]:
    day, ok = sql_day(s)
    value = f"CASE WHEN {t} = 'VARCHAR' THEN {day} END"
    return value, f"coalesce({t} = 'NULL' OR ({t} = 'VARCHAR' AND ({ok} OR {sql_blank(s)})), true)"


def sql_text_list(t: str, s: str) -> tuple[str, str]:
    items = f"TRY_CAST(TRY_CAST({s} AS JSON) AS JSON[])"
    split = (f"CASE WHEN {sql_blank(s)} THEN NULL WHEN contains({s}, ';') THEN "
             f"list_filter(list_transform(string_split({s}, ';'), lambda x: {sql_strip('x')}), lambda x: x <> '') "
             f"ELSE [{sql_strip(s)}] END")
    xs = "(x->>'$')"
    from_list = (f"list_transform(list_filter({items}, lambda x: json_type(x) = 'VARCHAR' AND NOT {sql_blank(xs)}), "
                 f"lambda x: {xs})")
    value = f"CASE {t} WHEN 'VARCHAR' THEN {split} WHEN 'ARRAY' THEN {from_list} END"
    plain = (f"coalesce({t} IN ('NULL', 'VARCHAR') OR ({t} = 'ARRAY' AND "
             f"list_bool_and(list_transform({items}, lambda x: json_type(x) IN ('NULL', 'VARCHAR')))), true)")
    return value, plain


BUILDERS = {TEXT: sql_text, NUMBER: sql_number, DATE: sql_date, BOOL: sql_bool, TEXT_LIST: sql_text_list}
SQL_TYPES = {TEXT: "VARCHAR", NUMBER: "DOUBLE", DATE: "DATE", BOOL: "BOOLEAN", TEXT_LIST: "VARCHAR[]"}


def _qid(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _path(key: str) -> str:
    return _str("$." + '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"')


def unsupported(schema: Schema, path: str, events_path: str | None, delimiter: str | None) -> str | None:
    """Why DuckDB cannot read this input itself (None: it can try): it reads uncompressed JSON Lines
    leads with embedded events and columns named as the rule file declares them."""
    if events_path is not None:
        return "a separate events file"
    if not path.lower().endswith((".jsonl", ".ndjson", ".json", ".parquet", ".pq")):
        return "not a JSON Lines or Parquet file"
    if schema.sources or schema.event_columns or schema.event_sources or schema.attr_sources:
        return "columns renamed with `from`"
    attrs: dict[str, str] = {}
    for at in schema.events.values():
        for a, t in at.items():
            if attrs.setdefault(a, t) != t:
                return f"attribute {a!r} has two types"
    return None


def _lines(path: str) -> int:
    """Physical lines of a file (a last line without a newline counts)."""
    n, last = 0, b"\n"
    with open(path, "rb") as fh:
        while True:
            buf = fh.read(1 << 22)
            if not buf:
                break
            n += buf.count(b"\n")
            last = buf[-1:]
    return n + (last != b"\n")


class Staged:
    """The counters of a staged file, as runtime.io.readers.LeadReader's for a file without bad rows."""

    def __init__(self, read: int, ignored: dict[str, int]):
        self.read, self.ignored_events = read, ignored
        self.rejected = self.bad_events = self.events_read = self.orphan_events = 0
        self.bad_rows: list = []
        self.orphan_lead_ids: list = []
        self.missing_columns: list = []
        self.unused_columns: list = []
        self.delimiter = None


def stage(con, schema: Schema, path: str) -> Staged | str:
    """Parse `path` in DuckDB into `lr_leads` (lr_row, id, lr_numbered, fields ...) and `lr_events`
    (lead_id, type, at, attributes ...). A `Staged` when every row is plain, else the reason (the
    tables are dropped). A Parquet file is staged from its typed columns (`_stage_parquet`: row k
    is line k, as runtime.io.readers numbers Parquet rows), each column read as the reader reads
    pyarrow's value of it (tests/test_duck_source.py)."""
    import duckdb

    try:
        if path.lower().endswith((".parquet", ".pq")):
            return _stage_parquet(con, schema, path)
        return _stage(con, schema, path)
    except duckdb.Error as e:
        drop(con)
        msg = str(e).strip().splitlines()
        return f"DuckDB cannot parse it ({msg[0] if msg else type(e).__name__})"


# Parquet: each used column is read from its typed value by one adapter per Parquet type, giving the
# (json type, text) pair a JSON Lines value of that Parquet value would have, so the JSON builders
# above apply unchanged; a few (type, declared type) pairs read the typed value directly (FAST).
# What is not here (FLOAT: a float32 is not the double pyarrow gives; DECIMAL; time stamps; BLOB;
# lists of other than text ...) sends the file to runtime.io.readers. Each adapter and fast builder
# is pinned to the reader by a property test in tests/test_duck_source.py.
_PQ_INTS = {"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT"}
_DAY_OK = "BETWEEN DATE '0001-01-01' AND DATE '9999-12-31'"


def pq_scalar(c: str, ts: str) -> tuple[str, str] | None:
    """(json type, text) of a Parquet scalar column `c` of DuckDB type `ts`, as runtime.io.readers
    sees pyarrow's value of it; None for a type not read here."""
    def t(name: str) -> str:
        return f"CASE WHEN {c} IS NULL THEN 'NULL' ELSE {name} END"
    if ts == "VARCHAR":
        return t("'VARCHAR'"), c
    if ts in _PQ_INTS:
        return t("'BIGINT'"), f"CAST({c} AS VARCHAR)"
    if ts == "DOUBLE":
        return t("'DOUBLE'"), f"CAST({c} AS VARCHAR)"
    if ts == "BOOLEAN":
        return t("'BOOLEAN'"), f"CASE WHEN {c} THEN 'true' ELSE 'false' END"
    if ts == "DATE":  # pyarrow's date; text: its isoformat; out of years 1-9999 the reader's business
        return t(f"CASE WHEN {c} {_DAY_OK} THEN 'VARCHAR' ELSE 'ODD' END"), f"strftime({c}, '%Y-%m-%d')"
    return None


def pq_value(c: str, dtype) -> tuple[str, str] | None:
    """(json type, text) of a Parquet column of any type read here (scalars, lists of text)."""
    if dtype.id == "list":
        if str(dtype.child).upper() != "VARCHAR":
            return None
        return f"CASE WHEN {c} IS NULL THEN 'NULL' ELSE 'ARRAY' END", f"CAST(to_json({c}) AS VARCHAR)"
    return pq_scalar(c, str(dtype).upper())


def pq_fast(c: str, dtype, type_name: str) -> tuple[str, str] | None:
    """(value, plain) read straight from a typed Parquet column, for the common pairs."""
    ts = str(dtype).upper()
    if type_name == TEXT and ts == "VARCHAR":
        return f"CASE WHEN NOT {sql_blank(c)} THEN {c} END", "true"
    if type_name == NUMBER and (ts in _PQ_INTS or ts == "DOUBLE"):
        return f"CAST({c} AS DOUBLE)", f"coalesce(isfinite(CAST({c} AS DOUBLE)), true)"
    if type_name == BOOL and ts == "BOOLEAN":
        return c, "true"
    if type_name == DATE and ts == "DATE":
        return f"CASE WHEN {c} {_DAY_OK} THEN {c} END", f"coalesce({c} {_DAY_OK}, true)"
    if type_name == TEXT_LIST and dtype.id == "list" and str(dtype.child).upper() == "VARCHAR":
        return f"list_filter({c}, lambda x: x IS NOT NULL AND NOT {sql_blank('x')})", "true"
    return None


def pq_builder(c: str, dtype, type_name: str) -> tuple[str, str] | None:
    """(value, plain) of a declared field of `type_name` from Parquet column `c` of type `dtype`."""
    fast = pq_fast(c, dtype, type_name)
    if fast is not None:
        return fast
    if str(dtype).upper() == "DATE" and type_name not in (TEXT, DATE):
        return None  # a date object, not its text: the reader's business
    tv = pq_value(c, dtype)
    return None if tv is None else BUILDERS[type_name](*tv)


def _stage_parquet(con, schema: Schema, path: str) -> Staged | str:
    from runtime.io.readers import Builder, InputError, header_report

    fields, idk = schema.fields, schema.id_field
    keys = [idk, *fields] + (["events"] if schema.events else [])
    lowered = {k.strip().casefold() for k in keys}
    lit = _str(path)
    rel = con.sql(f"SELECT * FROM read_parquet({lit})")
    names, types = list(rel.columns), dict(zip(rel.columns, rel.types))
    # the columns are read by their plain names, as runtime.io.readers.Builder.exact says
    if len(set(names)) != len(names) or not Builder(schema).exact(names) or any(
            k not in keys and k.strip().casefold() in lowered for k in names):
        return "columns it does not match by their plain names"
    try:
        missing, unused = header_report(schema, names, path)
    except InputError as e:
        return str(e)

    def odd(col: str) -> str:
        return f"Parquet column {col!r} is of type {types[col]}"

    cname = {k: f"lr_c{i}" for i, k in enumerate(keys)}
    if idk in types:
        tv = pq_value(cname[idk], types[idk])
        if tv is None or types[idk].id == "list":
            return odd(idk)
        id_t, id_s = tv
        id_value = (f"CASE WHEN {id_t} = 'VARCHAR' AND NOT {sql_blank(id_s)} THEN {id_s} "
                    f"WHEN {id_t} = 'BIGINT' THEN {id_s} END")
        id_plain = f"{id_t} IN ('NULL', 'VARCHAR', 'BIGINT')"
    else:
        id_value, id_plain = "CAST(NULL AS VARCHAR)", "true"
    cols, plains = [], [id_plain]
    for f, t in fields.items():
        if f in types:
            vp = pq_builder(cname[f], types[f], t)
            if vp is None:
                return odd(f)
            value, plain = vp
        else:
            value, plain = "NULL", "true"
        cols.append(f"CAST({value} AS {SQL_TYPES[t]}) AS {_qid(f)}")
        plains.append(plain)
    member_tv = None
    evj = "NULL"
    if schema.events and "events" in types:
        et = types["events"]
        if et.id != "list" or et.child.id != "struct":
            return odd("events")
        members = dict(et.child.children)
        ev_types = {a: t for at in schema.events.values() for a, t in at.items()}
        for k in event_names(schema):
            ts = str(members[k]).upper() if k in members else None
            if ts is not None and (pq_scalar("x", ts) is None or (
                    ts == "DATE" and k != "at" and ev_types.get(k) not in (TEXT, DATE))):
                return odd("events")

        def member_tv(e: str, k: str) -> tuple[str, str]:
            if k not in members:
                return "CAST(NULL AS VARCHAR)", "CAST(NULL AS VARCHAR)"
            return pq_scalar(f"{e}.{_qid(k)}", str(members[k]).upper())
        evj = cname["events"]
    used = [k for k in keys if k in types]
    renames = ", ".join([f"{_qid(k)} AS {cname[k]}" for k in used] + ["file_row_number AS lr_fr"])
    # read in parallel; a row's line is its file_row_number + 1, as runtime.io.readers numbers
    # Parquet rows (from 1, in file order)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE lr_raw AS
        WITH x AS (SELECT {renames} FROM read_parquet({lit}, file_row_number = true))
        SELECT lr_fr + 1 AS lr_line, {id_value} AS lr_id, {' AND '.join(f'coalesce({p}, false)' for p in plains)} AS lr_ok,
               {', '.join(cols) + ',' if cols else ''}
               {evj} AS lr_evj FROM x""")
    return _finish(con, schema, member_tv, missing, unused)


def drop(con) -> None:
    con.execute("DROP VIEW IF EXISTS lr_leads; DROP TABLE IF EXISTS lr_raw; DROP TABLE IF EXISTS lr_events")


def _stage(con, schema: Schema, path: str) -> Staged | str:
    fields = schema.fields
    idk = schema.id_field
    has_events = bool(schema.events)
    keys = [idk, *fields] + (["events"] if has_events else [])
    lowered = {k.strip().casefold() for k in keys}
    lit = _str(path)
    # one parse of each line: every declared key as a JSON value (a key is read by its exact name;
    # the distinct key sets are checked below, so a loosely matching name falls back to the reader)
    cname = {k: f"lr_c{i}" for i, k in enumerate(keys)}
    # (each value's JSON type and text computed once, in a projection of their own: `lr_tN`, `lr_sN`)
    tv = {k: (f"lr_t{i}", f"lr_s{i}") for i, k in enumerate(keys)}
    typed = ", ".join(f"json_type({cname[k]}) AS lr_t{i}, ({cname[k]}->>'$') AS lr_s{i}"
                      for i, k in enumerate(keys) if k != "events" or not has_events)
    id_t, id_s = tv[idk]
    id_value = (f"CASE WHEN {id_t} = 'VARCHAR' AND NOT {sql_blank(id_s)} THEN {id_s} "
                f"WHEN {id_t} IN ('BIGINT', 'UBIGINT') THEN CAST(CAST({id_s} AS HUGEINT) AS VARCHAR) END")
    id_plain = f"coalesce({id_t} IN ('NULL', 'VARCHAR', 'BIGINT', 'UBIGINT'), true)"
    cols, plains = [], [id_plain]
    for f, t in fields.items():
        value, plain = BUILDERS[t](*tv[f])
        cols.append(f"CAST({value} AS {SQL_TYPES[t]}) AS {_qid(f)}")
        plains.append(plain)
    evj = cname["events"] if has_events else "NULL"
    # embedded events as a list of structs of JSON members, read by their exact keys as the reader
    # reads them (DuckDB refuses a repeated key, an event that is not an object, events that are not
    # a list: the reader's business)
    ev_names = event_names(schema)
    ev_type = "STRUCT(" + ", ".join(f"{_qid(k)} JSON" for k in ev_names) + ")[]"
    spec = "{" + ", ".join(f"{_str(k)}: {_str(ev_type if (has_events and k == 'events') else 'JSON')}"
                           for k in keys) + "}"
    # read_json names columns by the keys; renamed to lr_cN so that no key can clash with ours
    renames = ", ".join(f"{_qid(k)} AS {cname[k]}" for k in keys)
    # Read in parallel: the table keeps the file's order (preserve_insertion_order), so a row's
    # rowid + 1 is its line (checked below: every line is a row); row_number() OVER () would number
    # the rows in one thread (a third of the staging time)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE lr_raw AS
        WITH x0 AS (SELECT {renames}
                    FROM read_json({lit}, format = 'newline_delimited', columns = {spec})),
        x AS (SELECT *, {typed} FROM x0)
        SELECT {id_value} AS lr_id, {' AND '.join(f'({p})' for p in plains)} AS lr_ok,
               {', '.join(cols) + ',' if cols else ''}
               {evj} AS lr_evj FROM x""")
    n, bad, dups = _view(con, "rowid + 1")
    why = None
    # each distinct set of keys is read by the plain names, as runtime.io.readers.Builder.exact says
    # (a key that matches a declared name only loosely, or a repeated key, is the reader's business)
    from runtime.io.readers import Builder

    b = Builder(schema)
    for jt, ks in con.execute(f"SELECT DISTINCT json_type(json), json_keys(json) "
                              f"FROM read_ndjson_objects({lit})").fetchall():
        if jt != "OBJECT" or len(set(ks)) != len(ks) or not b.exact(ks) or any(
                k not in keys and k.strip().casefold() in lowered for k in ks):
            bad += 1
            break
    if not bad and not dups and n != _lines(path):
        why = "blank or unparsed lines"
    return _check(con, schema, n, bad, dups, why, "rowid + 1", _json_member)


def _json_member(e: str, k: str) -> tuple[str, str]:
    return f"json_type({e}.{_qid(k)})", f"({e}.{_qid(k)}->>'$')"


def _view(con, line: str) -> tuple[int, int, int]:
    """`lr_leads` over `lr_raw` (a row's line is `line`); (rows, rows not plain, repeated ids)."""
    con.execute(f"""CREATE OR REPLACE TEMP VIEW lr_leads AS
                   SELECT {line} AS lr_row, coalesce(lr_id, CAST({line} AS VARCHAR)) AS id,
                          lr_id IS NULL AS lr_numbered, * EXCLUDE (lr_id, lr_ok, lr_evj{
                          ', lr_line' if line == 'lr_line' else ''}) FROM lr_raw""")
    return con.execute("""SELECT count(*), count(*) FILTER (WHERE NOT lr_ok),
                                 count(lr_id) - count(DISTINCT lr_id) FROM lr_raw""").fetchone()


def _check(con, schema: Schema, n: int, bad: int, dups: int, why: str | None, line: str,
           member) -> Staged | str:
    if bad:
        why = f"{bad:,} row{'s' if bad != 1 else ''} with values it does not read the same way"
    elif dups:
        why = "duplicate ids"
    if why is None:
        why = _stage_events(con, schema, line, member)
    if isinstance(why, str):
        drop(con)
        return why
    return Staged(n, why)


def _finish(con, schema: Schema, member, missing: list, unused: list) -> Staged | str:
    n, bad, dups = _view(con, "lr_line")
    out = _check(con, schema, n, bad, dups, None, "lr_line", member or _json_member)
    if isinstance(out, Staged):
        out.missing_columns, out.unused_columns = missing, unused
    return out


def event_names(schema: Schema) -> list[str]:
    """The keys of an embedded event the reader looks at: type, at and every declared attribute."""
    names = ["type", "at"]
    for at in schema.events.values():
        for a in at:
            if a not in names:
                names.append(a)
    return names


def _stage_events(con, schema: Schema, line: str, member) -> dict[str, int] | str:
    """`lr_events` from the leads' `lr_evj`; the ignored {type: count}, or why an event is not plain."""
    events = schema.events
    attrs: dict[str, str] = {}
    for at in events.values():
        for a, t in at.items():
            if a not in ("type", "at"):
                attrs.setdefault(a, t)

    # each member's JSON type and text computed once, in an inner projection (`lr_tN`, `lr_sN`)
    members = ["type", "at", *attrs]
    inner = ", ".join(f"{member('e', k)[0]} AS lr_t{i}, {member('e', k)[1]} AS lr_s{i}"
                      for i, k in enumerate(members))

    def tv(k: str) -> tuple[str, str]:
        i = members.index(k)
        return f"lr_t{i}", f"lr_s{i}"

    declared = ", ".join(_str(t) for t in events) or "NULL"
    (t_t, s), (a_t, a_s) = tv("type"), tv("at")
    # the date of `at` and whether it is one, computed once per event in projections of their own
    _, at_ok_expr = sql_day(a_s, "lr_atday0")
    at_day, at_ok = "CASE WHEN lr_atok THEN lr_atday0 END", "lr_atok"
    cols, plains = [], []
    for a, t in attrs.items():
        value, plain = BUILDERS[t](*tv(a))
        owners = ", ".join(_str(et) for et, at in events.items() if a in at)
        cols.append(f"CASE WHEN {s} IN ({owners}) THEN CAST({value} AS {SQL_TYPES[t]}) END AS {_qid(a)}")
        plains.append(f"CASE WHEN {s} IN ({owners}) THEN {plain} ELSE true END")
    known = f"{s} IN ({declared})"
    ignorable = ("false" if schema.strict_events else
                 f"(NOT {sql_blank(s)} AND {sql_strip(s)} NOT IN ({declared}))")
    ok = (f"CASE WHEN lr_null OR NOT coalesce({t_t} = 'VARCHAR', false) THEN false "
          f"WHEN {known} THEN coalesce({a_t} = 'VARCHAR', false) AND {at_ok}"
          + "".join(f" AND {p}" for p in plains) + f" ELSE {ignorable} END")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE lr_events AS
        WITH u0 AS (SELECT {line} AS lr_row, unnest(range(1, len(lr_evj) + 1)) AS k, unnest(lr_evj) AS e
                    FROM lr_raw WHERE len(lr_evj) > 0),
        u1 AS MATERIALIZED (SELECT lr_row, k, e IS NULL AS lr_null, {inner} FROM u0),
        u2 AS (SELECT *, {sql_try_day(a_s)} AS lr_atday0 FROM u1),
        u AS (SELECT *, {at_ok_expr} AS lr_atok FROM u2)
        SELECT lr_row AS lead_id, k AS lr_k, {s} AS type, {ok} AS lr_ok, {known} AS lr_known,
               CAST({at_day} AS TIMESTAMP) + INTERVAL 12 HOUR AS at {''.join(', ' + c for c in cols)} FROM u""")
    bad = con.execute("SELECT count(*) FROM lr_events WHERE NOT lr_ok").fetchone()[0]
    if bad:
        return f"{bad:,} event{'s' if bad != 1 else ''} it does not read the same way"
    # in the order the reader meets them (file order)
    ignored = dict(con.execute("SELECT type, count(*) FROM lr_events WHERE NOT lr_known GROUP BY type "
                               "ORDER BY min([lead_id, lr_k])").fetchall())
    con.execute("DELETE FROM lr_events WHERE NOT lr_known")
    con.execute("ALTER TABLE lr_events DROP COLUMN lr_ok; ALTER TABLE lr_events DROP COLUMN lr_known; "
                "ALTER TABLE lr_events DROP COLUMN lr_k")
    return ignored


def default_memory() -> str:
    """DuckDB's memory cap for the engine: LEADRULES_DUCKDB_MEMORY, else a quarter of the machine's
    memory, at most 1 GiB (DuckDB spills what does not fit to a temporary directory)."""
    env = os.environ.get("LEADRULES_DUCKDB_MEMORY")
    if env:
        return env
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 4 << 30
    return f"{max(128, min(1024, total // 4 >> 20))}MB"
