"""Writing scored leads: JSONL (one object per lead, CLI.md's shape) or CSV
(`id, <dim>_score, <dim>_band …, grade, route, queue, sla, disqualified`), chosen by suffix. A file
with an accounts block adds `account, account_<dim>_score, account_<dim>_band …` after `disqualified`
(JSONL: `account`, `account_scores`, `account_bands`; see docs/accounts.md).
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from typing import IO

from runtime.backends.closure import Engine

from runtime.core.model import Result

from runtime.core.kernel import round2


class ScoredWriter:
    def __init__(self, engine: Engine, path: str | None, *, explain: bool = False):
        self.engine = engine
        self.path = path
        self.explain = explain
        lower = (path or "").lower()
        self.fmt = "csv" if lower.endswith((".csv", ".csv.gz")) else "jsonl"
        if path in (None, "-"):
            self.fh: IO[str] = sys.stdout
            self._own = False
        elif lower.endswith(".gz"):
            self.fh = io.TextIOWrapper(gzip.open(path, "wb"), encoding="utf-8", newline="")
            self._own = True
        else:
            self.fh = open(path, "w", encoding="utf-8", newline="")
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
            self.csv.writerow(cols)

    def write(self, r: Result) -> None:
        if self.fmt == "jsonl":
            d = r.record(self.engine.criteria if self.explain else None)
            self.fh.write(self._dumps(d))
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
        self.csv.writerow(row)

    def close(self) -> None:
        if self._own:
            self.fh.close()
        else:
            self.fh.flush()
