"""Writing scored leads: JSONL (one object per lead, CLI.md's shape) or CSV
(`id, <dim>_score, <dim>_band …, grade, route, queue, sla, disqualified`), chosen by suffix. A file
with an accounts block adds `account, account_<dim>_score, account_<dim>_band …` after `disqualified`
(JSONL: `account`, `account_scores`, `account_bands`; see docs/accounts.md).
"""
from __future__ import annotations

import csv
import json
import re
import sys
from typing import IO

from runtime.backends.closure import Engine, Result, round2

# A lone surrogate (from a JSON "\udc80" escape in the input) cannot be written as UTF-8: JSONL
# writes such a record with \u escapes (the value round-trips exactly), CSV shows it as \udc80.
_SURROGATE = re.compile("[\ud800-\udfff]")
# A spreadsheet runs a cell that starts with = + - @ (or a tab / carriage return before one) as a
# formula: `=HYPERLINK(...)` in a lead's name must stay text. Such a text cell gets a leading ' (the
# OWASP rule), unless it is a plain number like -5 or +1.5, which stays a number.
_FORMULA = re.compile(r"[=+\-@\t\r]")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def csv_cell(v):
    """A value as a CSV cell that a spreadsheet shows, never runs (see above)."""
    if not isinstance(v, str) or not v:
        return v
    if _SURROGATE.search(v):
        v = v.encode("utf-8", "backslashreplace").decode("utf-8")
    if _FORMULA.match(v) and not _PLAIN_NUMBER.fullmatch(v):
        return "'" + v
    return v


def needs_ascii(r) -> bool:
    """Does this result hold a lone surrogate (see above) in a value that came from the input?"""
    return any(isinstance(x, str) and _SURROGATE.search(x) for x in (r.id, getattr(r, "account", None)))


class ScoredWriter:
    def __init__(self, engine: Engine, path: str | None, *, explain: bool = False, as_of_column: bool = False):
        self.engine = engine
        self.as_of_column = as_of_column   # each lead's own scoring date (calibrate --scores-out)
        self.path = path
        self.explain = explain
        lower = (path or "").lower()
        self.fmt = "csv" if lower.endswith((".csv", ".csv.gz")) else "jsonl"
        if path in (None, "-"):
            self.fh: IO[str] = sys.stdout
            self._own = False
        else:  # whole or absent: a temporary file renamed on close (runtime/io/files.py)
            from runtime.io.files import open_output

            self.fh = open_output(path)
            self._own = True
        self.dims = [d[0] for d in engine.dims]
        self.graded = [g[0] for g in engine.grade_blocks]
        self._dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
        from runtime.backends.accounts import account_model

        model = account_model(engine)
        self.account_dims = [d[0] for d in model.dims] if model is not None else None
        self.account_graded = {g[0] for g in model.grade_blocks} if model is not None else set()
        if self.fmt == "csv":
            self.csv = csv.writer(self.fh)
            cols = ["id"]
            for d in self.dims:
                cols.append(f"{d}_score")
                if d in self.graded:
                    cols.append(f"{d}_band")
            cols += ["grade", "route", "queue", "sla", "disqualified"]
            if self.account_dims is not None:
                cols.append("account")
                for d in self.account_dims:
                    cols.append(f"account_{d}_score")
                    if d in self.account_graded:
                        cols.append(f"account_{d}_band")
            if explain:
                cols.append("criteria")
            if as_of_column:
                cols.append("as_of")
            self.csv.writerow(cols)

    def write(self, r: Result, as_of: int | None = None) -> None:
        day = None
        if self.as_of_column and as_of is not None:
            import datetime as dt

            day = dt.date.fromordinal(as_of).isoformat()
        if self.fmt == "jsonl":
            d = r.record(self.engine.criteria if self.explain else None)
            if self.as_of_column:
                d["as_of"] = day
            self.fh.write(json.dumps(d, separators=(", ", ": ")) if needs_ascii(r) else self._dumps(d))
            self.fh.write("\n")
            return
        row = [r.id]
        for d in self.dims:
            s = r.scores.get(d)
            row.append("" if s is None else s)
            if d in self.graded:
                row.append(r.bands.get(d, ""))
        row += [r.grade, r.route or "", r.queue or "", r.sla or "", r.disqualified or ""]
        if self.account_dims is not None:
            row.append(r.account or "")
            scores, bands = r.account_scores or {}, r.account_bands or {}
            for d in self.account_dims:
                s = scores.get(d)
                row.append("" if s is None else s)
                if d in self.account_graded:
                    row.append(bands.get(d, ""))
        if self.explain:
            crit = {c.key: round2(p) for c, p, f in zip(self.engine.criteria, r.points, r.fired) if f}
            row.append(json.dumps(crit, ensure_ascii=False))
        if self.as_of_column:
            row.append(day or "")
        self.csv.writerow([csv_cell(c) for c in row])

    def close(self) -> None:
        if self._own:
            self.fh.close()
        else:
            self.fh.flush()

    def discard(self) -> None:
        """The run failed or was interrupted: leave no half-written output file."""
        if self._own:
            self.fh.discard()
