"""Scoring each lead as of its own date (its `worked_at`, or a date field of the lead): `replay`, used by
`leadrules calibrate` and by `--as-of-field` on `score`, `simulate`, `explain` and `diff`. With an
accounts block a lead's route depends on its account *on that day*, so the leads are read three times.
"""
from __future__ import annotations

from typing import Callable, Iterable, Iterator

from runtime.backends.closure import Engine, Result
from runtime.core.model import Lead


def account_model_of(engine: Engine):
    """The engine's compiled `accounts` block (runtime/backends/accounts.py), or None without one."""
    return engine.accounts


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
    key_of, key_and_flags, evaluate, finish = model.key_of, model.key_and_flags, model.evaluate, model.finish
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
            _k, fl = key_and_flags(lead, score(lead, d), d)
            c = counts.get((k, d))
            if c is None:
                counts[(k, d)] = list(fl)
            else:
                for i, x in enumerate(fl):
                    c[i] += x
    for lead in open_leads():
        d = day_of(lead)
        r = score(lead, d)
        k, fl = key_and_flags(lead, r, d)
        c = counts.get((k, d)) if k is not None else None
        acct = evaluate(tuple(c) if c is not None else fl)
        yield lead, finish(r, k, acct), d
