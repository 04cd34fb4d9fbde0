"""The next step up (`leadrules explain --id ID --next`): the smallest changes that would give a lead a
better grade or route, computed from the rules and then verified with the engine. See docs/over-time.md.

The rules are walked criterion by criterion (the checked tree, not the engine's internals): an `each`
criterion with positive points gives "k more events of this kind" (k from its points, its cap's
headroom and the gap to the next band), a `when` criterion that does not fire gives the field values
(or events) that make its condition true, a `first of` gives each higher tier. The arithmetic of a
single criterion is exact; every proposal is then applied to a copy of the lead and scored by the
engine, and the verified score, grade and route are what is reported (side effects, such as a new
event also stopping "Gone quiet", or a new company size switching one tier off, show up there).
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import replace

from dsl import nodes as n
from dsl import printer

from runtime.analysis.timeline import AtDate, engine_dims, route_label
from runtime.core.model import Result

try:  # the rounding rule, defined once: in the kernel of meaning where it has moved, else the engine
    from runtime.core.kernel import round2
except ImportError:  # pragma: no cover - before runtime/core/kernel.py exists
    from runtime.core.kernel import round2
from runtime.core.model import Event, Lead

# how far ahead "by when" looks: the last day on which the step still reaches the band
HORIZON_DAYS = 365
_ACTION_RANK = {"sales": 0, "qualify": 1, "nurture": 2, "suppress": 3, None: 4}


class Unsolvable(Exception):
    """A condition this walk cannot turn into a concrete value (the reason is shown to the user)."""


# ---- values that make a condition true ------------------------------------------------------------


class _Witness:
    """A field (or event attribute) assignment that makes a condition true: {name: value}, values in
    the form the reader produces (text as written, numbers, date ordinals, bools, tuples for lists)."""

    def __init__(self, checked, lead: Lead | None, asof: int, ev: str | None):
        self.checked = checked
        self.lead = lead
        self.asof = asof
        self.ev = ev
        self.types = dict(checked.events.get(ev, {})) if ev else dict(checked.fields)

    def solve(self, c) -> dict:
        if isinstance(c, n.Paren):
            return self.solve(c.cond)
        if isinstance(c, n.BoolOp):
            if c.op == "and":
                out: dict = {}
                for it in c.items:
                    for k, v in self.solve(it).items():
                        if k in out and out[k] != v:
                            raise Unsolvable(f"`{printer.cond(c)}` asks two values of {k}")
                        out[k] = v
                return out
            reasons = []
            for it in c.items:
                try:
                    return self.solve(it)
                except Unsolvable as e:
                    reasons.append(str(e))
            raise Unsolvable("; ".join(reasons))
        if isinstance(c, n.Compare):
            return self.compare(c)
        if isinstance(c, n.In) and not c.negated:
            items = self.items(c.items)
            if not items:
                raise Unsolvable("an empty list")
            return self.assign(c.value, items[0])
        if isinstance(c, n.TextTest):
            if c.op in ("contains_any", "contains_any_word"):
                items = self.items(c.arg)
                if not items:
                    raise Unsolvable("an empty list")
                return self.assign(c.value, items[0])
            if c.op == "contains_all":
                return self.assign(c.value, " ".join(str(x) for x in self.items(c.arg)))
            if not isinstance(c.arg, n.Literal):
                raise Unsolvable(f"`{printer.cond(c)}` compares two fields")
            return self.assign(c.value, c.arg.value)
        if isinstance(c, n.Matches):
            if re.fullmatch(r"[A-Za-z0-9 _/-]+", c.pattern):
                return self.assign(c.value, c.pattern)
            raise Unsolvable(f"a `matches` pattern ({c.pattern!r}) has no one value to propose")
        if isinstance(c, n.Between) and isinstance(c.low, n.Literal):
            return self.assign(c.value, c.low.value)
        if isinstance(c, n.IsMissing) and c.missing and isinstance(c.value, n.Name):
            return {c.value.name: None}
        raise Unsolvable(f"`{printer.cond(c)}` is not a field value")

    def items(self, ref) -> list:
        if isinstance(ref, n.Name):
            return list(self.checked.lists.get(ref.name, ()))
        return [i.value for i in ref.items]

    def compare(self, c: n.Compare) -> dict:
        left, right, op = c.left, c.right, c.op
        if isinstance(left, n.Literal) and not isinstance(right, n.Literal):
            left, right = right, left
            op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        if not isinstance(right, n.Literal):
            raise Unsolvable(f"`{printer.cond(c)}` compares two values that are not literals")
        v = right.value
        if isinstance(left, n.DaysSince):
            days = {"=": v, ">=": v, ">": v + 1, "<=": v, "<": v - 1}.get(op)
            if days is None or days < 0:
                raise Unsolvable(f"`{printer.cond(c)}`")
            return {left.field: self.asof - int(math.ceil(days) if op in (">", ">=") else math.floor(days))}
        if op == "=":
            return self.assign(left, v)
        if op == "!=":
            raise Unsolvable(f"`{printer.cond(c)}` excludes one value but names none to choose")
        if right.kind != "number":
            raise Unsolvable(f"`{printer.cond(c)}`")
        step = 1 if float(v).is_integer() else 0.01
        return self.assign(left, {">=": v, ">": v + step, "<=": v, "<": v - step}[op])

    def assign(self, target, value) -> dict:
        if isinstance(target, n.Name):
            t = self.types.get(target.name)
            if t is None:
                raise Unsolvable(f"{target.name} is not a {'attribute of ' + self.ev if self.ev else 'field'}")
            if t == "text list":
                value = (str(value),)
            elif t == "number" and isinstance(value, float) and value.is_integer():
                value = int(value)
            elif t == "text":
                value = str(value)
            return {target.name: value}
        if isinstance(target, n.Call) and target.func == "domain" and isinstance(target.arg, n.Name):
            name = target.arg.name
            old = self.lead.fields.get(name) if (self.lead is not None and not self.ev) else None
            local = str(old).rsplit("@", 1)[0].strip() if old and "@" in str(old) else "someone"
            return {name: f"{local}@{str(value).strip().lower()}"}
        if isinstance(target, n.Call) and target.func == "lower":
            return self.assign(target.arg, value)
        raise Unsolvable(f"`{printer.value(target)}` is computed, not a field to set")


# ---- proposals ------------------------------------------------------------------------------------


def _better(base: Result, r: Result, graded: list[str]) -> tuple[bool, bool]:
    """(better grade, better route): a band up in some graded dimension and down in none; a route
    whose action ranks higher (sales, qualify, nurture, suppress), or the same action on an earlier line."""
    if r.disqualified is not None:
        return False, False
    up = down = False
    for dim, bands in graded:
        a, b = bands.index(base.bands[dim]), bands.index(r.bands[dim])
        up |= b < a
        down |= b > a
    rb = (_ACTION_RANK.get(base.route, 4), base.route_line if base.route_line is not None else 999)
    rr = (_ACTION_RANK.get(r.route, 4), r.route_line if r.route_line is not None else 999)
    return up and not down, rr < rb


def _band_of(bands: list[tuple[str, float | None]], score: float) -> str:
    for name, th in bands:
        if th is None or score >= th:
            return name
    return bands[-1][0]


def _event_text(et: str, attrs: dict) -> str:
    if not attrs:
        return et
    return et + " { " + ", ".join(f"{k}: {printer.quote(str(v)) if isinstance(v, str) else v}"
                                   for k, v in attrs.items()) + " }"


def _field_text(k, v, types) -> str:
    if v is None:
        return f"{k} left empty"
    if types.get(k) == "date":
        return f"{k} = {dt.date.fromordinal(v).isoformat()}"
    if isinstance(v, tuple):
        return f"{k} includes {printer.quote(v[0])}"
    if isinstance(v, str):
        return f"{k} = {printer.quote(v)}"
    return f"{k} = {printer.num(v) if not isinstance(v, bool) else str(v).lower()}"


def next_steps(engine, lead: Lead, asof: int, members=()) -> dict:
    """The next step up for `lead` as of `asof` (a date ordinal); `members`: the rest of its account."""
    return _Search(engine, lead, asof, members).run()


class _Search:
    """One lead's search: its result today, the criteria of its graded dimensions, the steps found."""

    def __init__(self, engine, lead: Lead, asof: int, members):
        self.engine = engine
        self.checked = engine.checked
        self.lead = lead
        self.asof = asof
        self.day = dt.date.fromordinal(asof)
        self.at = AtDate(engine, members)
        self.members = list(members)
        self.base = self.at(lead, asof)
        rf = self.checked.file
        self.grades = {g.dim: [(b.name, b.threshold) for b in g.bands] for g in rf.of(n.Grade)}
        self.graded = [(d, [b for b, _ in self.grades[d]]) for d in engine_dims(engine) if d in self.grades]
        self.specs = list(engine.criteria)
        self.dims = {sc.dim: sc for sc in rf.of(n.Score)}
        self.sums: dict[str, float] = {}
        for spec, p in zip(self.specs, self.base.points):
            self.sums[spec.dim] = self.sums.get(spec.dim, 0) + p
        self.steps: list[dict] = []
        self.cands: list[tuple] = []   # field changes, one criterion each: combined when none reaches alone
        self.not_exact: list[str] = []
        # a dimension reset on the as-of day voids the other events of that day (docs/language.md,
        # "Resets"): its event steps are proposed for the next day, never before or on the reset's day
        resets = engine.reset_days(lead, asof)
        self.reset_today = sorted(d for d, day in resets.items() if day == asof)
        for d in self.reset_today:
            self.not_exact.append(f"{d} was reset today ({dt.date.fromordinal(asof).isoformat()}): events of today "
                                  "no longer count there, so its event steps start tomorrow")

    def event_day(self, dim: str) -> int:
        """The first day on which a new event counts in `dim`: today, or tomorrow after a reset today."""
        return self.asof + 1 if dim in self.reset_today else self.asof

    # -- helpers --
    def verify(self, new_lead: Lead, when: int | None = None) -> Result:
        return self.at(new_lead, self.asof if when is None else when)

    def band_index(self, dim: str, band: str) -> int:
        return [b for b, _ in self.grades[dim]].index(band)

    def reaches(self, r: Result, dim: str, band: str) -> bool:
        return r.disqualified is None and self.band_index(dim, r.bands[dim]) <= self.band_index(dim, band)

    def targets(self, dim: str) -> list[tuple[str, float | None]]:
        """The bands above the lead's current one in `dim`, nearest first."""
        bands = self.grades[dim]
        i = self.band_index(dim, self.base.bands[dim])
        return [bands[j] for j in range(i - 1, -1, -1)]

    def predict(self, dim: str, total_gain: float) -> float:
        """The dimension's score with `total_gain` more points: clamped and rounded as the engine does."""
        sc = self.dims[dim]
        return round2(min(max(self.sums[dim] + total_gain, sc.floor), sc.max))

    def with_events(self, et: str, attrs: dict, k: int, on: int) -> Lead:
        evs = [Event(et, on, dict(attrs), dt.date.fromordinal(on).isoformat()) for _ in range(k)]
        return replace(self.lead, events=list(self.lead.events) + evs)

    def with_fields(self, vals: dict) -> Lead:
        fields = dict(self.lead.fields)
        fields.update(vals)
        return replace(self.lead, fields=fields)

    def record(self, group, kind, change, cost, gain, predicted, r: Result, dim, band, **extra) -> bool:
        """Keep a verified step if it is better; `group`: the criteria (CritSpecs) it is about."""
        better_grade, better_route = _better(self.base, r, self.graded)
        if not (better_grade or better_route):
            return False
        mine = {x.index for x in group}
        side = [{"criterion": s2.key, "points": round2(b - a)}
                for s2, a, b in zip(self.specs, self.base.points, r.points) if s2.index not in mine and round2(b - a)]
        self.steps.append({"criterion": " + ".join(x.key for x in group), "dimension": dim, "kind": kind,
                           "change": change, "cost": cost, "points": round2(gain),
                           "target": {"dimension": dim, "band": band}, "predicted_score": predicted,
                           "verified": {"scores": dict(r.scores), "bands": dict(r.bands), "grade": r.grade,
                                        "route": route_label(r.route, r.queue, r.sla)},
                           "exact": predicted == r.scores.get(dim),
                           "better_grade": better_grade, "better_route": better_route,
                           "also_changes": side, **extra})
        return True

    # -- the walk --
    def run(self) -> dict:
        base = self.base
        out = {"version": 1, "id": self.lead.id, "as_of": self.day.isoformat(), "scores": dict(base.scores),
               "bands": dict(base.bands), "grade": None if base.disqualified else base.grade,
               "disqualified": base.disqualified, "route": route_label(base.route, base.queue, base.sla),
               "steps": [], "not_exact": self.not_exact, "considered": 0}
        if base.disqualified is not None:
            self.not_exact.append(f'the lead is disqualified ("{base.disqualified}"): it gets no scores, and no '
                                  "added event or field value lifts a disqualification")
            return out
        if not self.graded:
            self.not_exact.append("the file has no grade blocks: there is no better grade to reach")
            return out
        for spec in self.specs:
            if spec.dim not in self.grades:
                continue
            out["considered"] += 1
            c = spec.node
            if c.kind == "each":
                self.each(spec)
            elif c.kind == "when":
                if c.points > 0 and not base.fired[spec.index]:
                    self.condition(spec, c.cond, c.points)
            else:
                cur = base.points[spec.index]
                for tier in c.tiers:
                    if tier.points > cur and tier.cond is not None:
                        self.condition(spec, tier.cond, tier.points, tier=True)
        self.combine()
        self.steps.sort(key=lambda s: (s["cost"], s["points"], s["criterion"]))
        seen = set()
        for s in self.steps:   # one proposal per (criterion, outcome): the cheapest
            key = (s["criterion"], s["verified"]["grade"], s["verified"]["route"])
            if key not in seen:
                seen.add(key)
                out["steps"].append(s)
        if self.checked.file.first(n.Accounts) is not None:
            self.not_exact.append("account route lines: the account is scored again with the change "
                                  + ("(with its other leads from --leads)" if self.members else
                                     "(the lead as its own account; pass --leads for the rest of it)"))
        self.not_exact.append("negative criteria are not proposed: a step up adds an event or a field value, "
                              "it does not take one away")
        return out

    def each(self, spec) -> None:
        """k more events of the criterion's kind today, for the nearest band up (and, when that band does
        not give a better route, the first band above it that does)."""
        c, i, dim, base = spec.node, spec.index, spec.dim, self.base
        P = c.points
        if P <= 0:
            return
        et = c.filter.event
        if et is None:
            self.not_exact.append(f"{spec.key}: `each event` counts any event; propose one of its kinds instead")
            return
        try:
            attrs = _Witness(self.checked, None, self.asof, et).solve(c.filter.where) if c.filter.where is not None else {}
        except Unsolvable as e:
            self.not_exact.append(f"{spec.key}: no event to propose ({e})")
            return
        attrs = {k: v for k, v in attrs.items() if v is not None}
        cur_raw = base.raw[i]
        # the most events worth proposing: up to the cap, or (uncapped) across the dimension's range
        sc = self.dims[dim]
        room = (c.max - base.points[i]) if c.max is not None else (sc.max - sc.floor)
        kmax = min(max(1, math.ceil(room / P - 1e-9)), 100)

        def points_after(k: int) -> float:
            # the rules' arithmetic: k events today, each worth P (no decay at age 0), then the cap
            pts = cur_raw + k * P
            return min(pts, c.max) if c.max is not None else pts

        found = False
        for band, th in self.targets(dim):
            k_pred = next((k for k in range(1, kmax + 1)
                           if self.predict(dim, points_after(k) - base.points[i]) >= th), None)
            # verify; fewer may do (a new event can also stop a "gone quiet" penalty)
            best = None
            start = self.event_day(dim)
            for k in range(1, (k_pred or kmax) + 1):
                r = self.verify(self.with_events(et, attrs, k, start), start)
                if self.reaches(r, dim, band):
                    best = (k, r)
                    break
            if best is None:
                continue
            k, r = best
            asof = start
            by = _deadline(lambda t: self.reaches(self.verify(self.with_events(et, attrs, k, asof + t), asof + t),
                                                  dim, band))
            done_today = self.with_events(et, attrs, k, asof)
            lasts = _deadline(lambda t: self.reaches(self.verify(done_today, asof + t), dim, band))
            change = (f"{k} more " if k > 1 else "one more ") + _event_text(et, attrs)
            ok = self.record([spec], "events", change, k, r.points[i] - base.points[i],
                             self.predict(dim, points_after(k_pred or k) - base.points[i]), r, dim, band,
                             events=k, event={"type": et, "attrs": attrs}, predicted_events=k_pred,
                             by=None if by is None else dt.date.fromordinal(start + by).isoformat(),
                             by_note=("no deadline within a year" if by is None else
                                      "the last day on which the same events still reach the band"),
                             lasts_until=None if lasts is None else dt.date.fromordinal(start + lasts).isoformat(),
                             **({"on": dt.date.fromordinal(start).isoformat()} if start != self.asof else {}))
            if ok and (self.steps[-1]["better_route"] or found):
                break
            found = found or ok

    def condition(self, spec, cond, new_points: float, tier: bool = False) -> None:
        """A `when` criterion (or a `first of` tier) that does not hold yet: the field values (or the one
        event) that make it hold, verified against the nearest band up it reaches."""
        i, dim, base = spec.index, spec.dim, self.base
        when = None
        try:
            has = _has_event(cond)
            if has is not None:
                et, where = has
                attrs = _Witness(self.checked, None, self.asof, et).solve(where) if where is not None else {}
                attrs = {k: v for k, v in attrs.items() if v is not None}
                when = self.event_day(dim)
                new = self.with_events(et, attrs, 1, when)
                change, cost, kind, vals = f"one {_event_text(et, attrs)}", 1, "events", None
            else:
                vals = _Witness(self.checked, self.lead, self.asof, None).solve(cond)
                new = self.with_fields(vals)
                change = ", ".join(_field_text(k, v, self.checked.fields) for k, v in vals.items())
                cost, kind = len(vals), "fields"
        except Unsolvable as e:
            what = spec.key + (f" (tier worth {printer.points(new_points)})" if tier else "")
            self.not_exact.append(f"{what}: {e}")
            return
        r = self.verify(new, when if kind == "events" else None)
        if kind == "fields" and r.disqualified is None:
            # for combining: what the change did to the dimension, side effects included (a new company
            # size that switches one tier on may switch another off)
            self.cands.append((spec, vals, r.scores[dim] - base.scores[dim]))
        extra = {"events": 1} if kind == "events" else {"fields": cost}
        if kind == "events" and when != self.asof:
            extra["on"] = dt.date.fromordinal(when).isoformat()
        gain = r.points[i] - base.points[i]
        predicted = self.predict(dim, new_points - base.points[i])
        for band, _th in self.targets(dim):
            if self.reaches(r, dim, band) and self.record([spec], kind, change, cost, gain, predicted, r, dim, band,
                                                          **extra):
                return
        # the points alone reach no band up; a better route is still worth a step (kept only then)
        self.record([spec], kind, change, cost, gain, predicted, r, dim, base.bands[dim], **extra)

    def combine(self) -> None:
        """When no single field change reaches the next band of a dimension, the fewest that do together:
        the biggest net gains first (one per criterion, no two asking different values of one field)."""
        by_dim: dict[str, dict] = {}
        for spec, vals, gain in self.cands:
            best = by_dim.setdefault(spec.dim, {})
            if gain > 0 and (spec.index not in best or best[spec.index][2] < gain):
                best[spec.index] = (spec, vals, gain)
        for dim, best in by_dim.items():
            order = sorted(best.values(), key=lambda c: (-c[2], c[0].index))
            if len(order) < 2:
                continue
            for band, th in self.targets(dim):
                if any(s["dimension"] == dim and s["kind"] == "fields"
                       and self.band_index(dim, s["verified"]["bands"][dim]) <= self.band_index(dim, band)
                       for s in self.steps):
                    break   # one change already reaches it
                chosen, vals, total = [], {}, 0.0
                for spec, v, gain in order:
                    if any(k in vals and vals[k] != x for k, x in v.items()):
                        continue
                    chosen.append(spec)
                    vals.update(v)
                    total += gain
                    if self.predict(dim, total) >= th:
                        break
                else:
                    continue
                if len(chosen) < 2:
                    continue
                r = self.verify(self.with_fields(vals))
                if self.reaches(r, dim, band):
                    change = ", ".join(_field_text(k, v, self.checked.fields) for k, v in vals.items())
                    gain = sum(r.points[s.index] - self.base.points[s.index] for s in chosen)
                    self.record(chosen, "fields", change, len(vals), gain, self.predict(dim, total), r, dim, band,
                                fields=len(vals))
                    break


def _has_event(cond):
    """`has EVENT [where …]` (possibly in parentheses): (type, where), else None."""
    while isinstance(cond, n.Paren):
        cond = cond.cond
    if isinstance(cond, n.Has) and cond.filter.event is not None and cond.filter.within is None:
        return cond.filter.event, cond.filter.where
    if isinstance(cond, n.Has):
        if cond.filter.event is None:
            raise Unsolvable("`has event` counts any event")
        return cond.filter.event, cond.filter.where
    return None


def _deadline(holds) -> int | None:
    """The last day offset t (0 … HORIZON_DAYS) of the run starting at 0 on which `holds(t)`; None when it
    holds over the whole horizon. Scanned by doubling, then bisected (decay makes it monotone)."""
    if not holds(0):
        return 0
    lo, step = 0, 1
    while lo + step <= HORIZON_DAYS:
        if not holds(lo + step):
            hi = lo + step
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if holds(mid):
                    lo = mid
                else:
                    hi = mid
            return lo
        lo += step
        step *= 2
    if holds(HORIZON_DAYS):
        return None
    hi = HORIZON_DAYS
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if holds(mid):
            lo = mid
        else:
            hi = mid
    return lo
