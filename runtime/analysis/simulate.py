"""The aggregates behind `leadrules simulate`, and its guardrails.

`Aggregator` takes scored `Result`s one at a time and keeps only counters whose size depends on the
rule file, never on the number of leads: counts per grade, per (route, queue, sla), per disqualify
reason, per distinct rounded score of each dimension (at most (max - floor) * 100 + 1 values), and per
criterion the number of fires, the sum of points and the number of times its cap bound.
`Aggregator.report()` turns them into the plain, JSON-ready dict documented in docs/simulate.md;
`check_guardrails` evaluates `expect share of …` lines against an `Aggregator`.
"""
from __future__ import annotations

import math
from fractions import Fraction
from itertools import product
from operator import add
from typing import Any, Iterable

from dsl import nodes as n
from dsl import printer

from runtime.backends.closure import Engine

from runtime.core.model import Result

from runtime.core import kernel as K
from runtime.core.kernel import round2

REPORT_VERSION = 1
HIST_BINS = 10          # a dimension's [floor, max] is cut into about this many bins of a round width


def share(count: int, total: int) -> float:
    """count / total as a fraction rounded to 6 decimals; 0 when there is nothing to divide by."""
    return round(count / total, 6) if total else 0.0


def nice_width(span: float, target: int = HIST_BINS) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k that cuts `span` into at most `target` bins."""
    if span <= 0:
        return 1.0
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        w = m * mag
        if w >= raw * (1 - 1e-12):
            return max(round(w, 6), 0.01)
    return max(10 * mag, 0.01)


def bin_edges(floor: float, mx: float, target: int = HIST_BINS) -> list[float]:
    """Edges from `floor` to `max` in steps of a round width; the last bin ends at `max`."""
    if mx <= floor:
        return [floor, mx]
    w = nice_width(mx - floor, target)
    edges = [floor]
    k = 1
    while True:
        e = round(floor + k * w, 6)
        if e >= mx - 1e-9:
            edges.append(mx)
            return edges
        edges.append(e)
        k += 1


def _cents(x: float) -> int:
    return int(round(x * 100))


def histogram(counts: dict[float, int], floor: float, mx: float, total: int) -> list[dict]:
    """Bins [from, to) over the exact score counts; the last bin also holds `max` itself."""
    edges = bin_edges(floor, mx)
    cedges = [_cents(e) for e in edges]
    nb = len(edges) - 1
    out = [0] * nb
    for s, c in counts.items():
        cs = _cents(s)
        # bisect on integer cents: no float edge effects
        lo, hi = 0, nb
        while lo < hi:
            mid = (lo + hi) // 2
            if cedges[mid + 1] <= cs:
                lo = mid + 1
            else:
                hi = mid
        i = min(lo, nb - 1)
        out[i] += c
    return [{"from": edges[i], "to": edges[i + 1], "count": out[i], "share": share(out[i], total)}
            for i in range(nb)]


def quantile(sorted_items: list[tuple[float, int]], total: int, q: float) -> float | None:
    """Nearest rank: the smallest score with at least q of the scores at or below it."""
    if total == 0:
        return None
    need = max(1, math.ceil(q * total))
    acc = 0
    for v, c in sorted_items:
        acc += c
        if acc >= need:
            return v
    return sorted_items[-1][0]


class grade_pattern:  # noqa: N801 - reads as the function it replaces
    """A grade pattern as route lines read it (kernel.grade_matches); `.match(grade)`."""

    __slots__ = ("pattern",)

    def __init__(self, pattern: str):
        self.pattern = pattern

    def match(self, grade: str) -> bool:
        return K.grade_matches(self.pattern, grade)


def _same_text(a: str | None, b: str | None) -> bool:
    """Queues and reasons compare as the language compares text (kernel.norm)."""
    if a is None or b is None:
        return a is b
    return K.norm(a) == K.norm(b)


# ---- the aggregator -----------------------------------------------------------------------------


class Aggregator:
    """Streaming aggregates over scored leads; memory depends on the rule file only."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dims = [(d, mx, fl) for d, mx, fl, _objs in engine.dims]
        self.labels = {}
        checked = getattr(engine, "checked", None)
        rf = getattr(checked, "file", None)
        if rf is not None:
            for sc in rf.of(n.Score):
                self.labels[sc.dim] = sc.label
        self.grade_blocks = engine.grade_blocks
        self.graded = [g for g, _ in engine.grade_blocks]
        self.criteria = engine.criteria
        k = len(self.criteria)
        self.capped = [c.index for c in self.criteria if getattr(c.node, "max", None) is not None]
        # counters
        self.total = 0              # every result added, disqualified included
        self.disqualified = 0
        self.numbered = 0
        self.grades: dict[str, int] = {}
        self.grade_bands: dict[str, tuple] = {}   # grade -> its bands, in grade-block order
        self.routes: dict[tuple, int] = {}        # (route, queue, sla) -> count
        self.reasons: dict[str, int] = {}
        self.scores: dict[str, dict[float, int]] = {d: {} for d, _, _ in self.dims}
        self.score_sum: dict[str, float] = {d: 0.0 for d, _, _ in self.dims}
        self.with_points = 0        # non-disqualified results that carried per-criterion points
        self.fires = [0] * k
        self.points = [0.0] * k
        self.binds = [0] * k
        # accounts (runtime/backends/accounts.py): leads per account band, leads an `account BAND and` line routed,
        # and the per-account counts that score_leads fills in (`account_stats`, set by the command)
        from runtime.backends.accounts import account_model

        self.account_model = account_model(engine) if rf is not None else None
        self.accounts: dict[Any, int] = {}
        self.account_lines = [line.account_band is not None for line in getattr(engine, "route_lines", None) or []]
        self.account_routed = 0
        self.account_stats = None

    # -- the hot path --
    def add(self, r: Result) -> None:
        self.total += 1
        if r.numbered:
            self.numbered += 1
        key = (r.route, r.queue, r.sla)
        rc = self.routes
        rc[key] = rc.get(key, 0) + 1
        ab = getattr(r, "account_bands", None)
        if ab is not None:
            ac = self.accounts
            for b in ab.values():
                ac[b] = ac.get(b, 0) + 1
            li = r.route_line
            if li is not None and self.account_lines[li]:
                self.account_routed += 1
        if r.disqualified is not None:
            self.disqualified += 1
            rs = self.reasons
            rs[r.disqualified] = rs.get(r.disqualified, 0) + 1
            return
        g = r.grade
        gc = self.grades
        c = gc.get(g)
        if c is None:
            gc[g] = 1
            self.grade_bands[g] = tuple(r.bands.get(d) for d in self.graded)
        else:
            gc[g] = c + 1
        sc, ss = self.scores, self.score_sum
        for d, s in r.scores.items():
            h = sc.get(d)
            if h is None:
                continue
            h[s] = h.get(s, 0) + 1
            ss[d] += s
        pts = r.points
        if pts:
            self.with_points += 1
            # map(add) runs the per-criterion sums in C: one pass per lead, no Python loop
            self.points = list(map(add, self.points, pts))
            self.fires = list(map(add, self.fires, r.fired))
            raw = r.raw
            for i in self.capped:
                if raw[i] != pts[i]:
                    self.binds[i] += 1

    def add_all(self, results: Iterable[Result]) -> "Aggregator":
        for r in results:
            self.add(r)
        return self

    # -- derived counts --
    @property
    def graded_leads(self) -> int:
        return self.total - self.disqualified

    def band_counts(self, dim: str) -> dict[str, int]:
        i = self.graded.index(dim)
        out: dict[str, int] = {}
        for g, c in self.grades.items():
            b = self.grade_bands[g][i]
            out[b] = out.get(b, 0) + c
        return out

    def all_grades(self) -> list[str]:
        """Every grade the bands can make, in band order (first grade block slowest)."""
        if not self.grade_blocks:
            return []
        names = [[b for b, _ in bands] for _, bands in self.grade_blocks]
        return ["".join(t) for t in product(*names)]

    def count_route(self, route: str, queue: str | None = None) -> int:
        return sum(c for (r, q, _s), c in self.routes.items()
                   if r == route and (queue is None or _same_text(q, queue)))

    def count_grade(self, pattern: str) -> int:
        if pattern == "disqualified":
            return self.disqualified
        rx = grade_pattern(pattern)
        return sum(c for g, c in self.grades.items() if rx.match(g))

    def count_disqualified(self, reason: str | None = None) -> int:
        if reason is None:
            return self.disqualified
        return sum(c for r, c in self.reasons.items() if _same_text(r, reason))

    # -- the report --
    def report(self) -> dict:
        """The aggregate part of one run's JSON report (see docs/simulate.md)."""
        total, graded = self.total, self.graded_leads
        out: dict[str, Any] = {}
        out["leads"] = {"scored": total, "disqualified": self.disqualified, "graded": graded,
                        "numbered": self.numbered}
        out["disqualified"] = [{"reason": r, "count": c, "share": share(c, total)}
                               for r, c in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))]
        # grades: every possible grade in band order, then any the engine produced that the bands do
        # not predict (none today), then `disqualified`
        grades = []
        seen = set()
        for g in self.all_grades():
            seen.add(g)
            c = self.grades.get(g, 0)
            grades.append({"grade": g, "count": c, "share": share(c, total)})
        for g, c in self.grades.items():
            if g not in seen:
                grades.append({"grade": g, "count": c, "share": share(c, total)})
        grades.append({"grade": "disqualified", "count": self.disqualified, "share": share(self.disqualified, total)})
        out["grades"] = grades
        out["matrix"] = self._matrix(total)
        out["routes"], out["queues"] = self._routes(total)
        out["dimensions"] = [self._dimension(d, mx, fl) for d, mx, fl in self.dims]
        out["criteria"] = self._criteria()
        out["never_fired"] = [{"dimension": c["dimension"], "name": c["name"]}
                              for c in out["criteria"] if c["fired"] == 0] if self.with_points else []
        out["unreached_bands"] = [{"dimension": d["dimension"], "band": b["band"]}
                                  for d in out["dimensions"] for b in (d["bands"] or []) if b["count"] == 0]
        if self.account_model is not None:
            out["accounts"] = self._accounts(total)
        return out

    def _accounts(self, total: int) -> dict:
        """Account grades: per account band, the accounts that got it and the leads that carry it."""
        m, st = self.account_model, self.account_stats
        n_acc = st.accounts if st is not None else None
        dims = []
        for d, mx, fl, _objs in m.dims:
            block = dict(m.grade_blocks).get(d)
            bands = None
            if block is not None:
                bands = [{"band": b, "threshold": th,
                          "accounts": st.bands.get(b, 0) if st is not None else None,
                          "account_share": share(st.bands.get(b, 0), n_acc) if st is not None else None,
                          "leads": self.accounts.get(b, 0), "lead_share": share(self.accounts.get(b, 0), total)}
                         for b, th in block]
            dims.append({"dimension": d, "label": m.labels.get(d), "floor": fl, "max": mx, "bands": bands})
        crits = []
        if st is not None:
            for c in m.criteria:
                f = st.fired[c.index] if st.fired else 0
                crits.append({"dimension": c.dim, "name": c.name, "rule": c.text, "fired_accounts": f,
                              "fire_rate": share(f, n_acc)})
        return {"by": m.key_text, "accounts": n_acc,
                "leads_on_their_own": st.keyless if st is not None else None,
                "largest": st.largest if st is not None else None,
                "dimensions": dims, "criteria": crits,
                "routed_by_account_line": self.account_routed,
                "routed_by_account_line_share": share(self.account_routed, total)}

    def _matrix(self, total: int) -> dict | None:
        """The first two graded dimensions, rows x columns; with three or more, the others are summed
        over. None with fewer than two graded dimensions."""
        if len(self.graded) < 2:
            return None
        rows = [b for b, _ in self.grade_blocks[0][1]]
        cols = [b for b, _ in self.grade_blocks[1][1]]
        cells = {(r, c): 0 for r in rows for c in cols}
        for g, cnt in self.grades.items():
            bands = self.grade_bands[g]
            k = (bands[0], bands[1])
            if k in cells:
                cells[k] += cnt
        return {"rows": self.graded[0], "columns": self.graded[1], "row_bands": rows, "column_bands": cols,
                "counts": [[cells[(r, c)] for c in cols] for r in rows],
                "shares": [[share(cells[(r, c)], total) for c in cols] for r in rows]}

    def _routes(self, total: int) -> tuple[list[dict], list[dict]]:
        order = {}
        for i, line in enumerate(getattr(self.engine, "route_lines", []) or []):
            a = line.action
            order.setdefault(a.kind, i)
            order.setdefault((a.kind, a.queue), i)
        by_route: dict[Any, int] = {}
        for (r, _q, _s), c in self.routes.items():
            by_route[r] = by_route.get(r, 0) + c
        routes = [{"route": r, "count": c, "share": share(c, total)}
                  for r, c in sorted(by_route.items(), key=lambda kv: (order.get(kv[0], 1e9), str(kv[0])))]
        queues = [{"route": r, "queue": q, "sla": s, "count": c, "share": share(c, total)}
                  for (r, q, s), c in sorted(self.routes.items(),
                                             key=lambda kv: (order.get((kv[0][0], kv[0][1]), 1e9),
                                                             str(kv[0][0]), str(kv[0][1]), str(kv[0][2])))]
        return routes, queues

    def _dimension(self, d: str, mx: float, fl: float) -> dict:
        counts = self.scores[d]
        items = sorted(counts.items())
        n_ = sum(counts.values())
        stats = {"mean": round2(self.score_sum[d] / n_) if n_ else None,
                 "min": items[0][0] if items else None,
                 "p25": quantile(items, n_, 0.25), "median": quantile(items, n_, 0.5),
                 "p75": quantile(items, n_, 0.75), "p90": quantile(items, n_, 0.9),
                 "max": items[-1][0] if items else None}
        bands = None
        if d in self.graded:
            bc = self.band_counts(d)
            block = dict(self.grade_blocks)[d]
            bands = [{"band": b, "threshold": th, "count": bc.get(b, 0), "share": share(bc.get(b, 0), self.total)}
                     for b, th in block]
        return {"dimension": d, "label": self.labels.get(d), "floor": fl, "max": mx, "leads": n_,
                "stats": stats, "histogram": histogram(counts, fl, mx, self.total), "bands": bands}

    def _criteria(self) -> list[dict]:
        out = []
        base = self.with_points
        for c in self.criteria:
            i = c.index
            f = self.fires[i]
            cap = getattr(c.node, "max", None)
            out.append({"dimension": c.dim, "name": c.name, "key": c.key, "kind": c.kind, "rule": c.text,
                        "fired": f, "fire_rate": share(f, base),
                        "mean_points": round2(self.points[i] / f) if f else None,
                        "cap": cap, "cap_binds": self.binds[i] if cap is not None else None,
                        "cap_bind_rate": share(self.binds[i], f) if cap is not None else None})
        return out


# ---- guardrails ---------------------------------------------------------------------------------


def pct(x: float) -> str:
    """A percentage as a rule file writes it: 15%, 2.5%."""
    return printer.num(x) + "%"


def expectation_text(e: n.ShareExpect) -> str:
    if e.subject == "route":
        subj = f"route {e.arg}" + (f" {printer.quote(e.queue)}" if e.queue is not None else "")
    elif e.subject == "grade":
        subj = f"grade {e.arg}"
    elif e.subject == "disqualified":
        subj = "disqualified" + (f" {printer.quote(e.arg)}" if e.arg is not None else "")
    else:
        subj = f"account {e.arg}"
    if e.bound == "between":
        bound = f"between {pct(e.low)} and {pct(e.high)}"
    elif e.bound == "at_most":
        bound = f"at most {pct(e.high)}"
    else:
        bound = f"at least {pct(e.low)}"
    return f"share of {subj} {bound}"


def _frac(p: float | None) -> Fraction | None:
    # percentages are decimal text in the rule file; compare them exactly, not as binary floats
    return None if p is None else Fraction(repr(float(p))) / 100


def _pts(x: Fraction) -> str:
    v = float(x * 100)
    return f"{v:.2f}".rstrip("0").rstrip(".")


def check_guardrail(e: n.ShareExpect, agg: Aggregator, *, accounts_supported: bool | None = None) -> dict:
    """One `expect share of …` against the aggregates: the actual share, the bound, whether it holds
    and by how much it misses (in percentage points and in leads)."""
    total = agg.total
    error = None
    if e.subject == "route":
        count = agg.count_route(e.arg, e.queue)
    elif e.subject == "grade":
        count = agg.count_grade(e.arg)
    elif e.subject == "disqualified":
        count = agg.count_disqualified(e.arg)
    else:
        # the leads whose account has that band (a file without accounts has none: 0%)
        count = agg.accounts.get(e.arg, 0)
    lo, hi = _frac(e.low), _frac(e.high)
    res: dict[str, Any] = {"expect": expectation_text(e), "subject": e.subject, "value": e.arg,
                           "queue": e.queue, "bound": e.bound,
                           "low": None if lo is None else float(lo), "high": None if hi is None else float(hi),
                           "count": count, "of": total, "share": share(count, total),
                           "passed": None, "miss": 0.0, "miss_leads": 0, "message": "",
                           "line": e.span.line or None}
    if error is not None:
        res["message"] = error
        res["error"] = error
        return res
    if total == 0:
        res["passed"] = False
        res["message"] = "no leads were scored, so the share cannot be checked"
        return res
    actual = Fraction(count, total)
    shown = f"{_pts(actual)}% ({count:,} of {total:,})"
    if lo is not None and actual < lo:
        need = math.ceil(lo * total)      # the fewest leads that would meet the bound
        res.update(passed=False, miss=float(round(lo - actual, 6)), miss_leads=need - count,
                   message=f"{shown}: {_pts(lo - actual)} points below the {pct(e.low)} minimum "
                           f"({need - count:,} lead{'s' if need - count != 1 else ''} short)")
    elif hi is not None and actual > hi:
        allowed = math.floor(hi * total)  # the most leads the bound allows
        res.update(passed=False, miss=float(round(actual - hi, 6)), miss_leads=count - allowed,
                   message=f"{shown}: {_pts(actual - hi)} points above the {pct(e.high)} maximum "
                           f"({count - allowed:,} lead{'s' if count - allowed != 1 else ''} too many)")
    else:
        res.update(passed=True, message=f"{shown}: within bounds")
    return res


def check_guardrails(expects: Iterable[n.ShareExpect], agg: Aggregator, **kw) -> list[dict]:
    return [check_guardrail(e, agg, **kw) for e in expects]
