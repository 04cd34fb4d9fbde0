"""`score --workers N`: score a JSONL or CSV leads file in N processes, output in input order.

The main process reads raw lines (JSONL) or rows (CSV) in batches and hands them to a pool of worker
processes, at most a few batches ahead (memory stays flat however long the file); each worker parses
its batch with runtime.io.readers (the same coercion and bad-row reasons as `LeadReader`), scores it and
returns the formatted output lines. Results are yielded batch by batch in input order. A separate
events file (`--events`) and Parquet input are read by one process (`ParallelUnsupported`).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import multiprocessing as mp
import threading
from typing import Iterator

from runtime.core.model import BadRow
from runtime.io.writers import LineFormatter

BATCH = 2000


class ParallelUnsupported(Exception):
    """This input cannot be split between processes; score it in one."""


# ---- the worker side ----------------------------------------------------------------------------

_W: dict = {}


def _init_worker(rules_spec: str, id_field: str, fmt: str, explain: bool, asof: int, engine=None):
    """`fmt`: "jsonl" or "csv" (batches come back as output text), "results" (as lists of Results:
    in this process) or "tuples" (as lists of plain tuples: from another process, cheap to send)."""
    from runtime.backends.load import load_rules
    from runtime.core.model import schema_of

    if engine is None:  # spawned, not forked: build it here
        engine = load_rules(rules_spec).engine
    _W.update(engine=engine, schema=schema_of(engine.checked, id_field), fmt=fmt, explain=explain, asof=asof,
              formatter=LineFormatter(engine.plan, fmt, explain, dt.date.fromordinal(asof))
              if fmt in ("jsonl", "csv") else None)


def _json_objects(lines: list[str], first: int, src: str):
    """(line, obj | BadRow) as runtime.io.readers reads JSON Lines: blank lines skipped, a leading BOM
    ignored, the same reasons for lines that are not JSON objects."""
    from runtime.io.readers import json_kind as _json_kind  # the reader's own wording

    loads = json.loads
    for i, line in enumerate(lines):
        n = first + i
        try:
            obj = loads(line)
        except (ValueError, RecursionError) as e:
            if not line.strip():
                continue
            if line.startswith("\ufeff"):
                try:
                    obj = loads(line[1:])
                except (ValueError, RecursionError) as e2:
                    e = e2
                else:
                    e = None
            if e is not None:
                if isinstance(e, json.JSONDecodeError):
                    reason = f"line is not valid JSON: {e.msg} at column {e.colno}"
                elif isinstance(e, RecursionError):
                    reason = "line is not valid JSON: nested too deeply"
                else:
                    reason = f"line is not valid JSON: {e}"
                yield n, BadRow(n, reason, line.rstrip("\r\n"), src)
                continue
        if obj.__class__ is not dict:
            yield n, BadRow(n, f"line is not a JSON object (it is {_json_kind(obj)})", line.rstrip("\r\n"), src)
            continue
        yield n, obj


def _score_batch(task):
    """One batch: (kind, first line number, rows, source, header) -> (out, read, [BadRow], cut,
    good): `out` is the output text (or the list of Results or tuples, see _init_worker), `cut` the
    length of `out` before the batch's first bad row and `good` the number of leads in it (for
    `--on-bad-row fail`, which stops the output there)."""
    from runtime.io.readers import BadRowsError, lead_from_object

    kind, first, rows, src, header = task
    W = _W
    schema, score, asof, fmt = W["schema"], W["engine"].score, W["asof"], W["formatter"]
    # generated code that scores a JSON object directly when it is in the plain form (runtime/backends/pygen.py)
    score_obj = W["engine"].score_obj if kind == "jsonl" else None
    idf = schema.id_field
    mode = W["fmt"]
    if fmt is not None:
        write = fmt.write
        out = io.StringIO()
    else:
        out = _ResultList(mode == "tuples")
        write = out.write
    bad: list[BadRow] = []
    read = 0
    good = 0
    cut = None
    cut_good = 0
    if kind == "jsonl":
        items = _json_objects(rows, first, src)
    else:
        items = _csv_objects(rows, first, src, header)
    for n, obj in items:
        read += 1
        if obj.__class__ is BadRow:
            if cut is None:
                cut, cut_good = out.tell(), good
            bad.append(obj)
            continue
        if score_obj is not None:
            r = score_obj(obj, asof, n, idf)
            if r is not None:
                write(out, r)
                good += 1
                continue
        try:
            lead = lead_from_object(obj, schema, line=n, source=src)
        except BadRowsError as e:
            b = e.bad_rows[0]
            raw = rows[n - first] if kind == "jsonl" else _csv_text(rows[n - first][1])
            if cut is None:
                cut, cut_good = out.tell(), good
            bad.append(BadRow(n, b.reason, raw.rstrip("\r\n") if kind == "jsonl" else raw, src))
            continue
        write(out, score(lead, asof))
        good += 1
    return out.getvalue(), read, bad, cut, cut_good


class _ResultList(list):
    """A batch's Results, written and measured like the text buffer (`write`, `tell`, `getvalue`)."""

    def __init__(self, as_tuples: bool):
        super().__init__()
        self.as_tuples = as_tuples

    def write(self, _out, r) -> None:
        if self.as_tuples:
            self.append((r.id, r.scores, r.bands, r.grade, r.route, r.queue, r.sla, r.disqualified, r.points, r.raw,
                         r.fired, r.numbered, r.route_line))
        else:
            self.append(r)

    def tell(self) -> int:
        return len(self)

    def getvalue(self) -> list:
        return list(self)


def _csv_objects(rows, first, src, header):
    nh = len(header)
    for i, (n, row) in enumerate(rows):
        if len(row) == nh:
            yield n, dict(zip(header, row))
        else:
            yield n, BadRow(n, f"row has {len(row)} cells, the header has {nh}", _csv_text(row), src)


def _csv_text(row) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(row)
    return buf.getvalue()


# ---- the main side ------------------------------------------------------------------------------


class ParallelScore:
    """Iterate to get output text chunks in input order (with fmt="results": lists of Results).
    After (or during) iteration: `read`, `rejected`, `bad_rows`, `bad_events`, `orphan_events`,
    `events_read` like runtime.io.readers.LeadReader, and `scored`. Raises BadRowsError under
    on_bad_row="fail", after the output before the first bad row."""

    def __init__(self, rules, leads_path: str, *, as_of_ordinal: int, workers: int, fmt: str = "jsonl",
                 explain: bool = False, id_field: str = "id", events_path: str | None = None,
                 on_bad_row: str = "fail", rejects=None, batch: int = BATCH):
        from runtime.io.readers import check_file as _check_file
        from runtime.io.readers import file_kind as _kind

        if events_path:
            raise ParallelUnsupported("--events: the events file is joined by one process")
        kind = _kind(leads_path)
        if kind == "parquet":
            raise ParallelUnsupported("Parquet input is read by one process")
        _check_file(leads_path)
        self.rules, self.path, self.kind = rules, leads_path, kind
        self.asof, self.workers, self.fmt, self.explain = as_of_ordinal, max(1, int(workers)), fmt, explain
        self.id_field, self.on_bad_row, self.rejects, self.batch = id_field, on_bad_row, rejects, batch
        self.source = "<stdin>" if leads_path == "-" else leads_path
        self.read = self.rejected = self.scored = 0
        self.bad_rows: list[BadRow] = []
        self.bad_events = self.orphan_events = self.events_read = 0
        self.orphan_lead_ids: list[str] = []

    def header(self) -> str:
        """The CSV header line ('' for JSONL)."""
        return LineFormatter(self.rules.engine.plan, self.fmt, self.explain,
                             dt.date.fromordinal(self.asof)).header() if self.fmt == "csv" else ""

    def _batches(self, gate: threading.Semaphore) -> Iterator[tuple]:
        from runtime.io.readers import open_text as _open_text
        from runtime.io.readers import read_error as _read_error

        src = self.source
        if self.kind == "jsonl":
            fh = _open_text(self.path, "\n")
            n = 0
            try:
                buf: list[str] = []
                first = 1
                for n, line in enumerate(fh, 1):
                    buf.append(line)
                    if len(buf) >= self.batch:
                        gate.acquire()
                        yield ("jsonl", first, buf, src, None)
                        first, buf = n + 1, []
                if buf:
                    gate.acquire()
                    yield ("jsonl", first, buf, src, None)
            except (UnicodeDecodeError, OSError, EOFError) as e:
                raise _read_error(src, f"line {n + 1}", e) from None
            finally:
                if fh is not None and self.path != "-":
                    fh.close()
        else:
            if csv.field_size_limit() < 1 << 24:
                csv.field_size_limit(1 << 24)
            fh = _open_text(self.path, "")
            n = 0
            try:
                reader = csv.reader(fh)
                header = next(reader, None)
                if header is None:
                    return
                header = [h.strip() for h in header]
                buf2: list = []
                first = 1
                for row in reader:
                    if not row or (len(row) == 1 and len(header) > 1 and not row[0].strip()):
                        continue  # a blank line: skipped and not counted (as runtime.io.readers does)
                    n += 1
                    buf2.append((n, row))
                    if len(buf2) >= self.batch:
                        gate.acquire()
                        yield ("csv", first, buf2, src, header)
                        first, buf2 = n + 1, []
                if buf2:
                    gate.acquire()
                    yield ("csv", first, buf2, src, header)
            except (UnicodeDecodeError, OSError, EOFError, csv.Error) as e:
                raise _read_error(src, f"row {n + 1}", e) from None
            finally:
                fh.close()

    def _results(self):
        """A context manager giving the batches' results in input order: from a pool of worker
        processes, or computed here when there is one worker."""
        import contextlib

        if self.workers == 1:
            _init_worker(self.rules.spec, self.id_field, self.fmt, self.explain, self.asof, self.rules.engine)
            gate = _NoGate()
            return contextlib.nullcontext(_score_batch(task) for task in self._batches(gate))
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        forked = ctx.get_start_method() == "fork"
        init_args = (self.rules.spec, self.id_field, "tuples" if self.fmt == "results" else self.fmt, self.explain,
                     self.asof, self.rules.engine if forked else None)
        gate = threading.Semaphore(self.workers * 3)

        @contextlib.contextmanager
        def pooled():
            with ctx.Pool(self.workers, initializer=_init_worker, initargs=init_args) as pool:
                def gen():
                    for res in pool.imap(_score_batch, self._batches(gate)):
                        gate.release()
                        yield res
                try:
                    yield gen()
                finally:
                    pool.terminate()
        return pooled()

    def __iter__(self) -> Iterator[str]:
        from runtime.io.readers import MAX_FAIL_ROWS, MAX_KEPT_ROWS, BadRowsError

        fail_rows: list[BadRow] = []
        failing = False
        rebuild = self.fmt == "results" and self.workers > 1
        if rebuild:
            from runtime.core.model import Result
        with self._results() as results:
            for text, read, bad, cut, cut_good in results:
                if rebuild:
                    text = [Result(*t) for t in text]
                self.read += read
                for b in bad:
                    self.rejected += 1
                    if len(self.bad_rows) < MAX_KEPT_ROWS:
                        self.bad_rows.append(b)
                    if self.on_bad_row == "fail":
                        fail_rows.append(b)
                    elif self.rejects is not None:
                        self.rejects.write(json.dumps({"source": b.source, "line": b.line, "reason": b.reason,
                                                       "row": b.raw}, ensure_ascii=False) + "\n")
                if self.on_bad_row == "fail" and bad and not failing:
                    failing = True
                    # the output before the first bad row, as the one-process reader yields it
                    if cut:
                        self.scored += cut_good
                        yield text[:cut]
                    if len(fail_rows) >= MAX_FAIL_ROWS:
                        break
                    continue
                if failing:
                    if len(fail_rows) >= MAX_FAIL_ROWS:
                        break
                    continue
                if text:
                    self.scored += read - len(bad)
                    yield text
        if fail_rows:
            raise BadRowsError(fail_rows[:MAX_FAIL_ROWS], more=len(fail_rows) >= MAX_FAIL_ROWS)


class _NoGate:
    def acquire(self):
        return True

    def release(self):
        pass


def score_parallel(rules, leads_path: str, *, as_of_ordinal: int, workers: int, **kw) -> ParallelScore:
    """See ParallelScore. `rules` is a runtime.backends.load.LoadedRules."""
    return ParallelScore(rules, leads_path, as_of_ordinal=as_of_ordinal, workers=workers, **kw)
