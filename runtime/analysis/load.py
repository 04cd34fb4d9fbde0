"""The sales load over time (`leadrules simulate --from D1 --to D2 [--every N]`): for each date, how
many leads newly enter each route and queue, how many leave, and for queues with an SLA how many
fall due per day; and the `expect new leads in route … per day …` guardrails. See docs/over-time.md.

One pass over the input: each lead is read once and scored at every date (`engine.score(lead, day)`
per date), so the cost is dates x leads scorings and one read of the file. With an accounts block a
lead's route at a date also depends on its account's band at that date: each lead then keeps its
account key and its sequence of grades (interned: most leads share a few sequences) until the end,
when the accounts are scored per date and the leads routed.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from fractions import Fraction
from typing import Any

from dsl import nodes as n
from dsl import printer

from runtime.backends.accounts import account_model
from runtime.core.kernel import norm
from runtime.core.model import Lead

_HOURS = {"hour": 1, "hours": 1, "day": 24, "days": 24, "week": 168, "weeks": 168}


def sla_due_days(sla: str | None) -> int | None:
    """Whole days from the day a lead enters a queue to the day it is due. The lead is taken to enter
    at the start of its entry date (UTC), so the due day is that instant + the SLA: `within 1 hour`
    and `within 4 hours` are due the same day, `within 1 day` and `within 24 hours` the next day,
    `within 36 hours` the next day too, `within 2 days` two days later. None: no SLA."""
    if not sla:
        return None
    amount, unit = sla.split()
    return int(Fraction(amount) * _HOURS[unit] // 24)


Key = tuple  # (route, queue, sla) — what a lead is routed to


def route_keys(checked) -> list[Key]:
    """Every (route, queue, sla) a route line can give, in route-block order."""
    route = checked.file.first(n.Route)
    out: list[Key] = []
    for line in (route.lines if route else ()):
        a = line.action
        k = (a.kind, a.queue, a.sla.text() if a.sla else None)
        if k not in out:
            out.append(k)
    return out


def key_label(k: Key) -> str:
    if k[0] is None:
        return "no route"
    return k[0] + (f' "{k[1]}"' if k[1] else "")


class Load:
    """Counts per date and route key, filled one lead at a time (`add`), completed by `finish`."""

    def __init__(self, engine, dates: list[dt.date], every: int):
        self.engine = engine
        self.dates = dates
        # the state before the first date: one step earlier, so the first date's entries mean the same
        # as every other date's (leads that entered in the period ending on it)
        self.baseline = dates[0] - dt.timedelta(days=every)
        self.ords = [self.baseline.toordinal()] + [d.toordinal() for d in dates]
        self.days = [b - a for a, b in zip(self.ords, self.ords[1:])]   # length of each date's period
        nd = len(dates)
        self.entered = [Counter() for _ in range(nd)]
        self.left = [Counter() for _ in range(nd)]
        self.standing = [Counter() for _ in range(nd)]
        self.due: Counter = Counter()          # (key, due date ordinal) -> leads
        self.scored = 0
        self.model = account_model(engine)
        self._acct: dict[str, list[list[int]]] = {}   # account key -> per date flag counts
        self._held: list[tuple[str, tuple]] = []      # (account key, ((grade, disqualified), …))
        self._seqs: dict[tuple, tuple] = {}
        self._sla_days: dict[Any, int | None] = {}
        self.finished = False

    def add(self, lead: Lead) -> None:
        score = self.engine.score
        ords = self.ords
        rs = [score(lead, o) for o in ords]
        self.scored += 1
        m = self.model
        if m is None:
            self._count([(r.route, r.queue, r.sla) for r in rs])
            return
        key = m.key_of(lead)
        if key is None:  # its own account: routed now
            keys = []
            for r, o in zip(rs, ords):
                r = m.finish(r, None, m.evaluate(m.flags(lead, r, o)))
                keys.append((r.route, r.queue, r.sla))
            self._count(keys)
            return
        acc = self._acct.get(key)
        if acc is None:
            acc = self._acct[key] = [[0] * m.nf for _ in ords]
        for i, (r, o) in enumerate(zip(rs, ords)):
            for j, f in enumerate(m.flags(lead, r, o)):
                if f:
                    acc[i][j] += 1
        seq = tuple((None if r.disqualified else r.grade, r.disqualified is not None) for r in rs)
        seq = self._seqs.setdefault(seq, seq)
        self._held.append((key, seq))

    def finish(self) -> None:
        """Route the leads held for their accounts (a no-op without an accounts block)."""
        if self.finished:
            return
        self.finished = True
        m = self.model
        if m is None:
            return
        for key, seq in self._held:
            acc = self._acct[key]
            keys = []
            for i, (grade, disq) in enumerate(seq):
                bands = m.evaluate(tuple(acc[i])).band_names
                route, queue, sla, _li = m.route(grade, disq, bands)
                keys.append((route, queue, sla))
            self._count(keys)
        self._held.clear()

    def _count(self, keys: list[Key]) -> None:
        prev = keys[0]
        for i, k in enumerate(keys[1:]):
            self.standing[i][k] += 1
            if k != prev:
                self.entered[i][k] += 1
                self.left[i][prev] += 1
                sd = self._sla_days.get(k[2], False)
                if sd is False:
                    sd = self._sla_days[k[2]] = sla_due_days(k[2])
                if sd is not None:
                    self.due[(k, self.ords[i + 1] + sd)] += 1
            prev = k

    # -- the report --
    def keys(self, checked) -> list[Key]:
        ks = route_keys(checked)
        seen = set().union(*self.standing, *self.left) if self.dates else set()
        return ks + [k for k in seen if k not in ks]

    def report(self, checked) -> dict:
        self.finish()
        keys = self.keys(checked)
        dates = []
        for i, d in enumerate(self.dates):
            rows = []
            for k in keys:
                rows.append({"route": k[0], "queue": k[1], "sla": k[2], "entered": self.entered[i][k],
                             "left": self.left[i][k], "standing": self.standing[i][k],
                             "due": self.due.get((k, self.ords[i + 1]), 0)})
            dates.append({"date": d.isoformat(), "days": self.days[i], "routes": rows})
        last = self.ords[-1]
        due = [{"date": dt.date.fromordinal(o).isoformat(), "route": k[0], "queue": k[1], "sla": k[2],
                "count": c, "after_range": o > last}
               for (k, o), c in sorted(self.due.items(), key=lambda kv: (kv[0][1], keys.index(kv[0][0])))]
        totals = [{"route": k[0], "queue": k[1], "sla": k[2], "sla_due_days": sla_due_days(k[2]),
                   "entered": sum(c[k] for c in self.entered), "left": sum(c[k] for c in self.left),
                   "due_in_range": sum(c for (kk, o), c in self.due.items() if kk == k and o <= last)}
                  for k in keys]
        return {"from": self.dates[0].isoformat(), "to": self.dates[-1].isoformat(),
                "baseline": self.baseline.isoformat(), "dates": dates, "totals": totals, "due": due}

    def entered_in(self, i: int, action: str, queue: str | None) -> int:
        q = norm(queue)
        return sum(c for k, c in self.entered[i].items()
                   if k[0] == action and (queue is None or norm(k[1]) == q))


def flow_expect_text(e: n.FlowExpect) -> str:
    subj = f"route {e.arg}" + (f" {printer.quote(e.queue)}" if e.queue is not None else "")
    if e.bound == "between":
        bound = f"between {printer.num(e.low)} and {printer.num(e.high)}"
    elif e.bound == "at_most":
        bound = f"at most {printer.num(e.high)}"
    else:
        bound = f"at least {printer.num(e.low)}"
    return f"new leads in {subj} per day {bound}"


def _rate(x: Fraction) -> str:
    v = float(x)
    return f"{v:.2f}".rstrip("0").rstrip(".")


def check_flow(e: n.FlowExpect, load: Load) -> dict:
    """One `expect new leads in route … per day …`: every date's entries divided by the days of its
    period must be within the bound; the report names the worst date."""
    lo = None if e.low is None else Fraction(repr(float(e.low)))
    hi = None if e.high is None else Fraction(repr(float(e.high)))
    res: dict[str, Any] = {"expect": flow_expect_text(e), "route": e.arg, "queue": e.queue, "bound": e.bound,
                           "low": e.low, "high": e.high, "line": e.span.line or None, "passed": None,
                           "dates_failed": 0, "worst": None, "message": ""}
    if load.scored == 0:
        res.update(passed=False, message="no leads were scored, so the load cannot be checked")
        return res
    rates = [(Fraction(load.entered_in(i, e.arg, e.queue), load.days[i]), i) for i in range(len(load.dates))]
    over = [(r, i) for r, i in rates if hi is not None and r > hi]
    under = [(r, i) for r, i in rates if lo is not None and r < lo]
    res["dates_failed"] = len(over) + len(under)
    peak, pi = max(rates)
    low_, li = min(rates)
    res["peak"] = {"date": load.dates[pi].isoformat(), "per_day": float(peak)}
    res["lowest"] = {"date": load.dates[li].isoformat(), "per_day": float(low_)}
    if over:
        r, i = max(over)
        res.update(passed=False, worst={"date": load.dates[i].isoformat(), "per_day": float(r)},
                   message=f"{_rate(r)} per day on {load.dates[i].isoformat()}: {_rate(r - hi)} above the "
                           f"maximum of {_rate(hi)} ({len(over)} of {len(rates)} dates over)")
    elif under:
        r, i = min(under)
        res.update(passed=False, worst={"date": load.dates[i].isoformat(), "per_day": float(r)},
                   message=f"{_rate(r)} per day on {load.dates[i].isoformat()}: {_rate(lo - r)} below the "
                           f"minimum of {_rate(lo)} ({len(under)} of {len(rates)} dates under)")
    else:
        res.update(passed=True, message=f"peak {_rate(peak)} per day on {load.dates[pi].isoformat()}, lowest "
                                        f"{_rate(low_)}: within bounds on every date")
    return res
