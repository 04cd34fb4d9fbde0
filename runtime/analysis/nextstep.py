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
from runtime.backends.closure import Result

try:  # the rounding rule, defined once: in the kernel of meaning where it has moved, else the engine
    from runtime.core.kernel import round2
except ImportError:  # pragma: no cover - before runtime/core/kernel.py exists
    from runtime.backends.closure import round2
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
    checked = engine.checked
    rf = checked.file
    at = AtDate(engine, members)
    base = at(lead, asof)
    day = dt.date.fromordinal(asof)
    out = {"version": 1, "id": lead.id, "as_of": day.isoformat(), "scores": dict(base.scores),
           "bands": dict(base.bands), "grade": None if base.disqualified else base.grade,
           "disqualified": base.disqualified, "route": route_label(base.route, base.queue, base.sla),
           "steps": [], "not_exact": [], "considered": 0}
    if base.disqualified is not None:
        out["not_exact"].append(f'the lead is disqualified ("{base.disqualified}"): it gets no scores, and no '
                                "added event or field value lifts a disqualification")
        return out
    grades = {g.dim: [(b.name, b.threshold) for b in g.bands] for g in rf.of(n.Grade)}
    graded = [(d, [b for b, _ in grades[d]]) for d in engine_dims(engine) if d in grades]
    if not graded:
        out["not_exact"].append("the file has no grade blocks: there is no better grade to reach")
        return out
    specs = list(engine.criteria)
    dims = {s.dim: s for s in rf.of(n.Score)}
    sums = {}
    for spec, p in zip(specs, base.points):
        sums[spec.dim] = sums.get(spec.dim, 0) + p
    steps = []
    cands = []   # field changes, one criterion each: combined when no single one reaches a band

    def verify(new_lead: Lead, when: int = asof) -> Result:
        return at(new_lead, when)

    def reaches(r: Result, dim: str, band: str) -> bool:
        names = [b for b, _ in grades[dim]]
        return r.disqualified is None and names.index(r.bands[dim]) <= names.index(band)

    def targets(dim: str):
        """The bands above the lead's current one in `dim`, nearest first."""
        names = [b for b, _ in grades[dim]]
        i = names.index(base.bands[dim])
        return [(names[j], grades[dim][j][1]) for j in range(i - 1, -1, -1)]

    def predict(dim: str, i: int, new_points: float) -> float:
        sc = dims[dim]
        s = sums[dim] - base.points[i] + new_points
        return round2(min(max(s, sc.floor), sc.max))

    def add_events(et: str, attrs: dict, k: int, on: int) -> Lead:
        evs = [Event(et, on, dict(attrs), dt.date.fromordinal(on).isoformat()) for _ in range(k)]
        return replace(lead, events=list(lead.events) + evs)

    def record(spec, kind, change, cost, gain, predicted, r: Result, dim, band, **extra):
        better_grade, better_route = _better(base, r, graded)
        if not (better_grade or better_route):
            return False
        group = spec if isinstance(spec, list) else [spec]
        mine = {x.index for x in group}
        side = []
        for s2, a, b in zip(specs, base.points, r.points):
            if s2.index not in mine and round2(b - a):
                side.append({"criterion": s2.key, "points": round2(b - a)})
        steps.append({"criterion": " + ".join(x.key for x in group), "dimension": dim, "kind": kind,
                      "change": change, "cost": cost,
                      "points": round2(gain), "target": {"dimension": dim, "band": band},
                      "predicted_score": predicted, "verified": {
                          "scores": dict(r.scores), "bands": dict(r.bands), "grade": r.grade,
                          "route": route_label(r.route, r.queue, r.sla)},
                      "exact": predicted == r.scores.get(dim),
                      "better_grade": better_grade, "better_route": better_route,
                      "also_changes": side, **extra})
        return True

    for spec in specs:
        dim = spec.dim
        if dim not in grades:
            continue
        c = spec.node
        i = spec.index
        out["considered"] += 1
        if c.kind == "each":
            P = c.points
            if P <= 0:
                continue
            et = c.filter.event
            if et is None:
                out["not_exact"].append(f"{spec.key}: `each event` counts any event; propose one of its kinds instead")
                continue
            try:
                attrs = _Witness(checked, None, asof, et).solve(c.filter.where) if c.filter.where is not None else {}
            except Unsolvable as e:
                out["not_exact"].append(f"{spec.key}: no event to propose ({e})")
                continue
            attrs = {k: v for k, v in attrs.items() if v is not None}
            cur_raw = base.raw[i]
            # the most events worth proposing: up to the cap, or (uncapped) across the dimension's range
            room = (c.max - base.points[i]) if c.max is not None else (dims[dim].max - dims[dim].floor)
            kmax = min(max(1, math.ceil(room / P - 1e-9)), 100)
            found_route = False
            for band, th in targets(dim):
                # the rules' arithmetic: k events today, each worth P (no decay at age 0), then the cap
                k_pred = None
                for k in range(1, kmax + 1):
                    pts = cur_raw + k * P
                    if c.max is not None:
                        pts = min(pts, c.max)
                    if predict(dim, i, pts) >= th:
                        k_pred = k
                        break
                # verify; fewer may do (a new event can also stop a "gone quiet" penalty)
                best = None
                for k in range(1, (k_pred or kmax) + 1):
                    r = verify(add_events(et, attrs, k, asof))
                    if reaches(r, dim, band):
                        best = (k, r)
                        break
                if best is None:
                    continue
                k, r = best
                pts = cur_raw + (k_pred or k) * P
                pts = min(pts, c.max) if c.max is not None else pts
                by = _deadline(lambda t: reaches(verify(add_events(et, attrs, k, asof + t), asof + t), dim, band))
                done_today = add_events(et, attrs, k, asof)
                lasts = _deadline(lambda t: reaches(verify(done_today, asof + t), dim, band))
                ok = record(spec, "events", f"{k} more {_event_text(et, attrs)}" if k > 1 else
                            f"one more {_event_text(et, attrs)}", k, r.points[i] - base.points[i],
                            predict(dim, i, pts), r, dim, band, events=k, event={"type": et, "attrs": attrs},
                            predicted_events=k_pred,
                            by=None if by is None else (day + dt.timedelta(days=by)).isoformat(),
                            by_note=("no deadline within a year" if by is None else
                                     "the last day on which the same events still reach the band"),
                            lasts_until=None if lasts is None else (day + dt.timedelta(days=lasts)).isoformat())
                if ok and (steps[-1]["better_route"] or found_route):
                    break
                found_route = found_route or ok
        elif c.kind == "when":
            if c.points <= 0 or base.fired[i]:
                continue
            cand = _when_step(spec, c.cond, c.points, checked, lead, asof, base, dims, grades, targets, predict,
                              verify, reaches, record, out, i, dim)
            if cand:
                cands.append(cand)
        else:
            cur = base.points[i]
            for tier in c.tiers:
                if tier.points <= cur or tier.cond is None:
                    continue
                cand = _when_step(spec, tier.cond, tier.points - cur, checked, lead, asof, base, dims, grades,
                                  targets, predict, verify, reaches, record, out, i, dim, tier_points=tier.points)
                if cand:
                    cands.append(cand)
    _combine(cands, steps, lead, base, dims, sums, targets, verify, reaches, record, checked)
    steps.sort(key=lambda s: (s["cost"], s["points"], s["criterion"]))
    # one proposal per (criterion, outcome): the cheapest
    seen = set()
    for s in steps:
        key = (s["criterion"], s["verified"]["grade"], s["verified"]["route"])
        if key not in seen:
            seen.add(key)
            out["steps"].append(s)
    if any(isinstance(x, n.Accounts) for x in rf.items):
        out["not_exact"].append("account route lines: the account is scored again with the change "
                                + ("(with its other leads from --leads)" if members else
                                   "(the lead as its own account; pass --leads for the rest of it)"))
    out["not_exact"].append("negative criteria are not proposed: a step up adds an event or a field value, "
                            "it does not take one away")
    return out


def _when_step(spec, cond, gain, checked, lead, asof, base, dims, grades, targets, predict, verify, reaches, record,
               out, i, dim, tier_points=None):
    """A `when` criterion (or a `first of` tier) that does not hold yet: the field values (or the one
    event) that make it hold, verified against the next band up that the points reach."""
    change = None
    try:
        has = _has_event(cond)
        if has is not None:
            et, where = has
            attrs = _Witness(checked, None, asof, et).solve(where) if where is not None else {}
            attrs = {k: v for k, v in attrs.items() if v is not None}
            new = replace(lead, events=list(lead.events) + [Event(et, asof, attrs, dt.date.fromordinal(asof).isoformat())])
            change, cost, kind = f"one {_event_text(et, attrs)}", 1, "events"
        else:
            vals = _Witness(checked, lead, asof, None).solve(cond)
            fields = dict(lead.fields)
            fields.update(vals)
            new = replace(lead, fields=fields)
            types = checked.fields
            change = ", ".join(_field_text(k, v, types) for k, v in vals.items())
            cost, kind = len(vals), "fields"
    except Unsolvable as e:
        what = f"{spec.key}" + (f" (tier worth {printer.points(tier_points)})" if tier_points is not None else "")
        out["not_exact"].append(f"{what}: {e}")
        return
    r = verify(new)
    new_pts = tier_points if tier_points is not None else spec.node.points
    # for combining: what the change did to the dimension, side effects included (a new company size
    # that switches one tier on may switch another off)
    cand = (spec, dim, vals, r.scores[dim] - base.scores[dim]) if kind == "fields" and r.disqualified is None else None
    for band, th in targets(dim):
        if reaches(r, dim, band):
            if record(spec, kind, change, cost, r.points[i] - base.points[i], predict(dim, i, new_pts), r, dim, band,
                      **({"events": 1} if kind == "events" else {"fields": cost})):
                return cand
    # the points alone do not reach a band; a route may still improve (kept only if it does)
    record(spec, kind, change, cost, r.points[i] - base.points[i], predict(dim, i, new_pts), r, dim, base.bands[dim],
           **({"events": 1} if kind == "events" else {"fields": cost}))
    return cand


def _combine(cands, steps, lead, base, dims, sums, targets, verify, reaches, record, checked):
    """When no single field change reaches the next band of a dimension, the fewest that do together:
    the biggest gains first (one per criterion, no two asking different values of one field)."""
    by_dim: dict[str, list] = {}
    for spec, dim, vals, gain in cands:
        best = by_dim.setdefault(dim, {})
        if gain > 0 and (spec.index not in best or best[spec.index][3] < gain):
            best[spec.index] = (spec, dim, vals, gain)
    for dim, best in by_dim.items():
        order = sorted(best.values(), key=lambda c: (-c[3], c[0].index))
        if len(order) < 2:
            continue
        sc = dims[dim]
        for band, th in targets(dim):
            if any(s["dimension"] == dim and s["kind"] == "fields" and reaches_band(s, dim, band, checked)
                   for s in steps):
                break   # one change already reaches it
            chosen, vals, total = [], {}, 0.0
            for spec, _d, v, gain in order:
                if any(k in vals and vals[k] != x for k, x in v.items()):
                    continue
                chosen.append(spec)
                vals.update(v)
                total += gain
                predicted = round2(min(max(sums[dim] + total, sc.floor), sc.max))
                if predicted >= th:
                    break
            else:
                continue
            if len(chosen) < 2:
                continue
            fields = dict(lead.fields)
            fields.update(vals)
            r = verify(replace(lead, fields=fields))
            if reaches(r, dim, band):
                change = ", ".join(_field_text(k, v, checked.fields) for k, v in vals.items())
                gain = sum(r.points[s.index] - base.points[s.index] for s in chosen)
                record(chosen, "fields", change, len(vals), gain, predicted, r, dim, band, fields=len(vals))
                break


def reaches_band(step: dict, dim: str, band: str, checked) -> bool:
    """Whether a recorded step's verified band in `dim` is `band` or better."""
    for g in checked.file.of(n.Grade):
        if g.dim == dim:
            names = [b.name for b in g.bands]
            return names.index(step["verified"]["bands"][dim]) <= names.index(band)
    return False


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
