"""Read what happened to leads (the input of `leadrules calibrate`): one outcome row per lead.

Columns (CSV with a header, JSON Lines objects, or Parquet; `.gz` works for CSV and JSONL):

- `lead_id` (required): the lead's id, read as text exactly like a leads file's id.
- `worked_at`: when sales first worked the lead — `YYYY-MM-DD` or an ISO timestamp (its UTC date
  counts). Empty, null or absent: never worked.
- `converted`: true/false, yes/no, 1/0 (any case). Required when `worked_at` is set; when both are
  empty the lead was never worked and did not convert.
- `converted_at` (optional): a date or timestamp; only allowed when `converted` is true.
- `stage` (optional): free text (the CRM's stage), kept for the report's counts.
Other columns are ignored.

Bad rows follow the leads contract (docs/cli.md): a line that is not a JSON object, a CSV row with the
wrong number of cells, a missing `lead_id`, a value that cannot be read, `converted_at` on a lead
that did not convert, and every outcome row after the first for the same `lead_id` (the first is
kept; the reason names its line). `on_bad_row="fail"` collects up to 10 and raises `BadRowsError`;
`"skip"` writes each to `rejects` as `{"source", "line", "reason", "row"}` and goes on. After
`load()`, `read == len(outcomes) + rejected`.

Outcomes are loaded whole (a small record per lead) before the leads stream past them;
`OutcomeBook.take(lead_id)` marks an outcome as matched, and `unknown()` lists the ones whose lead
never came by.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO

from runtime.core.model import BadRow
from runtime.io.readers import MAX_FAIL_ROWS, MAX_KEPT_ROWS, BadRowsError, InputError, day_ordinal
from runtime.io.readers import BadValue as _Bad
from runtime.io.readers import check_file as _check_file
from runtime.io.readers import coerce_bool as _c_bool
from runtime.io.readers import coerce_text as _c_text
from runtime.io.readers import file_kind as _kind
from runtime.io.readers import pyarrow_parquet as _pyarrow_parquet
from runtime.io.readers import raw_text as _raw_text
from runtime.io.readers import rows_of as _rows
from runtime.io.readers import show_value as _show

COLUMNS = ("lead_id", "worked_at", "converted", "converted_at", "stage")
MAX_UNKNOWN_IDS = 20


@dataclass(slots=True)
class Outcome:
    lead_id: str
    worked_day: int | None      # UTC date ordinal of worked_at; None: never worked
    converted: bool
    worked_at: str = ""         # as written, for reports
    converted_day: int | None = None
    stage: str | None = None
    line: int = 0

    @property
    def worked(self) -> bool:
        return self.worked_day is not None


def _day(v, name: str) -> tuple[int | None, str]:
    if v is None:
        return None, ""
    if isinstance(v, str):
        if not v.strip():
            return None, ""
    try:
        return day_ordinal(v), v if isinstance(v, str) else str(v)
    except (ValueError, TypeError, OverflowError, AttributeError, IndexError):
        raise _Bad(f'"{name}": {_show(v)} is not a date or timestamp (expected YYYY-MM-DD, or empty)') from None


def outcome_from_object(obj: dict, line: int) -> Outcome:
    """One outcome row as a record; raises `_Bad` with the reason when it cannot be read."""
    lid = obj.get("lead_id")
    if lid is not None:
        try:
            lid = _c_text(lid)
        except _Bad as e:
            raise _Bad(f'"lead_id": {e.reason}') from None
    if lid is None:
        raise _Bad('"lead_id" is missing')
    worked_day, worked_at = _day(obj.get("worked_at"), "worked_at")
    conv = obj.get("converted")
    try:
        converted = _c_bool(conv) if conv is not None else None
    except _Bad:
        raise _Bad(f'"converted": {_show(conv)} is not true or false (expected true/false, yes/no or 1/0)') from None
    if converted is None:
        if worked_day is not None:
            raise _Bad('"converted" is missing; a worked lead must say whether it converted (true or false)')
        converted = False
    conv_day, _ = _day(obj.get("converted_at"), "converted_at")
    if conv_day is not None and not converted:
        raise _Bad('"converted_at" is set but "converted" is false')
    stage = obj.get("stage")
    if stage is not None:
        try:
            stage = _c_text(stage)
        except _Bad as e:
            raise _Bad(f'"stage": {e.reason}') from None
        if stage is not None:
            stage = stage.strip()
    return Outcome(lid, worked_day, bool(converted), worked_at, conv_day, stage, line)


class OutcomeReader:
    """Load an outcomes file into `{lead_id: Outcome}`; counters as LeadReader's (`read`, `rejected`,
    `bad_rows`, plus `duplicates`)."""

    def __init__(self, path: str, *, on_bad_row: str = "fail", rejects: IO[str] | None = None):
        if on_bad_row not in ("fail", "skip"):
            raise ValueError(f'on_bad_row must be "fail" or "skip", not {on_bad_row!r}')
        self.path = str(path)
        if self.path == "-":
            raise InputError("-: outcomes cannot be read from stdin; give the outcomes file's path")
        self.on_bad_row = on_bad_row
        self.rejects = rejects
        _check_file(self.path)
        try:
            kind = _kind(self.path)
        except InputError:
            raise InputError(f"{self.path}: unknown file type; outcomes are read from .csv, .jsonl (.ndjson), "
                             ".parquet, .csv.gz or .jsonl.gz files") from None
        if kind == "parquet":
            _pyarrow_parquet(self.path)
        self.read = 0
        self.rejected = 0
        self.duplicates = 0
        self.bad_rows: list[BadRow] = []
        self._fail_rows: list[BadRow] = []

    def _bad(self, row: BadRow) -> None:
        self.rejected += 1
        if len(self.bad_rows) < MAX_KEPT_ROWS:
            self.bad_rows.append(row)
        if self.on_bad_row == "fail":
            self._fail_rows.append(row)
        elif self.rejects is not None:
            self.rejects.write(json.dumps({"source": row.source, "line": row.line, "reason": row.reason,
                                           "row": row.raw}, ensure_ascii=False) + "\n")

    def load(self) -> dict[str, Outcome]:
        src = self.path
        out: dict[str, Outcome] = {}
        fail = self.on_bad_row == "fail"
        rows = _rows(self.path, src, set(COLUMNS), ("lead_id",))
        try:
            for line, obj, raw in rows:
                self.read += 1
                try:
                    if not isinstance(obj, dict):
                        raise obj if isinstance(obj, _Bad) else _Bad("row is not an object")
                    o = outcome_from_object(obj, line)
                    first = out.get(o.lead_id)
                    if first is not None:
                        self.duplicates += 1
                        raise _Bad(f"duplicate outcome for lead {_show(o.lead_id)} (the first, kept, is at line "
                                   f"{first.line})")
                except _Bad as e:
                    self._bad(BadRow(line, e.reason, _raw_text(raw), src))
                    if fail and len(self._fail_rows) >= MAX_FAIL_ROWS:
                        break
                    continue
                out[o.lead_id] = o
        except InputError as e:
            msg = str(e)
            if "an events file needs" in msg:  # the shared CSV reader words it for events
                raise InputError(f"{src}: no 'lead_id' column; an outcomes file needs columns lead_id, worked_at, "
                                 "converted (and optionally converted_at, stage)") from None
            raise
        finally:
            rows.close()
        if fail and self._fail_rows:
            raise BadRowsError(self._fail_rows, more=len(self._fail_rows) >= MAX_FAIL_ROWS)
        return out


class OutcomeBook:
    """The loaded outcomes, matched against leads as they stream by."""

    def __init__(self, outcomes: dict[str, Outcome]):
        self.outcomes = outcomes
        self.matched: set[str] = set()

    def take(self, lead_id: str) -> Outcome | None:
        o = self.outcomes.get(lead_id)
        if o is not None:
            self.matched.add(lead_id)
        return o

    def unknown(self) -> tuple[int, list[str]]:
        """How many outcomes matched no lead, and the first 20 of their ids (file order)."""
        n = len(self.outcomes) - len(self.matched)
        ids = []
        if n:
            for k in self.outcomes:
                if k not in self.matched:
                    ids.append(k)
                    if len(ids) >= MAX_UNKNOWN_IDS:
                        break
        return n, ids
