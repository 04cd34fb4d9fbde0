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
import re
from itertools import product
from typing import Any, Callable, Iterable, Iterator

from dsl import nodes as n

from runtime.backends.closure import Engine

from runtime.core.model import Result

from runtime.core.kernel import round2
from runtime.core.model import BOOL, NUMBER, TEXT, TEXT_LIST, Lead, Schema
from runtime.analysis.simulate import nice_width

REPORT_VERSION = 1
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


def number_bucket(x: float) -> str:
    """Order-of-magnitude buckets: "under 10", "10–99", "100–999", "1,000–9,999", ..."""
    if x < 0:
        return "below 0"
    if x < 10:
        return "under 10"
    k = min(int(math.floor(math.log10(x))), 15)
    lo = 10 ** k
    return f"{lo:,}–{10 * lo - 1:,}"


def _text_value(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return None
    s = str(v)
    p = norm_path(s)
    return p if p is not None else (norm_text(s) or None)


# A signal is a tuple: ("field", name, value) | ("event", type, "", "") | ("attr", type, attr, value).
# Field values: text (normalised), a text list's items, bools, number buckets. Attribute values alike;
# texts that look like page paths are cut to their first segment.


def lead_signals(lead: Lead, day: int, schema: Schema) -> set[tuple]:
    """The signals one lead carried as of `day` (events after it have not happened yet)."""
    out: set[tuple] = set()
    ft = schema.fields
    for name, v in lead.fields.items():
        t = ft.get(name)
        if v is None or t is None:
            continue
        if t == TEXT:
            s = norm_text(v)
            if s:
                out.add(("field", name, s))
        elif t == TEXT_LIST:
            for item in v:
                s = norm_text(str(item))
                if s:
                    out.add(("field", name, s))
        elif t == BOOL:
            out.add(("field", name, "true" if v else "false"))
        elif t == NUMBER:
            out.add(("field", name, number_bucket(v)))
    for e in lead.events:
        if e.day > day:
            continue
        out.add(("event", e.type, "", ""))
        for a, v in e.attrs.items():
            if isinstance(v, bool):
                s = "true" if v else "false"
            elif isinstance(v, (int, float)):
                s = number_bucket(v)
            elif isinstance(v, tuple):
                for item in v:
                    s = _text_value(item)
                    if s:
                        out.add(("attr", e.type, a, s))
                continue
            else:
                s = _text_value(v)
            if s:
                out.add(("attr", e.type, a, s))
    return out


def signal_label(sig: tuple) -> str:
    if sig[0] == "event":
        return f"has {sig[1]}"
    if sig[0] == "attr":
        return f"{sig[1]} {sig[2]} = {sig[3]}"
    return f"{sig[1]} = {sig[2]}"


# ---- does a criterion already score it? ---------------------------------------------------------

_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Mentions:
    """An approximation of "a criterion already scores this": a criterion scores a value when its
    printed rule (dsl.printer) names the field (or the event type and attribute) and one of its quoted
    texts — or an item of a list it names — equals the value, contains it or is contained in it. An
    event type is scored when a criterion names it; a bool or a number field when a criterion names
    the field."""

    def __init__(self, engine: Engine, lists: dict[str, tuple] | None = None):
        lists = lists or {}
        self.crits = []
        for c in engine.criteria:
            text = c.text
            literals = [_unescape(s) for s in _STRING.findall(text)]
            words = set(_WORD.findall(_STRING.sub(" ", text)))
            for w in words & set(lists):
                literals.extend(str(x) for x in lists[w])
            lits = {norm_text(x) for x in literals if str(x).strip()}
            self.crits.append((c.key, words, lits))

    @staticmethod
    def _match(value: str, lits: set[str]) -> bool:
        for lit in lits:
            if lit == value or (len(lit) >= 2 and lit in value) or (len(value) >= 2 and value in lit):
                return True
        return False

    def scored_by(self, sig: tuple, field_type: str | None = None, numeric: bool = False) -> list[str]:
        out = []
        for key, words, lits in self.crits:
            if sig[0] == "event":
                hit = sig[1] in words
            elif sig[0] == "attr":
                hit = sig[1] in words and (sig[2] in words or numeric) and (numeric or self._match(sig[3], lits))
            else:
                hit = sig[1] in words and (field_type in (BOOL, NUMBER) or self._match(sig[2], lits))
            if hit:
                out.append(key)
        return out


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), s)


# ---- replaying the rules, each lead at its own date ---------------------------------------------


def account_model_of(engine: Engine):
    """The engine's compiled `accounts` block (runtime/backends/accounts.py), or None without one."""
    checked = getattr(engine, "checked", None)
    if checked is None or checked.file.first(n.Accounts) is None:
        return None
    from runtime.backends.accounts import account_model

    return account_model(engine)


def replay(engine: Engine, open_leads: Callable[[], Iterable[Lead]], day_of: Callable[[Lead], int],
           scan_leads: Callable[[], Iterable[Lead]] | None = None) -> Iterator[tuple[Lead, Result, int]]:
    """Every lead (in input order) with its Result as of `day_of(lead)`, routed as `leadrules score`
    routes it. Without an accounts block that is `engine.score(lead, day)`. With one, a lead's route may
    depend on its account's band *on that day*, which depends on the account's other leads as of that
    day; so the leads are read three times: the days each account is needed at (`scan_leads`), the
    account's counts at each of those days (`scan_leads`), then the leads themselves (`open_leads`).
    Memory: per account, its days and counts."""
    model = account_model_of(engine)
    score = engine.score
    if model is None:
        for lead in open_leads():
            d = day_of(lead)
            yield lead, score(lead, d), d
        return
    scan = scan_leads or open_leads
    key_of, flags, evaluate, finish = model.key_of, model.flags, model.evaluate, model.finish
    need: dict[str, set[int]] = {}
    for lead in scan():
        k = key_of(lead)
        if k is not None:
            days = need.get(k)
            if days is None:
                need[k] = {day_of(lead)}
            else:
                days.add(day_of(lead))
    counts: dict[tuple[str, int], list[int]] = {}
    for lead in scan():
        k = key_of(lead)
        if k is None:
            continue
        for d in need.get(k, ()):
            fl = flags(lead, score(lead, d), d)
            c = counts.get((k, d))
            if c is None:
                counts[(k, d)] = list(fl)
            else:
                for i, x in enumerate(fl):
                    c[i] += x
    for lead in open_leads():
        d = day_of(lead)
        r = score(lead, d)
        k = key_of(lead)
        c = counts.get((k, d)) if k is not None else None
        acct = evaluate(tuple(c) if c is not None else flags(lead, r, d))
        yield lead, finish(r, k, acct), d


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
        checked = getattr(engine, "checked", None)
        self.mentions = Mentions(engine, getattr(checked, "lists", None))
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
        self.signals: dict[tuple, list[int]] = {}  # signal -> [converting cherry-picks, non-converting]
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
            sig = self.signals
            for s in lead_signals(lead, day, self.schema):
                cnt = sig.get(s)
                if cnt is None:
                    sig[s] = cnt = [0, 0]
                cnt[0 if conv else 1] += 1
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
                        **conversion(conv, worked), "converted_unworked": cu})
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

    def _missed(self) -> dict:
        conv_total = self.cherry[2]
        non_total = self.cherry[1] - self.cherry[2]
        rows = []
        ft = self.schema.fields
        at = self.schema.events
        for sig, (a, b) in self.signals.items():
            if a < self.min_support or conv_total == 0:
                continue
            pa = a / conv_total
            pb = b / non_total if non_total else None
            if pb is not None and pa <= pb:
                continue  # not over-represented among the converting cherry-picks
            lift = pa / pb if pb else None
            p = fisher_exact(a, conv_total - a, b, non_total - b, "greater")
            if sig[0] == "field":
                ftype = ft.get(sig[1])
                numeric = False
            elif sig[0] == "attr":
                ftype = at.get(sig[1], {}).get(sig[2])
                numeric = ftype in (NUMBER, BOOL)
            else:
                ftype, numeric = None, False
            rows.append({"kind": sig[0], "name": sig[1],
                         "attribute": sig[2] if sig[0] == "attr" else None,
                         "value": (sig[3] if sig[0] == "attr" else sig[2]) if sig[0] != "event" else None,
                         "label": signal_label(sig),
                         "converting": a, "not_converting": b,
                         "converting_share": round(pa, 6), "not_converting_share": None if pb is None else round(pb, 6),
                         "lift": None if lift is None else round(lift, 4), "p_value": p,
                         "scored_by": self.mentions.scored_by(sig, ftype, numeric)})
        qs = benjamini_hochberg([r["p_value"] for r in rows])
        for r, q in zip(rows, qs):
            r["q_value"] = float(f"{q:.6g}")
            r["meaningful"] = q < ALPHA
        for r in rows:
            r["p_value"] = float(f"{r['p_value']:.6g}")
        rows.sort(key=lambda r: (r["p_value"], -(r["lift"] if r["lift"] is not None else math.inf), r["label"]))
        top = next((r for r in rows if not r["scored_by"] and r["meaningful"]), None)
        return {"min_support": self.min_support, "converting_cherry_picks": conv_total,
                "non_converting_cherry_picks": non_total, "tested": len(rows),
                "top_unscored": top["label"] if top else None,
                "suggestion": suggest(top, ft, at) if top else None, "signals": rows}

    def _sweep(self, sw: _Sweep) -> dict:
        names = [b for b, _ in sw.bands]
        total_conv = self.converted
        cur = sw.bands[sw.star][1]
        rows = []
        for t in sw.candidates():
            ths = sw.thresholds(t)
            leads = worked = conv = 0
            for (score, bands, acct), (l_, w_, c_) in sw.cells.items():
                if score is None:
                    continue
                band = names[-1]
                for name, th in zip(names, ths):
                    if th is None or score >= th:
                        band = name
                        break
                nb = bands[:sw.gi] + (band,) + bands[sw.gi + 1:]
                if self.route_of(nb, acct)[0] == SALES:
                    leads += l_
                    worked += w_
                    conv += c_
            rows.append({"threshold": t, "current": cur is not None and t == round2(cur), "leads": leads,
                         "worked": worked, "converted": conv, **conversion(conv, worked),
                         "share_of_conversions": round(conv / total_conv, 6) if total_conv else None})
        return {"dimension": sw.dim, "band": names[sw.star], "sales_bands": sw.sales_bands,
                "current_threshold": cur, "account_routes": self.model is not None, "candidates": rows}


def suggest(row: dict, fields: dict[str, str], events: dict[str, dict[str, str]]) -> str | None:
    """A criterion line that would score a missed signal, for a person to edit (points left as +N)."""
    from dsl.printer import ident, quote

    v = row["value"]
    if row["kind"] == "event":
        words = row["name"].replace("_", " ")
    elif row["kind"] == "attr":
        words = f"{v.strip('/') or 'home'} {row['attribute']}"
    else:
        words = f"{row['name'].replace('_', ' ')} {v}"
    label = quote(words[:1].upper() + words[1:])
    if row["kind"] == "event":
        return f"{label} +N each {ident(row['name'])}"
    if row["kind"] == "attr":
        t = events.get(row["name"], {}).get(row["attribute"])
        if t != TEXT:
            return None
        op = "starts with" if v.startswith("/") else "="
        return f"{label} +N each {ident(row['name'])} where {ident(row['attribute'])} {op} {quote(v)}"
    t = fields.get(row["name"])
    if t == TEXT:
        return f"{label} +N when {ident(row['name'])} = {quote(v)}"
    if t == TEXT_LIST:
        return f"{label} +N when {ident(row['name'])} contains {quote(v)}"
    if t == BOOL:
        return f"{label} +N when {ident(row['name'])} = {v}"
    return None


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


__all__ = ["Calibrator", "Mentions", "benjamini_hochberg", "compare", "conversion", "fisher_exact",
           "lead_signals", "norm_path", "number_bucket", "two_proportion_z", "wilson"]
