"""What a worked lead carried, and how to judge it against outcomes: the candidate signals of
`leadrules calibrate` (values, event counts, counts within windows, recency, numbers binned by the
data's quantiles), which keys are identifier-like, which criterion already scores a signal (by
evaluating the criterion's own conditions), and the plain-`math` statistics (AUC, the stratified
Cochran–Mantel–Haenszel test and its account-clustered variant, risk ratios). docs/calibrate.md
documents every choice.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from itertools import compress
from typing import Any, Iterable

from dsl import nodes as n

from runtime.backends.closure import Engine, condition_test
from runtime.core.model import BOOL, DATE, NUMBER, TEXT, TEXT_LIST, Lead, Schema

Z95 = 1.959963984540054
WINDOWS = (7, 30, 90)          # event counts within these many days of the scoring day
MAX_BINS = 5                   # numbers are cut at their quintiles (fewer bins when values repeat)
ID_DISTINCT_RATIO = 0.5        # a key whose values are at least this share distinct is identifier-like
ID_MIN_DISTINCT = 20           # ... when it has at least this many distinct values
HIGH_CARD_DISTINCT = 50        # a key with at least this many distinct values ...
HIGH_CARD_TOP_SHARE = 0.02     # ... none of them held by this share of its leads is high-cardinality


# ---- statistics ---------------------------------------------------------------------------------


def sig6(x: float) -> float:
    return float(f"{x:.6g}")


def auc(scores: list[float], ys: list[int]) -> float | None:
    """The area under the ROC curve: the chance that a random converter outscores a random
    non-converter (ties count half). None without both kinds of lead.

    Counted per distinct score (the leads at one score share the average of their ranks), so the cost
    is a pass over the leads plus a sort of the distinct scores. Every rank is a multiple of ½ and the
    rank sum stays far below 2**53, so the sum is exact in any order: `auc_by_ranks` (the textbook
    rank loop) gives the same float, tests/test_calibrate_speed.py."""
    pos = sum(ys)
    neg = len(ys) - pos
    if not pos or not neg:
        return None
    count = Counter(scores)
    positive = Counter(compress(scores, ys))
    rank_sum = 0.0
    i = 0
    for v in sorted(count):
        m = count[v]
        c = positive.get(v)
        if c:
            rank_sum += c * ((i + i + m - 1) / 2 + 1)
        i += m
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def auc_by_ranks(scores: list[float], ys: list[int]) -> float | None:
    """`auc` the textbook way (sort, average the ranks of ties, sum the converters' ranks): the
    reference `auc` is pinned to."""
    pos = sum(ys)
    neg = len(ys) - pos
    if not pos or not neg:
        return None
    order = sorted(range(len(scores)), key=scores.__getitem__)
    rank_sum = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        r = (i + j) / 2 + 1
        for k in range(i, j + 1):
            if ys[order[k]]:
                rank_sum += r
        i = j + 1
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def auc_ci(a: float | None, pos: int, neg: int) -> tuple[float, float] | None:
    """Hanley & McNeil's (1982) 95% interval for an AUC from `pos` converters and `neg` others."""
    if a is None or not pos or not neg:
        return None
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (pos - 1) * (q1 - a * a) + (neg - 1) * (q2 - a * a)) / (pos * neg)
    h = Z95 * math.sqrt(max(var, 0.0))
    return max(0.0, a - h), min(1.0, a + h)


def risk_ratio(a: int, n1: int, c: int, n0: int) -> tuple[float | None, tuple[float, float] | None]:
    """Conversion with (a of n1) over without (c of n0), with Katz's 95% log interval."""
    if not n1 or not n0 or not c:
        return None, None
    rr = (a / n1) / (c / n0)
    if not a:
        return rr, None
    se = math.sqrt(max(1 / a - 1 / n1 + 1 / c - 1 / n0, 0.0))
    return rr, (math.exp(math.log(rr) - Z95 * se), math.exp(math.log(rr) + Z95 * se))


class Population:
    """Leads for association tests: outcome, stratum (calibrate uses one) and cluster (the account;
    None: each lead is its own). Precomputes what every test of one binary signal needs, so a test costs
    O(leads with it)."""

    def __init__(self, ys: list[int], strata: list[int], clusters: list[Any] | None):
        self.ys, self.strata, self.clusters = ys, strata, clusters
        self.n = len(ys)
        self.Y = sum(ys)
        K = (max(strata) + 1) if strata else 0
        self.K = K
        self.nk = [0] * K
        self.yk = [0] * K
        for y, k in zip(ys, strata):
            self.nk[k] += 1
            self.yk[k] += y
        self.ybar = [self.yk[k] / self.nk[k] if self.nk[k] else 0.0 for k in range(K)]
        self.resid = [y - self.ybar[k] for y, k in zip(ys, strata)]
        self.R: dict[Any, list[float]] = {}
        self.M = [[0.0] * K for _ in range(K)]
        if clusters is not None:
            R = self.R
            for r, k, g in zip(self.resid, strata, clusters):
                row = R.get(g)
                if row is None:
                    R[g] = row = [0.0] * K
                row[k] += r
            for row in R.values():
                for a in range(K):
                    if row[a]:
                        for b in range(K):
                            self.M[a][b] += row[a] * row[b]
            self.G = len(R)

    def test(self, idx: Iterable[int]) -> dict:
        """The signal held by the leads at `idx`: counts, rates, lift (with/without, Katz interval), the
        Mantel–Haenszel lift within strata, and the two-sided CMH test (continuity-corrected); with
        clusters, the variance is the larger of the model's and the cluster-robust one."""
        idx = list(idx)
        ys = self.ys
        x = len(idx)
        a = sum(ys[i] for i in idx)
        n, Y = self.n, self.Y
        out = {"leads": x, "converted": a, "rate_with": a / x if x else None,
               "rate_without": (Y - a) / (n - x) if n - x else None}
        rr, ci = risk_ratio(a, x, Y - a, n - x)
        out["lift"], out["lift_ci"] = rr, ci
        strata, K, nk, yk = self.strata, self.K, self.nk, self.yk
        xk = [0] * K
        ak = [0] * K
        for i in idx:
            k = strata[i]
            xk[k] += 1
            ak[k] += ys[i]
        U = V = num = den = 0.0
        for k in range(K):
            nn = nk[k]
            if nn < 2 or not xk[k]:
                continue
            U += ak[k] - xk[k] * yk[k] / nn
            V += xk[k] * (nn - xk[k]) * yk[k] * (nn - yk[k]) / (nn * nn * (nn - 1))
            num += ak[k] * (nn - xk[k]) / nn
            den += (yk[k] - ak[k]) * xk[k] / nn
        out["adjusted_lift"] = num / den if den else None
        if self.clusters is not None:
            V = max(V, self._robust(idx, xk))
        if V <= 0:
            out["p_value"] = None
            out["statistic"] = None
        else:
            chi = max(abs(U) - 0.5, 0.0) ** 2 / V
            out["statistic"] = math.copysign(math.sqrt(chi), U)
            out["p_value"] = math.erfc(math.sqrt(chi / 2))
        out["direction"] = "for" if U > 0 else "against" if U < 0 else None
        return out

    def _robust(self, idx: list[int], xk: list[int]) -> float:
        """Σ_g (Σ_{i∈g} (x_i − x̄_k)(y_i − ȳ_k))² × G/(G−1): the cluster-robust variance of the score."""
        K, nk = self.K, self.nk
        xbar = [xk[k] / nk[k] if nk[k] else 0.0 for k in range(K)]
        A: dict[Any, float] = {}
        cl, res = self.clusters, self.resid
        for i in idx:
            g = cl[i]
            A[g] = A.get(g, 0.0) + res[i]
        s_aa = sum(v * v for v in A.values())
        s_ab = 0.0
        R = self.R
        for g, v in A.items():
            row = R[g]
            s_ab += v * sum(xbar[k] * row[k] for k in range(K))
        s_bb = sum(xbar[a] * xbar[b] * self.M[a][b] for a in range(K) for b in range(K))
        G = self.G
        return (s_aa - 2 * s_ab + s_bb) * (G / (G - 1) if G > 1 else 1.0)


# ---- features: what one lead carried as of a day ------------------------------------------------

_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^/]*", re.I)


def norm_text(v: str) -> str:
    return " ".join(v.split()).lower()


def norm_path(v: str) -> str | None:
    """A page path (or URL) cut to its first segment, lower case: "/integrations/salesforce?x=1" ->
    "/integrations", so the pages of one section group together. None when `v` is not a path."""
    s = v.strip()
    m = _URL.match(s)
    if m:
        s = s[m.end():] or "/"
    if not s.startswith("/"):
        return None
    s = re.split(r"[?#]", s, maxsplit=1)[0]
    seg = next((p for p in s.split("/") if p), None)
    return "/" + seg.lower() if seg else "/"


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    s = str(v)
    p = norm_path(s)
    return p if p is not None else (norm_text(s) or None)


def lead_features(lead: Lead, day: int, schema: Schema) -> tuple[set, dict]:
    """(categorical signals, numeric features) of one lead as of `day`. Events after `day` have not
    happened; a date field after `day` is not yet known (left out, never "fresh").

    Categorical: ("field", name, value), ("event", type), ("attr", type, attribute, value).
    Numeric: ("num", field), ("age", date field) in days, ("count", type), ("count", type, days) within
    a window, ("count", type, attribute, value), ("recency", type) days since the last one,
    ("total", type, attribute) the sum of a numeric attribute."""
    cats: set = set()
    nums: dict = {}
    ft = schema.fields
    for name, v in lead.fields.items():
        t = ft.get(name)
        if v is None or t is None or name == schema.id_field:
            continue
        if t == TEXT:
            s = norm_text(v)
            if s:
                cats.add(("field", name, s))
        elif t == TEXT_LIST:
            for item in v:
                s = norm_text(str(item))
                if s:
                    cats.add(("field", name, s))
        elif t == BOOL:
            cats.add(("field", name, "true" if v else "false"))
        elif t == NUMBER:
            nums[("num", name)] = float(v)
        elif t == DATE:
            if isinstance(v, int) and v <= day:
                nums[("age", name)] = float(day - v)
    # counts a lead does not have are 0: left out here, filled in by the analysis
    for e in lead.events:
        if e.day > day:
            continue
        age = day - e.day
        t = e.type
        cats.add(("event", t))
        k = ("count", t)
        nums[k] = nums.get(k, 0.0) + 1
        for w in WINDOWS:
            if age <= w:
                k = ("count", t, w)
                nums[k] = nums.get(k, 0.0) + 1
        k = ("recency", t)
        r = nums.get(k)
        if r is None or age < r:
            nums[k] = float(age)
        for a, v in e.attrs.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                vals = v if isinstance(v, tuple) else (v,)
                for item in vals:
                    s = _text(item)
                    if s:
                        cats.add(("attr", t, a, s))
                        k = ("count", t, a, s)
                        nums[k] = nums.get(k, 0.0) + 1
            else:
                k = ("total", t, a)
                nums[k] = nums.get(k, 0.0) + float(v)
    return cats, nums


def key_of_feature(f: tuple) -> tuple:
    """The input key a feature comes from (for identifier detection): ("field", name) or
    ("attr", type, attribute)."""
    if f[0] == "field":
        return ("field", f[1])
    if f[0] == "attr" or (f[0] == "count" and len(f) == 4):
        return ("attr", f[1], f[2])
    return (f[0],) + tuple(f[1:2])


def identifier_keys(rows_cats: list[set], always: set) -> dict[tuple, str]:
    """Input keys whose values identify rather than describe: the lead id and the accounts key
    (`always`); every text field or attribute whose values among the worked leads are at least half
    distinct (and 20 or more) — names, e-mails, ids, phone numbers; and every high-cardinality one: 50
    or more distinct values, none held by 2% of its leads — account or company ids with a few leads
    each. Returns key -> reason."""
    values: dict[tuple, dict] = {}
    uses: dict[tuple, int] = {}
    for cats in rows_cats:
        for s in cats:
            if s[0] == "field":
                k, v = ("field", s[1]), s[2]
            elif s[0] == "attr":
                k, v = ("attr", s[1], s[2]), s[3]
            else:
                continue
            uses[k] = uses.get(k, 0) + 1
            vs = values.get(k)
            if vs is None:
                values[k] = vs = {}
            if len(vs) <= 100_000 or v in vs:
                vs[v] = vs.get(v, 0) + 1
    out = {k: "the lead id or the accounts key" for k in always}
    for k, vs in values.items():
        if k in out:
            continue
        d = len(vs)
        if d >= ID_MIN_DISTINCT and d >= ID_DISTINCT_RATIO * uses[k]:
            out[k] = f"identifier-like: {d:,} distinct values in {uses[k]:,} leads"
        elif d >= HIGH_CARD_DISTINCT and max(vs.values()) < HIGH_CARD_TOP_SHARE * uses[k]:
            out[k] = (f"high-cardinality: {d:,} distinct values, none in {100 * HIGH_CARD_TOP_SHARE:.0f}% "
                      f"of {uses[k]:,} leads")
    return out


def nice(x: float) -> float:
    """A cut point rounded to two significant digits (counts and days stay whole)."""
    if x == 0 or not math.isfinite(x):
        return x
    e = math.floor(math.log10(abs(x))) - 1
    return round(x / 10 ** e) * 10 ** e if e > 0 else round(x, -e)


def quantile_bins(values: list[float], k: int = MAX_BINS, integer: bool = False) -> list[tuple[float, float | None]]:
    """Cut points at the data's quantiles (rounded to two significant digits; whole numbers for counts
    and days): bins [lo, hi) with the last one open (hi None). Fewer bins when values repeat."""
    if not values:
        return []
    srt = sorted(values)
    m = len(srt)
    cuts = []
    for j in range(1, k):
        q = srt[min(m - 1, (m * j) // k)]
        c = float(math.ceil(q)) if integer else nice(q)
        if c > srt[0] and (not cuts or c > cuts[-1]):
            cuts.append(c)
    edges = [srt[0]] + cuts
    return [(edges[i], edges[i + 1] if i + 1 < len(edges) else None) for i in range(len(edges))]


def feature_label(f: tuple) -> str:
    kind = f[0]
    if kind == "num" or kind == "age":
        return f[1] if kind == "num" else f"days since {f[1]}"
    if kind == "count":
        if len(f) == 2:
            return f"{f[1]} count"
        if len(f) == 3:
            return f"{f[1]} count within {f[2]} days"
        return f"{f[1]} count where {f[2]} = {f[3]}"
    if kind == "recency":
        return f"days since last {f[1]}"
    if kind == "total":
        return f"{f[1]} total {f[2]}"
    return str(f)


def fmt_num(x: float) -> str:
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.6g}"


def bin_label(f: tuple, lo: float, hi: float | None, integer: bool) -> str:
    name = feature_label(f)
    if hi is None:
        return f"{name} >= {fmt_num(lo)}"
    if integer and hi - 1 == lo:
        return f"{name} = {fmt_num(lo)}"
    if integer:
        return f"{name} {fmt_num(lo)}–{fmt_num(hi - 1)}"
    return f"{name} {fmt_num(lo)} to under {fmt_num(hi)}"


INTEGER_KINDS = ("count", "recency", "age")


# ---- "scored by": what a criterion's conditions say of a value -----------------------------------


def _value_refs(v, ev: str | None):
    """(kind, name) the value reads: ("field", f), ("attr", a) inside a where, ("event", t) for counts
    and recency, ("any_event", None)."""
    if isinstance(v, n.Name):
        yield ("attr", v.name) if ev is not None else ("field", v.name)
    elif isinstance(v, n.Call):
        yield from _value_refs(v.arg, ev)
    elif isinstance(v, n.Count):
        yield ("event", v.filter.event)
    elif isinstance(v, n.CountTypes):
        yield ("any_event", None)
    elif isinstance(v, n.DaysSinceLast):
        yield ("event", v.event) if v.event else ("any_event", None)
    elif isinstance(v, n.DaysSince):
        yield ("field", v.field)


def _atoms(c, ev: str | None, positive: bool = True):
    """Every atomic condition with its polarity (False under an odd number of `not`s) and the event
    whose `where` it sits in; `has` and the filters of counts are walked into."""
    if c is None:
        return
    if isinstance(c, n.Paren):
        yield from _atoms(c.cond, ev, positive)
    elif isinstance(c, n.Not):
        yield from _atoms(c.cond, ev, not positive)
    elif isinstance(c, n.BoolOp):
        for i in c.items:
            yield from _atoms(i, ev, positive)
    elif isinstance(c, n.Has):
        yield c, ev, positive
        if c.filter.where is not None:
            yield from _atoms(c.filter.where, c.filter.event, positive)
    else:
        yield c, ev, positive
        for v in _atom_values(c):
            if isinstance(v, n.Count) and v.filter.where is not None:
                yield from _atoms(v.filter.where, v.filter.event, positive)


def _atom_values(c) -> list:
    if isinstance(c, n.Compare):
        return [c.left, c.right]
    if isinstance(c, (n.In, n.Matches, n.IsMissing)):
        return [c.value]
    if isinstance(c, n.TextTest):
        return [c.value]
    if isinstance(c, n.Between):
        return [c.value, c.low, c.high]
    return []


class ScoredBy:
    """Which criteria already score a signal, from the rules' meaning: a criterion scores a value when
    one of its conditions reads that field (or that event's attribute) and holds for the value,
    evaluated by the engine (`runtime.backends.closure.condition_test`); under a `not`, when it fails.
    An event type, its counts and its recency are scored by the criteria that count, test or match
    that event type (or any event); a number bin by a condition on the field that holds at the
    bin's median. `otherwise` tiers read nothing, so they score nothing."""

    def __init__(self, engine: Engine, asof: int):
        self.engine = engine
        self.asof = asof
        self.crits = []           # (key, [(atom, event, positive, refs)], {event types it reads})
        for spec in engine.criteria:
            c = spec.node
            conds = []
            events: set = set()
            if c.kind == "each":
                events.add(c.filter.event)
                if c.filter.where is not None:
                    conds.append((c.filter.where, c.filter.event))
            elif c.kind == "when":
                conds.append((c.cond, None))
            else:
                conds.extend((t.cond, None) for t in c.tiers if t.cond is not None)
            atoms = []
            for cond, ev in conds:
                for atom, aev, pos in _atoms(cond, ev):
                    if isinstance(atom, n.Has):
                        events.add(atom.filter.event)
                        continue
                    refs = set()
                    for v in _atom_values(atom):
                        for r in _value_refs(v, aev):
                            refs.add(r)
                            if r[0] == "event":
                                events.add(r[1])
                            elif r[0] == "any_event":
                                events.add(None)
                    atoms.append((atom, aev, pos, refs))
            self.crits.append((spec.key, atoms, events))
        self._tests: dict = {}
        self._keys = [k for k, _, _ in self.crits]
        self._order = {k: i for i, k in enumerate(self._keys)}
        self._caps = {}           # key -> (event type, events the criterion counts before its cap)
        self._has_only = {}       # key -> event types it only tests with `has` (0 vs 1 or more)
        for spec in engine.criteria:
            c = spec.node
            if c.kind == "each":
                cap = abs(c.max / c.points) if c.max is not None and c.points else math.inf
                self._caps[spec.key] = (c.filter.event, cap)

    def _of_field(self, sig: tuple, median: float) -> list[str]:
        out = []
        kind, name = sig[0], sig[1]
        v = median if kind == "num" else self.asof - int(median)
        for key, atoms, _ in self.crits:
            for atom, aev, pos, refs in atoms:
                if aev is None and ("field", name) in refs and self._holds(atom, aev, pos, {name: v}, None):
                    out.append(key)
                    break
        return out

    def _counts(self, sig: tuple, low: float) -> list[str]:
        """A count bin starting at `low` is scored by an `each` criterion on that event that still counts
        there (below its cap), and by a condition on a count of it; `has` tells only 0 from 1 or more,
        so it scores a bin only when the bin starts at 1 or below."""
        et = sig[1]
        attr_ok = set(self.of(("attr", sig[1], sig[2], sig[3]))) if len(sig) == 4 else None
        out = []
        for key, atoms, events in self.crits:
            if attr_ok is not None and key not in attr_ok:
                continue
            cap = self._caps.get(key)
            if cap is not None and cap[0] in (et, None):
                if low < cap[1]:
                    out.append(key)
                continue
            counts = any(r == ("event", et) for _, _, _, refs in atoms for r in refs)
            has = et in events or None in events
            if counts or (has and low <= 1):
                out.append(key)
        return out

    def _holds(self, atom, ev, pos, fields: dict, attrs: dict | None) -> bool:
        t = self._tests.get(id(atom))
        if t is None:
            t = self._tests[id(atom)] = condition_test(self.engine, atom, ev)
        return t(Lead("", fields), self.asof, attrs) == pos

    def of(self, sig: tuple, median: float | None = None, outside: float | None = None,
           low: float | None = None) -> list[str]:
        """The keys of the criteria that score `sig`. For a bin of a number: `median` is the bin's
        median, `outside` the median of the leads outside it, `low` its lower bound."""
        kind = sig[0]
        if median is not None and kind in ("num", "age"):
            at = set(self._of_field(sig, median))
            if outside is None:
                return sorted(at, key=self._order.get)
            away = set(self._of_field(sig, outside))
            # a criterion scores a bin when it tells the bin apart from the leads outside it
            return [k for k in self._keys if (k in at) != (k in away)]
        if kind == "count" and low is not None:
            return self._counts(sig, low)
        if kind == "count" and len(sig) == 4:
            return self.of(("attr", sig[1], sig[2], sig[3]))
        out = []
        ftypes = self.engine.field_types
        for key, atoms, events in self.crits:
            hit = False
            if kind in ("event", "count", "recency", "total"):
                hit = sig[1] in events or None in events
            elif kind == "attr":
                _, et, a, v = sig
                for atom, aev, pos, refs in atoms:
                    if aev == et and ("attr", a) in refs and self._holds(atom, aev, pos, {}, {a: v}):
                        hit = True
                        break
            elif kind in ("field", "num", "age"):
                name = sig[1]
                if kind == "field":
                    t = ftypes.get(name)
                    v: Any = sig[2]
                    if t == TEXT_LIST:
                        v = (v,)
                    elif t == BOOL:
                        v = v == "true"
                elif kind == "num":
                    v = median
                else:
                    v = None if median is None else self.asof - int(median)
                if v is None:
                    continue
                for atom, aev, pos, refs in atoms:
                    if aev is None and ("field", name) in refs and self._holds(atom, aev, pos, {name: v}, None):
                        hit = True
                        break
            if hit:
                out.append(key)
        return out


__all__ = ["norm_path", "norm_text", "Population", "ScoredBy", "auc", "auc_ci", "bin_label", "feature_label", "identifier_keys",
           "lead_features", "quantile_bins", "risk_ratio"]


# Public names for the other analyses (calibrate, scorecard) that use these.
value_refs = _value_refs
atoms = _atoms
