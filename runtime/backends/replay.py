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
    Memory: per account, its days and counts. A lead whose flags cannot change from day to day
    (AccountModel.day_independent) is scored once in the second pass, not once per day."""
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
    # An account's counts as of day d: its leads' flags as of d. A lead whose flags are the same as
    # of every day (model.day_independent: e.g. a personal address that no filter counts) is scored
    # once and counted in its account's `fixed` counts, which hold for each of its days; the others
    # are scored as of each day their account is needed at (`varying`).
    fixed: dict[str, list[int]] = {}
    varying: dict[tuple[str, int], list[int]] = {}
    independent = model.day_independent

    def add(into: dict, at, fl) -> None:
        c = into.get(at)
        if c is None:
            into[at] = list(fl)
        else:
            for i, x in enumerate(fl):
                c[i] += x

    for lead in scan():
        k = key_of(lead)
        if k is None:
            continue
        days = need.get(k, ())
        if len(days) > 1:
            d0 = day_of(lead)
            r0 = score(lead, d0)
            _k, fl = key_and_flags(lead, r0, d0)
            if independent(lead, r0, d0):
                add(fixed, k, fl)
                continue
            add(varying, (k, d0), fl)
            days = [d for d in days if d != d0]
        for d in days:
            add(varying, (k, d), key_and_flags(lead, score(lead, d), d)[1])
    zeros = model.zeros
    for lead in open_leads():
        d = day_of(lead)
        r = score(lead, d)
        k, fl = key_and_flags(lead, r, d)
        a = fixed.get(k) if k is not None else None
        b = varying.get((k, d)) if k is not None else None
        if a is None and b is None:  # no account, or one the scan did not see: the lead alone
            acct = evaluate(fl)
        else:
            acct = evaluate(tuple(x + y for x, y in zip(a or zeros, b or zeros)))
        yield lead, finish(r, k, acct), d
