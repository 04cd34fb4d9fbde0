"""The analysis behind `leadrules calibrate`: what happened to leads, against what the rules said.

`replay` scores each lead as of its own day (its `worked_at`, else the as-of date) and routes it as
`leadrules score` does, accounts included. `Calibrator.add(lead, result, outcome, day)` takes one
scored lead at a time and keeps only counters: per grade and per route, per cherry-pick
group, per (score, bands) of each swept dimension — sizes set by the rule file — and, for the
cherry-picked leads only, counts of the signals (field values, event types, event attribute values)
they carried. `Calibrator.report()` turns them into the JSON-ready dict documented in
docs/calibrate.md. The statistics (Wilson interval, two-proportion z-test, Fisher's exact test,
Benjamini-Hochberg) are plain `math`, so the numbers can be checked by hand.
"""
from __future__ import annotations

import math
import bisect
from itertools import compress, product
from typing import Iterable

from dsl import nodes as n
from dsl import printer

from runtime.analysis.signals import norm_path, norm_text  # noqa: F401 (part of this module's API)
from runtime.analysis.signals import (INTEGER_KINDS, Population, ScoredBy, auc, auc_ci, bin_label,
                                      feature_label, identifier_keys, lead_features, quantile_bins, sig6)
from runtime.backends.closure import Engine, condition_test
from runtime.core.kernel import round2
from runtime.core.model import Result
from runtime.backends.replay import account_model_of, replay  # noqa: F401 (calibrate replays with these)
from runtime.core.model import BOOL, TEXT, TEXT_LIST, Lead, Schema
from runtime.analysis.simulate import nice_width

REPORT_VERSION = 2
Z95 = 1.959963984540054      # the 97.5% quantile of the standard normal: a 95% two-sided interval
ALPHA = 0.05
SWEEP_STEPS = 20             # candidate thresholds cut a dimension's range into about this many steps
DEFAULT_MIN_SUPPORT = 5      # a signal must appear in at least this many converting cherry-picks
SALES = "sales"


# ---- statistics ---------------------------------------------------------------------------------


def rate(k: int, n: int) -> float | None:
    return k / n if n else None


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval for k successes in n trials (None when n is 0). It stays inside
    [0, 1] and behaves at 0/n and n/n, unlike the normal approximation."""
    if n <= 0:
        return None
    p = k / n
    z2 = z * z
    den = 1 + z2 / n
    mid = (p + z2 / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / den
    # exact ends at 0/n and n/n, and never a rounding error's width on the wrong side of k/n
    lo = 0.0 if k == 0 else min(p, max(0.0, mid - half))
    hi = 1.0 if k == n else max(p, min(1.0, mid + half))
    return lo, hi


def _log_comb(n_: int, k: int) -> float:
    return math.lgamma(n_ + 1) - math.lgamma(k + 1) - math.lgamma(n_ - k + 1)


def _hypergeom(a: int, b: int, c: int, d: int) -> tuple[list[int], list[float], int]:
    """Every table with the margins of [[a, b], [c, d]]: its top-left cells and probabilities."""
    r1, r2, c1 = a + b, c + d, a + c
    lo, hi = max(0, c1 - r2), min(r1, c1)
    total = _log_comb(r1 + r2, c1)
    xs = list(range(lo, hi + 1))
    return xs, [math.exp(_log_comb(r1, x) + _log_comb(r2, c1 - x) - total) for x in xs], a


def fisher_exact(a: int, b: int, c: int, d: int, alternative: str = "two-sided") -> float:
    """Fisher's exact test on the 2x2 table [[a, b], [c, d]]. two-sided: the probability of every table
    (same margins) no more likely than this one; "greater": of tables with a top-left cell >= a."""
    xs, ps, obs = _hypergeom(a, b, c, d)
    if alternative == "greater":
        p = sum(p for x, p in zip(xs, ps) if x >= obs)
    elif alternative == "two-sided":
        p_obs = ps[xs.index(obs)]
        p = sum(p for p in ps if p <= p_obs * (1 + 1e-7))
    else:
        raise ValueError(alternative)
    return min(1.0, p)


def two_proportion_z(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float] | None:
    """The pooled two-proportion z-test of k1/n1 against k2/n2: (z, two-sided p). None when it cannot
    be computed (an empty group, or every lead converted / none did)."""
    if n1 <= 0 or n2 <= 0:
        return None
    p = (k1 + k2) / (n1 + n2)
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    z = (k1 / n1 - k2 / n2) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def compare(k1: int, n1: int, k2: int, n2: int) -> dict:
    """Do k1/n1 and k2/n2 differ by more than chance at this sample size? Fisher's exact test when an
    expected cell count is under 5 (small samples, where the z-test's normal approximation is poor),
    else the two-proportion z-test. `meaningful`: p < 0.05 (None when there is nothing to test)."""
    if n1 <= 0 or n2 <= 0:
        return {"test": None, "statistic": None, "p_value": None, "meaningful": None,
                "difference": None}
    diff = k1 / n1 - k2 / n2
    N, K = n1 + n2, k1 + k2
    expected = [n1 * K / N, n1 * (N - K) / N, n2 * K / N, n2 * (N - K) / N]
    if min(expected) < 5:
        p = fisher_exact(k1, n1 - k1, k2, n2 - k2)
        return {"test": "Fisher exact", "statistic": None, "p_value": _sig(p), "meaningful": p < ALPHA,
                "difference": _sig(diff)}
    z = two_proportion_z(k1, n1, k2, n2)
    assert z is not None  # every expected cell >= 5 means both groups and both outcomes exist
    return {"test": "two-proportion z-test", "statistic": _sig(z[0]), "p_value": _sig(z[1]),
            "meaningful": z[1] < ALPHA, "difference": _sig(diff)}


def _sig(x: float) -> float:
    """Six significant digits: stable JSON without pretending to more precision."""
    return float(f"{x:.6g}")


def benjamini_hochberg(pvalues: list[float]) -> list[float]:
    """q-values (adjusted p-values) controlling the false discovery rate over many tests."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    q = [1.0] * m
    best = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        best = min(best, pvalues[i] * m / rank)
        q[i] = min(1.0, best)
    return q


# ---- signals: what a lead carried ---------------------------------------------------------------

# ---- replaying the rules, each lead at its own date ---------------------------------------------


# ---- the aggregator -----------------------------------------------------------------------------


class _Sweep:
    """What a threshold sweep of one graded dimension needs: leads per (rounded score, bands)."""

    def __init__(self, engine: Engine, gi: int, dim: str, bands: list[tuple[str, float | None]],
                 star: int, floor: float, mx: float):
        self.engine, self.gi, self.dim, self.bands, self.star = engine, gi, dim, bands, star
        self.floor, self.max = floor, mx
        self.sales_bands: list[str] = []           # this dimension's bands that grade-only lines send to sales
        self.cells: dict[tuple, list[int]] = {}   # (score, bands, account bands) -> [leads, worked, converted]

    def candidates(self) -> list[float]:
        step = nice_width(self.max - self.floor, SWEEP_STEPS)
        out = set()
        k = 1
        while True:
            t = round2(self.floor + k * step)
            if t >= self.max:
                break
            out.add(t)
            k += 1
        cur = self.bands[self.star][1]
        if cur is not None:
            out.add(round2(cur))
        return sorted(out)

    def thresholds(self, t: float) -> list[float | None]:
        """The dimension's band thresholds with the lowest sales band starting at t: higher bands start
        no lower than t, lower bands keep theirs (bands are tested top-down, so one may become empty)."""
        out = []
        for j, (_, th) in enumerate(self.bands):
            if j < self.star:
                out.append(None if th is None else max(th, t))
            elif j == self.star:
                out.append(t)
            else:
                out.append(th)
        return out


class Calibrator:
    """Streaming aggregates over (lead, result, outcome); memory depends on the rule file and on the
    number of cherry-picked leads' distinct signal values, never on the whole lead."""

    def __init__(self, engine: Engine, schema: Schema, *, min_support: int = DEFAULT_MIN_SUPPORT):
        self.engine = engine
        self.schema = schema
        self.min_support = max(1, int(min_support))
        self.asof_ordinal = 0
        self.total = self.with_outcome = self.worked = self.converted = 0
        self.converted_unworked = 0
        self.scored_at_worked = 0
        self.numbered = 0
        self.by_grade: dict[str, list[int]] = {}   # grade -> [leads, worked, converted, converted unworked]
        self.by_route: dict[tuple, list[int]] = {}
        self.grade_order: dict[str, int] = {}
        # cherry-picking: worked leads routed elsewhere than sales
        self.sales = [0, 0, 0]                     # routed to sales: [leads, worked, converted]
        self.cherry = [0, 0, 0]                    # routed elsewhere: [leads, worked, converted]
        self.cherry_by_grade: dict[str, list] = {}  # grade -> [worked, converted, {(route, queue): worked}]
        # the worked leads, one small row each, for judging criteria and signals (see _Row)
        self.rows: list[_Row] = []
        self.band_counts: dict[tuple, int] = {}    # (dimension, band) -> leads, all leads not disqualified
        self.first_tiers = [(i, [condition_test(engine, t.cond) if t.cond is not None else None
                                 for t in spec.node.tiers])
                            for i, spec in enumerate(engine.criteria) if spec.kind == "first"]
        # a `first of` whose tiers give distinct points: the points say which tier matched
        self._tier_by_points = {}
        for i, spec in enumerate(engine.criteria):
            if spec.kind == "first":
                pts = [t.points for t in spec.node.tiers]
                if len(set(pts)) == len(pts):
                    self._tier_by_points[i] = {p: j for j, p in enumerate(pts)}
        self.grade_days: dict[str, list[int]] = {}  # grade -> days from worked_at to converted_at
        self.clustered = True                        # with an accounts block, an account's leads are a cluster
        self.keep_scores = False                     # --suggest: every lead's dimension scores, to re-map
        self.dim_scores: dict[str, list[float]] = {}
        # threshold sweeps
        self.sweeps: list[_Sweep] = []
        blocks = engine.grade_blocks
        combos = list(product(*[[b for b, _ in bl] for _, bl in blocks])) if blocks else []
        # which band of a dimension is the lowest that reaches sales is read from the grade-only route
        # lines; account lines (`account hot and …`) then route the swept leads as `score` does
        self.model = account_model_of(engine)
        self._routes: dict[tuple, tuple] = {}
        grade_only = {c: engine.route_for("".join(c), False) for c in combos}
        for g_i, c in enumerate(combos):
            self.grade_order["".join(c)] = g_i
        dims = {d: (mx, fl) for d, mx, fl, _ in engine.dims}
        for gi, (dim, bl) in enumerate(blocks):
            names = [b for b, _ in bl]
            sales_idx = {names.index(c[gi]) for c in combos if grade_only[c][0] == SALES}
            if not sales_idx:
                continue
            star = max(sales_idx)
            if bl[star][1] is None or dim not in dims:
                continue  # every band of this dimension can reach sales: no threshold to move
            mx, fl = dims[dim]
            sw = _Sweep(engine, gi, dim, list(bl), star, fl, mx)
            sw.sales_bands = [b for i, b in enumerate(names) if i in sales_idx]
            self.sweeps.append(sw)
        self.graded = [d for d, _ in blocks]

    def route_of(self, bands: tuple, account_bands: tuple) -> tuple:
        """(route, queue, sla, line) of a lead that is not disqualified, with these bands (and its
        account's bands), as the file's route lines say."""
        key = (bands, account_bands)
        hit = self._routes.get(key)
        if hit is None:
            grade = "".join(bands)
            hit = (self.model.route(grade, False, account_bands) if self.model is not None
                   else self.engine.route_for(grade, False))
            self._routes[key] = hit
        return hit

    # -- the hot path --
    def add(self, lead: Lead, r: Result, outcome, day: int) -> None:
        self.total += 1
        if r.numbered:
            self.numbered += 1
        worked = outcome is not None and outcome.worked_day is not None
        conv = outcome is not None and outcome.converted
        if outcome is not None:
            self.with_outcome += 1
        if worked:
            self.worked += 1
            self.scored_at_worked += 1
            if conv:
                self.converted += 1
        elif conv:
            self.converted_unworked += 1
        w, c, cu = int(worked), int(worked and conv), int(conv and not worked)
        for table, key in ((self.by_grade, r.grade), (self.by_route, (r.route, r.queue))):
            row = table.get(key)
            if row is None:
                table[key] = row = [0, 0, 0, 0]
            row[0] += 1
            row[1] += w
            row[2] += c
            row[3] += cu
        grp = self.sales if r.route == SALES else self.cherry
        grp[0] += 1
        grp[1] += w
        grp[2] += c
        if worked and r.route != SALES:
            row = self.cherry_by_grade.get(r.grade)
            if row is None:
                self.cherry_by_grade[r.grade] = row = [0, 0, {}]
            row[0] += 1
            row[1] += c
            rq = (r.route, r.queue)
            row[2][rq] = row[2].get(rq, 0) + 1
        if r.disqualified is None:
            bc = self.band_counts
            for d, b in r.bands.items():
                bc[(d, b)] = bc.get((d, b), 0) + 1
            if self.keep_scores:
                for d, v in r.scores.items():
                    self.dim_scores.setdefault(d, []).append(v)
        if worked:
            days = None
            if conv and outcome.converted_day is not None:
                days = outcome.converted_day - outcome.worked_day
                self.grade_days.setdefault(r.grade, []).append(days)
            tiers = {}
            if r.disqualified is None:
                by_points = self._tier_by_points
                for i, tests in self.first_tiers:
                    m = by_points.get(i)
                    if m is not None:
                        tiers[i] = m.get(r.points[i]) if r.fired[i] else None
                    else:
                        tiers[i] = next((j for j, t in enumerate(tests) if t is None or t(lead, day)), None)
            cats, nums = lead_features(lead, day, self.schema)
            self.rows.append(_Row(int(conv), days, r, cats, nums, tiers))
        if r.disqualified is None and self.sweeps:
            bands = tuple(r.bands.get(d) for d in self.graded)
            ab = getattr(r, "account_bands", None)
            acct = tuple(ab.values()) if ab else ()
            for sw in self.sweeps:
                key = (r.scores.get(sw.dim), bands, acct)
                cell = sw.cells.get(key)
                if cell is None:
                    sw.cells[key] = cell = [0, 0, 0]
                cell[0] += 1
                cell[1] += w
                cell[2] += c

    def add_all(self, items: Iterable[tuple]) -> "Calibrator":
        for lead, r, o, day in items:
            self.add(lead, r, o, day)
        return self

    # -- the report --
    def report(self) -> dict:
        return {
            "totals": self._totals(),
            "by_grade": self._by_grade(),
            "by_route": self._by_route(),
            "cherry_picking": self._cherry(),
            "criteria": self._criteria(),
            "dimensions": self._dimensions(),
            "missed_signals": self._missed(),
            "threshold_sweep": [self._sweep(sw) for sw in self.sweeps],
        }

    def _totals(self) -> dict:
        return {"leads": self.total, "with_outcome": self.with_outcome,
                "without_outcome": self.total - self.with_outcome, "numbered": self.numbered,
                "worked": self.worked, "converted": self.converted,
                "converted_unworked": self.converted_unworked,
                "scored_as_of_worked_at": self.scored_at_worked,
                "scored_as_of_date": self.total - self.scored_at_worked,
                **conversion(self.converted, self.worked)}

    def _grade_key(self, g: str):
        if g == "disqualified":
            return (2, 0, g)
        i = self.grade_order.get(g)
        return (0, i, g) if i is not None else (1, 0, g)

    def _by_grade(self) -> list[dict]:
        out = []
        for g in sorted(self.by_grade, key=self._grade_key):
            leads, worked, conv, cu = self.by_grade[g]
            out.append({"grade": g, "leads": leads, "worked": worked, "converted": conv,
                        **conversion(conv, worked), "converted_unworked": cu,
                        "median_days_to_convert": median(self.grade_days.get(g))})
        return out

    def _by_route(self) -> list[dict]:
        order = {}
        for i, line in enumerate(self.engine.route_lines):
            order.setdefault((line.action.kind, line.action.queue), i)
        out = []
        for key in sorted(self.by_route, key=lambda k: (order.get(k, len(order)), str(k))):
            leads, worked, conv, cu = self.by_route[key]
            out.append({"route": key[0], "queue": key[1], "leads": leads, "worked": worked, "converted": conv,
                        **conversion(conv, worked), "converted_unworked": cu})
        return out

    def _cherry(self) -> dict:
        s_leads, s_worked, s_conv = self.sales
        c_leads, c_worked, c_conv = self.cherry
        test = compare(c_conv, c_worked, s_conv, s_worked)
        by_grade = []
        for g in sorted(self.cherry_by_grade, key=self._grade_key):
            worked, conv, routes = self.cherry_by_grade[g]
            # the route most of them had (a grade's route can differ by account band)
            route, queue = max(routes.items(), key=lambda kv: (kv[1], str(kv[0])))[0]
            by_grade.append({"grade": g, "route": route, "queue": queue, "leads": self.by_grade[g][0],
                             "worked": worked, "converted": conv, **conversion(conv, worked)})
        return {
            "cherry_picked": {"leads_routed_elsewhere": c_leads, "worked": c_worked, "converted": c_conv,
                              **conversion(c_conv, c_worked)},
            "routed_to_sales": {"leads": s_leads, "worked": s_worked, "not_worked": s_leads - s_worked,
                                "converted": s_conv, **conversion(s_conv, s_worked)},
            "share_of_worked": round(c_worked / self.worked, 6) if self.worked else None,
            "by_grade": by_grade,
            "comparison": test,
            "verdict": cherry_verdict(c_conv, c_worked, s_conv, s_worked, test),
        }

    # -- judging criteria, dimensions and signals over the worked leads --
    def scored_rows(self) -> list["_Row"]:
        """Worked leads the rules scored (not disqualified): the population of every judgement."""
        return [w for w in self.rows if w.r.disqualified is None]

    def population(self, rows: list["_Row"]) -> Population:
        """The worked leads for the association tests: one stratum (a signal's leads against all the
        others — comparing within score strata would make signals out of what the score mixes), and,
        with an accounts block, one cluster per account."""
        ys = [w.y for w in rows]
        strata = [0] * len(rows)
        clusters = None
        if self.model is not None and self.clustered:
            # leads of one account are one cluster; a lead without an account key is its own
            clusters = [w.r.account if w.r.account is not None else ("lead", i) for i, w in enumerate(rows)]
        return Population(ys, strata, clusters)

    def _criteria(self) -> list[dict]:
        rows = self.scored_rows()
        if not rows:
            return []
        ys = [w.y for w in rows]
        pop = self.population(rows)
        totals = [w.total for w in rows]
        base = auc(totals, ys)
        tiers_of = dict(self.first_tiers)
        # each row's raw sum per dimension, to re-clamp without one criterion
        dims = self.engine.dims
        dim_of = []
        for di, (_d, _mx, _fl, objs) in enumerate(dims):
            dim_of += [di] * len(objs)
        # column by column: each criterion's points and firing over the rows; per dimension each row's
        # raw sum (its criteria's points added in order), its total without that dimension's score
        # (`rest`) and its total as it stands (`same`: the value without a criterion whose points are 0
        # for the row, computed once, not per criterion)
        N = len(rows)
        point_cols = list(zip(*[w.r.points for w in rows]))
        fired_cols = list(zip(*[w.r.fired for w in rows]))
        raw_sums, rest, same = [], [], []
        for di, (d, mx, fl, _o) in enumerate(dims):
            sums = [0.0] * N
            for k, dk in enumerate(dim_of):
                if dk == di:
                    sums = [a + p for a, p in zip(sums, point_cols[k])]
            raw_sums.append(sums)
            rd = [w.total - w.r.scores[d] for w in rows]
            rest.append(rd)
            same.append([b + round2(min(mx, max(fl, x))) for b, x in zip(rd, sums)])
        out = []
        for i, spec in enumerate(self.engine.criteria):
            node = spec.node
            if spec.kind == "first":
                tests = tiers_of[i]
                last = len(tests) - 1 if tests and tests[-1] is None else None
                idx = [j for j, w in enumerate(rows) if w.tiers.get(i) is not None and w.tiers.get(i) != last]
                pts = [t.points for t in node.tiers]
                sign = 1 if max(pts) - (pts[last] if last is not None else 0) >= 0 else -1
                points = None
            else:
                idx = list(compress(range(N), fired_cols[i]))
                sign = 1 if node.points >= 0 else -1
                points = node.points
            t = pop.test(idx)
            di = dim_of[i]
            _d, mx, fl, _o = dims[di]
            p_i = point_cols[i]
            vals, rd = list(same[di]), rest[di]
            for j in compress(range(N), p_i):     # the rows this criterion gave points (or took them)
                vals[j] = rd[j] + round2(min(mx, max(fl, raw_sums[di][j] - p_i[j])))
            without = auc(vals, ys)
            row = {"criterion": spec.key, "dimension": spec.dim, "kind": spec.kind, "points": points,
                   "rule": spec.text, "fires": t["leads"], "fire_rate": round(t["leads"] / len(rows), 6),
                   "converted_when_fires": t["converted"],
                   "rate_when_fires": _r6(t["rate_with"]), "rate_otherwise": _r6(t["rate_without"]),
                   "lift": _r4(t["lift"]), "lift_ci_low": _r4(t["lift_ci"] and t["lift_ci"][0]),
                   "lift_ci_high": _r4(t["lift_ci"] and t["lift_ci"][1]),
                   "p_value": t["p_value"], "direction": t["direction"],
                   "auc_without": _r4(without),
                   "auc_contribution": None if base is None or without is None else round(base - without, 4)}
            if spec.kind == "first":
                tiers = []
                for j, tier in enumerate(node.tiers):
                    got = [w for w in rows if w.tiers.get(i) == j]
                    k = sum(w.y for w in got)
                    tiers.append({"tier": j, "points": tier.points,
                                  "rule": "otherwise" if tier.cond is None else f"when {printer.cond(tier.cond)}",
                                  "leads": len(got), "converted": k, **conversion(k, len(got))})
                row["tiers"] = tiers
            row["_sign"] = sign
            out.append(row)
        tested = [r for r in out if r["p_value"] is not None]
        for r, q in zip(tested, benjamini_hochberg([r["p_value"] for r in tested])):
            r["q_value"] = q
        for r in out:
            sign = r.pop("_sign")
            q = r.get("q_value")
            r["q_value"] = None if q is None else sig6(q)
            r["p_value"] = None if r["p_value"] is None else sig6(r["p_value"])
            r["meaningful"] = q is not None and q < ALPHA
            if r["fires"] == 0:
                v = "never fires"
            elif r["fires"] == len(rows):
                v = "always fires"
            elif not r["meaningful"]:
                v = "no signal"
            elif (r["direction"] == "for") == (sign > 0):
                v = "predicts"
            else:
                v = "against"
            r["verdict"] = v
        return out

    def _dimensions(self) -> dict:
        rows = self.scored_rows()
        ys = [w.y for w in rows]
        pos = sum(ys)
        neg = len(ys) - pos

        def judged(scores):
            a = auc(scores, ys)
            ci = auc_ci(a, pos, neg)
            return {"auc": _r4(a), "auc_ci_low": _r4(ci and ci[0]), "auc_ci_high": _r4(ci and ci[1])}

        dims = []
        graded = dict(self.engine.grade_blocks)
        for dim, mx, fl, _ in self.engine.dims:
            d = {"dimension": dim, "max": mx, "floor": fl, **judged([w.r.scores[dim] for w in rows]), "bands": []}
            for band, th in graded.get(dim, []):
                got = [w for w in rows if w.r.bands.get(dim) == band]
                k = sum(w.y for w in got)
                days = [w.days for w in got if w.y and w.days is not None]
                d["bands"].append({"band": band, "threshold": th, "leads": self.band_counts.get((dim, band), 0),
                                   "worked": len(got), "converted": k, **conversion(k, len(got)),
                                   "median_days_to_convert": median(days)})
            dims.append(d)
        return {"worked_scored": len(rows), "converted": pos,
                "worked_disqualified": len(self.rows) - len(rows),
                "total": judged([w.total for w in rows]), "by_dimension": dims}

    def signal_table(self) -> tuple[list[dict], list[dict], list[set[int]]]:
        """Every candidate signal tested over the worked leads the rules scored: (rows, excluded keys,
        the row indices holding each signal). See docs/calibrate.md, "Missed signals"."""
        rows = self.scored_rows()
        ms = self.min_support
        if not rows:
            return [], [], []
        always = {("field", self.schema.id_field)}
        for f in self._account_key_fields():
            always.add(("field", f))
        ids = identifier_keys([w.cats for w in rows], always)
        excluded = [{"key": ".".join(str(x) for x in k[1:]), "kind": k[0], "reason": why}
                    for k, why in sorted(ids.items(), key=lambda kv: str(kv[0]))]
        holders: dict[tuple, list[int]] = {}
        for j, w in enumerate(rows):
            for s in w.cats:
                k = ("field", s[1]) if s[0] == "field" else ("attr", s[1], s[2]) if s[0] == "attr" else None
                if k is not None and k in ids:
                    continue
                holders.setdefault(s, []).append(j)
        N = len(rows)
        ys = [w.y for w in rows]

        def enough(idx):
            a = sum([ys[i] for i in idx])
            return (a >= ms or len(idx) - a >= ms) and 0 < len(idx) < N

        cands: list[tuple[tuple, list[int], dict]] = []
        seen: set[tuple] = set()     # a bin held by exactly the leads of a value signal says nothing new
        for s, idx in holders.items():
            if enough(idx):
                cands.append((s, idx, {}))
                seen.add(tuple(idx))
        # numbers: cut at the data's quantiles
        cols: dict[tuple, tuple[list, list]] = {}   # feature -> ([row], [value]) of the rows that have it
        for j, w in enumerate(rows):
            for f, v in w.nums.items():
                c = cols.get(f)
                if c is None:
                    cols[f] = c = ([], [])
                c[0].append(j)
                c[1].append(v)
        for f, (js, vs) in cols.items():
            if f[0] == "count" and len(f) == 4:
                if ("attr", f[1], f[2]) in ids or not enough(holders.get(("attr", f[1], f[2], f[3]), ())):
                    continue
            if f[0] == "total" and ("attr", f[1], f[2]) in ids:
                continue
            zero = f[0] == "count"
            integer = f[0] in INTEGER_KINDS
            # a bin is a run of this order; a count a lead does not have is 0
            values, rows_by_value = value_order(js, vs, N if zero else None)
            bins = quantile_bins(values, integer=integer)
            if len(bins) < 2:
                continue
            m = len(values)
            for lo, hi in bins:
                if zero and lo == 0 and hi == 1:
                    continue  # "none of it": the complement of having it, tested already
                a = bisect.bisect_left(values, lo)
                b = m if hi is None else bisect.bisect_left(values, hi)
                if a >= b:
                    continue
                idx = sorted(rows_by_value[a:b])
                if not enough(idx) or tuple(idx) in seen:
                    continue
                seen.add(tuple(idx))
                k = (m - (b - a)) // 2       # the median of the values outside [a, b)
                outside = None if b - a == m else values[k] if k < a else values[k + (b - a)]
                cands.append((("bin",) + f, idx, {"low": lo, "high": hi, "integer": integer,
                                                   "median": values[a + (b - a) // 2], "outside": outside}))
        pop = self.population(rows)
        scored = ScoredBy(self.engine, self.asof_ordinal)
        out, members = [], []
        for s, idx, extra in cands:
            t = pop.test(idx)
            if t["p_value"] is None:
                continue
            out.append(self._signal_row(s, t, extra, scored))
            members.append(set(idx))
        qs = benjamini_hochberg([r["p_value"] for r in out])
        for r, q in zip(out, qs):
            r["q_value"] = sig6(q)
            r["meaningful"] = q < ALPHA
            r["p_value"] = sig6(r["p_value"])
        order = sorted(range(len(out)), key=lambda i: (out[i]["p_value"], out[i]["label"]))
        return [out[i] for i in order], excluded, [members[i] for i in order]

    def _signal_row(self, s: tuple, t: dict, extra: dict, scored: ScoredBy) -> dict:
        if s[0] == "bin":
            f = s[1:]
            label = bin_label(f, extra["low"], extra["high"], extra["integer"])
            by = scored.of(f, extra["median"], extra["outside"], extra["low"])
            row = {"kind": f[0], "name": f[1],
                   "attribute": f[2] if f[0] in ("total",) or (f[0] == "count" and len(f) == 4) else None,
                   "value": f[3] if f[0] == "count" and len(f) == 4 else None,
                   "window_days": f[2] if f[0] == "count" and len(f) == 3 else None,
                   "low": extra["low"], "high": extra["high"], "feature": feature_label(f)}
        else:
            by = scored.of(s)
            label = signal_label(s)
            row = {"kind": s[0], "name": s[1], "attribute": s[2] if s[0] == "attr" else None,
                   "value": s[3] if s[0] == "attr" else s[2] if s[0] == "field" else None,
                   "window_days": None, "low": None, "high": None, "feature": None}
        lo_hi = t["lift_ci"]
        row.update({"label": label, "leads": t["leads"], "converting": t["converted"],
                    "not_converting": t["leads"] - t["converted"],
                    "rate_with": _r6(t["rate_with"]), "rate_without": _r6(t["rate_without"]),
                    "lift": _r4(t["lift"]), "lift_ci_low": _r4(lo_hi and lo_hi[0]),
                    "lift_ci_high": _r4(lo_hi and lo_hi[1]),
                    "direction": t["direction"], "statistic": sig6(t["statistic"]), "p_value": t["p_value"],
                    "scored_by": by})
        return row

    def _account_key_fields(self) -> set[str]:
        acc = self.engine.checked.file.first(n.Accounts)
        if acc is None:
            return set()
        from runtime.analysis.signals import value_refs as _value_refs

        return {name for kind, name in _value_refs(acc.key, None) if kind == "field"}

    def _missed(self) -> dict:
        rows, excluded, _ = self.signal_table()
        scored = self.scored_rows()
        conv = sum(w.y for w in scored)
        top = next((r for r in rows if not r["scored_by"] and r["meaningful"] and r["direction"] == "for"), None)
        against = next((r for r in rows if r["meaningful"] and r["direction"] == "against"), None)
        ft, at = self.schema.fields, self.schema.events
        return {"population": "worked", "min_support": self.min_support, "converting": conv,
                "not_converting": len(scored) - conv, "tested": len(rows),
                "meaningful": sum(1 for r in rows if r["meaningful"]),
                "top_unscored": top["label"] if top else None,
                "suggestion": suggest(top, ft, at) if top else None,
                "top_against": against["label"] if against else None,
                "excluded_keys": excluded, "signals": rows}

    def _sweep(self, sw: _Sweep) -> dict:
        names = [b for b, _ in sw.bands]
        total_conv = self.converted
        cur = sw.bands[sw.star][1]
        # per score, the (leads, worked, converted) that go to sales if that score falls in each band:
        # a candidate threshold then only decides each score's band
        gi, last = sw.gi, len(names) - 1
        by_score: dict[float, list[list[int]]] = {}
        for (score, bands, acct), (l_, w_, c_) in sw.cells.items():
            if score is None:
                continue
            per_band = by_score.get(score)
            if per_band is None:
                by_score[score] = per_band = [[0, 0, 0] for _ in names]
            for k, name in enumerate(names):
                if self.route_of(bands[:gi] + (name,) + bands[gi + 1:], acct)[0] == SALES:
                    got = per_band[k]
                    got[0] += l_
                    got[1] += w_
                    got[2] += c_
        rows = []
        for t in sw.candidates():
            ths = sw.thresholds(t)
            leads = worked = conv = 0
            for score, per_band in by_score.items():
                k = next((k for k, th in enumerate(ths) if th is None or score >= th), last)
                l_, w_, c_ = per_band[k]
                leads += l_
                worked += w_
                conv += c_
            rows.append({"threshold": t, "current": cur is not None and t == round2(cur), "leads": leads,
                         "worked": worked, "converted": conv, **conversion(conv, worked),
                         "share_of_conversions": round(conv / total_conv, 6) if total_conv else None})
        return {"dimension": sw.dim, "band": names[sw.star], "sales_bands": sw.sales_bands,
                "current_threshold": cur, "account_routes": self.model is not None, "candidates": rows}


def criterion_for(row: dict, fields: dict[str, str], events: dict[str, dict[str, str]]) -> tuple[str, str] | None:
    """(name, `when` condition) of a criterion that fires exactly when a lead holds the signal of a
    `missed_signals` row (as of the scoring day), printed by dsl.printer; None when the language cannot
    say it (a sum of a numeric attribute)."""
    kind, name, v = row["kind"], row["name"], row["value"]
    num = lambda x: n.Literal(int(x) if float(x).is_integer() else x, "number")  # noqa: E731

    def attr_test(et: str, attr: str, value: str):
        t = events.get(et, {}).get(attr)
        if t == TEXT:
            op = "starts_with" if value.startswith("/") else None
            return (n.TextTest(op, n.Name(attr), n.Literal(value, "text")) if op
                    else n.Compare("=", n.Name(attr), n.Literal(value, "text")))
        if t == TEXT_LIST:
            return n.TextTest("contains", n.Name(attr), n.Literal(value, "text"))
        if t == BOOL:
            return n.Compare("=", n.Name(attr), n.Literal(value == "true", "bool"))
        return None

    def words(*parts) -> str:
        w = " ".join(str(p).replace("_", " ").strip("/") for p in parts if p not in (None, ""))
        return w[:1].upper() + w[1:]

    if kind == "event":
        return words(name), printer.cond(n.Has(n.EventFilter(name)))
    if kind == "attr":
        test = attr_test(name, row["attribute"], v)
        if test is None:
            return None
        return words(v or "home", row["attribute"]), printer.cond(n.Has(n.EventFilter(name, test)))
    if kind == "field":
        t = fields.get(name)
        if t == TEXT:
            c = n.Compare("=", n.Name(name), n.Literal(v, "text"))
        elif t == TEXT_LIST:
            c = n.TextTest("contains", n.Name(name), n.Literal(v, "text"))
        elif t == BOOL:
            c = n.Compare("=", n.Name(name), n.Literal(v == "true", "bool"))
        else:
            return None
        return words(name, v), printer.cond(c)
    lo, hi = row["low"], row["high"]
    if kind == "num":
        val = n.Name(name)
    elif kind == "age":
        val = n.DaysSince(name)
    elif kind == "recency":
        val = n.DaysSinceLast(name)
    elif kind == "count":
        within = n.Duration(row["window_days"], "day") if row["window_days"] else None
        where = attr_test(name, row["attribute"], v) if row["attribute"] else None
        if row["attribute"] and where is None:
            return None
        val = n.Count(n.EventFilter(name, where, within))
    else:
        return None
    integer = kind in ("count", "recency", "age")
    parts = []
    if lo is not None and not (integer and lo <= 0 and kind == "count"):
        parts.append(n.Compare(">=", val, num(lo)))
    if hi is not None:
        parts.append(n.Compare("<=", val, num(hi - 1)) if integer else n.Compare("<", val, num(hi)))
    if not parts:
        return None
    c = parts[0] if len(parts) == 1 else n.BoolOp("and", tuple(parts))
    return words(row["label"]), printer.cond(c)


def suggest(row: dict, fields: dict[str, str], events: dict[str, dict[str, str]]) -> str | None:
    """A criterion line that would score a missed signal, for a person to edit (points left as +N)."""
    got = criterion_for(row, fields, events)
    if got is None:
        return None
    return f"{printer.quote(got[0])} +N when {got[1]}"


def value_order(rows: list[int], values: list, fill_to: int | None = None) -> tuple[list, list[int]]:
    """A numeric feature held by `rows` (ascending) with these `values`, in ascending value order:
    (the values, the row of each), rows of equal values in row order. With `fill_to`, every row
    below it that has no value has 0.0."""
    if fill_to is not None and len(rows) < fill_to:
        full = [0.0] * fill_to
        for j, v in zip(rows, values):
            full[j] = v
        rows, values = range(fill_to), full
    order = sorted(range(len(values)), key=values.__getitem__)
    return [values[o] for o in order], [rows[o] for o in order]


class _Row:
    """One worked lead, as calibrate keeps it: outcome, days to convert, the Result, signals."""

    __slots__ = ("y", "days", "r", "cats", "nums", "tiers", "total")

    def __init__(self, y, days, r, cats, nums, tiers):
        self.y, self.days, self.r, self.cats, self.nums, self.tiers = y, days, r, cats, nums, tiers
        self.total = round2(sum(r.scores.values()))


def median(xs) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    m = len(s)
    return float(s[m // 2]) if m % 2 else (s[m // 2 - 1] + s[m // 2]) / 2


def _r4(x):
    return None if x is None else round(x, 4)


def _r6(x):
    return None if x is None else round(x, 6)


def signal_label(sig: tuple) -> str:
    if sig[0] == "event":
        return f"has {sig[1]}"
    if sig[0] == "attr":
        return f"{sig[1]} {sig[2]} = {sig[3]}"
    return f"{sig[1]} = {sig[2]}"


def conversion(k: int, n_: int) -> dict:
    ci = wilson(k, n_)
    return {"rate": None if not n_ else round(k / n_, 6),
            "ci_low": None if ci is None else round(ci[0], 6), "ci_high": None if ci is None else round(ci[1], 6)}


def pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f}%"


def cherry_verdict(c_conv: int, c_worked: int, s_conv: int, s_worked: int, test: dict) -> str:
    if not c_worked:
        return "Sales worked no lead that the rules routed elsewhere: nothing to compare."
    if not s_worked:
        return "Sales worked no lead that the rules routed to sales: nothing to compare the cherry-picks with."
    a, b = c_conv / c_worked, s_conv / s_worked
    head = (f"Cherry-picked leads converted at {pct(a)} ({c_conv:,} of {c_worked:,}), leads routed to sales at "
            f"{pct(b)} ({s_conv:,} of {s_worked:,})")
    p = test["p_value"]
    ptxt = f"p = {p:.2g}" if p >= 0.0001 else "p < 0.0001"
    if test["meaningful"]:
        word = "better" if a > b else "worse"
        return (f"{head}: cherry-picks did {word}, and at this sample size the difference is meaningful "
                f"({test['test']}, {ptxt}).")
    return (f"{head}: at this sample size the difference could be chance ({test['test']}, {ptxt}); "
            "more outcomes would settle it.")


__all__ = ["Calibrator", "benjamini_hochberg", "compare", "conversion", "fisher_exact", "norm_path",
           "two_proportion_z", "wilson"]
