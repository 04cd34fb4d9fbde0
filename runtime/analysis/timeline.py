"""A lead over time (`leadrules explain --from D1 --to D2`): its scores, grade and route on each date,
and for each date on which the grade or route changed, what changed it — the events that arrived
since the previous date, or decay and time alone. See docs/over-time.md.

Also the date arithmetic and the account-aware scoring at one date that runtime/analysis/load.py
and runtime/analysis/nextstep.py share.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Iterable

from runtime.backends.accounts import account_model
from runtime.core.model import Result

try:  # the rounding rule, defined once: in the kernel of meaning where it has moved, else the engine
    from runtime.core.kernel import round2
except ImportError:  # pragma: no cover - before runtime/core/kernel.py exists
    from runtime.core.kernel import round2
from runtime.core.errors import Failure
from runtime.core.model import Lead

# A range bigger than this is refused (exit 2): a timeline or a load report over thousands of dates
# is never what was meant, and a simulate over them costs dates x leads scorings (docs/over-time.md).
MAX_DATES = 1000


def date_range(start: dt.date, end: dt.date, every: int) -> list[dt.date]:
    """`start`, `start + every`, … up to `end`; `end` itself is always the last date (the last step
    may then be shorter). Errors are `Failure`s (exit 2) with a hint."""
    if every < 1:
        raise Failure(f"--every {every}: the step must be at least 1 day")
    if start > end:
        raise Failure(f"--from {start.isoformat()} is after --to {end.isoformat()}: give the earlier date first")
    span = (end - start).days
    count = span // every + 1 + (1 if span % every else 0)
    if count > MAX_DATES:
        need = -(-span // (MAX_DATES - 1))
        raise Failure(f"--from {start.isoformat()} --to {end.isoformat()} --every {every} gives {count:,} dates; "
                      f"at most {MAX_DATES:,} are allowed: use --every {need} or a shorter range")
    days = [start + dt.timedelta(days=k) for k in range(0, span + 1, every)]
    if days[-1] != end:
        days.append(end)
    return days


def route_label(route, queue, sla) -> str:
    if route is None:
        return "no route"
    s = route + (f' "{queue}"' if queue else "")
    return s + (f" within {sla}" if sla else "")


class AtDate:
    """Score one lead at any date, routed with its account when the file has an accounts block.

    `members`: the other leads of the lead's account (same key; from the leads file), scored at the
    same date so that the account's band is the one it had then. Without them the lead is its own
    account, as in `explain --lead`."""

    def __init__(self, engine, members: Iterable[Lead] = ()):
        self.engine = engine
        self.model = account_model(engine)
        self.members = list(members)

    def __call__(self, lead: Lead, asof: int) -> Result:
        r = self.engine.score(lead, asof)
        m = self.model
        if m is None:
            return r
        key = m.key_of(lead)
        counts = list(m.flags(lead, r, asof))
        if key is not None:
            for o in self.members:
                if o.id == lead.id:
                    continue
                fl = m.flags(o, self.engine.score(o, asof), asof)
                counts = [a + b for a, b in zip(counts, fl)]
        return m.finish(r, key, m.evaluate(tuple(counts)))


def account_members(engine, lead: Lead, leads: Iterable[Lead]) -> list[Lead]:
    """The leads of `leads` in `lead`'s account (none without an accounts block or a key)."""
    m = account_model(engine)
    if m is None:
        return []
    key = m.key_of(lead)
    if key is None:
        return []
    return [o for o in leads if o.id != lead.id and m.key_of(o) == key]


def _state(r: Result, d: dt.date) -> dict:
    s = {"date": d.isoformat(), "scores": dict(r.scores), "bands": dict(r.bands),
         "grade": None if r.disqualified else r.grade, "disqualified": r.disqualified,
         "route": r.route, "queue": r.queue, "sla": r.sla}
    if r.account_bands is not None:
        s["account_bands"] = dict(r.account_bands)
    return s


def _event_text(e) -> str:
    day = dt.date.fromordinal(e.day).isoformat()
    return f"{e.type} on {day}"


def _crit_deltas(engine, before: Result, after: Result) -> list[dict]:
    out = []
    for spec, a, b, fa, fb in zip(engine.criteria, before.points, after.points, before.fired, after.fired):
        d = round2(b - a)
        if d:
            row = {"dimension": spec.dim, "criterion": spec.key, "points": d}
            if fa != fb:
                row["fires"] = bool(fb)
            out.append(row)
    return out


def _change(engine, at: AtDate, lead: Lead, p: dt.date, d: dt.date, rp: Result, rd: Result) -> dict:
    """Why the lead's result differs between date `p` and the later date `d`.

    The lead is scored at `d` without the events of (p, d] (`old`): `old - rp` is what time alone did
    ("decay": decay, `days since`, `within` windows), `rd - old` what the new events did ("events"). Both are differences
    of the engine's own rounded scores, so they add up to the change exactly."""
    po, do = p.toordinal(), d.toordinal()
    new = [e for e in lead.events if po < e.day <= do]
    old_lead = replace(lead, events=[e for e in lead.events if e.day <= po]) if new else lead
    ro = at(old_lead, do) if new else rd
    dims = []
    for dim in engine_dims(engine):
        a, b, o = rp.scores.get(dim), rd.scores.get(dim), ro.scores.get(dim)
        if a is None or b is None:
            continue
        if a == b and rp.bands.get(dim) == rd.bands.get(dim):
            continue
        row = {"dimension": dim, "from": a, "to": b,
               "events": round2(b - o) if o is not None else None,
               # the rest: decay, and any other effect of time passing (`days since`, `within`)
               "decay": round2(o - a) if o is not None else None,
               "half_life_days": half_life(engine, dim)}
        ba, bb = rp.bands.get(dim), rd.bands.get(dim)
        row["band"] = [ba, bb] if ba != bb else None
        dims.append(row)
    events = []
    older = [x for x in lead.events if x.day <= po]
    # `reset on` (docs/language.md, "Resets"): the reset of each dimension as of `d`, all events known;
    # `mine[i]`: the dimensions the i-th new event is a reset event of
    has_resets = new and any(dim.resets for dim in engine.plan.dimensions)
    resets = engine.reset_days(replace(lead, events=older + new), do) if has_resets else {}
    mine = [{dim for dim, day in engine.reset_days(replace(lead, events=older + [e]), do).items() if day == e.day}
            if resets else set() for e in new]
    reset_evs = [e for e, m in zip(new, mine) if any(resets.get(dim) == e.day for dim in m)]
    for e, m in zip(new, mine):
        row = {"type": e.type, "at": e.at or dt.date.fromordinal(e.day).isoformat(),
               "date": dt.date.fromordinal(e.day).isoformat(), "attrs": dict(e.attrs), "text": _event_text(e)}
        if any(x is e for x in reset_evs):  # it voided the dimension's past
            row["resets"] = [dim for dim in resets if dim in m and resets[dim] == e.day]
        # a reset of the window voids this event in these dimensions (on or after its day)
        voided = [dim for dim, day in resets.items() if e.day < day or (e.day == day and dim not in m)]
        if voided:
            # its effect on top of the older events *and the window's resets*: what it adds at `d`
            row["voided_in"] = voided
            base = older + [x for x in reset_evs if x is not e]
            ro_e, re_ = at(replace(lead, events=base), do), at(replace(lead, events=base + [e]), do)
        else:
            ro_e, re_ = ro, at(replace(lead, events=older + [e]), do)
        if re_.disqualified != ro_e.disqualified:
            # a disqualified lead has no scores: the event's effect is the disqualification itself
            row["criteria"] = []
            row["disqualifies"] = re_.disqualified
        else:
            row["criteria"] = _crit_deltas(engine, ro_e, re_) if re_.disqualified is None else []
        events.append(row)
    ch = {"date": d.isoformat(), "previous_date": p.isoformat(), "dimensions": dims, "events": events,
          "time_criteria": _crit_deltas(engine, rp, ro) if rp.disqualified is None and ro.disqualified is None else []}
    ga = None if rp.disqualified else rp.grade
    gb = None if rd.disqualified else rd.grade
    ch["grade"] = [ga, gb] if ga != gb else None
    ch["disqualified"] = [rp.disqualified, rd.disqualified] if rp.disqualified != rd.disqualified else None
    if rp.disqualified != rd.disqualified:
        ch["disqualified_by"] = "events" if ro.disqualified == rp.disqualified else "time"
    ra, rb = (rp.route, rp.queue, rp.sla), (rd.route, rd.queue, rd.sla)
    ch["route"] = {"from": route_label(*ra), "to": route_label(*rb)} if ra != rb else None
    if rp.account_bands is not None and rp.account_bands != rd.account_bands:
        ch["account_bands"] = [dict(rp.account_bands), dict(rd.account_bands)]
    return ch


def engine_dims(engine) -> list[str]:
    """The lead score dimensions, in file order (from the checked tree, not the engine's internals)."""
    from dsl import nodes as n

    return [s.dim for s in engine.checked.file.of(n.Score)]


def half_life(engine, dim: str) -> float | None:
    from dsl import nodes as n

    for s in engine.checked.file.of(n.Score):
        if s.dim == dim:
            return s.half_life.days if s.half_life is not None else None
    return None


def timeline(engine, lead: Lead, dates: list[dt.date], members: Iterable[Lead] = ()) -> dict:
    """The lead's state on each date and the dates on which its grade, disqualification or route
    changed (with the dimension changes split into events and time, and the events named)."""
    at = AtDate(engine, members)
    results = [at(lead, d.toordinal()) for d in dates]
    states = [_state(r, d) for r, d in zip(results, dates)]
    changes = []
    for i in range(1, len(dates)):
        rp, rd = results[i - 1], results[i]
        if (rp.grade, rp.disqualified, rp.route, rp.queue, rp.sla) == (rd.grade, rd.disqualified, rd.route, rd.queue, rd.sla):
            continue
        changes.append(_change(engine, at, lead, dates[i - 1], dates[i], rp, rd))
    every = (dates[1] - dates[0]).days if len(dates) > 1 else 1
    return {"version": 1, "id": lead.id, "from": dates[0].isoformat(), "to": dates[-1].isoformat(),
            "every_days": every, "dimensions": engine_dims(engine), "dates": states, "changes": changes,
            "events": {"total": len(lead.events),
                       "in_range": sum(1 for e in lead.events if dates[0].toordinal() < e.day <= dates[-1].toordinal())}}
