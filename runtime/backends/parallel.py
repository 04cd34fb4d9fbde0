"""`score --workers N`: score a JSONL or CSV leads file in N processes, output in input order.

The main process reads raw lines (JSONL) or rows (CSV: the header and the delimiter are found here,
once) in batches and hands them to a pool of worker processes, at most a few batches ahead (memory
stays flat however long the file); each worker builds its leads with runtime.io.readers' `Builder`
(the one input contract: the same coercion and bad-row reasons as `LeadReader`), scores them and
returns the formatted output with each lead's id and line. The main process puts the batches back in
input order and, lead by lead, rejects ids seen before in any batch (so duplicates are found across
workers) and sends every bad row to the one `BadRowSink`. A separate events file (`--events`) and
Parquet input are read by one process (`ParallelUnsupported`).
"""
from __future__ import annotations

import bisect
import collections
import contextlib
import datetime as dt
import io
import multiprocessing as mp
import os
import signal
import threading
from typing import Iterator

from runtime.core.model import BadRow
from runtime.io.writers import LineFormatter

BATCH = 2000
DRAIN_SECONDS = 60  # an early stop waits this long for each batch still in a worker


class ParallelUnsupported(Exception):
    """This input cannot be split between processes; score it in one."""


# ---- the worker side ----------------------------------------------------------------------------


def _worker_signals() -> None:
    """In a forked worker: SIGTERM back to its default action, and SIGINT ignored. The parent's
    SIGTERM handler (cli.py turns SIGTERM into an exception) runs Python code, so a worker stuck in C
    (a lock taken at fork time) never ran it and Pool.terminate waited for ever; the default action
    ends the worker in any state. Ctrl-C reaches the whole process group: the parent stops the run
    and collects the workers' batches (ParallelScore._results), a worker must not die mid-batch."""
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (ValueError, OSError):
        pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_worker_signals)

_W: dict = {}


def _init_worker(rules_spec: str, schema, fmt: str, explain: bool, asof: int, engine=None, lean=False):
    """`fmt`: "jsonl" or "csv" (batches come back as output text), "results" (as lists of Results:
    in this process), "tuples" (as lists of plain tuples: from another process, cheap to send) or
    "columns" (not scored: the leads as the DuckDB engine's column lists, duckdb_engine.lead_columns).
    `lean` (results, tuples): each Result carries its `reasons` instead of its per-criterion points
    (what `score` writes: less to hold and to send); lean="pieces", with an accounts block: each
    lead as the parts of its JSON line its account does not change (LineFormatter.account_piece),
    where it can be, else a lean Result."""
    from runtime.backends.load import load_rules
    from runtime.io.readers import Builder

    if engine is None:  # spawned, not forked: build it here
        engine = load_rules(rules_spec).engine
    b = Builder(schema)
    # generated code reads a JSON object by the plain names: only for files read by those names
    plain_events = not (schema.event_columns or schema.event_sources or schema.attr_sources)
    _W.update(engine=engine, builder=b, fmt=fmt, lean=[c.name for c in engine.plan.criteria] if lean else None,
              explain=explain, asof=asof, plain_events=plain_events,
              exact={}, formatter=LineFormatter(engine.plan, fmt, explain, dt.date.fromordinal(asof))
              if fmt in ("jsonl", "csv") else None, row=struct_reader(engine, b, schema, plain_events), row_hits=0,
              row_misses=0, pieces=LineFormatter(engine.plan, "jsonl", False, dt.date.fromordinal(asof))
              if lean == "pieces" else None)


def struct_reader(engine, b, schema, plain_events):
    """msgspec's struct decoder for the rows of this file (runtime.io.fastjson.row_reader), when the
    generated code can score such a struct and every column is read by its plain name; else None."""
    from runtime.io import fastjson

    if engine.score_struct is None or not plain_events or any(col != f for f, col in b.field_cols.items()):
        return None
    attrs = None
    if b.has_events:
        attrs = sorted({a for _t, (_n, specs) in b.ev_specs.items() for a, _col, _c in specs})
    return fastjson.row_reader(list(b.field_cols), b.id_col, attrs)


def _score_batch(task):
    """One batch: (kind, rows, source, header, delimiter) with rows [(line, text | cells)] ->
    (out, recs, bad, ignored): `out` the output text (or the list of Results or tuples, see
    _init_worker), `recs` one (line, id | None when numbered, end of its output in `out`) per lead
    scored, `bad` the BadRows, `ignored` {event type: count} of undeclared types."""
    from runtime.io.coerce import Bad
    from runtime.io.readers import bad_row, csv_object, json_line

    kind, rows, src, header, delim = task
    if kind == "jsonl-range":
        try:
            kind, rows = "jsonl", range_rows(rows)
        except OSError as e:  # the file changed or went away while it was read: exit 2, with where
            from runtime.io.readers import read_error

            raise read_error(src, f"line {rows[3]}", e) from None
    W = _W
    if W["fmt"] == "columns":
        return _columns_batch(kind, rows, src, header, delim)
    b, score, asof, fmt = W["builder"], W["engine"].score, W["asof"], W["formatter"]
    b.ignored = {}
    # generated code that scores a JSON object directly when it is in the plain form (runtime/backends/pygen.py)
    score_obj = W["engine"].score_obj if (kind == "jsonl" and W["plain_events"]) else None
    exact, idf = W["exact"], b.id_col
    # rows decoded into structs and scored by generated code (score_struct); a row that is not in that
    # form goes the way below. When most rows are not (another column in every row), stop trying.
    row = W["row"] if score_obj is not None else None
    score_struct = W["engine"].score_struct
    hits = W["row_hits"]
    if fmt is not None:
        write = fmt.write
        out = io.StringIO()
    else:
        out = _ResultList(W["fmt"] == "tuples", W["lean"], W["pieces"])
        write = out.write
    recs: list = []
    bad: list[BadRow] = []
    plan = b.plan(tuple(header)) if header is not None else None
    for n, raw in rows:
        if row is not None:
            s = row(raw)
            if s is not None:
                r = score_struct(s, asof, n)
                if r is not None:
                    write(out, r)
                    recs.append((n, None if r.numbered else r.id, out.tell()))
                    hits += 1
                    continue
            W["row_misses"] += 1
            if W["row_misses"] >= 64 and W["row_misses"] * 4 > hits:  # more than one row in five
                row = W["row"] = None
        obj = json_line(raw) if kind == "jsonl" else csv_object(header, raw)
        if obj is None:
            continue  # a blank line
        if obj.__class__ is not dict:
            bad.append(bad_row(obj, n, raw, src, delim))
            continue
        if score_obj is not None:
            keys = tuple(obj)
            ok = exact.get(keys)
            if ok is None:
                ok = b.exact(keys)
                if len(exact) < 1000:
                    exact[keys] = ok
            if ok:
                r = score_obj(obj, asof, n, idf)
                if r is not None:
                    write(out, r)
                    recs.append((n, None if r.numbered else r.id, out.tell()))
                    continue
        try:
            lead = b.lead(obj, n, plan)
        except Bad as e:
            bad.append(bad_row(e, n, raw, src, delim))
            continue
        write(out, score(lead, asof))
        recs.append((n, None if lead.numbered else lead.id, out.tell()))
    W["row_hits"] = hits
    return out.getvalue(), recs, bad, b.ignored


def range_rows(spec) -> list:
    """A batch handed out as a byte range of a JSON Lines file, (path, offset, size, first line): its
    rows [(line, text)] as runtime.io.readers.open_text reads them (UTF-8, a byte that is not as
    \\udcXX, each line with its newline). A range starts and ends at a line end, so no character is
    split (no UTF-8 sequence holds a newline byte)."""
    path, offset, size, first = spec
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read(size)
    if len(data) != size:
        raise OSError(f"{path} changed while it was read")
    parts = data.decode("utf-8", "surrogateescape").split("\n")
    last = parts.pop()  # "" after a final newline, else the file's last line without one
    rows = [(first + i, t + "\n") for i, t in enumerate(parts)]
    if last:
        rows.append((first + len(parts), last))
    return rows


def _columns_batch(kind, rows, src, header, delim):
    """A batch read, not scored: (the leads' columns, recs, bad, ignored) as _score_batch's."""
    from runtime.backends.duckdb_engine import lead_columns
    from runtime.io.coerce import Bad
    from runtime.io.readers import bad_row, csv_object, json_line

    b = _W["builder"]
    b.ignored = {}
    plan = b.plan(tuple(header)) if header is not None else None
    leads, recs, bad = [], [], []
    for n, raw in rows:
        obj = json_line(raw) if kind == "jsonl" else csv_object(header, raw)
        if obj is None:
            continue
        try:
            if obj.__class__ is not dict:
                raise obj
            lead = b.lead(obj, n, plan)
        except Bad as e:
            bad.append(bad_row(e, n, raw, src, delim))
            continue
        leads.append(lead)
        recs.append((n, None if lead.numbered else lead.id, len(leads)))
    return lead_columns(_W["engine"].checked, leads), recs, bad, b.ignored


class _ResultList(list):
    """A batch's Results, written and measured like the text buffer (`write`, `tell`, `getvalue`)."""

    def __init__(self, as_tuples: bool, lean: list | None = None, pieces: LineFormatter | None = None):
        super().__init__()
        self.as_tuples = as_tuples
        self.lean = lean  # the criteria's names: reasons instead of points (_init_worker)
        self.pieces = pieces  # pieces of JSON lines instead, where they can be (_init_worker)
        if lean is not None:
            from runtime.core.kernel import reasons

            self._reasons = reasons

    def write(self, _out, r) -> None:
        if self.pieces is not None:
            piece = self.pieces.account_piece(r)
            if piece is not None:
                self.append(piece)
                return
        if self.lean is not None:
            r.reasons = self._reasons(self.lean, r.points, r.disqualified)
            r.points = r.raw = r.fired = ()
        if self.as_tuples:
            t = (r.id, r.scores, r.bands, r.grade, r.route, r.queue, r.sla, r.disqualified, r.points, r.raw,
                 r.fired, r.numbered, r.route_line)
            # with an accounts block, generated Results carry their account key and flags
            if r.flags is not None:
                t += (r.account, None, None, r.reasons, r.flags)
            elif r.reasons is not None:
                t += (None, None, None, r.reasons)
            self.append(t)
        else:
            self.append(r)

    def tell(self) -> int:
        return len(self)

    def getvalue(self) -> list:
        return list(self)


# ---- the main side ------------------------------------------------------------------------------


class ParallelScore:
    """Iterate to get output text chunks in input order (with fmt="results": lists of Results).
    After (or during) iteration: `read`, `rejected`, `bad_rows`, `bad_events`, `orphan_events`,
    `events_read`, `ignored_events`, `missing_columns`, `unused_columns` like
    runtime.io.readers.LeadReader, and `scored`. Raises BadRowsError under on_bad_row="fail", after
    the output before the first bad row."""

    def __init__(self, rules, leads_path: str, *, as_of_ordinal: int, workers: int, fmt: str = "jsonl",
                 explain: bool = False, schema=None, events_path: str | None = None,
                 on_bad_row: str = "fail", rejects=None, batch: int = BATCH, delimiter: str | None = None,
                 lean=False):
        from runtime.io.readers import BadRowSink, check_file, kind_of, schema_for

        if events_path:
            raise ParallelUnsupported("--events: the events file is joined by one process")
        kind = kind_of(leads_path)
        if kind == "parquet":
            raise ParallelUnsupported("Parquet input is read by one process")
        check_file(leads_path)
        self.rules, self.path, self.kind = rules, leads_path, kind
        self.schema = schema if schema is not None else schema_for(rules.checked)
        self.asof, self.workers, self.fmt, self.explain = as_of_ordinal, max(1, int(workers)), fmt, explain
        self.on_bad_row, self.rejects, self.batch = on_bad_row, rejects, batch
        self.lean = lean if fmt == "results" else False  # (see _init_worker)
        self.delimiter_given = self.delimiter = delimiter
        self.source = "<stdin>" if leads_path == "-" else leads_path
        self.sink = BadRowSink(on_bad_row, rejects)
        self.read = self.scored = 0
        self.orphan_events = self.events_read = 0
        self.orphan_lead_ids: list[str] = []
        self.ignored_events: dict[str, int] = {}
        self.missing_columns: list[str] = []
        self.unused_columns: list[str] = []

    rejected = property(lambda self: self.sink.rejected)
    bad_events = property(lambda self: self.sink.bad_events)
    bad_rows = property(lambda self: self.sink.bad_rows)

    def header(self) -> str:
        """The CSV header line ('' for JSONL)."""
        return LineFormatter(self.rules.engine.plan, self.fmt, self.explain,
                             dt.date.fromordinal(self.asof)).header() if self.fmt == "csv" else ""

    def _batches(self, gate: threading.Semaphore, sent: list) -> Iterator[tuple]:
        """Tasks for the workers; each is also appended to `sent` (the main side needs its rows back
        for the text of a duplicate)."""
        from runtime.io.readers import CsvFile, header_report, open_text, read_error

        src = self.source
        if self.kind == "jsonl" and self.workers > 1 and self.path != "-" and not self.path.lower().endswith(".gz"):
            # byte ranges, not lines: the workers read and split them (this process only counts lines)
            yield from self._ranges(gate, sent)
            return
        if self.kind == "jsonl":
            fh = open_text(self.path, "\n")
            n = 0
            try:
                buf: list = []
                for n, line in enumerate(fh, 1):
                    buf.append((n, line))
                    if len(buf) >= self.batch:
                        gate.acquire()
                        task = ("jsonl", buf, src, None, ",")
                        sent.append(task)
                        yield task
                        buf = []
                if buf:
                    gate.acquire()
                    task = ("jsonl", buf, src, None, ",")
                    sent.append(task)
                    yield task
            except (UnicodeDecodeError, OSError, EOFError) as e:
                raise read_error(src, f"line {n + 1}", e) from None
            finally:
                if fh is not None and self.path != "-":
                    fh.close()
        else:
            f = CsvFile(self.path, src, self.delimiter_given)
            try:
                if f.header is None:
                    return
                self.delimiter = f.delimiter
                self.missing_columns, self.unused_columns = header_report(self.schema, f.header, src)
                buf2: list = []
                for item in f:
                    buf2.append(item)
                    if len(buf2) >= self.batch:
                        gate.acquire()
                        task = ("csv", buf2, src, f.header, f.delimiter)
                        sent.append(task)
                        yield task
                        buf2 = []
                if buf2:
                    gate.acquire()
                    task = ("csv", buf2, src, f.header, f.delimiter)
                    sent.append(task)
                    yield task
            finally:
                f.close()

    RANGE_BYTES = 1 << 21  # a batch handed out as a byte range: about this many bytes of whole lines

    def _ranges(self, gate, sent: list) -> Iterator[tuple]:
        """Tasks of at most `batch` whole lines (and about RANGE_BYTES), as byte ranges of the file."""
        from runtime.io.readers import read_error

        src, line, batch = self.source, 1, max(1, self.batch)
        try:
            with open(self.path, "rb") as fh:
                start = 3 if fh.read(3) == b"\xef\xbb\xbf" else 0  # (utf-8-sig: a BOM is no text)
                fh.seek(start)
                pending = b""
                while True:
                    data = fh.read(self.RANGE_BYTES)
                    if not data:
                        break
                    block = pending + data if pending else data
                    pos = 0
                    while True:
                        end, k = pos, 0
                        find = block.find
                        while k < batch:
                            j = find(b"\n", end)
                            if j < 0:
                                break
                            end, k = j + 1, k + 1
                        if k == 0:
                            break
                        gate.acquire()
                        task = ("jsonl-range", (self.path, start, end - pos, line), src, None, ",")
                        sent.append(task)
                        yield task
                        line += k
                        start += end - pos
                        pos = end
                    pending = block[pos:]
                if pending:
                    gate.acquire()
                    task = ("jsonl-range", (self.path, start, len(pending), line), src, None, ",")
                    sent.append(task)
                    yield task
        except OSError as e:
            raise read_error(src, f"line {line}", e) from None

    def _results(self, sent: list):
        """A context manager giving the batches' results in input order: from a pool of worker
        processes, or computed here when there is one worker."""
        if self.workers == 1:
            _init_worker(self.rules.spec, self.schema, self.fmt, self.explain, self.asof, self.rules.engine, self.lean)
            gate = _NoGate()
            return contextlib.nullcontext(_score_batch(task) for task in self._batches(gate, sent))
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        forked = ctx.get_start_method() == "fork"
        init_args = (self.rules.spec, self.schema, "tuples" if self.fmt == "results" else self.fmt, self.explain,
                     self.asof, self.rules.engine if forked else None, self.lean)
        ahead = self.workers * 3

        @contextlib.contextmanager
        def pooled():
            # The batches are read and handed out here, in the calling thread, a few ahead of the one
            # awaited (apply_async), never by a generator run in the pool's task thread: such a
            # generator, blocked on a full window when the caller stopped early (an error, the bad-row
            # limit, Ctrl-C), kept the task thread from sending the workers their stop signal, and
            # Pool.terminate waited for ever on the queue lock an idle worker held (the hang of
            # `--workers` under a test runner). Nor is Pool.terminate the way out of an early stop: a
            # worker blocked writing a large batch holds the result queue's lock that terminate takes.
            # The batches already handed out are collected instead (a few, bounded), then the pool is
            # closed as after a full run; terminate is left for a worker that does not answer.
            pool = ctx.Pool(self.workers, initializer=_init_worker, initargs=init_args)
            pending: collections.deque = collections.deque()

            def gen():
                for task in self._batches(_NoGate(), sent):
                    pending.append(pool.apply_async(_score_batch, (task,)))
                    if len(pending) >= ahead:
                        yield pending.popleft().get()
                while pending:
                    yield pending.popleft().get()
            clean = False
            try:
                yield gen()
                clean = True
            finally:
                try:
                    while pending:
                        try:
                            pending.popleft().get(DRAIN_SECONDS)
                        except mp.TimeoutError:
                            raise
                        except Exception:  # noqa: BLE001 - a batch nobody reads: its error does not matter
                            pass
                    clean = True
                except mp.TimeoutError:
                    clean = False
                finally:
                    if clean:
                        pool.close()  # every batch handed out is back: the workers stop on their own
                    else:
                        pool.terminate()
                    pool.join()
        return pooled()

    def __iter__(self) -> Iterator:
        from runtime.io.readers import DuplicateIds, json_value_column, raw_text

        sink = self.sink
        dups = DuplicateIds()
        rebuild = self.fmt == "results" and self.workers > 1
        if rebuild:
            from runtime.core.model import Result
        sent: list = []
        idcol = self.schema.id_field
        with self._results(sent) as results:
            for out, recs, bad, ignored in results:
                task = sent.pop(0)
                if rebuild:  # (the pieces of lines, tuples that start with None, stay as they are)
                    out = [t if t[0] is None else Result(*t) for t in out]
                self.read += len(recs) + len(bad)
                for t, c in ignored.items():
                    self.ignored_events[t] = self.ignored_events.get(t, 0) + c
                # lead by lead in line order: the batch's bad rows, duplicates, what is output
                keep: list = []  # (start, end) of the output kept
                klines: list = []  # and the lines of those leads
                start, k, dropped = 0, 0, False
                for line, lid, end in recs:
                    while k < len(bad) and bad[k].line < line:
                        sink.add(bad[k])
                        k += 1
                    why = dups.reason(lid, line) if lid is not None else None
                    if why is not None:
                        raw = _row_of(task, line)
                        col = json_value_column(raw, idcol) if task[0] in ("jsonl", "jsonl-range") else None
                        sink.add(BadRow(line, why, raw_text(raw, task[4]), self.source, col))
                        dropped = True
                    elif sink.failing:
                        dropped = True
                    else:
                        keep.append((start, end))
                        klines.append(line)
                    start = end
                for b in bad[k:]:
                    sink.add(b)
                if keep:
                    self.scored += len(keep)
                    if self.fmt == "columns":
                        yield out, [a for a, _z in keep], klines
                    elif not dropped:
                        yield out
                    else:
                        yield _join([out[a:z] for a, z in keep], out)
                if sink.full:
                    break
        dups.close()
        sink.raise_if_failed()


def _row_of(task, line: int):
    rows = range_rows(task[1]) if task[0] == "jsonl-range" else task[1]
    i = bisect.bisect_left(rows, line, key=lambda r: r[0])
    return rows[i][1]


def _join(parts: list, like):
    return "".join(parts) if isinstance(like, str) else [x for p in parts for x in p]


class _NoGate:
    def acquire(self):
        return True

    def release(self):
        pass


def score_parallel(rules, leads_path: str, *, as_of_ordinal: int, workers: int, **kw) -> ParallelScore:
    """See ParallelScore. `rules` is a runtime.backends.load.LoadedRules."""
    return ParallelScore(rules, leads_path, as_of_ordinal=as_of_ordinal, workers=workers, **kw)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
