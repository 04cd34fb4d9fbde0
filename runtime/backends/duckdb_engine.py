"""The DuckDB engine: score a leads file with the rule file's compiled SQL (runtime/backends/sql.py) in DuckDB.

The input is read by runtime.io.readers.LeadReader, the one input contract every engine shares: the
same columns, coercion, bad rows (with their lines and reasons), duplicates, ignored event types
and counters as the python engine. Its leads go to DuckDB as Arrow tables, `leads` and `events`,
in the declared types (a chunk at a time; the whole file when an accounts block groups leads), and
the compiled query scores them. Results come back in input order as
`runtime.backends.closure.Result`s, identical to the Python engine's.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterator

from runtime.core.model import Result

TEXT, NUMBER, DATE, BOOL, TEXT_LIST = "text", "number", "date", "bool", "text list"
BATCH = 20_000
CHUNK = 100_000  # leads scored by one query (without an accounts block)


def _input_error(msg: str) -> Exception:
    from runtime.io.readers import InputError

    return InputError(msg)


# (sqlglot is imported where a query is built: a cached query needs none of it, runtime/backends/querycache.py)
def _lit(text: str) -> str:
    from runtime.backends.sql import s

    return s(text).sql(dialect="duckdb")


def _id(name: str) -> str:
    from runtime.backends.sql import ident

    return ident(name).sql(dialect="duckdb")


def connect(threads: int | None = None, memory_limit: str | None = None):
    import duckdb

    from runtime.backends.duck_source import default_memory

    con = duckdb.connect(config={"preserve_insertion_order": True})
    con.execute("SET enable_progress_bar = false")
    limit = memory_limit or default_memory()
    con.execute("SET memory_limit = '" + limit.replace("'", "''") + "'")  # (a standard SQL string)
    con.execute("SET TimeZone = 'UTC'")  # dates are UTC dates
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def query_sql(checked, as_of: dt.date, passthrough=("lr_numbered",), criteria: bool = False,
              skip_column: str | None = None, reasons: bool = False) -> str:
    """The compiled query over `DuckSource`'s CTEs (or tables of the same shape); `criteria=True`
    adds every criterion's points, raw points and whether it fired (see sqlgen.build_query).
    Without `reasons`, each criterion's points instead: runtime/io/writers.py computes the reasons."""
    from runtime.backends import sql as sqlgen

    q = sqlgen.build_query(checked, "duckdb", as_of, id_column="id", key_column="lr_row", order_column="lr_row",
                           passthrough=tuple(passthrough), criteria=criteria, skip_column=skip_column,
                           reasons=reasons)
    return q.sql(dialect="duckdb")


def _json_text(c: str) -> str:
    """A VARCHAR column as json's encode_basestring writes it (`null` for NULL). DuckDB's to_json
    escapes a control character as \\u001F where Python writes \\u001f: such a value gives NULL (and
    the line is written by runtime/io/writers.py instead)."""
    return (f"CASE WHEN {c} IS NULL THEN 'null' WHEN NOT regexp_matches({c}, '[\\x00-\\x1f]') "
            f"THEN CAST(to_json({c}) AS VARCHAR) END")


def json_line_sql(checked, provenance_text: str) -> str:
    """`score`'s JSON line (runtime.io.writers.LineFormatter, JSONL without --explain or an accounts
    block) as a DuckDB expression over the compiled query's columns (with `reasons`), byte for byte:
    DuckDB writes a DOUBLE as Python's repr does and a string as json's encode_basestring, but for
    control characters (see _json_text). NULL where it cannot: the caller writes that row itself.
    Pinned to the writer by tests/test_duck_lines.py."""
    from json.encoder import encode_basestring as enc

    from dsl import nodes as n

    rf = checked.file
    dims = [sc.dim for sc in rf.of(n.Score)]
    graded = {g.dim for g in rf.of(n.Grade)}
    scores = " || ', ' || ".join(f"{_lit(enc(d) + ': ')} || CAST({_id(d + '_score')} AS VARCHAR)" for d in dims)
    bands = " || ', ' || ".join(f"{_lit(enc(d) + ': ')} || {_json_text(_id(d + '_band'))}"
                                for d in dims if d in graded)
    lit, none = _lit, "''"
    parts = [lit('{"id": '), _json_text('"id"'), lit(', "scores": {'),
             f"CASE WHEN disqualified IS NULL THEN {scores or none} ELSE '' END",
             lit('}, "bands": {'), f"CASE WHEN disqualified IS NULL THEN {bands or none} ELSE '' END",
             lit('}, "grade": '), _json_text("grade"), lit(', "route": '), _json_text("route"),
             lit(', "queue": '), _json_text("queue"), lit(', "sla": '), _json_text("sla"),
             lit(', "disqualified": '), _json_text("disqualified"), lit(', "reasons": '), _json_text("reasons"),
             lit(provenance_text)]
    return " || ".join(parts)


class DuckScore:
    """Iterate for the `Result`s of a leads file scored in DuckDB, in input order. The leads come
    from runtime.io.readers.LeadReader, so the counters (`read`, `rejected`, `bad_rows`,
    `bad_events`, `events_read`, `orphan_events`, `ignored_events`, `missing_columns`,
    `unused_columns`), the rejects and BadRowsError under on_bad_row="fail" (after the results of
    the rows before the first bad one) are the python engine's."""

    def __init__(self, rules, leads_path: str, events_path: str | None, as_of: dt.date, schema=None, *,
                 on_bad_row: str = "fail", rejects=None, threads: int | None = None, criteria: bool = False,
                 with_rows: bool = False, delimiter: str | None = None):
        """`criteria=True`: the Results carry every criterion's points, raw points and whether it
        fired, as the Python engine's do (for `--explain`, `simulate`, `diff`). `schema`: the
        reader's runtime.core.model.Schema (default: the rule file's), or an id column's name."""
        from runtime.backends.parallel import ParallelUnsupported, default_workers, score_parallel
        from runtime.io.readers import LeadReader, schema_for

        if schema is None or isinstance(schema, str):
            schema = schema_for(rules.checked, schema)
        self.rules, self.leads_path, self.events_path, self.as_of = rules, leads_path, events_path, as_of
        self.threads, self.criteria = threads, criteria
        self.with_rows = with_rows  # yield (line, Result) pairs (to line up two runs)
        self.account_stats = None  # runtime.backends.accounts.AccountStats, with criteria=True and an accounts block
        self._failed = None
        self.native = None  # the connection holding the staged file, when DuckDB read it itself
        self.native_skipped = None  # why DuckDB did not read the file itself (then runtime.io.readers did)
        from runtime.backends import duck_source

        why = duck_source.unsupported(schema, leads_path, events_path, delimiter)
        self.native_tried = why is None
        if why is None:
            con = connect(threads)
            got = duck_source.stage(con, schema, leads_path)
            if isinstance(got, str):
                con.close()
                why = got
            else:
                self.native, self.reader, self.parallel = con, got, False
                return
        self.native_skipped = why
        # JSONL and CSV are read by worker processes (one per core, or `threads`), the rest here;
        # either way by runtime.io.readers, with its counters
        # (not after DuckDB ran threads in this process: a forked worker could inherit a held lock)
        self.parallel = True
        try:
            if self.native_tried:
                raise ParallelUnsupported("DuckDB ran in this process")
            self.reader = score_parallel(rules, leads_path, as_of_ordinal=as_of.toordinal(),
                                         workers=threads or default_workers(), fmt="columns", schema=schema,
                                         events_path=events_path, on_bad_row=on_bad_row, rejects=rejects,
                                         delimiter=delimiter)
        except ParallelUnsupported:
            self.parallel = False
            self.reader = LeadReader(leads_path, schema, events_path=events_path, on_bad_row=on_bad_row,
                                     rejects=rejects, delimiter=delimiter)

    def __getattr__(self, name):  # the reader's counters
        if name == "reader":
            raise AttributeError(name)
        return getattr(self.reader, name)

    def __iter__(self) -> Iterator[Result]:
        return self._run(None)

    def text(self, formatter) -> Iterator[str]:
        """`score`'s JSON lines (runtime.io.writers.LineFormatter `formatter`, JSONL without --explain,
        no accounts block) in chunks, made by DuckDB itself (json_line_sql): no Result per lead. A
        row DuckDB cannot write byte for byte is written by `formatter`. `scored` counts the lines."""
        self.scored = 0
        return self._run(formatter)

    def _run(self, formatter) -> Iterator:
        from dsl import nodes as n

        checked = self.rules.checked
        whole = checked.file.first(n.Accounts) is not None  # accounts group leads across the file
        seen: set = set()
        self._failed = None
        if self.native is not None:
            con, self.native = self.native, None
            try:
                con.execute("CREATE OR REPLACE TEMP VIEW leads AS SELECT * FROM lr_leads")
                con.execute("CREATE OR REPLACE TEMP VIEW events AS SELECT * FROM lr_events")
                yield from self._query(con, checked, None, seen, formatter)
            finally:
                con.close()
            return
        con = None  # connected after the reading processes have started (no fork of DuckDB's threads)
        try:
            for lcols, ecols, lines in self._chunks(checked, whole):
                if con is None:
                    con = connect(self.threads)
                yield from self._score(con, checked, lcols, ecols, lines, seen, formatter)
        finally:
            if con is not None:
                con.close()
        if self._failed is not None:
            raise self._failed

    def _chunks(self, checked, whole: bool) -> Iterator[tuple[dict, dict, list]]:
        """(leads columns, events columns, lines) of up to CHUNK leads at a time (all of them with
        `whole`). A BadRowsError is kept in `_failed`, after the chunk of the leads before it."""
        from runtime.io.readers import BadRowsError

        if not self.parallel:
            leads = iter(self.reader)
            done = False
            while not done:
                chunk = []
                try:
                    for lead in leads:
                        chunk.append(lead)
                        if not whole and len(chunk) >= CHUNK:
                            break
                    else:
                        done = True
                except BadRowsError as e:
                    self._failed, done = e, True
                if chunk:
                    yield (*lead_columns(checked, chunk), [lead.line for lead in chunk])
            return
        acc = lines = None
        count = 0
        try:
            for (lcols, ecols), kept, klines in self.reader:
                if acc is None:
                    acc = ({k: [] for k in lcols}, {k: [] for k in ecols})
                    lines = []
                _keep(lcols, ecols, kept, count, acc)
                lines += klines
                count += len(kept)
                if not whole and count >= CHUNK:
                    yield acc[0], acc[1], lines
                    acc, count = None, 0
        except BadRowsError as e:
            self._failed = e
        if acc is not None and count:
            yield acc[0], acc[1], lines

    def _score(self, con, checked, lcols: dict, ecols: dict, lines: list, seen: set, formatter=None) -> Iterator:
        ltab, etab = arrow_tables(checked, lcols, ecols)
        con.register("leads", ltab)
        con.register("events", etab)
        try:
            yield from self._query(con, checked, lines, seen, formatter)
        finally:
            con.unregister("leads")
            con.unregister("events")

    def _query(self, con, checked, lines: list | None, seen: set, formatter=None) -> Iterator:
        """Score the tables (or views) `leads` and `events`; `lines`: each lr_row's physical line
        (None: lr_row is the line). With `formatter`, text chunks (see `text`)."""
        import duckdb

        if formatter is not None:
            yield from self._text(con, checked, formatter)
            return
        try:
            cur = con.execute(query_sql(checked, self.as_of, ("lr_numbered", "lr_row"), criteria=self.criteria))
        except duckdb.Error as e:
            raise _input_error(f"{self.leads_path}: DuckDB could not score the input: {_short(e)}") from None
        names = [d[0] for d in cur.description]
        nacc = sum(1 for nm in names if nm.startswith("lr_account_fired_"))
        extra: tuple = ("lr_row",)
        if "lr_account_size" in names:
            from runtime.backends.accounts import AccountStats

            if self.account_stats is None:
                self.account_stats = AccountStats()
            extra += ("lr_account_size",) + tuple(f"lr_account_fired_{j}" for j in range(nacc))
        for r, row, *acct in _results(cur, checked, extra=extra):
            if acct:  # one account per key (and every keyless lead): simulate's account statistics
                key = r.account
                if key is None or key not in seen:
                    if key is not None:
                        seen.add(key)
                    self.account_stats.add(_Account(tuple(bool(x) for x in acct[1:]),
                                                    tuple(r.account_bands.values())), acct[0], key is None)
            yield ((row if lines is None else lines[row - 1]), r) if self.with_rows else r

    def _text(self, con, checked, formatter) -> Iterator[str]:
        import duckdb

        from runtime.backends import querycache

        def build() -> str:
            q = query_sql(checked, self.as_of, ("lr_numbered", "lr_row"), reasons=True)
            line = json_line_sql(checked, formatter.provenance_text)
            # each row's line, and the row itself (as a struct) only where the line is NULL
            return f"SELECT {line} AS lr_line, CASE WHEN lr_line IS NULL THEN lr_q END AS lr_rest FROM ({q}) lr_q"

        full = querycache.sql_text("duckline", checked.file.source,
                                   (self.as_of.isoformat(), formatter.provenance_text), build)
        try:
            cur = con.execute(full)
        except duckdb.Error as e:
            raise _input_error(f"{self.leads_path}: DuckDB could not score the input: {_short(e)}") from None
        write = formatter.write
        for rows in _batches(cur):
            texts = [t for t, _rest in rows]
            if None in texts:
                import io

                for j, (t, rest) in enumerate(rows):
                    if t is None:
                        buf = io.StringIO()
                        write(buf, next(_results(_Rows(rest), checked)))
                        texts[j] = buf.getvalue()
            self.scored += len(texts)
            yield "".join(texts)


class _Rows:
    """One row of the compiled query (a dict by column, in order) as a cursor for _results."""

    def __init__(self, row: dict):
        self.description = [(k,) for k in row]
        self.rows = [tuple(row.values())]

    def fetchmany(self, _n):
        rows, self.rows = self.rows, []
        return rows


class _Account:
    """What runtime.backends.accounts.AccountStats.add reads of an account."""

    __slots__ = ("fired", "band_names")

    def __init__(self, fired, band_names):
        self.fired, self.band_names = fired, band_names


def score_with_duckdb(rules, leads_path: str, events_path: str | None, as_of: dt.date,
                      id_field: str | None = None, **kw) -> Iterator[Result]:
    """Score a leads file in DuckDB; yields `Result`s (no per-criterion points) in input order.
    Keyword arguments: on_bad_row ("fail"|"skip"), rejects (a text file), threads. For the counters
    (read, rejected, bad_rows) iterate a `DuckScore` instead."""
    return iter(DuckScore(rules, leads_path, events_path, as_of, id_field, **kw))


def _short(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _batches(cur) -> Iterator[list]:
    """The query's rows, BATCH at a time; a DuckDB error while fetching is an input error."""
    import duckdb

    while True:
        try:
            rows = cur.fetchmany(BATCH)
        except duckdb.Error as e:
            raise _input_error(f"DuckDB could not score the input: {_short(e)}") from None
        if not rows:
            return
        yield rows


def _results(cur, checked, extra: tuple[str, ...] = (), first: list | None = None) -> Iterator:
    """Results from the compiled query's rows; with `extra` column names, (Result, *extras) tuples."""
    import itertools

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
    for rows in itertools.chain([first] if first else [], _batches(cur)):
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


def _attrs(checked) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for at in checked.events.values():
        for a, t in at.items():
            attrs.setdefault(a, t)
    return attrs


def lead_tables(checked, leads):
    """`leads` and `events` as Arrow tables in the declared types, for the compiled query: a lead's
    `lr_row` is its position in `leads` (from 1), an event's `lead_id` its lead's `lr_row`."""
    return arrow_tables(checked, *lead_columns(checked, leads))


def arrow_tables(checked, lcols: dict, ecols: dict):
    """The columns of `lead_columns` as the Arrow tables `leads` and `events`."""
    import pyarrow as pa

    arrow_t = {TEXT: pa.string(), NUMBER: pa.float64(), DATE: pa.date32(), BOOL: pa.bool_(), TEXT_LIST: pa.list_(pa.string())}
    lschema = pa.schema([("lr_row", pa.int64()), ("id", pa.string()), ("lr_numbered", pa.bool_())]
                        + [(f, arrow_t[t]) for f, t in checked.fields.items()])
    eschema = pa.schema([("lead_id", pa.int64()), ("type", pa.string()), ("at", pa.timestamp("us"))]
                        + [(a, arrow_t[t]) for a, t in _attrs(checked).items()])
    return pa.table(lcols, schema=lschema), pa.table(ecols, schema=eschema)


def lead_columns(checked, leads) -> tuple[dict, dict]:
    """The leads as plain column lists (picklable: worker processes build them), `lr_row` their
    position from 1 and the events' `lead_id` their lead's position."""
    fields: dict[str, str] = dict(checked.fields)
    events: dict[str, dict[str, str]] = {k: dict(v) for k, v in checked.events.items()}
    attrs = _attrs(checked)
    fromord = dt.date.fromordinal

    def conv(v, t):
        if v is None:
            return None
        if t == DATE:
            return fromord(v)
        if t == NUMBER:
            try:
                return float(v)
            except OverflowError:  # an integer beyond any double compares as an infinite one
                return float("inf") if v > 0 else float("-inf")
        if t == TEXT_LIST:
            return list(v)
        return v

    lcols = {"lr_row": list(range(1, len(leads) + 1)), "id": [lead.id for lead in leads],
             "lr_numbered": [lead.numbered for lead in leads]}
    for f, t in fields.items():
        vals = [lead.fields.get(f) for lead in leads]
        lcols[f] = vals if t in (TEXT, BOOL) else [conv(v, t) for v in vals]
    ecols = {"lead_id": [], "type": [], "at": []}
    acols = {a: ecols.setdefault(a, []) for a in attrs}
    # per event type: (its attributes with their converters, the other attribute columns)
    plans = {et: ([(a, acols[a], None if attrs[a] in (TEXT, BOOL) else attrs[a]) for a in at],
                  [acols[a] for a in attrs if a not in at]) for et, at in events.items()}
    noon = dt.time(12)
    stamp: dict[int, dt.datetime] = {}
    lid_a, typ_a, at_a = ecols["lead_id"].append, ecols["type"].append, ecols["at"].append
    for i, lead in enumerate(leads, 1):
        for e in lead.events:
            lid_a(i)
            typ_a(e.type)
            ts = stamp.get(e.day)
            if ts is None:
                ts = stamp[e.day] = dt.datetime.combine(fromord(e.day), noon)
            at_a(ts)
            own, other = plans[e.type]
            ea = e.attrs
            for a, col_, t in own:
                v = ea.get(a)
                col_.append(v if t is None or v is None else conv(v, t))
            for col_ in other:
                col_.append(None)
    return lcols, ecols


def _keep(lcols: dict, ecols: dict, kept: list[int], offset: int, into: tuple[dict, dict]) -> None:
    """Append the `kept` leads (0-based positions) of a batch's columns, and their events, to
    `into`, renumbered from `offset` + 1."""
    lo, eo = into
    n = len(lcols["lr_row"])
    if len(kept) == n:
        new = None
    else:
        new = [0] * (n + 1)
        for j, i in enumerate(kept, 1):
            new[i + 1] = j
    for k, vals in lcols.items():
        if k == "lr_row":
            lo[k].extend(range(offset + 1, offset + len(kept) + 1))
        elif new is None:
            lo[k].extend(vals)
        else:
            lo[k].extend([vals[i] for i in kept])
    lids = ecols["lead_id"]
    if new is None:
        for k, vals in ecols.items():
            eo[k].extend([x + offset for x in vals] if k == "lead_id" else vals)
        return
    rows = [r for r, x in enumerate(lids) if new[x]]
    for k, vals in ecols.items():
        eo[k].extend([new[lids[r]] + offset for r in rows] if k == "lead_id" else [vals[r] for r in rows])


def score_leads(checked, leads, as_of: dt.date, *, con=None, criteria: bool = False) -> list[Result]:
    """Score in-memory `runtime.core.model.Lead`s (already coerced, as the Python engine sees them) in
    DuckDB. `criteria=True`: the Results carry per-criterion points, raw points, fired and the route line."""
    ltab, etab = lead_tables(checked, list(leads))
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

