"""`leadrules diff OLD NEW`: what a rule change does, to the rules and to real leads.

- `rule_changes(old, new)` is the edit between two checked files, matched by name (criteria by
  dimension and name, bands by name, disqualify reasons, lists, fields, events; route lines by their
  patterns, then by their action), each change with its line in NEW (`old_line` for what was removed).
- `DiffAggregator` folds both versions' results for the same leads into counts as they stream past:
  grade, route and queue changes, the old × new grade matrix, route transitions, per-criterion point
  changes, and the biggest movers in a bounded heap. Memory does not grow with the number of leads
  beyond `limit` movers.
- `run_diff` reads each input once and scores every lead under both versions; `evaluate_gates`
  applies `--fail-on` and `--max-changed`. The document it returns is the json report
  (docs/cli.md, "diff"); runtime/report/diff.py renders it as text and markdown.
"""
from __future__ import annotations

from contextlib import contextmanager

import datetime as dt
import heapq
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from dsl import nodes as n
from dsl import printer

from runtime.backends.closure import Engine

from runtime.core.model import Result

from runtime.core.kernel import date_ordinal, round2
from runtime.core.model import BOOL, DATE, NUMBER, TEXT_LIST, Event, Lead, Schema

DEFAULT_LIMIT = 20
EPS = 1e-9

# Every kind of rule change, with the words a report uses for it. The keys are stable (json).
KINDS: dict[str, str] = {
    "ruleset_changed": "ruleset renamed or re-versioned",
    "field_added": "field added",
    "field_removed": "field removed",
    "field_type_changed": "field type changed",
    "event_added": "event added",
    "event_removed": "event removed",
    "event_changed": "event attributes changed",
    "column_changed": "input column changed",
    "list_added": "list added",
    "list_removed": "list removed",
    "list_changed": "list changed",
    "disqualify_added": "disqualify reason added",
    "disqualify_removed": "disqualify reason removed",
    "disqualify_changed": "disqualify condition changed",
    "disqualify_moved": "disqualify reason moved",
    "dimension_added": "dimension added",
    "dimension_removed": "dimension removed",
    "dimension_changed": "dimension changed",
    "decay_changed": "decay changed",
    "reset_changed": "reset changed",
    "criterion_added": "criterion added",
    "criterion_removed": "criterion removed",
    "criterion_moved": "criterion moved to another dimension",
    "points_changed": "points changed",
    "condition_changed": "condition changed",
    "cap_changed": "cap changed",
    "grade_added": "grade block added",
    "grade_removed": "grade block removed",
    "band_added": "band added",
    "band_removed": "band removed",
    "band_moved": "band moved",
    "route_added": "route line added",
    "route_removed": "route line removed",
    "route_changed": "route action changed",
    "route_patterns_changed": "route patterns changed",
    "route_moved": "route line moved",
    "accounts_changed": "account scoring changed",
}


# ---- the rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One difference between OLD and NEW. `line` is in NEW (None for a removal); `old_line` in OLD
    (None for an addition); `old`/`new` are the texts before and after, as a person reads them."""

    kind: str
    what: str
    line: int | None
    old_line: int | None
    old: str | None
    new: str | None
    dimension: str | None = None
    name: str | None = None
    detail: str | None = None

    @property
    def label(self) -> str:
        return KINDS[self.kind]

    def record(self) -> dict:
        d = asdict(self)
        d["label"] = self.label
        return d


def _line(node) -> int | None:
    sp = getattr(node, "span", None)
    return sp.line if sp is not None and sp.line else None


def _crit_what(name: str, dim: str) -> str:
    return f"criterion {printer.quote(name)} ({dim})"


def _dname(dim: str, acct: bool) -> str:
    """How a report names a dimension: `profile`, or `account buying` inside the accounts block."""
    return f"account {dim}" if acct else dim


def _each_text(c: n.Criterion) -> str:
    if c.per_count:
        return "per count " + printer.event_filter(c.filter)
    per = f"per {printer.ident(c.per)} " if c.per is not None else ""
    return per + "each " + printer.event_filter(c.filter)


def _tier_text(t: n.Tier) -> str:
    return f"{printer.points(t.points)} " + ("otherwise" if t.cond is None else f"when {printer.cond(t.cond)}")


def _cap_text(x) -> str:
    return "no cap" if x is None else f"max {printer.num(x)}"


def _reset_text(resets) -> str:
    return "; ".join(printer.reset(r) for r in resets) if resets else "no reset"


def _decay_text(d: n.Duration | None) -> str:
    return "no decay" if d is None else f"half-life {printer.duration(d)}"


def _band_text(b: n.Band) -> str:
    return "otherwise" if b.threshold is None else f">= {printer.num(b.threshold)}"


def _action_text(a: n.Action) -> str:
    s = a.kind
    if a.queue is not None:
        s += " " + printer.quote(a.queue)
    if a.sla is not None:
        s += " within " + printer.duration(a.sla)
    return s


def _patterns_text(r: n.RouteLine) -> str:
    s = f"account {printer.ident(r.account_band)} and " if r.account_band is not None else ""
    return s + ", ".join(p.text for p in r.patterns)


def _list_items(items: tuple) -> list[str]:
    return [printer.literal(i) for i in items]


def _moved(pairs: list[tuple[int, int]]) -> set[int]:
    """Of matched (old index, new index) pairs, the new indices that changed place: those outside a
    longest run whose old indices rise in new order (what stayed put relative to each other)."""
    pairs = sorted(pairs, key=lambda p: p[1])
    seq = [o for o, _ in pairs]
    if not seq:
        return set()
    # longest increasing subsequence, O(k^2): route blocks and disqualify lists are short
    best = [1] * len(seq)
    prev = [-1] * len(seq)
    for i in range(len(seq)):
        for j in range(i):
            if seq[j] < seq[i] and best[j] + 1 > best[i]:
                best[i], prev[i] = best[j] + 1, j
    i = max(range(len(seq)), key=lambda k: best[k])
    keep = set()
    while i != -1:
        keep.add(i)
        i = prev[i]
    return {pairs[k][1] for k in range(len(seq)) if k not in keep}


def _criterion_changes(dim: str, a: n.Criterion, b: n.Criterion, acct: bool = False) -> list[Change]:
    out: list[Change] = []
    what = _crit_what(b.name, _dname(dim, acct))
    ln, oln = _line(b), _line(a)

    def add(kind, old, new, line=ln, detail=None):
        out.append(Change(kind, what, line, oln, old, new, dim, b.name, detail))

    if a.kind != b.kind:
        add("condition_changed", printer.criterion_rule(a), printer.criterion_rule(b),
            detail=f"was a `{a.kind}` criterion, now a `{b.kind}` criterion")
        return out
    if a.kind == "first":
        if len(a.tiers) != len(b.tiers) or any(x.cond != y.cond for x, y in zip(a.tiers, b.tiers)):
            line = next((_line(y) for x, y in zip(a.tiers, b.tiers) if x.cond != y.cond), ln)
            add("condition_changed", "; ".join(_tier_text(t) for t in a.tiers),
                "; ".join(_tier_text(t) for t in b.tiers), line=line,
                detail=None if len(a.tiers) == len(b.tiers) else f"{len(a.tiers)} tiers, now {len(b.tiers)}")
        elif any(x.points != y.points for x, y in zip(a.tiers, b.tiers)):
            line = next((_line(y) for x, y in zip(a.tiers, b.tiers) if x.points != y.points), ln)
            add("points_changed", " / ".join(printer.points(t.points) for t in a.tiers),
                " / ".join(printer.points(t.points) for t in b.tiers), line=line)
    else:
        if a.points != b.points:
            add("points_changed", printer.points(a.points), printer.points(b.points))
        if a.kind == "when" and a.cond != b.cond:
            add("condition_changed", printer.cond(a.cond), printer.cond(b.cond))
        if a.kind == "each":
            # `per count E` is `each E … no decay` written another way: only the meaning is compared
            if a.filter != b.filter or a.per != b.per:
                add("condition_changed", _each_text(a), _each_text(b))
            if a.no_decay != b.no_decay:
                add("decay_changed", "no decay" if a.no_decay else "decays with its dimension",
                    "no decay" if b.no_decay else "decays with its dimension")
    if a.max != b.max:
        add("cap_changed", _cap_text(a.max), _cap_text(b.max),
            line=(b.max_span.line or ln) if b.max is not None else ln)
    return out


def _score_changes(old_scores, new_scores, acct: bool = False) -> list[Change]:
    """Dimensions matched by name, their criteria by (dimension, name); `acct`: the accounts block's."""
    out: list[Change] = []
    odims = {s.dim: s for s in old_scores}
    ndims = {s.dim: s for s in new_scores}
    for dim, s in ndims.items():
        if dim not in odims:
            out.append(Change("dimension_added", f"dimension {_dname(dim, acct)}", _line(s), None, None,
                              f"max {printer.num(s.max)}", dim, detail=f"{len(s.criteria)} criteria"))
    for dim, s in odims.items():
        if dim not in ndims:
            out.append(Change("dimension_removed", f"dimension {_dname(dim, acct)}", None, _line(s),
                              f"max {printer.num(s.max)}", None, dim, detail=f"{len(s.criteria)} criteria"))
    # criteria of every dimension, matched by (dimension, name); what is left over may have moved
    gone: dict[str, list[tuple[str, n.Criterion]]] = {}
    new_only: dict[str, list[tuple[str, n.Criterion]]] = {}
    for dim, b in ndims.items():
        a = odims.get(dim)
        if a is not None:
            for field_, text in (("label", printer.quote), ("max", printer.num), ("floor", printer.num)):
                x, y = getattr(a, field_), getattr(b, field_)
                if x != y:
                    out.append(Change("dimension_changed", f"dimension {_dname(dim, acct)}", _line(b), _line(a),
                                      f"{field_} {text(x)}", f"{field_} {text(y)}", dim))
            if a.half_life != b.half_life:
                out.append(Change("decay_changed", f"dimension {_dname(dim, acct)}", _line(b.half_life) or _line(b),
                                  _line(a), _decay_text(a.half_life), _decay_text(b.half_life), dim))
            if a.resets != b.resets:  # `reset on` lines (the scoring side shows which leads it moved)
                out.append(Change("reset_changed", f"dimension {_dname(dim, acct)}",
                                  _line(b.resets[0]) if b.resets else _line(b), _line(a), _reset_text(a.resets),
                                  _reset_text(b.resets), dim))
        olds = {c.name: c for c in a.criteria} if a is not None else {}
        for c in b.criteria:
            if c.name in olds:
                out.extend(_criterion_changes(dim, olds[c.name], c, acct))
            else:
                new_only.setdefault(c.name, []).append((dim, c))
    for dim, a in odims.items():
        news = {c.name for c in ndims[dim].criteria} if dim in ndims else set()
        for c in a.criteria:
            if c.name not in news:
                gone.setdefault(c.name, []).append((dim, c))
    for name, olds_ in gone.items():
        news_ = new_only.get(name)
        if len(olds_) == 1 and news_ is not None and len(news_) == 1:
            (od, oc), (nd, nc) = olds_[0], news_[0]
            out.append(Change("criterion_moved", _crit_what(name, _dname(nd, acct)), _line(nc), _line(oc),
                              f"{od}: {printer.criterion_rule(oc)}", f"{nd}: {printer.criterion_rule(nc)}", nd, name,
                              detail=f"from {od} to {nd}"))
            del new_only[name]
            continue
        for od, oc in olds_:
            if od in ndims:  # a removed dimension is reported once, not criterion by criterion
                out.append(Change("criterion_removed", _crit_what(name, _dname(od, acct)), None, _line(oc),
                                  printer.criterion_rule(oc), None, od, name))
    for name, news_ in new_only.items():
        for nd, nc in news_:
            if nd in odims:
                out.append(Change("criterion_added", _crit_what(name, _dname(nd, acct)), _line(nc), None, None,
                                  printer.criterion_rule(nc), nd, name))
    return out


def _grade_changes(old_grades, new_grades, acct: bool = False) -> list[Change]:
    out: list[Change] = []
    og = {g.dim: g for g in old_grades}
    ng = {g.dim: g for g in new_grades}
    for dim, g in ng.items():
        if dim not in og:
            out.append(Change("grade_added", f"grade {_dname(dim, acct)}", _line(g), None, None,
                              ", ".join(f"{b.name} {_band_text(b)}" for b in g.bands), dim))
            continue
        obands = {b.name: b for b in og[dim].bands}
        nbands = {b.name for b in g.bands}
        for b in g.bands:
            a = obands.get(b.name)
            what = f"band {b.name} of {_dname(dim, acct)}"
            if a is None:
                out.append(Change("band_added", what, _line(b), None, None, f"{b.name} when {_band_text(b)}"
                                  if b.threshold is not None else f"{b.name} otherwise", dim, b.name))
            elif a.threshold != b.threshold:
                out.append(Change("band_moved", what, _line(b), _line(a), _band_text(a), _band_text(b), dim, b.name))
        for a in og[dim].bands:
            if a.name not in nbands:
                out.append(Change("band_removed", f"band {a.name} of {_dname(dim, acct)}", None, _line(a),
                                  f"{a.name} when {_band_text(a)}" if a.threshold is not None else f"{a.name} otherwise",
                                  None, dim, a.name))
    for dim, g in og.items():
        if dim not in ng:
            out.append(Change("grade_removed", f"grade {_dname(dim, acct)}", None, _line(g),
                              ", ".join(f"{b.name} {_band_text(b)}" for b in g.bands), None, dim))
    return out


def _route_changes(old_rf: n.RuleFile, new_rf: n.RuleFile) -> list[Change]:
    ro, rn = old_rf.first(n.Route), new_rf.first(n.Route)
    olines = list(ro.lines) if ro else []
    nlines = list(rn.lines) if rn else []

    def key(r: n.RouteLine):
        return (r.account_band, frozenset(p.text for p in r.patterns))

    out: list[Change] = []
    pairs: list[tuple[int, int]] = []
    free_old = set(range(len(olines)))
    matched_new: dict[int, int] = {}
    by_key: dict[Any, list[int]] = {}
    for i, r in enumerate(olines):
        by_key.setdefault(key(r), []).append(i)
    for j, r in enumerate(nlines):  # first: the same patterns
        cand = [i for i in by_key.get(key(r), []) if i in free_old]
        if cand:
            matched_new[j] = cand[0]
            free_old.discard(cand[0])
    for j, r in enumerate(nlines):  # then: the same action, other patterns
        if j in matched_new:
            continue
        cand = [i for i in sorted(free_old) if olines[i].action == r.action]
        if cand:
            matched_new[j] = cand[0]
            free_old.discard(cand[0])
    for j, i in sorted(matched_new.items()):
        a, b = olines[i], nlines[j]
        what = f"route {_patterns_text(b)}"
        if key(a) != key(b):
            out.append(Change("route_patterns_changed", f"route -> {_action_text(b.action)}", _line(b), _line(a),
                              _patterns_text(a), _patterns_text(b)))
        elif a.action != b.action:
            out.append(Change("route_changed", what, _line(b), _line(a), _action_text(a.action),
                              _action_text(b.action)))
        pairs.append((i, j))
    for j in sorted(_moved(pairs)):
        i = matched_new[j]
        out.append(Change("route_moved", f"route {_patterns_text(nlines[j])}", _line(nlines[j]), _line(olines[i]),
                          f"line {i + 1} of the route block", f"line {j + 1} of the route block",
                          detail="the first matching line wins, so order matters"))
    for j, r in enumerate(nlines):
        if j not in matched_new:
            out.append(Change("route_added", f"route {_patterns_text(r)}", _line(r), None, None,
                              f"{_patterns_text(r)} -> {_action_text(r.action)}"))
    for i in sorted(free_old):
        r = olines[i]
        out.append(Change("route_removed", f"route {_patterns_text(r)}", None, _line(r),
                          f"{_patterns_text(r)} -> {_action_text(r.action)}", None))
    return out


def _disqualify_changes(old_rf: n.RuleFile, new_rf: n.RuleFile) -> list[Change]:
    od, nd = old_rf.of(n.Disqualify), new_rf.of(n.Disqualify)
    oidx = {d.reason: i for i, d in enumerate(od)}
    out: list[Change] = []
    pairs = []
    for j, d in enumerate(nd):
        what = f"disqualify {printer.quote(d.reason)}"
        i = oidx.get(d.reason)
        if i is None:
            out.append(Change("disqualify_added", what, _line(d), None, None, printer.cond(d.cond), name=d.reason))
            continue
        pairs.append((i, j))
        if od[i].cond != d.cond:
            out.append(Change("disqualify_changed", what, _line(d), _line(od[i]), printer.cond(od[i].cond),
                              printer.cond(d.cond), name=d.reason))
    for j in sorted(_moved(pairs)):
        d = nd[j]
        i = oidx[d.reason]
        out.append(Change("disqualify_moved", f"disqualify {printer.quote(d.reason)}", _line(d), _line(od[i]),
                          f"reason {i + 1} of {len(od)}", f"reason {j + 1} of {len(nd)}", name=d.reason,
                          detail="the first matching reason wins, so order matters"))
    nreasons = {d.reason for d in nd}
    for d in od:
        if d.reason not in nreasons:
            out.append(Change("disqualify_removed", f"disqualify {printer.quote(d.reason)}", None, _line(d),
                              printer.cond(d.cond), None, name=d.reason))
    return out


def _declaration_changes(old_rf: n.RuleFile, new_rf: n.RuleFile) -> list[Change]:
    out: list[Change] = []
    oh, nh = old_rf.first(n.Ruleset), new_rf.first(n.Ruleset)
    if oh is not None and nh is not None and (oh.name != nh.name or oh.version != nh.version):
        out.append(Change("ruleset_changed", "ruleset", _line(nh), _line(oh),
                          f"{printer.quote(oh.name)} version {oh.version}", f"{printer.quote(nh.name)} version {nh.version}"))
    of_ = {f.name: f for x in old_rf.of(n.Fields) for f in x.fields}
    nf_ = {f.name: f for x in new_rf.of(n.Fields) for f in x.fields}
    def src(source: str | None) -> str:
        return "" if source is None else f" from {printer.quote(source)}"

    for name, f in nf_.items():
        if name not in of_:
            out.append(Change("field_added", f"field {name}", _line(f), None, None, f.type + src(f.source), name=name))
        elif of_[name].type != f.type:
            out.append(Change("field_type_changed", f"field {name}", _line(f), _line(of_[name]), of_[name].type,
                              f.type, name=name))
        elif of_[name].source != f.source:
            out.append(Change("column_changed", f"field {name}", _line(f), _line(of_[name]),
                              f"{name}: {f.type}{src(of_[name].source)}", f"{name}: {f.type}{src(f.source)}",
                              name=name))
    # `id from "..."` (fields) and `lead_id|type|at from "..."` (events)
    for kind in (n.Fields, n.Events):
        oc = {c.role: c for x in old_rf.of(kind) for c in x.columns}
        nc = {c.role: c for x in new_rf.of(kind) for c in x.columns}
        for role in sorted(set(oc) | set(nc)):
            a, b = oc.get(role), nc.get(role)
            if (a and a.column) != (b and b.column):
                where = "id" if kind is n.Fields else f"events {role}"
                out.append(Change("column_changed", where, _line(b) if b else None, _line(a) if a else None,
                                  f"{role}{src(a.column)}" if a else None, f"{role}{src(b.column)}" if b else None,
                                  name=role))
    for name, f in of_.items():
        if name not in nf_:
            out.append(Change("field_removed", f"field {name}", None, _line(f), f.type, None, name=name))

    def ev_text(e: n.EventDecl) -> str:
        return e.name + src(e.source) + (
            "(" + ", ".join(f"{a.name}: {a.type}{src(a.source)}" for a in e.attrs) + ")" if e.attrs else "")

    oe = {e.name: e for x in old_rf.of(n.Events) for e in x.events}
    ne = {e.name: e for x in new_rf.of(n.Events) for e in x.events}
    for name, e in ne.items():
        if name not in oe:
            out.append(Change("event_added", f"event {name}", _line(e), None, None, ev_text(e), name=name))
        elif oe[name].attrs != e.attrs or oe[name].source != e.source:
            out.append(Change("event_changed", f"event {name}", _line(e), _line(oe[name]), ev_text(oe[name]),
                              ev_text(e), name=name))
    for name, e in oe.items():
        if name not in ne:
            out.append(Change("event_removed", f"event {name}", None, _line(e), ev_text(e), None, name=name))
    ol = {x.name: x for x in old_rf.of(n.ListDecl)}
    nl = {x.name: x for x in new_rf.of(n.ListDecl)}
    for name, x in nl.items():
        items = _list_items(x.items.items)
        if name not in ol:
            out.append(Change("list_added", f"list {name}", _line(x), None, None, "[" + ", ".join(items) + "]",
                              name=name))
            continue
        before = _list_items(ol[name].items.items)
        if before != items:
            added = [i for i in items if i not in before]
            removed = [i for i in before if i not in items]
            parts = ([f"added {', '.join(added)}"] if added else []) + \
                    ([f"removed {', '.join(removed)}"] if removed else [])
            out.append(Change("list_changed", f"list {name}", _line(x), _line(ol[name]),
                              "[" + ", ".join(before) + "]", "[" + ", ".join(items) + "]", name=name,
                              detail="; ".join(parts) or "reordered"))
    for name, x in ol.items():
        if name not in nl:
            out.append(Change("list_removed", f"list {name}", None, _line(x),
                              "[" + ", ".join(_list_items(x.items.items)) + "]", None, name=name))
    return out


def rule_changes(old_rf: n.RuleFile, new_rf: n.RuleFile) -> list[Change]:
    """Every difference that can change a lead's result, in the order of the file's sections."""
    out = _declaration_changes(old_rf, new_rf)
    out += _disqualify_changes(old_rf, new_rf)
    out += _score_changes(old_rf.of(n.Score), new_rf.of(n.Score))
    out += _grade_changes(old_rf.of(n.Grade), new_rf.of(n.Grade))
    out += _route_changes(old_rf, new_rf)
    oa, na = old_rf.first(n.Accounts), new_rf.first(n.Accounts)
    if oa is not None and na is not None:
        if oa.key != na.key:
            out.append(Change("accounts_changed", "accounts", _line(na), _line(oa), f"by {printer.value(oa.key)}",
                              f"by {printer.value(na.key)}", detail="leads are grouped into accounts differently"))
        out += _score_changes(oa.scores, na.scores, acct=True)
        out += _grade_changes(oa.grades, na.grades, acct=True)
    elif oa != na:  # a whole block added or removed: one change, not one per criterion
        out.append(Change("accounts_changed", "accounts", _line(na), _line(oa),
                          f"accounts by {printer.value(oa.key)}" if oa is not None else None,
                          f"accounts by {printer.value(na.key)}" if na is not None else None,
                          detail="account scoring added" if oa is None else "account scoring removed"))
    # within the file's order of sections, by line in NEW; removals after what is still there
    section = {k: i for i, k in enumerate(KINDS)}
    # scores, grades, accounts and routes: one group in line order (an account's criteria sit between)
    group = {"ruleset": 0, "field": 1, "event": 2, "list": 3, "disqualify": 4}

    def sort_key(c: Change):
        return (group.get(c.kind.split("_")[0], 5), c.line is None, c.line or c.old_line or 0, section[c.kind])

    return sorted(out, key=sort_key)


# ---- the leads ----------------------------------------------------------------------------------


def _as_text(v, t: str):
    if t == DATE and isinstance(v, int):
        return dt.date.fromordinal(v).isoformat()
    if t == BOOL:
        return "true" if v else "false"
    if t == TEXT_LIST:
        return ";".join(v)
    if t == NUMBER:
        return printer.num(v)
    return v


def convert(v, from_t: str, to_t: str):
    """A value read as `from_t`, as `to_t` would have read it (missing when it cannot be)."""
    from runtime.io.readers import coerce

    if v is None or from_t == to_t:
        return v
    try:
        return coerce(_as_text(v, from_t), to_t)
    except (ValueError, TypeError, OverflowError):
        return None


class Views:
    """One reading of the input for both versions. The reader uses the union of both files' fields and
    events (NEW's type where they disagree). Each version then sees only the event types it declares,
    and OLD sees a field or attribute whose type changed converted to its own type."""

    def __init__(self, old_checked, new_checked, id_field: str | None = None, *, strict_events: bool = False):
        of, nf = old_checked.fields, new_checked.fields
        fields = dict(nf)
        for k, t in of.items():
            fields.setdefault(k, t)
        self.field_conv = {k: (nf[k], t) for k, t in of.items() if k in nf and nf[k] != t}
        events: dict[str, dict[str, str]] = {}
        for src in (old_checked.events, new_checked.events):
            for et, attrs in src.items():
                events.setdefault(et, {}).update(attrs)  # NEW last: its types win
        self.attr_conv = {(et, a): (new_checked.events[et][a], t)
                          for et, attrs in old_checked.events.items() for a, t in attrs.items()
                          if a in new_checked.events.get(et, {}) and new_checked.events[et][a] != t}
        from runtime.io.readers import schema_for

        # columns: where the two files name them differently, NEW's `from` wins
        so, sn = schema_for(old_checked, id_field), schema_for(new_checked, id_field)
        attr_sources = {k: dict(v) for k, v in so.attr_sources.items()}
        for k, v in sn.attr_sources.items():
            attr_sources.setdefault(k, {}).update(v)
        self.schema = Schema(fields, events, sn.id_field, {**so.sources, **sn.sources},
                             {**so.event_columns, **sn.event_columns}, {**so.event_sources, **sn.event_sources},
                             attr_sources, strict_events)
        every = frozenset(events)
        self.old_types = frozenset(old_checked.events)
        self.new_types = frozenset(new_checked.events)
        self._old_plain = self.old_types == every and not self.field_conv and not self.attr_conv
        self._new_plain = self.new_types == every

    def old(self, lead: Lead) -> Lead:
        if self._old_plain:
            return lead
        f = lead.fields
        if self.field_conv:
            f = dict(f)
            for k, (nt, ot) in self.field_conv.items():
                f[k] = convert(f.get(k), nt, ot)
        types, ac = self.old_types, self.attr_conv
        evs = []
        for e in lead.events:
            if e.type not in types:
                continue
            if ac and any(t == e.type for t, _ in ac):
                attrs = dict(e.attrs)
                for (t, a), (nt, ot) in ac.items():
                    if t == e.type and a in attrs:
                        v = convert(attrs[a], nt, ot)
                        if v is None:
                            del attrs[a]
                        else:
                            attrs[a] = v
                e = Event(e.type, e.day, attrs, e.at)
            evs.append(e)
        return Lead(lead.id, f, evs, lead.line, lead.numbered)

    def new(self, lead: Lead) -> Lead:
        if self._new_plain:
            return lead
        types = self.new_types
        return Lead(lead.id, lead.fields, [e for e in lead.events if e.type in types], lead.line, lead.numbered)


def _grade_order(engine: Engine) -> list[str]:
    return list(engine.checked.grades) + ["disqualified"]


def _route_label(route: str | None, queue: str | None) -> str:
    if route is None:
        return "(no route)"
    return route + (f" {printer.quote(queue)}" if queue is not None else "")


class DiffAggregator:
    """Both versions' results for the same leads, folded as they stream. `add(old, new)` per lead;
    `report()` for the lead half of the json document."""

    def __init__(self, old: Engine, new: Engine, limit: int = DEFAULT_LIMIT):
        self.old, self.new, self.limit = old, new, max(0, int(limit))
        okeys = {(c.dim, c.name): c.index for c in old.criteria}
        nkeys = {(c.dim, c.name): c.index for c in new.criteria}
        self.crit_keys = list(nkeys) + [k for k in okeys if k not in nkeys]
        self.crit_pairs = [(okeys.get(k), nkeys.get(k)) for k in self.crit_keys]
        self.same_criteria = [(c.dim, c.name) for c in old.criteria] == [(c.dim, c.name) for c in new.criteria]
        self.crit_leads = [0] * len(self.crit_keys)
        self.crit_delta = [0.0] * len(self.crit_keys)
        self.obands = {d: {b: i for i, (b, _) in enumerate(bl)} for d, bl in old.grade_blocks}
        self.nbands = {d: {b: i for i, (b, _) in enumerate(bl)} for d, bl in new.grade_blocks}
        self.dims = [d for d, *_ in new.dims] + [d for d, *_ in old.dims if d not in {x for x, *_ in new.dims}]
        self.total = 0
        self.numbered = 0
        self.grades: dict[tuple[str, str], int] = {}
        self.routes: dict[tuple, int] = {}
        self.c = dict.fromkeys(("changed", "grade", "grade_up", "grade_down", "grade_mixed", "route", "queue",
                                "sla", "account", "score", "newly_disqualified", "no_longer_disqualified",
                                "disqualified_reason"), 0)
        self.score_sum = {"old": {}, "new": {}}
        self.score_n = {"old": {}, "new": {}}
        self.dim_changed: dict[str, int] = {}
        self.movers_total = 0
        self._heap: list = []
        self._seq = 0

    # -- per lead (the hot path) --
    def add(self, o: Result, r: Result) -> None:
        self.total += 1
        seq = self._seq = self._seq + 1
        if r.numbered:
            self.numbered += 1
        og, ng = o.grade, r.grade
        k = (og, ng)
        self.grades[k] = self.grades.get(k, 0) + 1
        rk = (o.route, o.queue, r.route, r.queue)
        self.routes[rk] = self.routes.get(rk, 0) + 1
        os_, ns_ = o.scores, r.scores
        for side, sc in (("old", os_), ("new", ns_)):
            if sc:
                s, c = self.score_sum[side], self.score_n[side]
                for d, v in sc.items():
                    s[d] = s.get(d, 0.0) + v
                    c[d] = c.get(d, 0) + 1
        if (og == ng and rk[0] == rk[2] and rk[1] == rk[3] and os_ == ns_ and o.sla == r.sla
                and o.disqualified == r.disqualified and o.account_bands == r.account_bands):
            if o.disqualified is not None or (self.same_criteria and o.points == r.points):
                return  # the common case: nothing about this lead changed
        c = self.c
        changed = []
        if og != ng:
            c["grade"] += 1
            changed.append("grade")
            d = self.direction(o, r)
            c["grade_" + d] += 1
        if o.route != r.route:
            c["route"] += 1
            changed.append("route")
        if o.queue != r.queue:
            c["queue"] += 1
            changed.append("queue")
        if o.sla != r.sla:
            c["sla"] += 1
        if o.account_bands != r.account_bands:
            c["account"] += 1
        if o.disqualified is None and r.disqualified is not None:
            c["newly_disqualified"] += 1
        elif o.disqualified is not None and r.disqualified is None:
            c["no_longer_disqualified"] += 1
        elif o.disqualified is not None and o.disqualified != r.disqualified:
            c["disqualified_reason"] += 1
            changed.append("disqualified")
        if changed:
            c["changed"] += 1
        crit = []
        if o.disqualified is None and r.disqualified is None:
            op, np_ = o.points, r.points
            for j, (oi, ni) in enumerate(self.crit_pairs):
                a = op[oi] if oi is not None else 0.0
                b = np_[ni] if ni is not None else 0.0
                if a - b > EPS or b - a > EPS:
                    self.crit_leads[j] += 1
                    self.crit_delta[j] += b - a
                    crit.append((j, a, b))
        moved_score = os_ != ns_
        if moved_score:
            c["score"] += 1
            for d in self.dims:
                if os_.get(d) != ns_.get(d):
                    self.dim_changed[d] = self.dim_changed.get(d, 0) + 1
        if not changed and not moved_score:
            return
        self.movers_total += 1
        if not self.limit:
            return
        delta = round2(sum(ns_.values()) - sum(os_.values()))
        key = (1 if changed else 0, abs(delta), -seq)
        h = self._heap
        if len(h) < self.limit:
            heapq.heappush(h, (key, self._mover(o, r, delta, changed, crit)))
        elif key > h[0][0]:
            heapq.heapreplace(h, (key, self._mover(o, r, delta, changed, crit)))

    def direction(self, o: Result, r: Result) -> str:
        """up, down or mixed: band by band, a band higher in its grade block is better; disqualified
        is below every grade."""
        if o.disqualified is not None or r.disqualified is not None:
            return "down" if r.disqualified is not None else "up"
        better = worse = False
        for d in set(o.bands) | set(r.bands):
            a, b = o.bands.get(d), r.bands.get(d)
            if a == b:
                continue
            nb, ob = self.nbands.get(d, {}), self.obands.get(d, {})
            if a in nb and b in nb:
                ra, rb = nb[a], nb[b]
            elif a in ob and b in ob:
                ra, rb = ob[a], ob[b]
            else:
                return "mixed"
            if rb < ra:
                better = True
            elif rb > ra:
                worse = True
        if better and not worse:
            return "up"
        if worse and not better:
            return "down"
        return "mixed"

    def _mover(self, o: Result, r: Result, delta: float, changed: list[str], crit) -> dict:
        def side(x: Result) -> dict:
            d = {"grade": x.grade, "route": x.route, "queue": x.queue, "sla": x.sla,
                 "disqualified": x.disqualified, "scores": dict(x.scores), "bands": dict(x.bands)}
            if x.account_bands is not None:
                d["account_bands"] = dict(x.account_bands)
            return d

        dims = {}
        for d in self.dims:
            a, b = o.scores.get(d), r.scores.get(d)
            if a != b:
                dims[d] = None if a is None or b is None else round2(b - a)
        return {"id": o.id, "numbered": o.numbered, "changed": changed, "old": side(o), "new": side(r),
                "score_change": delta, "dimension_changes": dims,
                "criteria": [{"dimension": self.crit_keys[j][0], "name": self.crit_keys[j][1],
                              "old": round2(a), "new": round2(b), "change": round2(b - a)} for j, a, b in crit]}

    # -- the report --
    def report(self) -> dict:
        total = self.total
        c = self.c
        ogr, ngr = _grade_order(self.old), _grade_order(self.new)

        def order(xs, known):
            pos = {g: i for i, g in enumerate(known)}
            return sorted(xs, key=lambda g: (pos.get(g, len(known) - 0.5), g))

        rows = order({a for a, _ in self.grades}, ogr)
        cols = order({b for _, b in self.grades}, ngr)
        matrix = {"old": rows, "new": cols,
                  "counts": [[self.grades.get((a, b), 0) for b in cols] for a in rows]}
        gpos_o = {g: i for i, g in enumerate(rows)}
        transitions = sorted(((a, b, k) for (a, b), k in self.grades.items() if a != b),
                             key=lambda t: (-t[2], gpos_o.get(t[0], 0), t[1]))
        grade_tr = []
        for a, b, k in transitions:
            grade_tr.append({"old": a, "new": b, "count": k, "direction": self._direction_of(a, b)})
        route_tr = []
        totals: dict[tuple, list[int]] = {}
        for (orr, oq, nr, nq), k in self.routes.items():
            totals.setdefault((orr, oq), [0, 0])[0] += k
            totals.setdefault((nr, nq), [0, 0])[1] += k
            if (orr, oq) != (nr, nq):
                route_tr.append({"old": {"route": orr, "queue": oq}, "new": {"route": nr, "queue": nq}, "count": k})
        route_tr.sort(key=lambda t: (-t["count"], _route_label(t["old"]["route"], t["old"]["queue"]),
                                     _route_label(t["new"]["route"], t["new"]["queue"])))
        rorder = self._route_order()
        routes = [{"route": rq[0], "queue": rq[1], "old": v[0], "new": v[1], "change": v[1] - v[0]}
                  for rq, v in sorted(totals.items(), key=lambda kv: (rorder.get(kv[0], len(rorder)),
                                                                     _route_label(*kv[0])))]
        dims = []
        odims = {d for d, *_ in self.old.dims}
        ndims = {d for d, *_ in self.new.dims}
        for d in self.dims:
            mo = self._mean("old", d) if d in odims else None
            mn = self._mean("new", d) if d in ndims else None
            dims.append({"dimension": d, "in": "both" if d in odims and d in ndims else ("old" if d in odims else "new"),
                         "mean_old": mo, "mean_new": mn, "changed": self.dim_changed.get(d, 0)})
        crits = [{"dimension": k[0], "name": k[1],
                  "in": "both" if p[0] is not None and p[1] is not None else ("old" if p[0] is not None else "new"),
                  "leads": self.crit_leads[j], "mean_change": round2(self.crit_delta[j] / self.crit_leads[j])}
                 for j, (k, p) in enumerate(zip(self.crit_keys, self.crit_pairs)) if self.crit_leads[j]]
        crits.sort(key=lambda x: -x["leads"])
        movers = [m for _, m in sorted(self._heap, key=lambda km: km[0], reverse=True)]
        changed = dict(c)
        changed["share"] = (c["changed"] / total) if total else 0.0
        return {"changed": changed, "dimensions": dims, "grade_matrix": matrix,
                "grade_transitions": grade_tr, "route_transitions": route_tr, "routes": routes,
                "criteria": crits,
                "movers": {"limit": self.limit, "total": self.movers_total, "shown": len(movers), "leads": movers}}

    def _mean(self, side: str, d: str):
        k = self.score_n[side].get(d, 0)
        return round2(self.score_sum[side].get(d, 0.0) / k) if k else None

    def _direction_of(self, a: str, b: str) -> str:
        if a == "disqualified" or b == "disqualified":
            return "down" if b == "disqualified" else "up"
        # split the grades back into bands by the grade blocks (NEW's, else OLD's)
        for blocks in (self.new.grade_blocks, self.old.grade_blocks):
            sa, sb = _split_grade(a, blocks), _split_grade(b, blocks)
            if sa is not None and sb is not None:
                ranks = [(pa, pb) for pa, pb in zip(sa, sb) if pa != pb]
                if all(pb < pa for pa, pb in ranks):
                    return "up"
                if all(pb > pa for pa, pb in ranks):
                    return "down"
                return "mixed"
        return "mixed"

    def _route_order(self) -> dict:
        out: dict = {}
        for eng in (self.new, self.old):
            for line in eng.route_lines:
                out.setdefault((line.action.kind, line.action.queue), len(out))
        return out


def _split_grade(g: str, blocks) -> list[int] | None:
    """A grade as band positions, one per grade block, or None when it is not made of them."""
    def go(rest: str, k: int):
        if k == len(blocks):
            return [] if rest == "" else None
        for i, (name, _) in enumerate(blocks[k][1]):
            if rest.startswith(name):
                tail = go(rest[len(name):], k + 1)
                if tail is not None:
                    return [i] + tail
        return None
    return go(g, 0) if blocks else None


# ---- running it ---------------------------------------------------------------------------------


@dataclass
class Input:
    """One sample to score under both versions."""

    simulation: str | None
    leads: str
    events: str | None
    as_of: dt.date


@contextmanager
def _no_progress(items, _label=None):
    yield items


def run_diff(old, new, inputs: Iterable[Input], *, id_field: str | None = None, on_bad_row: str = "fail",
             rejects=None, limit: int = DEFAULT_LIMIT, progress_label: str = "diffing",
             engine: str = "python", workers: int | None = None, day_of_for=None, delimiter: str | None = None,
             strict_events: bool = False, progress=None) -> tuple[dict, list]:
    """Score every input under both versions (`old`, `new`: runtime.backends.load.LoadedRules) and fold the
    pairs of results. Returns the json document (without gates) and the readers (input summaries).
    `day_of_for(as_of)` (`--as-of-field`, python engine, no accounts): a function giving each lead's own
    scoring day. `progress(items, label)`: a context manager that shows progress (the command passes
    runtime.report.progress.progress); none by default."""
    from runtime.io.readers import LeadReader

    if progress is None:
        progress = _no_progress

    views = Views(old.checked, new.checked, id_field, strict_events=strict_events)
    views.delimiter = delimiter
    agg = DiffAggregator(old.engine, new.engine, limit)
    add = agg.add
    runs, readers = [], []
    for inp in inputs:
        asof = date_ordinal(inp.as_of.isoformat())
        before = agg.total
        if engine == "duckdb":
            from runtime.backends.scoring import DuckPairs, check_engine

            check_engine(new, engine, inp.leads, inp.events)
            reader = DuckPairs(old, new, inp.leads, as_of=inp.as_of, events_path=inp.events, on_bad_row=on_bad_row,
                               rejects=rejects, id_field=id_field, workers=workers, delimiter=delimiter,
                               strict_events=strict_events)
            with progress(reader, progress_label) as pairs:
                for o, r in pairs:
                    add(o, r)
        else:
            reader = LeadReader(inp.leads, views.schema, events_path=inp.events, on_bad_row=on_bad_row,
                                rejects=rejects, delimiter=delimiter)
            with progress(reader, progress_label) as leads:
                day_of = day_of_for(inp.as_of) if day_of_for is not None else None
                for o, r in _result_pairs(old, new, views, leads, inp, asof, on_bad_row, day_of):
                    add(o, r)
        readers.append(reader)
        runs.append({"simulation": inp.simulation, "leads_file": inp.leads, "events_file": inp.events,
                     "as_of": inp.as_of.isoformat(), "read": reader.read, "scored": agg.total - before,
                     "rejected": reader.rejected, "bad_events": reader.bad_events,
                     "orphan_events": reader.orphan_events})
    doc = document(old, new, rule_changes(old.checked.file, new.checked.file), agg, runs)
    return doc, readers


def _result_pairs(old, new, views: Views, leads, inp: Input, asof: int, on_bad_row: str, day_of=None):
    """(OLD's Result, NEW's Result) for every lead, in input order.

    Without accounts, one pass: each lead is read once and scored by both versions. With an accounts
    block in either version, each version's results go through runtime/backends/accounts.py `score_leads`
    (grouping by account key, then routing again), which holds leads until their account is complete
    (streamed when the file is grouped by key, spilled to disk otherwise); to keep memory bounded the
    leads file is then read a second time for the other version. stdin cannot be read twice: its
    leads are kept in memory between the two versions."""
    import itertools
    import os

    from runtime.backends.accounts import account_model, input_grouped, score_leads

    so, sn, vo, vn = old.engine.score, new.engine.score, views.old, views.new
    if account_model(old.engine) is None and account_model(new.engine) is None:
        if day_of is not None:
            for lead in leads:
                d = day_of(lead)
                yield so(vo(lead), d), sn(vn(lead), d)
            return
        for lead in leads:
            yield so(vo(lead), asof), sn(vn(lead), asof)
        return
    from runtime.io.readers import LeadReader

    if inp.leads != "-" and os.path.isfile(inp.leads):
        again = LeadReader(inp.leads, views.schema, events_path=inp.events, on_bad_row=on_bad_row,
                           delimiter=getattr(views, "delimiter", None))
        a, b = leads, again
    else:
        a, b = itertools.tee(leads)
    grouped = inp.leads != "-" and os.path.isfile(inp.leads)
    go = score_leads(old.engine, map(vo, a), asof, keep_leads=False,
                     grouped=grouped and input_grouped(inp.leads, old.engine))
    gn = score_leads(new.engine, map(vn, b), asof, keep_leads=False,
                     grouped=grouped and input_grouped(inp.leads, new.engine))
    for x, y in itertools.zip_longest(go, gn):
        if x is None or y is None or x[1].id != y[1].id:  # pragma: no cover - the two readings must agree
            raise RuntimeError("the two readings of the leads file do not line up (did it change meanwhile?)")
        yield x[1], y[1]


def _side(rules) -> dict:
    head = rules.checked.file.first(n.Ruleset)
    return {"rules": rules.display, "ruleset": head.name if head else None,
            "ruleset_version": head.version if head else None}


def document(old, new, changes: list[Change], agg: DiffAggregator, runs: list[dict]) -> dict:
    rep = agg.report()
    leads = {"read": sum(r["read"] for r in runs), "scored": agg.total,
             "rejected": sum(r["rejected"] for r in runs), "numbered": agg.numbered}
    doc = {"version": 1, "old": _side(old), "new": _side(new), "inputs": runs, "leads": leads}
    doc["summary"] = summary_line(leads["scored"], rep["changed"], len(changes))
    doc["rule_changes"] = [c.record() for c in changes]
    doc.update(rep)
    doc["gates"] = []
    doc["passed"] = True
    return doc


def _plural(k: int, one: str, many: str | None = None) -> str:
    return f"{k:,} {one if k == 1 else (many or one + 's')}"


def summary_line(scored: int, ch: dict, nchanges: int) -> str:
    """`3,000 leads · 137 change grade (137 up, 0 down) · 60 change route · 95 change queue · 1 rule change`."""
    parts = [_plural(scored, "lead")]
    if not (ch["grade"] or ch["route"] or ch["queue"] or ch["disqualified_reason"]):
        parts.append("no lead changes grade, route or queue")
    else:
        dirs = f"{ch['grade_up']:,} up, {ch['grade_down']:,} down"
        if ch["grade_mixed"]:
            dirs += f", {ch['grade_mixed']:,} mixed"
        parts.append(f"{ch['grade']:,} change grade ({dirs})")
        parts.append(f"{ch['route']:,} change route")
        parts.append(f"{ch['queue']:,} change queue")
        if ch["disqualified_reason"]:
            parts.append(f"{ch['disqualified_reason']:,} change disqualify reason")
    if ch["account"]:
        parts.append(f"{ch['account']:,} change account band")
    if ch["score"]:
        parts.append(f"{ch['score']:,} change score")
    parts.append(_plural(nchanges, "rule change") if nchanges else "no rule changes")
    return " · ".join(parts)


# ---- gates --------------------------------------------------------------------------------------

GATES = ("grade", "route")


def evaluate_gates(doc: dict, fail_on: Iterable[str] = (), max_changed: float | None = None) -> dict:
    """Add `gates` and `passed` to the document. `grade`: fails when any lead changes grade; `route`:
    when any lead changes route or queue; `max_changed`: when the share of leads that change grade,
    route, queue or disqualify reason is above this percentage."""
    ch = doc["changed"]
    scored = doc["leads"]["scored"]
    gates = []
    for g in dict.fromkeys(fail_on):
        if g == "grade":
            k = ch["grade"]
            gates.append({"gate": "grade", "threshold": None, "value": k, "passed": k == 0,
                          "message": f"{_plural(k, 'lead')} change grade" if k else "no lead changes grade"})
        elif g == "route":
            k = route_changes(doc)
            gates.append({"gate": "route", "threshold": None, "value": k, "passed": k == 0,
                          "message": f"{_plural(k, 'lead')} change route or queue" if k else
                          "no lead changes route or queue"})
        else:
            raise ValueError(f"unknown gate {g!r}")
    if max_changed is not None:
        pct = round(100.0 * ch["changed"] / scored, 4) if scored else 0.0
        ok = pct <= max_changed + EPS
        gates.append({"gate": "max-changed", "threshold": max_changed, "value": pct, "passed": ok,
                      "message": f"{_plural(ch['changed'], 'lead')} of {scored:,} ({_pct(pct)}) change grade, route "
                                 f"or queue; the limit is {_pct(max_changed)}"})
    doc["gates"] = gates
    doc["passed"] = all(g["passed"] for g in gates)
    return doc


def route_changes(doc: dict) -> int:
    """Leads whose route or queue changed."""
    return sum(t["count"] for t in doc["route_transitions"])


def _pct(x: float) -> str:
    return f"{printer.num(round(x, 2))}%"
