"""Read leads (and their events) from JSON Lines, CSV or Parquet into `runtime.core.model.Lead`s.

This is the one reader every engine uses (the python engine in one process, its worker processes
and the DuckDB engine), so the same file gives the same leads, bad rows and counters everywhere.
What a value of each declared type may look like is runtime/io/coerce.py; docs/input.md is the
user's reference. In short:

- Formats, by suffix (case-insensitive): `.jsonl`, `.ndjson`, `.json` (JSON Lines: one object per
  line, blank lines skipped and not counted; events may be embedded as an `events` list of
  `{type, at, ...attrs}` objects); `.csv`, `.tsv` (a header row, then one lead per row; the
  delimiter, one of `,` `;` tab `|`, is found from the header unless given; an `events` cell holds
  the events as a JSON list); `.parquet`, `.pq` (pyarrow, in batches); `.gz` of JSON Lines and CSV;
  `-` (and a pipe without a suffix) is JSON Lines on stdin.
- Columns: a field is read from its `from "Column"`, else from the column (JSON key) with its own
  name; either way an exact match first, else one equal ignoring case and surrounding spaces. The
  lead id's column is `id` unless the rule file says `id from "..."` (or `--id-field`). A CSV or
  Parquet header with no column for any declared field cannot be meant for this rule file
  (`InputError`); declared fields without a column and columns nobody reads are listed in
  `missing_columns` / `unused_columns`.
- Positions: `line` is the physical line of the file where the row starts (the header is line 1 of
  a CSV; quoted newlines count), Parquet rows are numbered from 1; a lead without an id gets its
  line as id (`numbered=True`). For JSON Lines a bad row also gets the column of the value at fault.
- Bad rows: a line that is not JSON or not a JSON object, a CSV row with the wrong number of cells,
  a declared field that cannot be read as its type, a bad embedded event (no type, no or a bad
  `at`, a bad attribute), and an id seen before ("duplicate id "L1", first seen on line 2"; the
  first one is scored). Events of a type the rule file does not declare are ignored and counted per
  type in `ignored_events` (with `strict_events` they make the row bad). Under `on_bad_row="fail"`
  the reader stops yielding at the first bad row, scans on until it has 10 (or the input ends) and
  raises `BadRowsError`; under `"skip"` each is written to `rejects` as a JSON line `{"source",
  "line", "column"?, "reason", "row"}` and counted in `rejected`: `leads yielded + rejected == read`.
- A separate events file (JSONL, CSV or Parquet with the lead id, type and time columns) is read
  first into `lead_id -> [Event]` (runtime/io/eventstore.py: in memory, spilled to a temporary SQLite
  file when large, so it is never held whole); a lead gets the events whose lead id equals its id (after
  its embedded ones, in file order). Its bad rows are counted in `bad_events` (not in `read` or
  `rejected`, which count lead rows), events whose lead id matched no lead in `orphan_events`.

Files that cannot be read at all (no such file, unknown suffix, not gzip, a header that is not UTF-8
or fits nothing, no pyarrow for Parquet ...) raise `InputError`. A row with a byte that is not UTF-8
(or a JSON `\\ud800` escape without its pair) is a bad row, like any other.
"""
from __future__ import annotations

import csv
import datetime as dt
import difflib
import gzip
import io
import itertools
import json
import os
import re
import sys
from typing import IO, Any, Iterator

from runtime.core.model import BadRow, Event, Lead, Schema
from runtime.io import fastjson
from runtime.io.coerce import COERCERS, EXPECTED_TIME, Bad, blank, c_text, coerce, day_ordinal, show

MAX_FAIL_ROWS = 10      # bad rows collected before raising under on_bad_row="fail"
MAX_KEPT_ROWS = 100     # bad rows kept in LeadReader.bad_rows
MAX_ORPHAN_IDS = 20
PARQUET_BATCH = 4096
STDIN = "<stdin>"
DELIMITERS = (",", ";", "\t", "|")

__all__ = ["BadRowsError", "InputError", "LeadReader", "BadRowSink", "Builder", "DuplicateIds", "CsvFile",
           "lead_from_object", "coerce", "day_ordinal", "kind_of", "check_file", "json_line", "raw_text",
           "read_rows", "detect_delimiter", "where", "header_report"]


# ---- errors and the bad-row sink ----------------------------------------------------------------


from runtime.core.errors import InputError  # noqa: E402 (defined with the other errors; public here too)


def where(b: BadRow) -> str:
    """`file:line` (`file:line:column` for JSON Lines) of a bad row, as every report prints it."""
    return f"{b.source or 'input'}:{b.line}" + (f":{b.column}" if b.column else "")


class BadRowsError(Exception):
    """Bad rows under on_bad_row="fail". `bad_rows`: the first (up to 10) of them."""

    def __init__(self, bad_rows: list[BadRow], more: bool = False):
        self.bad_rows = list(bad_rows)[:MAX_FAIL_ROWS]
        self.more = more
        super().__init__(self.message())

    def message(self) -> str:
        lines = [f"{where(b)}: {b.reason}" for b in self.bad_rows]
        if self.more:
            lines.append(f"(stopped after the first {len(self.bad_rows)} bad rows; there may be more)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.message()


class BadRowSink:
    """Where every bad row goes, for every reader and engine: counted, the first 100 kept in
    `bad_rows`, written to `rejects` (one JSON line each) under "skip", collected under "fail"."""

    def __init__(self, on_bad_row: str = "fail", rejects: IO[str] | None = None):
        if on_bad_row not in ("fail", "skip"):
            raise ValueError(f'on_bad_row must be "fail" or "skip", not {on_bad_row!r}')
        self.on_bad_row, self.rejects = on_bad_row, rejects
        self.rejected = 0      # lead rows
        self.bad_events = 0    # rows of a separate events file
        self.bad_rows: list[BadRow] = []
        self.fail_rows: list[BadRow] = []

    @property
    def failing(self) -> bool:
        return bool(self.fail_rows)

    @property
    def full(self) -> bool:
        """Enough bad rows collected to stop under "fail"."""
        return len(self.fail_rows) >= MAX_FAIL_ROWS

    def add(self, row: BadRow, *, event_row: bool = False) -> None:
        if event_row:
            self.bad_events += 1
        else:
            self.rejected += 1
        if len(self.bad_rows) < MAX_KEPT_ROWS:
            self.bad_rows.append(row)
        if self.on_bad_row == "fail":
            if len(self.fail_rows) < MAX_FAIL_ROWS:
                self.fail_rows.append(row)
        elif self.rejects is not None:
            rec = {"source": row.source, "line": row.line}
            if row.column:
                rec["column"] = row.column
            rec["reason"], rec["row"] = row.reason, row.raw
            self.rejects.write(json.dumps(rec, ensure_ascii=False) + "\n")

    def raise_if_failed(self) -> None:
        if self.fail_rows:
            raise BadRowsError(self.fail_rows, more=self.full)


DUP_MEM_IDS = 250_000  # lead ids remembered in memory before DuplicateIds moves them to disk


class DuplicateIds:
    """A lead id seen again is a bad row; the first one (scored) is remembered with its line.

    Up to DUP_MEM_IDS ids are kept in a dict; past that they move to a temporary SQLite table (removed
    from the directory as soon as it is open) behind an 8 MB Bloom filter, so memory stays flat
    however many leads a file has (1M leads read in the same memory as 100k) and an id that was
    never seen (nearly every one) costs no disk lookup."""

    BLOOM_BITS = 1 << 26

    def __init__(self, mem_ids: int | None = None):
        self.seen: dict[str, int] = {}
        self.limit = DUP_MEM_IDS if mem_ids is None else max(1, int(mem_ids))
        self.db = None
        self.bloom: bytearray | None = None

    def reason(self, lead_id: str, line: int) -> str | None:
        seen = self.seen
        first = seen.get(lead_id)
        if first is None:
            if self.db is not None and self._maybe(lead_id):
                row = self.db.execute("SELECT line FROM ids WHERE lid = ?", (lead_id,)).fetchone()
                if row is not None:
                    first = row[0]
            if first is None:
                seen[lead_id] = line
                if self.db is not None:
                    self._mark(lead_id)
                if len(seen) >= self.limit:
                    self._spill()
                return None
        if first == line:
            return None
        return f"duplicate id {show(lead_id)}, first seen on line {first}"

    def _positions(self, lead_id: str) -> tuple[int, int]:
        h = hash(lead_id) & 0xFFFFFFFFFFFFFFFF
        m = self.BLOOM_BITS - 1
        return h & m, (h >> 32) & m

    def _mark(self, lead_id: str) -> None:
        b = self.bloom
        for p in self._positions(lead_id):
            b[p >> 3] |= 1 << (p & 7)

    def _maybe(self, lead_id: str) -> bool:
        b = self.bloom
        return all(b[p >> 3] & (1 << (p & 7)) for p in self._positions(lead_id))

    def _spill(self) -> None:
        if self.db is None:
            import sqlite3
            import tempfile

            fd, path = tempfile.mkstemp(prefix="leadrules-ids-", suffix=".sqlite")
            os.close(fd)
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -8000"):
                self.db.execute(f"PRAGMA {pragma}")
            self.db.execute("CREATE TABLE ids (lid TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID")
            try:
                os.unlink(path)  # the open connection keeps it; nothing is left behind
            except OSError:
                pass
            self.bloom = bytearray(self.BLOOM_BITS >> 3)
            for lid in self.seen:
                self._mark(lid)
        self.db.execute("BEGIN")
        self.db.executemany("INSERT OR IGNORE INTO ids VALUES (?, ?)", self.seen.items())
        self.db.execute("COMMIT")
        self.seen = {}

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
        self.bloom = None
        self.seen = {}


# ---- files --------------------------------------------------------------------------------------


def kind_of(path: str) -> str:
    """"jsonl", "csv" or "parquet" from a path's suffix; InputError for anything else."""
    if path == "-":
        return "jsonl"
    low = path.lower()
    base = low[:-3] if low.endswith(".gz") else low
    if base.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if base.endswith((".csv", ".tsv")):
        return "csv"
    if low.endswith((".parquet", ".pq")):
        return "parquet"
    try:
        import stat

        if not stat.S_ISREG(os.stat(path).st_mode) and "." not in os.path.basename(path):
            return "jsonl"  # a pipe without a suffix (`--leads <(zcat leads.jsonl.gz)`): JSON Lines, like -
    except OSError:
        pass
    raise InputError(f"{path}: unknown file type; leads and events are read from .jsonl (.ndjson), .csv (.tsv), "
                     ".parquet, .jsonl.gz or .csv.gz files, or - for JSON Lines on stdin")


def check_file(path: str) -> None:
    """InputError now, before any output, for a path that cannot be read."""
    if path == "-":
        return
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, not a leads or events file")
    try:
        os.stat(path)  # not opened here: a pipe (`<(zcat ...)`) can be read only once
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: cannot read (permission denied)")


def pyarrow_parquet(path: str):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(f"{path}: reading Parquet needs pyarrow; install it with "
                         "pip install 'leadrules[parquet]' (or use JSONL or CSV)") from None
    return pq


def open_text(path: str, newline: str):
    """A file as text. A byte that is not UTF-8 is read as a lone surrogate (U+DC80-U+DCFF) and
    makes its row bad (`not_unicode`), not the whole file."""
    if path == "-":
        try:
            sys.stdin.reconfigure(errors="surrogateescape")
        except (AttributeError, ValueError, OSError):  # not a text stream that can say so: strict
            pass
        return sys.stdin
    try:
        if path.lower().endswith(".gz"):
            return gzip.open(path, "rt", encoding="utf-8-sig", errors="surrogateescape", newline=newline)
        return open(path, encoding="utf-8-sig", errors="surrogateescape", newline=newline)
    except OSError as e:
        raise InputError(f"{path}: cannot open ({e.strerror or e})") from None


def read_error(src: str, where_: str, e: BaseException) -> InputError:
    if isinstance(e, UnicodeDecodeError):
        return InputError(f"{src}: not UTF-8 text ({where_}); save or export it as UTF-8")
    if isinstance(e, gzip.BadGzipFile):
        return InputError(f"{src}: not a gzip file although it ends in .gz; rename it or compress it with gzip")
    if isinstance(e, EOFError):
        return InputError(f"{src}: the gzip data ends early ({where_}); the file is truncated")
    if isinstance(e, csv.Error):
        return InputError(f"{src}: cannot parse CSV ({where_}): {e}")
    return InputError(f"{src}: cannot read ({where_}): {getattr(e, 'strerror', None) or e}")


def raw_text(raw: Any, delimiter: str = ",") -> str:
    """A row as read, as text: a JSONL line without its newline, a CSV row re-encoded. A byte that
    is not UTF-8 is written `\\xff` (the rejects file stays UTF-8)."""
    if isinstance(raw, str):
        text = raw.rstrip("\r\n")
    elif isinstance(raw, list):  # a CSV row
        buf = io.StringIO()
        csv.writer(buf, delimiter=delimiter, lineterminator="").writerow(raw)
        text = buf.getvalue()
    else:
        return json.dumps(raw, ensure_ascii=False, default=_iso)
    return text if text.isascii() or not _SURROGATE.search(text) else _SURROGATE.sub(_escape_surrogate, text)


# Text that is not Unicode. A byte that is not UTF-8 is read as U+DC80-U+DCFF (Python's
# "surrogateescape"; a UTF-8 decoder never yields a surrogate otherwise); a JSON escape \ud800-\udfff
# without its pair decodes to one too. Either makes its row bad, on every engine (DuckDB and the
# writers take only real text), and the rest of the file is read.
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _escape_surrogate(m) -> str:
    c = ord(m.group())
    return f"\\x{c - 0xDC00:02x}" if 0xDC80 <= c <= 0xDCFF else f"\\u{c:04x}"


def not_unicode(text: str) -> Bad | None:
    """A `Bad` (with its 1-based `column`) when a line or cell read from a file holds a byte that is
    not UTF-8; None when it is text."""
    if text.isascii():
        return None
    m = _SURROGATE.search(text)
    if m is None:
        return None
    b = Bad(f"not UTF-8 text: byte {_escape_surrogate(m)} at column {m.start() + 1}; save or export the file as UTF-8")
    b.column = m.start() + 1
    return b


def _lone_surrogate(v: Any, key: str | None = None) -> Bad | None:
    """A `Bad` naming the key whose value (or name) holds a lone surrogate escape, in a decoded JSON value."""
    if v.__class__ is str:
        m = _SURROGATE.search(v)
        if m is None:
            return None
        b = Bad((f'"{key}": ' if key else "") + f"\\u{ord(m.group()):04x} is half of a UTF-16 surrogate pair, "
                "not a character (a broken emoji or accented letter?)")
        b.key = key
        return b
    if v.__class__ is dict:
        for k, x in v.items():
            b = _lone_surrogate(k, key) or _lone_surrogate(x, key if key is not None else k)
            if b is not None:
                return b
    elif v.__class__ is list:
        for x in v:
            b = _lone_surrogate(x, key)
            if b is not None:
                return b
    return None


def _iso(v: Any) -> str:
    return v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else str(v)


# ---- JSON Lines ---------------------------------------------------------------------------------


def json_kind(v: Any) -> str:
    if isinstance(v, list):
        return "a list"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    return "a number"


def json_line(line: str) -> Any:
    """The object of one JSON Lines line; a `Bad` (with `column`) when it is not a JSON object or
    not Unicode text; None for a blank line (skipped, not counted). A BOM in front is ignored."""
    if not line.isascii():
        b = not_unicode(line)
        if b is not None:
            return b
    try:
        obj = fastjson.loads(line)  # msgspec when installed: the same value or error as json.loads
    except (ValueError, RecursionError) as e:
        if not line.strip():
            return None
        if line.startswith("\ufeff"):
            return json_line(line[1:])
        if isinstance(e, json.JSONDecodeError):
            b = Bad(f"line is not valid JSON: {e.msg} at column {e.colno}")
            b.column = e.colno
        elif isinstance(e, RecursionError):
            b = Bad("line is not valid JSON: nested too deeply")
        else:
            b = Bad(f"line is not valid JSON: {e}")
        return b
    if obj.__class__ is not dict:
        b = Bad(f"line is not a JSON object (it is {json_kind(obj)})")
        b.column = 1 + len(line) - len(line.lstrip(" \t\ufeff"))
        return b
    if "\\u" in line and _SURROGATE_ESCAPE.search(line):
        b = _lone_surrogate(obj)
        if b is not None:
            return b
    return obj


def json_value_column(line: str, key: str | None) -> int | None:
    """The 1-based column where the value of `key` starts in a JSON Lines line (the first such key),
    for bad-row reports; None when it cannot be found."""
    if key is None or not isinstance(line, str):
        return None
    m = re.search(re.escape(json.dumps(key, ensure_ascii=False)) + r"\s*:\s*", line)
    if m is None:
        m = re.search(re.escape(json.dumps(key)) + r"\s*:\s*", line)
    return m.end() + 1 if m else None


def _jsonl_rows(path: str, src: str) -> Iterator[tuple[int, Any, Any]]:
    fh = open_text(path, "\n")
    n = 0
    try:
        for n, line in enumerate(fh, 1):
            obj = json_line(line)
            if obj is not None:
                yield n, obj, line
    except (UnicodeDecodeError, OSError, EOFError) as e:
        raise read_error(src, f"line {n + 1}", e) from None
    finally:
        if fh is not sys.stdin:
            fh.close()


# ---- CSV ----------------------------------------------------------------------------------------


def detect_delimiter(header_line: str) -> str:
    """The delimiter of a CSV file from its header line: the most frequent of `,` `;` tab `|`
    outside quotes (`,` when none appears or on a tie with it)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


class CsvFile:
    """A CSV file opened for reading: `header` (the column names as written), `delimiter` (given or
    found), then iterate for `(line, cells)` with the physical line each row starts on (blank lines
    skipped). Close it (or exhaust it)."""

    def __init__(self, path: str, src: str, delimiter: str | None = None):
        if csv.field_size_limit() < 1 << 24:
            csv.field_size_limit(1 << 24)
        self.src = src
        self.fh = open_text(path, "")
        try:
            first = self.fh.readline()
        except (UnicodeDecodeError, OSError, EOFError) as e:
            self.fh.close()
            raise read_error(src, "line 1", e) from None
        bad = not_unicode(first)
        if bad is not None:
            self.fh.close()
            raise InputError(f"{src}: the header (line 1) is {bad.reason}")
        self.delimiter = delimiter or detect_delimiter(first)
        self.rd = csv.reader(itertools.chain([first], self.fh), delimiter=self.delimiter)
        try:
            self.header: list[str] | None = next(self.rd, None)
        except (csv.Error, UnicodeDecodeError, OSError, EOFError) as e:
            self.fh.close()
            raise read_error(src, "line 1", e) from None

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        rd = self.rd
        if self.header is None:
            return
        nh = len(self.header)
        start = rd.line_num + 1
        try:
            for row in rd:
                line, start = start, rd.line_num + 1
                if not row or (len(row) == 1 and nh > 1 and not row[0].strip()):
                    continue  # a blank line
                yield line, row
        except (UnicodeDecodeError, OSError, EOFError, csv.Error) as e:
            raise read_error(self.src, f"line {start}", e) from None
        finally:
            self.close()

    def close(self) -> None:
        self.fh.close()


def csv_object(header: list[str], row: list[str]) -> Any:
    """A CSV row as a dict, or a `Bad` when it has another number of cells than the header or a cell
    holds a byte that is not UTF-8."""
    if not "".join(row).isascii():
        for name, cell in zip(itertools.chain(header, itertools.repeat(None)), row):
            b = not_unicode(cell)
            if b is not None:
                where_ = f'column "{name}"' if name is not None else "a cell past the header"
                return Bad(f"{where_}: " + b.reason.replace(" at column ", " at character "))
    if len(row) == len(header):
        return dict(zip(header, row))
    return Bad(f"row has {len(row)} cells, the header has {len(header)}")


def _csv_rows(path: str, src: str, delimiter: str | None, on_header=None) -> Iterator[tuple[int, Any, Any]]:
    f = CsvFile(path, src, delimiter)
    try:
        if f.header is None:
            return
        if on_header is not None:
            on_header(f.header, f.delimiter)
        header = f.header
        for line, row in f:
            yield line, csv_object(header, row), row
    finally:
        f.close()


# ---- Parquet ------------------------------------------------------------------------------------


def _parquet_rows(path: str, src: str, on_header=None) -> Iterator[tuple[int, Any, Any]]:
    pq = pyarrow_parquet(path)
    try:
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError ...
        raise InputError(f"{src}: not a readable Parquet file ({e})") from None
    cols = names
    if on_header is not None:
        cols = on_header(names, None) or names
    n = 0
    try:
        for batch in pf.iter_batches(batch_size=PARQUET_BATCH, columns=cols):
            for row in batch.to_pylist():
                n += 1
                yield n, row, row
    except Exception as e:
        raise InputError(f"{src}: cannot read Parquet data (row {n + 1}): {e}") from None


def read_rows(path: str, src: str, *, delimiter: str | None = None, on_header=None) -> Iterator[tuple[int, Any, Any]]:
    """(line, dict | Bad, raw) for every row of a JSONL, CSV or Parquet file (blank lines skipped).
    `on_header(names, delimiter)` is called with a CSV or Parquet header before the first row (for
    Parquet it may return the columns to read)."""
    kind = kind_of(path)
    if kind == "jsonl":
        return _jsonl_rows(path, src)
    if kind == "csv":
        return _csv_rows(path, src, delimiter, on_header)
    return _parquet_rows(path, src, on_header)


# ---- columns ------------------------------------------------------------------------------------


def norm_name(s: str) -> str:
    """A column name as matching sees it: case and surrounding spaces do not count."""
    return s.strip().casefold()


def match_columns(wanted: dict[str, str], names) -> dict[str, str]:
    """{key: the column that holds it} for `wanted` ({key: column name}): the column with exactly
    that name, else the first one equal to it ignoring case and surrounding spaces."""
    names = list(names)
    exact = set(names)
    loose: dict[str, str] = {}
    for nm in names:
        if isinstance(nm, str):
            loose.setdefault(norm_name(nm), nm)
    out = {}
    for key, col in wanted.items():
        if col in exact:
            out[key] = col
        else:
            hit = loose.get(norm_name(col))
            if hit is not None:
                out[key] = hit
    return out


def get_loose(o: dict, col: str) -> Any:
    """`o[col]`, or the value of the first key equal to `col` ignoring case and spaces."""
    v = o.get(col)
    if v is None and col not in o:
        want = norm_name(col)
        for k, x in o.items():
            if k.__class__ is str and norm_name(k) == want:
                return x
    return v


ID_KEY, EVENTS_KEY = "\0id", "\0events"


def header_report(schema: Schema, names: list[str], src: str, events_file: bool = False) -> tuple[list[str], list[str]]:
    """(missing, unused) for a CSV or Parquet header: declared fields (and the id) with no column,
    columns that nothing reads. InputError when no declared field has a column: such a file is not
    meant for this rule file (a wrong delimiter, a wrong file)."""
    b = Builder(schema)
    if events_file:
        wanted = b.event_file_columns()
    else:
        wanted = b.lead_columns()
    got = match_columns(wanted, names)
    if events_file:
        need = ("lead_id", "at") if b.type_of_file(src) else ("lead_id", "type", "at")
        missing = [wanted[k] for k in need if k not in got]
        if missing:
            raise InputError(f"{src}: no {', '.join(repr(c) for c in missing)} column; an events file needs the "
                             f"lead id, type and time columns ({', '.join(repr(wanted[k]) for k in ('lead_id', 'type', 'at'))}: "
                             "name others with `lead_id from \"...\"`, `type from`, `at from` in the events section)")
        return [], []
    fields = [k for k in wanted if k in schema.fields]
    if fields and not got:
        found = ", ".join(repr(n) for n in names[:20]) + (" ..." if len(names) > 20 else "")
        declared = [wanted[k] for k in fields]
        lower = {norm_name(d): d for d in declared}
        close = []
        for nm in names[:50]:
            if not isinstance(nm, str):
                continue
            m = difflib.get_close_matches(norm_name(nm), list(lower), n=1, cutoff=0.6)
            if m:
                close.append(f"{nm!r} ~ {lower[m[0]]}")
        msg = (f"{src}: no column for any field the rule file declares; the header has {len(names)} column"
               f"{'s' if len(names) != 1 else ''}: {found}. The rule file reads: {', '.join(declared[:20])}")
        if close:
            msg += f". Closest: {'; '.join(close[:10])}"
        seps = [d for d in DELIMITERS if any(isinstance(nm, str) and d in nm for nm in names)]
        hint = (f" (is the file separated by {seps[0]!r}? give --delimiter)" if seps else
                "; name a column with `title: text from \"Job Title\"` in the fields section")
        raise InputError(msg + hint)
    used = set(got.values())
    missing = []
    for k, col in wanted.items():
        if k not in got and k != EVENTS_KEY:
            if k == ID_KEY:
                missing.append(f"id (column {col!r}: leads are numbered by their line)")
            else:
                missing.append(k if col == k else f"{k} (column {col!r})")
    unused = [nm for nm in names if nm not in used]
    return missing, unused


def schema_for(checked, id_field: str | None = None, *, strict_events: bool = False) -> Schema:
    """What the reader needs of a checked rule file: types, and the columns its `from`s name. The
    id's column: `id_field` (`--id-field`), else the rule file's `id from "..."`, else `id`."""
    c = checked
    return Schema(dict(c.fields), {k: dict(v) for k, v in c.events.items()},
                  id_field or getattr(c, "id_column", None) or "id",
                  dict(getattr(c, "sources", {})), dict(getattr(c, "event_columns", {})),
                  dict(getattr(c, "event_sources", {})),
                  {k: dict(v) for k, v in getattr(c, "attr_sources", {}).items()}, strict_events)


# ---- rows -> records ----------------------------------------------------------------------------


class Builder:
    """A schema's reading plan, made once: `lead(obj, line)` and `event(obj)` build records from a
    row (a dict of column -> value) or raise `Bad`; events of undeclared types are counted in
    `ignored` (or are bad, with `schema.strict_events`)."""

    def __init__(self, schema: Schema):
        self.schema = schema
        self.id_col = schema.id_field
        self.field_cols = {f: schema.sources.get(f, f) for f in schema.fields}
        self.convs = tuple((f, self.field_cols[f], COERCERS[t]) for f, t in schema.fields.items())
        ec = schema.event_columns
        self.type_col, self.at_col, self.lid_col = ec.get("type", "type"), ec.get("at", "at"), ec.get("lead_id", "lead_id")
        # the event type as the file writes it -> (declared name, ((attr, column, coercer), ...))
        self.ev_specs: dict[str, tuple] = {}
        for t, attrs in schema.events.items():
            cols = schema.attr_sources.get(t, {})
            spec = (t, tuple((a, cols.get(a, a), COERCERS[at]) for a, at in attrs.items() if a not in ("type", "at")))
            self.ev_specs[schema.event_sources.get(t, t)] = spec
        self.has_events = bool(schema.events)
        self.declared = ", ".join(schema.event_sources.get(t, t) for t in schema.events)
        self.strict = schema.strict_events
        self.ignored: dict[str, int] = {}
        # an events file without a type column whose name is an event's `from` (Segment's `pages`
        # table for `page_view from "pages"`): every row is that event
        self.file_type: str | None = None
        self._ev_keys: dict[tuple, dict] = {}
        self._plans: dict[tuple, tuple] = {}

    def lead_columns(self) -> dict[str, str]:
        """{field (or ID_KEY, EVENTS_KEY): the column it is read from}."""
        cols = {ID_KEY: self.id_col, **self.field_cols}
        if self.has_events:
            cols[EVENTS_KEY] = "events"
        return cols

    def event_file_columns(self) -> dict[str, str]:
        cols = {"lead_id": self.lid_col, "type": self.type_col, "at": self.at_col}
        for _t, (_n, aspecs) in self.ev_specs.items():
            for a, col, _c in aspecs:
                cols.setdefault(a, col)
        return cols

    def plan(self, keys: tuple) -> tuple:
        """(((field, key | None, coercer), ...), id key, events key) for a row with these keys."""
        p = self._plans.get(keys)
        if p is None:
            got = match_columns(self.lead_columns(), keys)
            p = (tuple((f, got.get(f), conv) for f, _col, conv in self.convs), got.get(ID_KEY), got.get(EVENTS_KEY))
            if len(self._plans) < 1000:
                self._plans[keys] = p
        return p

    def exact(self, keys) -> bool:
        """Whether a row with these keys is read by the plain names (no `from`, no case to fold):
        then generated code that reads `obj[field]` reads what this reader reads."""
        convs, idk, evk = self.plan(tuple(keys))
        return all(k is None or k == f for f, k, _c in convs) and idk in (None, self.id_col) and evk in (None, "events")

    def lead(self, o: dict, line: int, plan: tuple | None = None) -> Lead:
        convs, idk, evk = plan if plan is not None else self.plan(tuple(o))
        get = o.get
        fields = {}
        key = None
        try:
            for name, key, conv in convs:
                v = get(key) if key is not None else None
                if v is None:
                    fields[name] = None
                elif conv is c_text and v.__class__ is str:
                    fields[name] = v if v and not v.isspace() else None
                else:
                    fields[name] = conv(v)
            name, key = self.id_col, idk
            lid = get(idk) if idk is not None else None
            if lid is not None:
                lid = c_text(lid) if lid.__class__ is not str else (lid if lid and not lid.isspace() else None)
        except Bad as x:
            raise _keyed(f'field "{name}": {x.reason}', key) from None
        events: list[Event] = []
        if self.has_events and evk is not None:
            evs = get(evk)
            if evs is not None:
                if evs.__class__ is not list:
                    if isinstance(evs, (list, tuple)):
                        evs = list(evs)
                    elif blank(evs):
                        evs = ()
                    else:
                        try:
                            evs = _json_list(evs)  # a CSV cell may hold the events as JSON text
                        except Bad as x:
                            raise _keyed(x.reason, evk) from None
                ignored: dict[str, int] = {}
                event = self.event
                for k, e in enumerate(evs, 1):
                    try:
                        ev = event(e, ignored)
                    except Bad as x:
                        raise _keyed(f"event {k}: {x.reason}", evk) from None
                    if ev is not None:
                        events.append(ev)
                if ignored:
                    tally = self.ignored
                    for t, c in ignored.items():
                        tally[t] = tally.get(t, 0) + c
        if lid is None:
            return Lead(str(line), fields, events, line, True)
        return Lead(lid, fields, events, line, False)

    def event(self, e: Any, ignored: dict[str, int], loose: bool = False) -> Event | None:
        """One event object as an Event; None (counted in `ignored`) for an undeclared type. Keys are
        matched exactly in embedded events (JSON structure), ignoring case and spaces (`loose`) in the
        rows of an events file (columns)."""
        if e.__class__ is not dict:
            if not isinstance(e, dict):
                raise Bad(f"{show(e)} is not an event object")
        keys = self._ev_keys.get((tuple(e), loose)) if len(self._ev_keys) else None
        if keys is None:
            keys = self._event_keys(tuple(e), loose)
        tk = keys[self.type_col]
        t = e[tk] if tk is not None else self.file_type
        if t.__class__ is int:  # a numeric type id (Marketo's activityTypeId)
            t = str(t)
        if t is None or blank(t):
            raise _keyed(f'"{self.type_col}" is missing', None)
        if t.__class__ is not str:
            raise _keyed(f'"{self.type_col}": {show(t)} is not an event type', self.type_col)
        spec = self.ev_specs.get(t)
        if spec is None:
            spec = self.ev_specs.get(t.strip())
            if spec is None:
                if self.strict:
                    raise _keyed(f"undeclared event type {show(t)} (declared: {self.declared}; without "
                                 "--strict-events it would be ignored)", self.type_col)
                ignored[t] = ignored.get(t, 0) + 1
                return None
        typ, aconvs = spec
        ak = keys[self.at_col]
        at = e[ak] if ak is not None else None
        try:
            day = _fast_day(at) if at.__class__ is str else day_ordinal(at)
        except (ValueError, TypeError, OverflowError, AttributeError, IndexError):
            if at is None or blank(at):
                raise Bad(f'{typ}: "{self.at_col}" is missing') from None
            raise _keyed(f'{typ}: "{self.at_col}": {show(at)} is not a date or timestamp ({EXPECTED_TIME}, '
                         "in the years 1-9999 UTC)", self.at_col) from None
        attrs = {}
        a = ""
        try:
            for a, col, conv in aconvs:
                k = keys[col]
                if k is None:
                    continue
                v = e[k]
                if v is None:
                    continue
                if conv is c_text and v.__class__ is str:
                    if v and not v.isspace():
                        attrs[a] = v
                    continue
                v = conv(v)
                if v is not None:
                    attrs[a] = v
        except Bad as x:
            raise _keyed(f'{typ}: attribute "{a}": {x.reason}', col) from None
        return Event(typ, day, attrs, at if at.__class__ is str else _iso(at))

    def _event_keys(self, keys: tuple, loose: bool) -> dict:
        """{column the rule file names: the key of an event object with these keys that holds it}."""
        cols = {self.type_col: self.type_col, self.at_col: self.at_col}
        for _t, aspecs in self.ev_specs.values():
            for _a, col, _c in aspecs:
                cols[col] = col
        if loose:
            got = match_columns(cols, keys)
        else:
            got = {c: c for c in cols if c in keys}
        m = {c: got.get(c) for c in cols}
        if len(self._ev_keys) < 1000:
            self._ev_keys[(keys, loose)] = m
        return m

    def type_of_file(self, path: str) -> str | None:
        """The event whose `from "..."` is this file's name (without suffixes), if any."""
        stem = os.path.basename(path).lower()
        for suffix in (".gz", ".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet", ".pq"):
            stem = stem.removesuffix(suffix)
        for text in self.ev_specs:
            if norm_name(text) == norm_name(stem):
                return text
        return None

    def event_row(self, o: dict, ignored: dict[str, int]) -> tuple[str, Event] | None:
        """A row of a separate events file: (lead id, Event), or None for an undeclared type."""
        lid = o.get(self.lid_col)
        if lid is None and self.lid_col not in o:
            lid = get_loose(o, self.lid_col)
        if lid is not None:
            lid = c_text(lid) if lid.__class__ is not str else (lid if lid and not lid.isspace() else None)
        if lid is None:
            raise _keyed(f'"{self.lid_col}" is missing', None)
        ev = self.event(o, ignored, loose=True)
        return None if ev is None else (lid, ev)


_DAYS: dict[str, int] = {}       # "YYYY-MM-DD" -> ordinal, for the dates events repeat
_TIMES: set[str] = set()         # "THH:MM:SSZ" suffixes known to be valid


def _fast_day(at: str) -> int:
    """`day_ordinal` of a text, with the two forms exports use most (`YYYY-MM-DD`, and
    `YYYY-MM-DDTHH:MM:SSZ`, whose UTC date is its first ten characters) answered from caches."""
    n = len(at)
    if n == 10 or (n == 20 and at[10] == "T" and at[19] == "Z"):
        d = _DAYS.get(at[:10])
        if d is None:
            d = day_ordinal(at[:10])
            if len(_DAYS) < 100_000:
                _DAYS[at[:10]] = d
        if n == 20:
            sfx = at[10:]
            if sfx not in _TIMES:
                dt.datetime.fromisoformat("2000-01-01" + sfx)  # ValueError when the time is not one
                if len(_TIMES) < 100_000:
                    _TIMES.add(sfx)
        return d
    return day_ordinal(at)


def _keyed(reason: str, key: str | None) -> Bad:
    b = Bad(reason)
    b.key = key
    return b


def _json_list(v: Any) -> list:
    if isinstance(v, str) and v.lstrip().startswith("["):
        try:
            out = fastjson.loads(v)
        except (ValueError, RecursionError):
            raise Bad(f'"events": {show(v)} is not valid JSON') from None
        if isinstance(out, list):
            return out
    raise Bad(f'"events": {show(v)} is not a list of events')


def bad_row(e: Bad, line: int, raw: Any, src: str, delimiter: str = ",") -> BadRow:
    """The BadRow of a row that raised `e`, with the JSON column of the value at fault."""
    col = getattr(e, "column", None)
    if col is None and isinstance(raw, str):
        col = json_value_column(raw, getattr(e, "key", None))
    return BadRow(line, e.reason, raw_text(raw, delimiter), src, col)


_last_builder: tuple[Schema | None, Builder | None] = (None, None)


def _builder(schema: Schema) -> Builder:
    global _last_builder
    s, b = _last_builder
    if s is not schema or b is None:
        b = Builder(schema)
        _last_builder = (schema, b)
    return b


def lead_from_object(obj: dict, schema: Schema, *, line: int = 1, source: str = "") -> Lead:
    """One lead from a JSON object (events embedded), coerced like a row of a leads file.
    Raises BadRowsError (with one BadRow) when a value cannot be read."""
    if not isinstance(obj, dict):
        raise BadRowsError([BadRow(line, f"not a JSON object: {show(obj)}", show(obj, 10**9), source)])
    try:
        bad = _lone_surrogate(obj)
        if bad is not None:
            raise bad
        return _builder(schema).lead(obj, line)
    except Bad as e:
        raise BadRowsError([BadRow(line, e.reason, raw_text(obj), source)]) from None


# ---- the reader ---------------------------------------------------------------------------------


class LeadReader:
    """Stream `Lead`s from a leads file (and an optional events file), in input order.

    Counters (valid during and after iteration): `read` lead rows read, `rejected` lead rows
    rejected, `bad_rows` the first 100 bad rows (lead and events file), `bad_events` bad rows of the
    events file, `events_read` rows of the events file, `orphan_events` / `orphan_lead_ids` events
    whose lead id matched no lead (known once the leads are exhausted), `ignored_events` {type:
    count} of undeclared types, `missing_columns` / `unused_columns` of a CSV or Parquet header,
    `delimiter` of a CSV file. See the module docstring.
    """

    def __init__(self, path: str, schema: Schema, *, events_path: str | None = None,
                 on_bad_row: str = "fail", rejects: IO[str] | None = None, delimiter: str | None = None):
        if on_bad_row not in ("fail", "skip"):
            raise ValueError(f'on_bad_row must be "fail" or "skip", not {on_bad_row!r}')
        self.path = str(path)
        self.schema = schema
        self.events_path = None if events_path is None else str(events_path)
        self.on_bad_row = on_bad_row
        self.rejects = rejects
        self.delimiter_given = delimiter
        self.source = STDIN if self.path == "-" else self.path
        self.spill_events: int | None = None  # events held in memory before spilling (None: eventstore's default)
        self.events_source = self.events_path or ""
        self._reset()
        # fail early, before any output is written, on files that cannot be read at all
        for p in (self.path, self.events_path):
            if p is None:
                continue
            check_file(p)
            if kind_of(p) == "parquet":
                pyarrow_parquet(p)
        if self.events_path == "-":
            raise InputError("-: the events file cannot be stdin; give its path")

    def _reset(self) -> None:
        self.sink = BadRowSink(self.on_bad_row, self.rejects)
        self.read = 0
        self.events_read = 0
        self.orphan_events = 0
        self.orphan_lead_ids: list[str] = []
        self.missing_columns: list[str] = []
        self.unused_columns: list[str] = []
        self.delimiter = self.delimiter_given
        self._b = Builder(self.schema)
        self.ignored_events = self._b.ignored

    rejected = property(lambda self: self.sink.rejected)
    bad_events = property(lambda self: self.sink.bad_events)
    bad_rows = property(lambda self: self.sink.bad_rows)

    def _load_events(self):
        """The events file as an EventStore: lead id -> [Event] (file order), spilled to disk past
        eventstore.SPILL_EVENTS events (runtime/io/eventstore.py)."""
        from runtime.io.eventstore import EventStore

        assert self.events_path is not None
        src = self.events_source
        b, sink = self._b, self.sink
        store = EventStore(self.spill_events)
        add = store.add
        shared = store.shared.setdefault
        no_attrs: dict = {}  # one empty dict for all events without attributes (nobody mutates them)

        def on_header(names, _delim):
            header_report(self.schema, list(names), src, events_file=True)
            return None

        rows = read_rows(self.events_path, src, delimiter=self.delimiter_given, on_header=on_header)
        ignored = b.ignored
        b.file_type = b.type_of_file(self.events_path)
        try:
            for line, obj, raw in rows:
                self.events_read += 1
                try:
                    if obj.__class__ is not dict:
                        raise obj if isinstance(obj, Bad) else Bad("line is not a JSON object")
                    got = b.event_row(obj, ignored)
                except Bad as e:
                    sink.add(bad_row(e, line, raw, src), event_row=True)
                    if sink.full:
                        break
                    continue
                if got is None:
                    continue
                lid, ev = got
                # share equal days and text attribute values (pages, forms, campaigns repeat a lot):
                # what is held in memory stays smaller
                ev.day = shared(ev.day, ev.day)
                if ev.attrs:
                    at = ev.attrs
                    for k, v in at.items():
                        if v.__class__ is str:
                            at[k] = shared(v, v)
                else:
                    ev.attrs = no_attrs
                add(lid, ev)
            store.finish()
        except BaseException:
            store.close()
            raise
        finally:
            rows.close()
        if self.on_bad_row == "fail":
            try:
                sink.raise_if_failed()
            except BadRowsError:
                store.close()
                raise
        return store

    def _on_header(self, names, delimiter):
        self.delimiter = delimiter
        self.missing_columns, self.unused_columns = header_report(self.schema, list(names), self.source)
        if delimiter is None:  # Parquet: read only the columns that are used
            used = [nm for nm in names if nm not in set(self.unused_columns)]
            return used or list(names)[:1]
        return None

    def __iter__(self) -> Iterator[Lead]:
        self._reset()
        store = self._load_events() if (self.events_path and self._b.has_events) else None
        try:
            yield from self._leads(store)
        finally:
            if store is not None:
                store.close()

    def _leads(self, store) -> Iterator[Lead]:
        b, sink = self._b, self.sink
        dups = DuplicateIds()
        src = self.source
        build = b.lead
        rows = read_rows(self.path, src, delimiter=self.delimiter_given, on_header=self._on_header)
        try:
            for line, obj, raw in rows:
                self.read += 1
                try:
                    if obj.__class__ is not dict:
                        raise obj if isinstance(obj, Bad) else Bad("line is not a JSON object")
                    lead = build(obj, line)
                    if not lead.numbered:
                        why = dups.reason(lead.id, line)
                        if why is not None:
                            raise _keyed(why, b.plan(tuple(obj))[1])
                except Bad as e:
                    sink.add(bad_row(e, line, raw, src, self.delimiter or ","))
                    if sink.full:
                        break
                    continue
                if sink.failing:
                    continue
                if store is not None and not lead.numbered:
                    evs = store.take(lead.id)
                    if evs is not None:
                        if lead.events:
                            lead.events.extend(evs)
                        else:
                            lead.events = list(evs)
                yield lead
        finally:
            rows.close()
            dups.close()
        sink.raise_if_failed()
        if store is not None:
            self.orphan_events, self.orphan_lead_ids = store.orphans(MAX_ORPHAN_IDS)
