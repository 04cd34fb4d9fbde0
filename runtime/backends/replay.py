"""Scoring each lead as of its own date (its `worked_at`, or a date field of the lead): `replay`, used by
`leadrules calibrate` and by `--as-of-field` on `score`, `simulate`, `explain` and `diff`. With an
accounts block a lead's route depends on its account *on that day*, so the leads are read twice: once to
count each account's flags at each day it is needed at (`account_counts`), once to score and route them.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, Iterator

from dsl import nodes as n

from runtime.backends.closure import Engine, Result
from runtime.core.model import Lead

INF = math.inf


def account_model_of(engine: Engine):
    """The engine's compiled `accounts` block (runtime/backends/accounts.py), or None without one."""
    return engine.accounts


def replay(engine: Engine, open_leads: Callable[[], Iterable[Lead]], day_of: Callable[[Lead], int],
           scan_leads: Callable[[], Iterable[Lead]] | None = None) -> Iterator[tuple[Lead, Result, int]]:
    """Every lead (in input order) with its Result as of `day_of(lead)`, routed as `leadrules score`
    routes it. Without an accounts block that is `engine.score(lead, day)`. With one, a lead's route may
    depend on its account's band *on that day*, which depends on the account's other leads as of that
    day; so the leads are read twice: the accounts' counts at each day they are needed at
    (`scan_leads`, see `account_counts`), then the leads themselves (`open_leads`). Memory: per
    account, its days and counts (and a temporary file of the leads whose flags change by day)."""
    model = account_model_of(engine)
    if model is None:
        score = engine.score
        for lead in open_leads():
            d = day_of(lead)
            yield lead, score(lead, d), d
        return
    counts = account_counts(engine, model, scan_leads or open_leads, day_of)
    yield from _final(engine, model, open_leads, day_of, counts)


def replay_exhaustive(engine: Engine, open_leads: Callable[[], Iterable[Lead]], day_of: Callable[[Lead], int],
                      scan_leads: Callable[[], Iterable[Lead]] | None = None) -> Iterator[tuple[Lead, Result, int]]:
    """`replay` the straightforward way: every lead of an account scored at every day the account is
    needed at. The reference `replay` is pinned to (tests/test_replay_fast.py); not used by a command."""
    model = account_model_of(engine)
    if model is None:
        yield from replay(engine, open_leads, day_of, scan_leads)
        return
    scan = scan_leads or open_leads
    need = needed_days(model, scan, day_of)
    score, key_of, key_and_flags = engine.score, model.key_of, model.key_and_flags
    counts: dict[tuple[str, int], list[int]] = {}
    for lead in scan():
        k = key_of(lead)
        if k is None:
            continue
        for d in need.get(k, ()):
            _k, fl = key_and_flags(lead, score(lead, d), d)
            c = counts.get((k, d))
            if c is None:
                counts[(k, d)] = list(fl)
            else:
                for i, x in enumerate(fl):
                    c[i] += x
    yield from _final(engine, model, open_leads, day_of, {kd: tuple(c) for kd, c in counts.items()})


def needed_days(model, scan, day_of) -> dict[str, set[int]]:
    """Per account key, the days its leads are scored at."""
    key_of = model.key_of
    need: dict[str, set[int]] = {}
    for lead in scan():
        k = key_of(lead)
        if k is not None:
            days = need.get(k)
            if days is None:
                need[k] = {day_of(lead)}
            else:
                days.add(day_of(lead))
    return need


def _final(engine, model, open_leads, day_of, counts: dict[tuple[str, int], tuple]):
    score = engine.score
    key_and_flags, evaluate, finish = model.key_and_flags, model.evaluate, model.finish
    for lead in open_leads():
        d = day_of(lead)
        r = score(lead, d)
        k, fl = key_and_flags(lead, r, d)
        c = counts.get((k, d)) if k is not None else None
        acct = evaluate(c if c is not None else fl)
        yield lead, finish(r, k, acct), d


# ---- the accounts' counts, each lead scored only where it can change them ------------------------


class FlagPlan:
    """What is known of an accounts block's lead filters before any lead is read, from the checked tree:

    - `static[i]`: filter i's flag is the same at every as-of date (its condition reads fields and
      lists only, and disqualification reads fields only), so a lead's flag at its own day is its flag
      at every day;
    - `dead[i]`: the parts of filter i's condition (top-level `and`) that read fields only: a lead for
      which one is false never raises flag i, whatever the day (`ruled_out`: the same, static filters
      included; `prune`: every filter has such parts);
    - `sat[i]`: a count from which on the account's scores and bands no longer change (every use of
      the count is `has`, `each … max M`, or a comparison with a number); INF when unknown;
    - `events_only`: the as-of date is read only through the lead's events (no `days since FIELD`), so
      a lead scores the same at every day before its first event.
    An account's counts are capped at `sat` (the scores and bands are the same), so an (account, day)
    whose dynamic counts all reached `sat` needs no more scoring."""

    def __init__(self, engine: Engine, model):
        checked = engine.checked
        self.fields = set(checked.fields)
        self.lists = set(checked.lists)
        self.dims = set(checked.dims or ())
        self.disq_static = disq_static = all(self.is_static(c) for _r, c, _l in engine.plan.disqualify)
        nf = model.nf
        self.static = [False] * nf
        self.dead: list[list[Callable]] = [[] for _ in range(nf)]
        self.ruled_out: list[list[Callable]] = [[] for _ in range(nf)]   # `dead`, of static filters too
        self.dead_fields: set[str] = set()      # the fields these tests read (the rest is not built)
        for i, f in enumerate(model.filter_nodes):
            w = f.where
            cond_static = w is None or self.is_static(w)
            self.static[i] = disq_static and cond_static and f.within is None and f.anchor is None
            if w is not None and f.within is None and f.anchor is None:
                parts = [p for p in _conjuncts(w) if self.is_static(p)]
                self.ruled_out[i] = [model.lead_comp.cond(p) for p in parts]
                if not self.static[i]:
                    self.dead[i] = self.ruled_out[i]
                self.dead_fields |= {x.name for p in parts for x in n.walk(p)
                                     if isinstance(x, n.Name) and x.name in self.fields}
        # every filter has a field-only part: a lead that fails one in each raises no flag on any day,
        # and is not scored at all
        self.prune = nf > 0 and all(self.ruled_out)
        self.sat = self._saturation(model)
        self.dynamic = [i for i in range(nf) if not self.static[i]]
        # `days since FIELD` is the one value that reads the as-of date but not through an event: without
        # it, a lead with no event yet on a day is scored the same on every such day
        self.events_only = not any(isinstance(x, n.DaysSince) for item in checked.file.items
                                   if not isinstance(item, n.Test | n.Simulation) for x in n.walk(item))

    # -- does a condition read anything that depends on the as-of date? --
    def is_static(self, c) -> bool:
        if c is None or isinstance(c, n.Literal | n.ListLit):
            return True
        if isinstance(c, n.Paren | n.Not):
            return self.is_static(c.cond)
        if isinstance(c, n.BoolOp):
            return all(self.is_static(x) for x in c.items)
        if isinstance(c, n.Compare):
            return self.is_static(c.left) and self.is_static(c.right)
        if isinstance(c, n.In):
            return self.is_static(c.value) and self.is_static(c.items)
        if isinstance(c, n.TextTest):
            return self.is_static(c.value) and self.is_static(c.arg)
        if isinstance(c, n.Matches | n.IsMissing):
            return self.is_static(c.value)
        if isinstance(c, n.Between):
            return self.is_static(c.value) and self.is_static(c.low) and self.is_static(c.high)
        if isinstance(c, n.Call):
            return self.is_static(c.arg)
        if isinstance(c, n.Name):  # a field (fields come first), else a list; a dimension is not
            return c.name in self.fields or (c.name not in self.dims and c.name in self.lists)
        return False  # events, counts, days since …, anything new: dynamic (scored per day)

    # -- from which count on does an account criterion stop changing? --
    def _saturation(self, model) -> list[float]:
        sat = [0.0] * model.nf

        def use(f: n.EventFilter, s: float) -> None:
            i = model.filter_index(f)
            sat[i] = max(sat[i], s)

        def lit(v) -> float | None:
            if isinstance(v, n.Literal) and v.kind == "number" and isinstance(v.value, int | float) \
                    and math.isfinite(v.value):
                return float(v.value)
            return None

        def is_count(v) -> bool:
            return isinstance(v, n.Count) and v.filter.event == "lead"

        def walk(x) -> None:
            if isinstance(x, n.Has) and x.filter.event == "lead":
                use(x.filter, 1)
                return
            if isinstance(x, n.Compare) and (is_count(x.left) or is_count(x.right)):
                c, other = (x.left, x.right) if is_count(x.left) else (x.right, x.left)
                v = lit(other)
                if v is not None and not is_count(other):
                    use(c.filter, max(0.0, math.floor(v)) + 2)
                    return
            if isinstance(x, n.Between) and is_count(x.value):
                lo, hi = lit(x.low), lit(x.high)
                if lo is not None and hi is not None:
                    use(x.value.filter, max(0.0, math.floor(max(lo, hi))) + 2)
                    return
            if isinstance(x, n.EventFilter):
                if x.event == "lead":
                    use(x, INF)  # a count used some other way: never capped
                return
            if isinstance(x, tuple | list):
                for y in x:
                    walk(y)
                return
            if hasattr(x, "__dataclass_fields__") and not isinstance(x, n.Span):
                for name in x.__dataclass_fields__:
                    walk(getattr(x, name))

        for sc in model.block.scores:
            for c in sc.criteria:
                if c.kind == "each" and c.filter is not None and c.filter.event == "lead":
                    p, m = c.points, c.max
                    if c.per is not None or m is None or m < 0:
                        use(c.filter, INF)
                    elif p == 0:
                        use(c.filter, 0)
                    else:  # |P| x k is past M from here on: the capped points are M (or -M)
                        use(c.filter, math.ceil(m / abs(p)) + 1)
                    walk(c.filter.where)
                    continue
                walk(c.cond)
                walk(c.tiers)
        return sat


def _conjuncts(c) -> list:
    while isinstance(c, n.Paren):
        c = c.cond
    if isinstance(c, n.BoolOp) and c.op == "and":
        out = []
        for x in c.items:
            out += _conjuncts(x)
        return out
    return [c]


def account_counts(engine: Engine, model, scan, day_of, plan: FlagPlan | None = None,
                   spill_dir: str | None = None) -> dict[tuple[str, int], tuple]:
    """Per (account, day) that a lead of the account is scored at, the account's flag counts as of that
    day (capped at the plan's `sat`, which changes no score or band), in one read of `scan`. Each lead
    is scored at its own day. A lead whose flags are the same at every day (static filters, or dynamic
    ones whose field-only parts fail) counts once for its account; the others ("live") are kept in a
    temporary file, pickled, until the account's days are known, then scored at each of them, unless
    the account's dynamic counts at that day have all reached `sat`. Live leads whose dynamic flags
    hold at their own day go first, so that the counts saturate early. Memory: per account, its days
    and counts."""
    import tempfile

    plan = plan or FlagPlan(engine, model)
    score, key_of, key_and_flags = engine.score, model.key_of, model.key_and_flags
    nf = model.nf
    static, dynamic, dead, sat = plan.static, plan.dynamic, plan.dead, plan.sat
    stat_idx = [i for i in range(nf) if static[i]]
    events_only, dead_fields, prune, ruled_out = plan.events_only, plan.dead_fields, plan.prune, plan.ruled_out
    dyn_sat = [sat[i] for i in dynamic]
    can_saturate = all(s < INF for s in dyn_sat)
    need: dict[str, set[int]] = {}
    base: dict[str, list[int]] = {}                 # per account: static filters' counts, and constant leads'
    dyn: dict[tuple[str, int], list[int]] = {}      # per (account, day): the dynamic filters' counts
    full: set[tuple[str, int]] = set()              # (account, day) whose dynamic counts all reached sat
    context = engine.context

    def dead_context(lead, d0):
        """The lead's context for the field-only tests, built from the fields they read."""
        lf = lead.fields
        return context(Lead(lead.id, {f: lf[f] for f in dead_fields if f in lf}), d0)

    def add(kd, f) -> None:
        c = dyn.get(kd)
        if c is None:
            c = dyn[kd] = [0] * len(dynamic)
        for j, i in enumerate(dynamic):
            c[j] += f[i]
        if can_saturate and all(x >= s for x, s in zip(c, dyn_sat)):
            full.add(kd)

    with tempfile.TemporaryFile(prefix="leadrules-replay-", dir=spill_dir) as first, \
            tempfile.TemporaryFile(prefix="leadrules-replay-", dir=spill_dir) as later:
        for lead in scan():
            k = key_of(lead)
            if k is None:
                continue
            d0 = day_of(lead)
            days = need.get(k)
            if days is None:
                need[k] = {d0}
            else:
                days.add(d0)
            b = base.get(k)
            if b is None:
                b = base[k] = [0] * nf
            X = None
            if prune:
                X = dead_context(lead, d0)
                for tests in ruled_out:
                    for t in tests:
                        if not t(X, None):
                            break          # this filter is ruled out
                    else:
                        break              # this one may hold: score the lead
                else:
                    continue  # no flag on any day
            r = score(lead, d0)
            _k, fl = key_and_flags(lead, r, d0)
            live = hot = False
            if dynamic and not (r.disqualified is not None and plan.disq_static):
                for i in dynamic:
                    if fl[i]:
                        live = hot = True
                        break
                    tests = dead[i]
                    if tests:
                        if X is None:
                            X = dead_context(lead, d0)
                        if any(not t(X, None) for t in tests):
                            continue  # never raised, whatever the day
                    live = True
            if not live:  # the same flags at every day
                for i, x in enumerate(fl):
                    b[i] += x
                continue
            for i in stat_idx:
                b[i] += fl[i]
            kd = (k, d0)
            if kd not in full:
                add(kd, fl)
            _spill(lead, k, d0, fl, first if hot else later)
        for fh in (first, later):
            fh.seek(0)
            for lead, k, d0, fl in _unspill(fh):
                # before its first event a lead scores the same every day (events_only): once is enough
                first_ev = min((e.day for e in lead.events), default=None) if events_only else None
                before = fl if events_only and (first_ev is None or d0 < first_ev) else None
                for d in need[k]:
                    kd = (k, d)
                    if d == d0 or kd in full:
                        continue
                    if events_only and (first_ev is None or d < first_ev):
                        if before is None:
                            before = key_and_flags(lead, score(lead, d), d)[1]
                        f = before
                    else:
                        f = key_and_flags(lead, score(lead, d), d)[1]
                    if any(f[i] for i in dynamic):  # zeros change no count
                        add(kd, f)
    out: dict[tuple[str, int], tuple] = {}
    for k, days in need.items():
        b = base[k]
        for d in days:
            tot = list(b)
            c = dyn.get((k, d))
            if c is not None:
                for j, i in enumerate(dynamic):
                    tot[i] += c[j]
            out[(k, d)] = tuple(x if x < s else int(s) for x, s in zip(tot, sat))
    return out


def _spill(lead: Lead, k: str, d0: int, fl: tuple, fh) -> None:
    """A live lead to its temporary file: plain data with marshal (a lead is texts, numbers, bools,
    tuples and dicts of them, read back three times faster than pickle's), pickle if it is not."""
    import marshal

    try:
        b = marshal.dumps((lead.id, lead.fields, [(e.type, e.day, e.attrs, e.at) for e in lead.events], lead.line,
                           lead.numbered, k, d0, fl))
        fh.write(b"m")
    except ValueError:
        import pickle

        b = pickle.dumps((lead, k, d0, fl), pickle.HIGHEST_PROTOCOL)
        fh.write(b"p")
    fh.write(len(b).to_bytes(4, "little"))
    fh.write(b)


def _unspill(fh):
    import marshal
    import pickle

    from runtime.core.model import Event

    read, loads = fh.read, marshal.loads
    while True:
        head = read(5)
        if not head:
            return
        b = read(int.from_bytes(head[1:], "little"))
        if head[:1] == b"m":
            lid, fields, evs, line, numbered, k, d0, fl = loads(b)
            yield Lead(lid, fields, [Event(*e) for e in evs], line, numbered), k, d0, fl
        else:
            yield pickle.loads(b)
