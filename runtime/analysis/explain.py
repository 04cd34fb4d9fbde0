"""`leadrules explain`'s data: one lead, every criterion with its rule, whether it fired, raw points, decay,
cap and the resulting scores, bands, grade and route — what a sales rep reads to see *why*.
"""
from __future__ import annotations

import datetime as dt
import json

from runtime.backends.closure import Engine

from runtime.core.kernel import round2
from runtime.core.model import Lead


def as_dict(engine: Engine, lead: Lead, asof: int, others=()) -> dict:
    """`others`: leads to find the rest of this lead's account in (none: the lead is its account)."""
    from runtime.backends.accounts import account_model, explain_account

    ex = engine.explain(lead, asof)
    res = ex["result"]
    account = explain_account(engine, lead, others, asof)
    if account is not None:  # the account is scored, and the lead routed again with its band
        model = account_model(engine)
        model.finish(res, account["key"], account.pop("_score"))
        account["routed_by_account_line"] = model.is_account_line(res)
    crits = []
    for c in ex["criteria"]:
        row = {"dimension": c["dim"], "name": c["name"], "rule": c["rule"], "fired": c["fired"],
               "raw_points": round2(c["raw"]), "cap": c["cap"], "capped": c["capped"],
               "points": round2(c["points"])}
        if "events" in c:
            row["decay_half_life_days"] = c["decay_half_life"]
            row["events"] = [{"age_days": e["age_days"], "weight": round(e["weight"], 6),
                              "points": round(e["points"], 6)} for e in c["events"]]
        if "tier" in c:
            row["tier"] = None if c["tier"] is None else c["tier"] + 1
        crits.append(row)
    return {
        "id": res.id,
        "as_of": dt.date.fromordinal(asof).isoformat(),
        "disqualified": res.disqualified,
        "disqualify_checks": ex["disqualify"],
        "criteria": crits,
        "dimensions": [{"dimension": d["dim"], "sum": round2(d["sum"]), "floor": d["floor"], "max": d["max"],
                        "score": d["score"], "band": d["band"], **_reset(d)} for d in ex["dimensions"]],
        "scores": res.scores, "bands": res.bands, "grade": res.grade,
        "route": res.route, "queue": res.queue, "sla": res.sla,
        "events": {"total": ex["events"], "on_or_before_as_of": ex["past_events"]},
        **({"account": account} if account is not None else {}),
    }


def _reset(d: dict) -> dict:
    """A dimension with `reset on`: the reset that applies (its date; None when none has happened by the
    as-of date) and the events it voided, oldest first."""
    if "reset" not in d:
        return {}
    r = d["reset"]
    if r is None:
        return {"reset": None}
    return {"reset": {"date": r["date"], "age_days": r["age_days"],
                      "voided_events": [{"type": e["type"], "date": e["date"], "age_days": e["age_days"]}
                                        for e in r["voided"]]}}


def as_json(d: dict) -> str:
    return json.dumps(d, indent=2, default=str)
