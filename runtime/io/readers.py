"""Read leads (and their events) from JSON Lines, CSV or Parquet into `runtime.core.model.Lead`s.

Formats, by suffix (case-insensitive):

- `.jsonl`, `.ndjson` (also `.json`, read as JSON Lines): one JSON object per line; blank lines are
  skipped and not counted (but line numbers are the file's own). Events may be embedded as an
  `events` list of `{type, at, ...attrs}` objects.
- `.csv`: a header row, then one lead per row; a `text list` field is `;`-separated; an `events`
  column, if any, holds the events as a JSON list (empty cell: none). For CSV the
  "line" of a lead or a bad row is its data row number (1 = the first row after the header; blank
  rows are skipped and not counted), the same number `Lead.line` and numbered ids use.
- `.parquet` (`.pq`): read with pyarrow (imported only then; `pip install 'leadrules[parquet]'`),
  in batches, only the columns the rule file needs. Embedded events: a list-of-struct `events` column.
- `.jsonl.gz`, `.ndjson.gz`, `.json.gz`, `.csv.gz`: read through gzip. `-` reads JSON Lines from stdin,
  and so does a pipe without a suffix (`--leads <(zcat leads.jsonl.gz)`).

Coercion: every declared field (`Schema.fields`) is read as its declared type; undeclared fields are
ignored. A value that is absent, null, or text that is empty after trimming is *missing* and stored
as None (every declared field is a key of `Lead.fields`). text stays as written (not trimmed, not
lower-cased: the engine does that); numbers and bools given for a text become text (`12` -> "12",
`12.0` -> "12", `true` -> "true"). number: JSON numbers, or text that reads as one (" 7 " -> 7,
"12.5" -> 12.5); NaN/infinity and bools are not numbers. date: `YYYY-MM-DD` or an ISO timestamp
(`Z`, `+02:00`, or no offset = UTC), stored as the UTC date's `date.toordinal()`. bool: true/false,
"true"/"false"/"yes"/"no"/"1"/"0" (any case), 0/1. text list: a list of scalars (tuple of str, nulls
and blanks dropped) or one text split on `;` (items trimmed, empty ones dropped). The id field
(`Schema.id_field`) is read as text; a lead without one gets its line number as id, `numbered=True`.

Events: `type` must be a declared event type, `at` is required (date or timestamp; `Event.day` is its
UTC date's ordinal, `Event.at` the text as read); declared attributes are coerced like fields (missing
ones are left out of `Event.attrs`), undeclared ones are dropped. A lead whose embedded events
include a bad one is a bad row as a whole. A rule file that declares no events ignores events
altogether (embedded ones and the `events_path` file).

Bad rows: a line that is not JSON or not a JSON object, a CSV row with the wrong number of cells, a
declared field that cannot be read as its type, or a bad embedded event. With `on_bad_row="fail"`
the reader stops yielding at the first bad row, scans on until it has 10 (or the input ends) and
raises `BadRowsError`. With `"skip"` each is written to `rejects` as one JSON line
`{"source", "line", "reason", "row"}` (`row`: the whole row as read, as text) and counted in
`rejected`; after a full iteration `leads yielded + rejected == read`.

A separate events file (`events_path`: JSONL, CSV or Parquet, maybe `.gz`, with `lead_id`, `type`,
`at` and the attributes) is loaded whole into a dict `lead_id -> [Event]` before the first lead is
yielded -- memory is proportional to the events file (a few hundred bytes per event), while the
leads themselves stream. Each lead gets the events whose `lead_id` equals its id (after its embedded
ones, in file order); numbered leads (no id) get none. Events whose `lead_id` matched no lead are
counted after the leads are exhausted: `orphan_events`, and the first 20 such ids in
`orphan_lead_ids`. A bad row of the events file (missing `lead_id`, unknown type, bad `at` or
attribute) is *not* counted in `read`/`rejected` (those are lead rows and must add up): it is counted
in `bad_events`, listed in `bad_rows` with the events file as its source, written to `rejects` in
skip mode (the lead keeps its other events), and makes the reader raise `BadRowsError` in fail mode
(before any lead is yielded).

Files that cannot be read at all (no such file, unknown suffix, not gzip, not UTF-8, no pyarrow for
Parquet, an events file without a `lead_id` column ...) raise `InputError`.
"""
from __future__ import annotations

import csv
import datetime as dt
import decimal
import gzip
import json
import os
import sys
from typing import IO, Any, Callable, Iterator

from runtime.core.model import BOOL, DATE, NUMBER, TEXT, TEXT_LIST, BadRow, Event, Lead, Schema

MAX_FAIL_ROWS = 10      # bad rows collected before raising under on_bad_row="fail"
MAX_KEPT_ROWS = 100     # bad rows kept in LeadReader.bad_rows
MAX_ORPHAN_IDS = 20
PARQUET_BATCH = 4096
STDIN = "<stdin>"

__all__ = ["BadRowsError", "InputError", "LeadReader", "lead_from_object", "coerce", "day_ordinal"]


# ---- errors -------------------------------------------------------------------------------------


class InputError(Exception):
    """A file that cannot be read at all; the message names the file and what to do."""


class BadRowsError(Exception):
    """Bad rows under on_bad_row="fail". `bad_rows`: the first (up to 10) of them."""

    def __init__(self, bad_rows: list[BadRow], more: bool = False):
        self.bad_rows = list(bad_rows)[:MAX_FAIL_ROWS]
        self.more = more
        super().__init__(self._message())

    def _message(self) -> str:
        lines = [f"{b.source or 'input'}:{b.line}: {b.reason}" for b in self.bad_rows]
        if self.more:
            lines.append(f"(stopped after the first {len(self.bad_rows)} bad rows; there may be more)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._message()


class _Bad(Exception):
    """Internal: one value, event or row that cannot be read; `reason` says why."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


# ---- value coercion -----------------------------------------------------------------------------

_UTC = dt.timezone.utc
_fromiso = dt.datetime.fromisoformat
_Decimal = decimal.Decimal


def _show(v: Any, limit: int = 60) -> str:
    """A value as it would be written in JSON, shortened, for messages."""
    try:
        s = json.dumps(v, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        s = repr(v)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def day_ordinal(v: Any) -> int:
    """The UTC date (as `date.toordinal()`) of `YYYY-MM-DD`, an ISO timestamp (`Z`, `±HH:MM` or no
    offset = UTC), or a date/datetime object. Raises ValueError when it is none of those."""
    if v.__class__ is str:
        n = len(v)
        if n >= 10 and v[4] == "-" and v[7] == "-" and (n == 10 or v[10] in "Tt "):
            t = _fromiso(v)  # ValueError when invalid
            if n == 10 or t.tzinfo is None or v[-1] == "Z":
                return t.toordinal()
            return t.astimezone(_UTC).toordinal()
        s = v.strip()
        if s and s != v:
            return day_ordinal(s)
        raise ValueError(v)
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(_UTC)
        return v.toordinal()
    if isinstance(v, dt.date):
        return v.toordinal()
    raise ValueError(v)


def _blank(v: Any) -> bool:
    return v.__class__ is str and (not v or v.isspace())


def _c_text(v: Any) -> Any:
    c = v.__class__
    if c is str:
        return v if v and not v.isspace() else None
    if c is int:
        return str(v)
    if c is bool:
        return "true" if v else "false"
    if c is float:
        if v - v == 0.0 and v == int(v):
            return str(int(v))
        return repr(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (str, int, float)):  # subclasses (numpy scalars, enums ...)
        return _c_text(str(v) if isinstance(v, str) else int(v) if isinstance(v, int) else float(v))
    if isinstance(v, _Decimal):
        return _c_text(int(v)) if v.is_finite() and v == v.to_integral_value() else str(v)
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    raise _Bad(f"{_show(v)} is not a text")


def _c_number(v: Any) -> Any:
    c = v.__class__
    if c is int:
        return v
    if c is float:
        if v - v == 0.0:  # finite
            return v
        raise _Bad(f"{_show(str(v))} is not a number")
    if c is str:
        s = v.strip()
        if not s:
            return None
        if "_" not in s:
            if "." not in s:
                try:
                    return int(s)
                except ValueError:
                    pass
            try:
                f = float(s)
            except ValueError:
                pass
            else:
                if f - f == 0.0:
                    return f
        raise _Bad(f"{_show(v)} is not a number")
    if not isinstance(v, bool):
        if isinstance(v, _Decimal):
            if v.is_finite():
                return int(v) if v == v.to_integral_value() else float(v)
        elif isinstance(v, (int, float, str)):  # subclasses (numpy scalars ...)
            return _c_number(int(v) if isinstance(v, int) else float(v) if isinstance(v, float) else str(v))
    raise _Bad(f"{_show(v)} is not a number")


def _c_date(v: Any) -> Any:
    try:
        return day_ordinal(v)
    except (ValueError, TypeError, OverflowError):
        pass
    if _blank(v):
        return None
    raise _Bad(f"{_show(v)} is not a date (expected YYYY-MM-DD)")


_BOOLS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


def _c_bool(v: Any) -> Any:
    if v is True or v is False:
        return v
    c = v.__class__
    if c is str:
        b = _BOOLS.get(v)
        if b is None:
            s = v.strip()
            if not s:
                return None
            b = _BOOLS.get(s.lower())
        if b is not None:
            return b
    elif c is int and (v == 0 or v == 1):
        return v == 1
    raise _Bad(f"{_show(v)} is not a bool (expected true/false, yes/no or 1/0)")


def _c_text_list(v: Any) -> Any:
    c = v.__class__
    if c is str:
        if ";" not in v:
            s = v.strip()
            return (s,) if s else None
        if not v.strip():
            return None
        return tuple(s for s in (p.strip() for p in v.split(";")) if s)
    if c is list or c is tuple:
        out = []
        for x in v:
            if x is None:
                continue
            if x.__class__ is str:
                if x and not x.isspace():
                    out.append(x)
                continue
            if isinstance(x, (list, tuple, dict)):
                raise _Bad(f"{_show(v)} is not a text list (its items must be texts, not lists or objects)")
            out.append(_c_text(x))
        return tuple(out)
    raise _Bad(f"{_show(v)} is not a text list (expected a list of texts or \"a;b;c\")")


_COERCERS: dict[str, Callable[[Any], Any]] = {
    TEXT: _c_text, NUMBER: _c_number, DATE: _c_date, BOOL: _c_bool, TEXT_LIST: _c_text_list,
}


def coerce(value: Any, type_name: str) -> Any:
    """`value` as the declared type `type_name` (None when missing); ValueError with the reason."""
    if value is None:
        return None
    try:
        return _COERCERS[type_name](value)
    except _Bad as e:
        raise ValueError(e.reason) from None


# ---- rows -> records ----------------------------------------------------------------------------


class _Builder:
    """Per-schema coercers, precomputed once: `lead(obj, line)` and `event(obj)` raise _Bad."""

    def __init__(self, schema: Schema):
        self.schema = schema
        self.id_field = schema.id_field
        self.convs = tuple((name, _COERCERS[typ]) for name, typ in schema.fields.items())
        # event type -> (the type string, ((attr, coercer), ...)); "type"/"at" are not attributes
        self.ev_specs = {t: (t, tuple((a, _COERCERS[at]) for a, at in attrs.items() if a not in ("type", "at")))
                         for t, attrs in schema.events.items()}
        self.has_events = bool(schema.events)
        self.declared = ", ".join(schema.events)

    def columns(self) -> set[str]:
        cols = {self.id_field, *self.schema.fields}
        if self.has_events:
            cols.add("events")
        return cols

    def event(self, e: Any) -> Event:
        if e.__class__ is not dict:
            if not isinstance(e, dict):
                raise _Bad(f"{_show(e)} is not an event object")
        t = e.get("type")
        spec = self.ev_specs.get(t) if t.__class__ is str else None
        if spec is None:
            if t is None or _blank(t):
                raise _Bad('"type" is missing')
            raise _Bad(f"unknown event type {_show(t)} (declared: {self.declared})")
        typ, aconvs = spec
        at = e.get("at")
        # fast path: a "YYYY-MM-DD" date, or a timestamp in UTC ("...Z") or without an offset
        if (at.__class__ is str and len(at) >= 10 and at[4] == "-" and at[7] == "-"
                and (len(at) == 10 or at[10] == "T")):
            try:
                t = _fromiso(at)
            except ValueError:
                day = self._day(at, typ)
            else:
                day = t.toordinal() if (t.tzinfo is None or at[-1] == "Z") else t.astimezone(_UTC).toordinal()
        else:
            day = self._day(at, typ)
        attrs = {}
        a = ""
        try:
            for a, conv in aconvs:
                v = e.get(a)
                if v is None:
                    continue
                if conv is _c_text and v.__class__ is str:
                    if v and not v.isspace():
                        attrs[a] = v
                    continue
                v = conv(v)
                if v is not None:
                    attrs[a] = v
        except _Bad as x:
            raise _Bad(f'{typ}: attribute "{a}": {x.reason}') from None
        return Event(typ, day, attrs, at if at.__class__ is str else _iso(at))

    @staticmethod
    def _day(at: Any, typ: str) -> int:
        try:
            return day_ordinal(at)
        except (ValueError, TypeError, OverflowError, AttributeError):
            if at is None or _blank(at):
                raise _Bad(f'{typ}: "at" is missing') from None
            raise _Bad(f'{typ}: "at": {_show(at)} is not a date or timestamp '
                       "(expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS with Z or ±HH:MM)") from None

    def lead(self, o: dict, line: int) -> Lead:
        get = o.get
        fields = {}
        name = ""
        try:
            for name, conv in self.convs:
                v = get(name)
                if v is None:
                    fields[name] = None
                elif conv is _c_text and v.__class__ is str:
                    fields[name] = v if v and not v.isspace() else None
                else:
                    fields[name] = conv(v)
            name = self.id_field
            lid = get(name)
            if lid is not None:
                lid = _c_text(lid) if lid.__class__ is not str else (lid if lid and not lid.isspace() else None)
        except _Bad as x:
            raise _Bad(f'field "{name}": {x.reason}') from None
        events = []
        if self.has_events:
            evs = get("events")
            if evs is not None:
                if evs.__class__ is not list:
                    if isinstance(evs, (list, tuple)):
                        evs = list(evs)
                    elif _blank(evs):
                        evs = ()
                    else:
                        evs = _json_list(evs)  # a CSV cell may hold the events as JSON text
                # The common case inline (a declared type, a "...T...Z" or "YYYY-MM-DD" `at`, text
                # attributes); anything else goes through self.event, which also words the errors.
                ev = self.event
                specs = self.ev_specs
                append = events.append
                fromiso = _fromiso
                text = _c_text
                try:
                    for e in evs:
                        try:
                            typ, aconvs = specs[e["type"]]
                            at = e["at"]
                            if at[4] == "-" and at[7] == "-" and (len(at) == 10 or (at[10] == "T" and at[-1] == "Z")):
                                day = fromiso(at).toordinal()
                            else:
                                append(ev(e))
                                continue
                        except (KeyError, TypeError, IndexError, ValueError):
                            append(ev(e))
                            continue
                        attrs = {}
                        for a, conv in aconvs:
                            v = e.get(a)
                            if v is None:
                                continue
                            if conv is text and v.__class__ is str:
                                if v and not v.isspace():
                                    attrs[a] = v
                                continue
                            append(ev(e))
                            break
                        else:
                            append(Event(typ, day, attrs, at))
                except _Bad as x:
                    raise _Bad(f"event {len(events) + 1}: {x.reason}") from None
        if lid is None:
            return Lead(str(line), fields, events, line, True)
        return Lead(lid, fields, events, line, False)


def _json_list(v: Any) -> list:
    if isinstance(v, str) and v.lstrip().startswith("["):
        try:
            out = json.loads(v)
        except (ValueError, RecursionError):
            raise _Bad(f'"events": {_show(v)} is not valid JSON') from None
        if isinstance(out, list):
            return out
    raise _Bad(f'"events": {_show(v)} is not a list of events')


def _iso(v: Any) -> str:
    return v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else str(v)


_last_builder: tuple[Schema | None, _Builder | None] = (None, None)


def _builder(schema: Schema) -> _Builder:
    global _last_builder
    s, b = _last_builder
    if s is not schema or b is None:
        b = _Builder(schema)
        _last_builder = (schema, b)
    return b


def lead_from_object(obj: dict, schema: Schema, *, line: int = 1, source: str = "") -> Lead:
    """One lead from a JSON object (events embedded), coerced like a row of a leads file.
    Raises BadRowsError (with one BadRow) when a value cannot be read."""
    if not isinstance(obj, dict):
        raise BadRowsError([BadRow(line, f"not a JSON object: {_show(obj)}", _show(obj, 10**9), source)])
    try:
        return _builder(schema).lead(obj, line)
    except _Bad as e:
        raise BadRowsError([BadRow(line, e.reason, _raw_text(obj), source)]) from None


# ---- sources: (line, dict | _Bad, raw) ----------------------------------------------------------


def _raw_text(raw: Any) -> str:
    if isinstance(raw, str):
        return raw.rstrip("\r\n")
    if isinstance(raw, list):  # a CSV row
        import io

        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(raw)
        return buf.getvalue()
    return json.dumps(raw, ensure_ascii=False, default=_iso)


def _kind(path: str) -> str:
    if path == "-":
        return "jsonl"
    low = path.lower()
    base = low[:-3] if low.endswith(".gz") else low
    if base.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if base.endswith(".csv"):
        return "csv"
    if low.endswith((".parquet", ".pq")):
        return "parquet"
    try:
        import stat

        if not stat.S_ISREG(os.stat(path).st_mode) and "." not in os.path.basename(path):
            return "jsonl"  # a pipe without a suffix (`--leads <(zcat leads.jsonl.gz)`): JSON Lines, like -
    except OSError:
        pass
    raise InputError(f"{path}: unknown file type; leads and events are read from .jsonl (.ndjson), .csv, "
                     ".parquet, .jsonl.gz or .csv.gz files, or - for JSON Lines on stdin")


def _check_file(path: str) -> None:
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


def _pyarrow_parquet(path: str):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(f"{path}: reading Parquet needs pyarrow; install it with "
                         "pip install 'leadrules[parquet]' (or use JSONL or CSV)") from None
    return pq


def _open_text(path: str, newline: str):
    if path == "-":
        return sys.stdin
    try:
        if path.lower().endswith(".gz"):
            return gzip.open(path, "rt", encoding="utf-8-sig", newline=newline)
        return open(path, encoding="utf-8-sig", newline=newline)
    except OSError as e:
        raise InputError(f"{path}: cannot open ({e.strerror or e})") from None


def _read_error(src: str, where: str, e: BaseException) -> InputError:
    if isinstance(e, UnicodeDecodeError):
        return InputError(f"{src}: not UTF-8 text ({where}); save or export it as UTF-8")
    if isinstance(e, gzip.BadGzipFile):
        return InputError(f"{src}: not a gzip file although it ends in .gz; rename it or compress it with gzip")
    if isinstance(e, EOFError):
        return InputError(f"{src}: the gzip data ends early ({where}); the file is truncated")
    if isinstance(e, csv.Error):
        return InputError(f"{src}: cannot parse CSV ({where}): {e}")
    return InputError(f"{src}: cannot read ({where}): {getattr(e, 'strerror', None) or e}")


def _jsonl_rows(path: str, src: str) -> Iterator[tuple[int, Any, Any]]:
    fh = _open_text(path, "\n")
    loads = json.loads
    n = 0
    try:
        for n, line in enumerate(fh, 1):
            try:
                obj = loads(line)
            except (ValueError, RecursionError) as e:
                if not line.strip():
                    continue  # blank line: skipped, not counted
                if line.startswith("\ufeff"):
                    line = line[1:]
                    try:
                        obj = loads(line)
                    except (ValueError, RecursionError) as e2:
                        e = e2
                        obj = None
                    else:
                        e = None
                if e is not None:
                    if isinstance(e, json.JSONDecodeError):
                        obj = _Bad(f"line is not valid JSON: {e.msg} at column {e.colno}")
                    elif isinstance(e, RecursionError):
                        obj = _Bad("line is not valid JSON: nested too deeply")
                    else:
                        obj = _Bad(f"line is not valid JSON: {e}")
                    yield n, obj, line
                    continue
            if obj.__class__ is not dict:
                obj = _Bad(f"line is not a JSON object (it is {_json_kind(obj)})")
            yield n, obj, line
    except (UnicodeDecodeError, OSError, EOFError) as e:
        raise _read_error(src, f"line {n + 1}", e) from None
    finally:
        if fh is not sys.stdin:
            fh.close()


def _json_kind(v: Any) -> str:
    if isinstance(v, list):
        return "a list"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    return "a number"


def _csv_rows(path: str, src: str, required: tuple[str, ...] = ()) -> Iterator[tuple[int, Any, Any]]:
    if csv.field_size_limit() < 1 << 24:
        csv.field_size_limit(1 << 24)
    fh = _open_text(path, "")
    n = 0
    try:
        rd = csv.reader(fh)
        header = next(rd, None)
        if header is None:
            return
        header = [h.strip() for h in header]
        missing = [c for c in required if c not in header]
        if missing:
            raise InputError(f"{src}: no {', '.join(repr(c) for c in missing)} column; an events file needs "
                             "columns lead_id, type, at (and the event attributes)")
        nh = len(header)
        for row in rd:
            if not row or (len(row) == 1 and nh > 1 and not row[0].strip()):
                continue  # blank line
            n += 1
            if len(row) == nh:
                yield n, dict(zip(header, row)), row
            else:
                yield n, _Bad(f"row has {len(row)} cells, the header has {nh}"), row
    except (UnicodeDecodeError, OSError, EOFError, csv.Error) as e:
        raise _read_error(src, f"row {n + 1}", e) from None
    finally:
        fh.close()


def _parquet_rows(path: str, src: str, wanted: set[str] | None,
                  required: tuple[str, ...] = ()) -> Iterator[tuple[int, Any, Any]]:
    pq = _pyarrow_parquet(path)
    try:
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError ...
        raise InputError(f"{src}: not a readable Parquet file ({e})") from None
    missing = [c for c in required if c not in names]
    if missing:
        raise InputError(f"{src}: no {', '.join(repr(c) for c in missing)} column; an events file needs "
                         "columns lead_id, type, at (and the event attributes)")
    cols = [c for c in names if wanted is None or c in wanted] or names[:1]
    n = 0
    try:
        for batch in pf.iter_batches(batch_size=PARQUET_BATCH, columns=cols):
            for row in batch.to_pylist():
                n += 1
                yield n, row, row
    except Exception as e:
        raise InputError(f"{src}: cannot read Parquet data (row {n + 1}): {e}") from None


def _rows(path: str, src: str, wanted: set[str] | None, required: tuple[str, ...] = ()):
    kind = _kind(path)
    if kind == "jsonl":
        return _jsonl_rows(path, src)
    if kind == "csv":
        return _csv_rows(path, src, required)
    return _parquet_rows(path, src, wanted, required)


# ---- the reader ---------------------------------------------------------------------------------


class LeadReader:
    """Stream `Lead`s from a leads file (and an optional events file), in input order.

    Counters (valid during and after iteration): `read` lead rows read, `rejected` lead rows
    rejected, `bad_rows` the first 100 bad rows (lead and events file), `bad_events` bad rows of the
    events file, `events_read` rows of the events file, `orphan_events` / `orphan_lead_ids` events
    whose lead_id matched no lead (known once the leads are exhausted). See the module docstring.
    """

    def __init__(self, path: str, schema: Schema, *, events_path: str | None = None,
                 on_bad_row: str = "fail", rejects: IO[str] | None = None):
        if on_bad_row not in ("fail", "skip"):
            raise ValueError(f'on_bad_row must be "fail" or "skip", not {on_bad_row!r}')
        self.path = str(path)
        self.schema = schema
        self.events_path = None if events_path is None else str(events_path)
        self.on_bad_row = on_bad_row
        self.rejects = rejects
        self.source = STDIN if self.path == "-" else self.path
        self.events_source = self.events_path or ""
        self._b = _Builder(schema)
        self._reset()
        # fail early, before any output is written, on files that cannot be read at all
        for p in (self.path, self.events_path):
            if p is None:
                continue
            _check_file(p)
            kind = _kind(p)
            if kind == "parquet":
                _pyarrow_parquet(p)
        if self.events_path == "-":
            raise InputError("-: the events file cannot be stdin; give its path")

    def _reset(self) -> None:
        self.read = 0
        self.rejected = 0
        self.bad_rows: list[BadRow] = []
        self.bad_events = 0
        self.events_read = 0
        self.orphan_events = 0
        self.orphan_lead_ids: list[str] = []
        self._fail_rows: list[BadRow] = []

    def _bad(self, row: BadRow) -> None:
        if len(self.bad_rows) < MAX_KEPT_ROWS:
            self.bad_rows.append(row)
        if self.on_bad_row == "fail":
            self._fail_rows.append(row)
        elif self.rejects is not None:
            self.rejects.write(json.dumps({"source": row.source, "line": row.line, "reason": row.reason,
                                           "row": row.raw}, ensure_ascii=False) + "\n")

    def _load_events(self) -> dict[str, list[Event]]:
        """The events file as lead_id -> [Event] (file order)."""
        assert self.events_path is not None
        src = self.events_source
        b = self._b
        cols = {"lead_id", "type", "at"}
        for attrs in self.schema.events.values():
            cols.update(attrs)
        pending: dict[str, list[Event]] = {}
        fail = self.on_bad_row == "fail"
        event = b.event
        shared = {}.setdefault
        no_attrs: dict = {}  # one empty dict for all events without attributes (nobody mutates them)
        rows = _rows(self.events_path, src, cols, ("lead_id", "type", "at"))
        try:
            for line, obj, raw in rows:
                self.events_read += 1
                try:
                    if obj.__class__ is not dict:
                        if isinstance(obj, _Bad):
                            raise obj
                        raise _Bad("line is not a JSON object")
                    lid = obj.get("lead_id")
                    if lid is not None:
                        lid = _c_text(lid) if lid.__class__ is not str else (lid if lid and not lid.isspace() else None)
                    if lid is None:
                        raise _Bad('"lead_id" is missing')
                    ev = event(obj)
                except _Bad as e:
                    self.bad_events += 1
                    self._bad(BadRow(line, e.reason, _raw_text(raw), src))
                    if fail and len(self._fail_rows) >= MAX_FAIL_ROWS:
                        break
                    continue
                # share equal days and text attribute values (pages, forms, campaigns repeat a lot):
                # the whole file stays in memory, this keeps it smaller
                ev.day = shared(ev.day, ev.day)
                if ev.attrs:
                    at = ev.attrs
                    for k, v in at.items():
                        if v.__class__ is str:
                            at[k] = shared(v, v)
                else:
                    ev.attrs = no_attrs
                lst = pending.get(lid)
                if lst is None:
                    pending[lid] = [ev]
                else:
                    lst.append(ev)
        finally:
            rows.close()
        if fail and self._fail_rows:
            raise BadRowsError(self._fail_rows, more=len(self._fail_rows) >= MAX_FAIL_ROWS)
        return pending

    def __iter__(self) -> Iterator[Lead]:
        self._reset()
        b = self._b
        pending = self._load_events() if (self.events_path and b.has_events) else None
        attached: dict[str, list[Event]] = {}  # for leads that share an id: they all get the events
        fail = self.on_bad_row == "fail"
        failing = False
        src = self.source
        build = b.lead
        rows = _rows(self.path, src, b.columns())
        try:
            for line, obj, raw in rows:
                self.read += 1
                try:
                    if obj.__class__ is not dict:
                        if isinstance(obj, _Bad):
                            raise obj
                        if not isinstance(obj, dict):
                            raise _Bad("line is not a JSON object")
                    lead = build(obj, line)
                except _Bad as e:
                    self.rejected += 1
                    self._bad(BadRow(line, e.reason, _raw_text(raw), src))
                    if fail:
                        failing = True
                        if len(self._fail_rows) >= MAX_FAIL_ROWS:
                            break
                    continue
                if failing:
                    continue
                if pending is not None and not lead.numbered:
                    lid = lead.id
                    evs = pending.pop(lid, None)
                    if evs is not None:
                        attached[lid] = evs
                    else:
                        evs = attached.get(lid)
                    if evs is not None:
                        if lead.events:
                            lead.events.extend(evs)
                        else:
                            lead.events = list(evs)
                yield lead
        finally:
            rows.close()
        if failing:
            raise BadRowsError(self._fail_rows, more=len(self._fail_rows) >= MAX_FAIL_ROWS)
        if pending:
            self.orphan_events = sum(len(v) for v in pending.values())
            for k in pending:
                if len(self.orphan_lead_ids) >= MAX_ORPHAN_IDS:
                    break
                self.orphan_lead_ids.append(k)


# Public names of the reader's pieces that other modules use (runtime/io/outcomes.py reads outcome
# files with the same rules; runtime/backends/parallel.py and scoring.py check and open files the same
# way). Other modules import these, never the underscored names.
BadValue = _Bad
show_value = _show
coerce_text = _c_text
coerce_bool = _c_bool
raw_text = _raw_text
file_kind = _kind
check_file = _check_file
pyarrow_parquet = _pyarrow_parquet
open_text = _open_text
read_error = _read_error
json_kind = _json_kind
rows_of = _rows
