"""The aggregates behind `leadrules simulate`, and its guardrails.

`Aggregator` takes scored `Result`s one at a time and keeps only counters whose size depends on the
rule file, never on the number of leads: counts per grade, per (route, queue, sla), per disqualify
reason, per distinct rounded score of each dimension (at most (max - floor) * 100 + 1 values), and per
criterion the number of fires, the sum of points and the number of times its cap bound.
`Aggregator.report()` turns them into the plain, JSON-ready dict documented in docs/simulate.md;
`check_guardrails` evaluates `expect share of …` lines against an `Aggregator`. `DataQuality` counts
what the leads themselves look like (presence, top values, ranges, near-misses of the rules' lists,
events per type), also in memory bounded by the rule file (DQ_DISTINCT_CAP values per field).
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
        # data quality (a second, separate pass over the leads: `feed_quality`); None without a rule file
        self.quality = (DataQuality(checked.fields, list_uses(rf, checked.lists))
                        if rf is not None and hasattr(checked, "fields") else None)
        self.quality_fed = False
        self.quality_note: str | None = None

    def feed_quality(self, leads: Iterable) -> None:
        """Count what the leads look like (runtime.core.model.Lead records) for the data-quality section."""
        if self.quality is None:
            return
        add = self.quality.add
        for lead in leads:
            add(lead)
        self.quality_fed = True

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
                              for c in out["criteria"] if c["fired"] == 0] if self.with_points or not graded else []
        out["unreached_bands"] = [{"dimension": d["dimension"], "band": b["band"]}
                                  for d in out["dimensions"] for b in (d["bands"] or []) if b["count"] == 0]
        if self.account_model is not None:
            out["accounts"] = self._accounts(total)
        if self.quality is not None and (self.quality_fed or self.quality_note):
            dq = self.quality.report() if self.quality_fed else {"leads": None, "fields": [], "near_misses": [],
                                                                  "near_misses_total": 0, "events": []}
            if self.quality_note:
                dq["note"] = self.quality_note
            out["data_quality"] = dq
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


# ---- data quality -------------------------------------------------------------------------------

DQ_DISTINCT_CAP = 5000   # distinct values counted per field; beyond it, new values only count as "other"
DQ_TOP = 5               # top values shown per text field
DQ_NEAR_MISSES = 25      # near-miss values reported, most frequent first
DQ_NEAR_CHECKED = 1000   # the most frequent distinct values of a field that are checked for near-misses
NEAR_RATIO = 0.8         # difflib similarity from which two spellings look like the same word


def fold(s: str) -> str:
    """A value as the near-miss check compares it: case-folded, letters and digits only."""
    return "".join(ch for ch in s.casefold() if ch.isalnum())


class NearMatcher:
    """The near-miss test against one list, with the list prepared once (a report checks up to
    DQ_DISTINCT_CAP values per field against it)."""

    def __init__(self, items: Iterable[str]):
        self.items = [str(i) for i in items]
        self.exact = {i.strip().casefold() for i in self.items}
        self.folded: dict[str, str] = {}
        for i in self.items:
            self.folded.setdefault(fold(i), i)
        self.prepared = [(i, fold(i), i.strip().casefold()) for i in self.items if fold(i)]

    def __call__(self, value: str) -> tuple[str, str] | None:
        import difflib

        v = value.strip().casefold()
        if not v or v in self.exact:
            return None
        fv = fold(value)
        if not fv:
            return None
        hit = self.folded.get(fv)
        if hit is not None:
            return hit, "same letters, different case, spacing or punctuation"
        if len(fv) >= 3:
            for it, fi, _cf in self.prepared:
                if len(fi) >= 3 and (fi.startswith(fv) or fv.startswith(fi)):
                    return it, f"{'a prefix of' if fi.startswith(fv) else 'starts with'} the list item"
        best, best_r = None, NEAR_RATIO
        lv = len(v)
        for it, _fi, cf in self.prepared:
            lc = len(cf)
            if 2 * min(lv, lc) < NEAR_RATIO * (lv + lc):   # ratio() can be at most this: skip early
                continue
            sm = difflib.SequenceMatcher(None, v, cf)
            if sm.quick_ratio() < best_r:
                continue
            r = sm.ratio()
            if r >= best_r and (best is None or r > best_r):
                best, best_r = it, r
        return None if best is None else (best, f"similar spelling ({best_r:.0%} alike)")


def near_miss(value: str, items: Iterable[str]) -> tuple[str, str] | None:
    """(the list item `value` looks like, why) when `value` does not match any item as the language
    compares text (trimmed, case-insensitive) but looks like one: the same letters and digits once
    case, spaces and punctuation are ignored; a prefix of three letters or more either way (`Tech` /
    `Technology`); or a similar spelling (difflib ratio >= 0.8, the most alike item). None when it
    matches or looks like nothing. In that order: the first rule that finds an item wins."""
    return NearMatcher(items)(value)


def list_uses(rf: n.RuleFile, lists: dict) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """Per field: the text lists the rules compare it with — `FIELD in LIST`, `lower(FIELD) in [...]`,
    `FIELD = "text"` — as (how the rules name the list, its items)."""
    out: dict[str, list] = {}

    def field_of(v) -> str | None:
        if isinstance(v, n.Name):
            return v.name
        if isinstance(v, n.Call) and v.func == "lower" and isinstance(v.arg, n.Name):
            return v.arg.name
        return None

    def add(field, name, items):
        if field is None or not items:
            return
        uses = out.setdefault(field, [])
        if all(u[0] != name for u in uses):
            uses.append((name, tuple(items)))

    def walk(x, in_event: bool):
        if isinstance(x, n.EventFilter):
            # a `where` inside an event filter talks about the event's attributes, not lead fields,
            # except in accounts (`has lead where ...`)
            if x.where is not None:
                walk(x.where, in_event or x.event != "lead")
            return
        if isinstance(x, n.In) and not in_event:
            if isinstance(x.items, n.Name):
                add(field_of(x.value), x.items.name, [str(i) for i in lists.get(x.items.name, ()) if isinstance(i, str)])
            else:
                items = [i.value for i in x.items.items if i.kind == "text"]
                add(field_of(x.value), printer.list_ref(x.items), items)
        elif isinstance(x, n.Compare) and not in_event and x.op in ("=", "!="):
            for a, b in ((x.left, x.right), (x.right, x.left)):
                if isinstance(b, n.Literal) and b.kind == "text":
                    add(field_of(a), printer.quote(b.value), [b.value])
        if hasattr(x, "__dataclass_fields__"):
            for f in x.__dataclass_fields__:
                if f in ("span",) or f.endswith("_span"):
                    continue
                walk(getattr(x, f), in_event)
        elif isinstance(x, tuple):
            for y in x:
                walk(y, in_event)

    for item in rf.items:
        if isinstance(item, (n.Test, n.Simulation, n.ListDecl, n.Fields, n.Events)):
            continue
        walk(item, False)
    return out


class DataQuality:
    """What the leads look like, per declared field and event type, in bounded memory: counters of
    at most DQ_DISTINCT_CAP distinct values per field, min/max/sum for numbers and dates."""

    def __init__(self, fields: dict[str, str], uses: dict[str, list] | None = None):
        self.fields = dict(fields)
        self.uses = uses or {}
        self.leads = 0
        self.present = {f: 0 for f in self.fields}
        self.blank = {f: 0 for f in self.fields}
        self.values: dict[str, dict] = {f: {} for f in self.fields if self.fields[f] in ("text", "bool", "text list")}
        self.other = {f: 0 for f in self.values}
        self.lo: dict[str, Any] = {}
        self.hi: dict[str, Any] = {}
        self.sum: dict[str, float] = {}
        self.ev_count: dict[str, int] = {}
        self.ev_leads: dict[str, int] = {}
        self.ev_lo: dict[str, int] = {}
        self.ev_hi: dict[str, int] = {}

    def _count(self, f: str, v) -> None:
        c = self.values[f]
        k = c.get(v)
        if k is not None:
            c[v] = k + 1
        elif len(c) < DQ_DISTINCT_CAP:
            c[v] = 1
        else:
            self.other[f] += 1

    def add(self, lead) -> None:
        self.leads += 1
        fv = lead.fields
        for f, t in self.fields.items():
            v = fv.get(f)
            if v is None:
                continue
            if t == "text":
                if not v.strip():
                    self.blank[f] += 1
                    continue
                self._count(f, v)
            elif t == "text list":
                if not v:
                    self.blank[f] += 1
                    continue
                for item in set(v):
                    self._count(f, item)
            elif t == "bool":
                self._count(f, v)
            else:  # number, date (an ordinal)
                lo = self.lo.get(f)
                if lo is None or v < lo:
                    self.lo[f] = v
                hi = self.hi.get(f)
                if hi is None or v > hi:
                    self.hi[f] = v
                if t == "number":
                    self.sum[f] = self.sum.get(f, 0) + v
            self.present[f] += 1
        seen = set()
        for e in lead.events:
            t, d = e.type, e.day
            self.ev_count[t] = self.ev_count.get(t, 0) + 1
            if t not in seen:
                seen.add(t)
                self.ev_leads[t] = self.ev_leads.get(t, 0) + 1
            lo = self.ev_lo.get(t)
            if lo is None or d < lo:
                self.ev_lo[t] = d
            hi = self.ev_hi.get(t)
            if hi is None or d > hi:
                self.ev_hi[t] = d

    def report(self) -> dict:
        import datetime as dt

        def day(o):
            return None if o is None else dt.date.fromordinal(o).isoformat()

        total = self.leads
        fields = []
        for f, t in self.fields.items():
            p = self.present[f]
            row: dict[str, Any] = {"field": f, "type": t, "present": p, "present_share": share(p, total),
                                   "missing": total - p}
            if t in ("text", "text list"):
                row["blank"] = self.blank[f]
            if f in self.values:
                c = self.values[f]
                top = sorted(c.items(), key=lambda kv: (-kv[1], str(kv[0])))[:DQ_TOP]
                row["distinct"] = len(c)
                row["distinct_capped"] = self.other[f] > 0
                row["top"] = [{"value": v, "count": k} for v, k in top]
            if t == "number":
                row["min"], row["max"] = self.lo.get(f), self.hi.get(f)
                row["mean"] = round2(self.sum[f] / p) if p else None
            elif t == "date":
                row["min"], row["max"] = day(self.lo.get(f)), day(self.hi.get(f))
            fields.append(row)
        misses = []
        for f, uses in self.uses.items():
            c = self.values.get(f)
            if not c:
                continue
            matchers = [(lname, NearMatcher(items)) for lname, items in uses]
            # the most frequent values only: a near-miss that matters is a common one, and this bounds the work
            for v, k in sorted(c.items(), key=lambda kv: -kv[1])[:DQ_NEAR_CHECKED]:
                if not isinstance(v, str):
                    continue
                for lname, match in matchers:
                    hit = match(v)
                    if hit is not None:
                        misses.append({"field": f, "value": v, "count": k, "nearest": hit[0], "list": lname,
                                       "why": hit[1]})
                        break
        misses.sort(key=lambda m: (-m["count"], m["field"], m["value"]))
        events = [{"type": t, "count": self.ev_count[t], "leads": self.ev_leads[t],
                   "first": day(self.ev_lo.get(t)), "last": day(self.ev_hi.get(t))}
                  for t in sorted(self.ev_count, key=lambda t: (-self.ev_count[t], t))]
        return {"leads": total, "fields": fields, "near_misses": misses[:DQ_NEAR_MISSES],
                "near_misses_total": len(misses), "events": events, "distinct_cap": DQ_DISTINCT_CAP}

