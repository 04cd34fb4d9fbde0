"""The scoring sheet behind `leadrules docs`: a rule file in words, as a plain JSON-ready dict — every
dimension with its criteria (points, caps, decay), bands, the route table with SLAs, disqualification
reasons, account scoring, the tests as worked examples (each run, with what came out) and the
ruleset's name, version and `rules_sha256`. runtime/report/sheet.py renders it as markdown or HTML.

The words come from the checked tree: conditions are printed by dsl/printer.py exactly as `explain`
and `diff` print them, so the sheet, the rule file and every report read the same.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from dsl import nodes as n
from dsl import printer
from dsl.formatter import expect_words, rules_sha256

from runtime.analysis.load import flow_expect_text
from runtime.analysis.simulate import expectation_text

SHEET_VERSION = 1


def points_words(p: float) -> str:
    x = printer.num(abs(p))
    word = "point" if abs(p) == 1 else "points"
    return f"{'+' if p >= 0 else '−'}{x} {word}"


def decay_words(d: n.Duration) -> str:
    """`half-life 30 days` as a person says it."""
    one = printer.duration(d)
    two = printer.duration(n.Duration(d.amount * 2, d.unit))
    return f"counts half as much after {one}, a quarter after {two}"


def cap_words(c: n.Criterion) -> str | None:
    if c.max is None:
        return None
    m = printer.num(c.max)
    if c.kind == "each" and c.points < 0:
        return f"at most {m} points off in all"
    return f"at most {m} points in all"


def criterion_parts(c: n.Criterion, half_life: n.Duration | None) -> list[tuple[str, str]]:
    """What the criterion gives and when, as ("text" | "rule", text) parts: the rule parts are the
    language's own text (dsl/printer.py), which renderers show as code."""
    out: list[tuple[str, str]] = []
    if c.kind == "when":
        out += [("text", f"{points_words(c.points)} when "), ("rule", printer.cond(c.cond))]
    elif c.kind == "each":
        out += [("text", f"{points_words(c.points)} for each "), ("rule", printer.event_filter(c.filter))]
        if half_life is not None and not c.no_decay:
            out.append(("text", f"; each one counts half as much after {printer.duration(half_life)}"))
        elif half_life is not None and c.no_decay:
            out.append(("text", "; no decay: an old one counts as much as a new one"))
    else:
        out.append(("text", "the first that holds of: "))
        for k, t in enumerate(c.tiers):
            out.append(("text", ("; " if k else "") + f"{points_words(t.points)} " + ("otherwise" if t.cond is None else "when ")))
            if t.cond is not None:
                out.append(("rule", printer.cond(t.cond)))
    cap = cap_words(c)
    if cap:
        out.append(("text", f"; {cap}"))
    return out


def criterion_words(c: n.Criterion, half_life: n.Duration | None) -> str:
    """One sentence: what the criterion gives and when."""
    return "".join(t for _k, t in criterion_parts(c, half_life))


def _dimension(sc: n.Score, grade: n.Grade | None) -> dict:
    crits = []
    for c in sc.criteria:
        crits.append({"name": c.name, "kind": c.kind, "rule": printer.criterion_rule(c),
                      "words": criterion_words(c, sc.half_life), "parts": [list(x) for x in criterion_parts(c, sc.half_life)],
                      "points": c.points if c.kind != "first" else None,
                      "tiers": [{"points": t.points, "when": None if t.cond is None else printer.cond(t.cond)}
                                for t in c.tiers] if c.kind == "first" else None,
                      "cap": c.max, "line": c.span.line or None})
    bands = None
    if grade is not None:
        bands = []
        for b in grade.bands:
            words = "otherwise" if b.threshold is None else f"{sc.dim} ≥ {printer.num(b.threshold)}"
            bands.append({"band": b.name, "threshold": b.threshold, "words": words})
    floor_words = f"from {printer.num(sc.floor)} to {printer.num(sc.max)}"
    return {"dimension": sc.dim, "label": sc.label, "max": sc.max, "floor": sc.floor,
            "decay": None if sc.half_life is None else f"half-life {printer.duration(sc.half_life)}",
            "decay_words": None if sc.half_life is None else f"an event {decay_words(sc.half_life)}",
            "range_words": f"the sum of the criteria, kept {floor_words}", "criteria": crits, "bands": bands,
            "line": sc.span.line or None}


def _data(v) -> str:
    if isinstance(v, n.Literal):
        return printer.literal(v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return printer.quote(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_data(x) for x in v) + "]"
    return printer.num(v)


def _event_words(e: n.TestEvent) -> str:
    s = e.type
    if e.attrs:
        s += " { " + ", ".join(f"{k}: {_data(v)}" for k, v in e.attrs) + " }"
    if e.at is not None:
        s += f" at {e.at}"
    elif e.ago_text is not None:
        s += f" {printer.duration(e.ago_text)} ago"
    return s


def _route_words(line: n.RouteLine) -> dict:
    pats = ", ".join("disqualified" if p.kind == "disqualified" else "otherwise" if p.kind == "otherwise" else p.text
                     for p in line.patterns)
    a = line.action
    return {"patterns": pats, "account": line.account_band, "action": a.kind, "queue": a.queue,
            "sla": None if a.sla is None else printer.duration(a.sla), "line": line.span.line or None}


def _examples(rules, as_of: dt.date, as_of_set: bool) -> list[dict]:
    from runtime.analysis.testing import run_test

    out = []
    for t in rules.checked.file.of(n.Test):
        o = run_test(t, rules.engine, as_of) if rules.engine is not None else None
        r = o.result if o is not None else None
        got = None
        if r is not None:
            got = {"scores": dict(r.scores), "grade": r.grade, "disqualified": r.disqualified, "route": r.route,
                   "queue": r.queue, "sla": r.sla, "fired": list(o.fired),
                   "account_bands": dict(r.account_bands) if getattr(r, "account_bands", None) else None}
        # a test without `as of` runs as of --as-of, else today; the sheet then names no date unless one
        # was given, so that the same rule file always gives the same sheet
        out.append({"name": t.name, "as_of": t.as_of or (as_of.isoformat() if as_of_set else None),
                    "as_of_given": t.as_of is not None,
                    "lead": [{"field": k, "value": _data(v)} for k, v in t.lead],
                    "events": [_event_words(e) for e in t.events],
                    "expects": [expect_words(e) for e in t.expects],
                    "passed": None if o is None else o.passed, "failures": [] if o is None else list(o.failures),
                    "result": got, "line": t.span.line or None})
    return out


def sheet(rules, as_of: dt.date | None = None) -> dict[str, Any]:
    """The scoring sheet of a loaded rule file (runtime.backends.load.LoadedRules). `as_of` is the day
    tests without their own `as of` are scored (None: today, and the sheet names no date for them)."""
    rf: n.RuleFile = rules.checked.file
    head = rf.first(n.Ruleset)
    owners = rf.first(n.Owners)
    grades = {g.dim: g for g in rf.of(n.Grade)}
    doc: dict[str, Any] = {
        "version": SHEET_VERSION, "rules": rules.display,
        "ruleset": head.name if head else None, "ruleset_version": head.version if head else None,
        "rules_sha256": rules_sha256(rules.text, rules.display),
        "owners": list(owners.owners) if owners else [],
    }
    doc["lists"] = [{"name": ld.name, "items": [printer.literal(i) for i in ld.items.items]} for ld in rf.of(n.ListDecl)]
    doc["disqualify"] = [{"reason": d.reason, "when": printer.cond(d.cond), "line": d.span.line or None}
                         for d in rf.of(n.Disqualify)]
    doc["dimensions"] = [_dimension(sc, grades.get(sc.dim)) for sc in rf.of(n.Score)]
    graded = [g.dim for g in rf.of(n.Grade)]
    doc["grade"] = {"dimensions": graded,
                    "words": ("a lead's grade is its " + " band followed by its ".join(graded) + " band"
                              + (f" (e.g. {''.join(g.bands[0].name for g in rf.of(n.Grade))})" if graded else ""))
                    if graded else "no grade blocks: leads are not graded"}
    route = rf.first(n.Route)
    doc["routes"] = [_route_words(line) for line in route.lines] if route else []
    acc = rf.first(n.Accounts)
    if acc is not None:
        ag = {g.dim: g for g in acc.grades}
        doc["accounts"] = {"by": printer.value(acc.key),
                           "dimensions": [_dimension(sc, ag.get(sc.dim)) for sc in acc.scores]}
    else:
        doc["accounts"] = None
    doc["examples"] = _examples(rules, as_of or dt.datetime.now(dt.timezone.utc).date(), as_of is not None)
    doc["guardrails"] = [{"simulation": s.name, "expect": [expectation_text(e) for e in s.expects]
                          + [flow_expect_text(f) for f in getattr(s, "flows", ())]}
                         for s in rf.of(n.Simulation) if s.expects or getattr(s, "flows", ())]
    return doc
