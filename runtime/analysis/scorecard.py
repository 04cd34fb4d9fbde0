"""`leadrules calibrate --suggest`: points fitted to outcomes, as credit-risk scorecards turn a logistic
model into points, and written back as a new version of the rule file.

Each criterion becomes a column over the worked leads (a `when` fires or not; an `each` counts its
events after decay and cap, in units of its points; a `first of` gives one column per tier, the
`otherwise` tier being the reference), and so does each of the strongest missed signals. An
L1-penalised logistic regression (scikit-learn, the `calibrate` extra) is fitted; a coefficient
times one factor, rounded, is a criterion's points. The factor is the largest that keeps every
dimension's reachable points within its `max`. The file keeps its structure: lines are re-written in
place with a comment saying why, new criteria go at the end of their dimension, and the text is laid
out by the formatter (dsl/formatter.py). docs/calibrate.md describes it.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from dsl import nodes as n
from dsl import printer

from runtime.core.errors import Failure

MAX_NEW = 5          # new criteria for at most this many missed signals
FOLDS = 5
MIN_EACH = 10        # --suggest needs this many converting and this many non-converting worked leads
OVERLAP = 0.8        # a signal held by nearly the same leads as one already added is left out
SEED = 0


def load_sklearn():
    try:
        import numpy  # noqa: F401
        from sklearn.linear_model import LogisticRegressionCV  # noqa: F401
    except ImportError:
        raise Failure("--suggest needs scikit-learn: pip install 'leadrules[calibrate]'") from None


@dataclass
class Column:
    kind: str                 # "crit" (when/each), "tier", "new"
    crit: int | None          # criterion index (crit, tier)
    tier: int | None = None
    dim: str = ""
    xmax: float = 1.0         # the largest value the column can take
    signal: dict | None = None
    name: str = ""
    cond: str = ""


@dataclass
class Plan:
    columns: list[Column]
    X: list[list[float]]
    y: list[int]
    groups: list | None
    dims: list[tuple[str, float, float]]       # (dim, max, floor)
    base: dict[str, float] = field(default_factory=dict)   # points nobody re-fits: none today


def plan(cal, signals: list[dict], members: list[set[int]], max_new: int = MAX_NEW) -> Plan:
    from runtime.analysis.calibrate import criterion_for

    engine = cal.engine
    rows = cal.scored_rows()
    cols: list[Column] = []
    for i, spec in enumerate(engine.criteria):
        node = spec.node
        if spec.kind == "first":
            for j, t in enumerate(node.tiers):
                if t.cond is not None:
                    cols.append(Column("tier", i, j, spec.dim))
        elif spec.kind == "each":
            xs = sorted(abs(w.r.points[i] / node.points) if node.points else 0.0 for w in rows)
            cap = abs(node.max / node.points) if node.max is not None and node.points else None
            p95 = xs[int(0.95 * (len(xs) - 1))] if xs else 1.0
            cols.append(Column("crit", i, None, spec.dim, xmax=cap if cap is not None else max(p95, 1.0)))
        else:
            cols.append(Column("crit", i, None, spec.dim))
    # the strongest missed signals no criterion scores, as `when` criteria
    names = {c.name for c in engine.criteria}
    chosen: list[set[int]] = []
    ft, at = cal.schema.fields, cal.schema.events
    for sig, mem in zip(signals, members):
        if len(chosen) >= max_new:
            break
        if not sig["meaningful"] or sig["scored_by"]:
            continue
        got = criterion_for(sig, ft, at)
        if got is None:
            continue
        if any(len(mem & c) / len(mem | c) >= OVERLAP for c in chosen):
            continue
        name, cond = got
        while name in names:
            name += " (new)"
        names.add(name)
        chosen.append(mem)
        cols.append(Column("new", None, None, _dim_for(engine, sig), signal=sig, name=name, cond=cond))
    X = []
    for j, w in enumerate(rows):
        x = []
        for c in cols:
            if c.kind == "tier":
                x.append(1.0 if w.tiers.get(c.crit) == c.tier else 0.0)
            elif c.kind == "crit":
                node = engine.criteria[c.crit].node
                if node.kind == "each":
                    x.append(abs(w.r.points[c.crit] / node.points) if node.points else 0.0)
                else:
                    x.append(1.0 if w.r.fired[c.crit] else 0.0)
            else:
                x.append(1.0 if j in chosen[[k for k in cols if k.kind == "new"].index(c)] else 0.0)
        X.append(x)
    groups = None
    if cal.model is not None:
        groups = [w.r.account if w.r.account is not None else f"lead:{i}" for i, w in enumerate(rows)]
    dims = [(d, mx, fl) for d, mx, fl, _ in engine.dims]
    return Plan(cols, X, [w.y for w in rows], groups, dims)


def _dim_for(engine, sig: dict) -> str:
    """A new criterion joins the dimension whose criteria read the same kind of input most: events
    for event signals, fields for field signals; else the first dimension."""
    want_event = sig["kind"] in ("event", "attr", "count", "recency")
    best, best_n = engine.dims[0][0], -1
    for dim, _, _, _ in engine.dims:
        k = 0
        for spec in engine.criteria:
            if spec.dim != dim:
                continue
            txt = spec.text
            ev = spec.kind == "each" or "has " in txt or "count " in txt or "days since last" in txt
            k += 1 if ev == want_event else 0
        if k > best_n:
            best, best_n = dim, k
    return best


def _fit(X, y, groups=None):
    import numpy as np
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    X, y = np.asarray(X, dtype=float), np.asarray(y)
    k = max(2, min(FOLDS, int(min(y.sum(), len(y) - y.sum()))))
    if groups is not None:
        cv = list(GroupKFold(n_splits=k).split(X, y, groups))
    else:
        cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=SEED)
    import warnings

    with warnings.catch_warnings():
        # scikit-learn 1.8+ renames `penalty`; the L1 fit is the same in every version we accept
        warnings.simplefilter("ignore", FutureWarning)
        m = LogisticRegressionCV(Cs=8, penalty="l1", solver="liblinear", cv=cv, scoring="roc_auc", max_iter=2000,
                                 random_state=SEED)
        m.fit(X, y)
    return m


def points_of(p: Plan, coef) -> tuple[list[int], float]:
    """Integer points per column: coefficient x factor, the factor being the largest that keeps every
    dimension's reachable positive points within its max."""
    factor = math.inf
    for dim, mx, _fl in p.dims:
        pos = 0.0
        tiers: dict[int, float] = {}
        for c, b in zip(p.columns, coef):
            if c.dim != dim:
                continue
            if c.kind == "tier":
                tiers[c.crit] = max(tiers.get(c.crit, 0.0), b)
            else:
                pos += max(0.0, b) * c.xmax
        pos += sum(tiers.values())
        if pos > 0:
            factor = min(factor, mx / pos)
    if not math.isfinite(factor):
        factor = 20 / math.log(2)   # nothing positive: 20 points to double the odds
    return [int(round(b * factor)) for b in coef], factor


def total_of(p: Plan, pts: list[int], x: list[float]) -> float:
    sums = {d: 0.0 for d, _, _ in p.dims}
    for c, pt, v in zip(p.columns, pts, x):
        sums[c.dim] += pt * v
    return sum(min(mx, max(fl, sums[d])) for d, mx, fl in p.dims)


def held_out(p: Plan, old_totals: list[float]) -> dict:
    """Out-of-fold AUC of the rules today, the suggested integer points and the logistic regression."""
    import numpy as np
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    from runtime.analysis.signals import auc

    X, y = np.asarray(p.X, dtype=float), np.asarray(p.y)
    k = max(2, min(FOLDS, int(min(y.sum(), len(y) - y.sum()))))
    splits = (GroupKFold(n_splits=k).split(X, y, p.groups) if p.groups is not None
              else StratifiedKFold(n_splits=k, shuffle=True, random_state=SEED + 1).split(X, y))
    sug = [0.0] * len(y)
    lr = [0.0] * len(y)
    for tr, te in splits:
        m = _fit(X[tr], y[tr], [p.groups[i] for i in tr] if p.groups is not None else None)
        pts, _ = points_of(p, list(m.coef_[0]))
        dec = m.decision_function(X[te])
        for i, d in zip(te, dec):
            sug[i] = total_of(p, pts, p.X[i])
            lr[i] = float(d)
    ys = [int(v) for v in y]
    return {"current": _r4(auc(old_totals, ys)), "suggested": _r4(auc(sug, ys)),
            "logistic_regression": _r4(auc(lr, ys)), "folds": k}


def _r4(x):
    return None if x is None else round(x, 4)


# ---- writing the new version ----------------------------------------------------------------------


def _why(row: dict | None, was: str | None = None) -> str:
    parts = []
    if was is not None:
        parts.append(was)
    if row is not None:
        lift = row.get("lift")
        if lift is not None:
            s = f"lift {lift:.2f}"
            if row.get("lift_ci_low") is not None:
                s += f" ({row['lift_ci_low']:.2f}-{row['lift_ci_high']:.2f})"
            parts.append(s)
        n_ = row.get("fires", row.get("leads"))
        parts.append(f"n {n_:,}")
        q = row.get("q_value")
        if q is not None:
            parts.append(f"q {q:.2g}")
    return "# " + ", ".join(parts)


class _Text:
    """Edits of the source text by span, applied from the end so earlier offsets stay valid."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self.starts.append(i + 1)
        self.edits: list[tuple[int, int, str, str | None]] = []

    def off(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col - 1

    def replace(self, sp: n.Span, new: str, comment: str | None) -> None:
        self.edits.append((self.off(sp.line, sp.col), self.off(sp.end_line, sp.end_col) + 1, new, comment))

    def insert_before(self, line: int, col: int, new: str) -> None:
        o = self.off(line, col)
        self.edits.append((o, o, new, None))

    def render(self) -> str:
        t = self.text
        for a, b, new, comment in sorted(self.edits, key=lambda e: (e[0], e[1]), reverse=True):
            if comment:
                eol = t.find("\n", b)
                eol = len(t) if eol < 0 else eol
                t = t[:a] + new + t[b:eol] + "  " + comment + t[eol:]
            else:
                t = t[:a] + new + t[b:]
        return t


def account_dim_tests(checked, dims) -> list[tuple[n.Literal, str, str]]:
    """(number literal, lead dimension, operator) of every condition in the accounts block that compares
    a lead's dimension score with a number (`has lead where engagement >= 50`): on a new point scale
    those numbers move too."""
    from runtime.analysis.signals import atoms as _atoms

    acc = checked.file.first(n.Accounts)
    if acc is None:
        return []
    out = []
    for sc in acc.scores:
        for c in sc.criteria:
            conds = [c.cond] if c.kind == "when" else [c.filter.where] if c.kind == "each" else \
                [t.cond for t in c.tiers]
            for cond in conds:
                for atom, _ev, _pos in _atoms(cond, None):
                    if isinstance(atom, n.Compare) and atom.op in (">=", ">", "<=", "<"):
                        if isinstance(atom.left, n.Name) and atom.left.name in dims \
                                and isinstance(atom.right, n.Literal) and atom.right.kind == "number":
                            out.append((atom.right, atom.left.name, atom.op))
    return out


def remap(old: list[float], new: list[float], v: float) -> float:
    """The score on the new scale that as many leads reach as reached `v` on the old one."""
    if not old or not new:
        return v
    share = sum(1 for x in old if x >= v) / len(old)
    srt = sorted(new, reverse=True)
    k = round(share * len(srt))
    if k <= 0:
        return float(math.floor(srt[0]) + 1)
    return float(math.floor(srt[min(k, len(srt)) - 1]))


def write(checked, text: str, p: Plan, pts: list[int], criteria_rows: list[dict],
          thresholds: dict[str, list[float | None]] | None, band_why: dict[str, list[str]] | None,
          literals: list[tuple[n.Literal, float, str]] = (), repath=None) -> str:
    """The new rule file text (not yet formatted). `repath(path)`: a simulation block's relative file
    path as seen from where the new file is written."""
    rf = checked.file
    ed = _Text(text)
    if repath is not None:
        import re

        for sim in rf.of(n.Simulation):
            a = ed.off(sim.span.line, sim.span.col)
            b = ed.off(sim.span.end_line, sim.span.end_col) + 1
            for m in re.finditer(r'\b(leads|events)(\s+)("(?:[^"\\]|\\.)*")', text[a:b]):
                old = getattr(sim, m.group(1))
                new = repath(old) if old else old
                if new and new != old:
                    o = a + m.start(3)
                    ed.edits.append((o, a + m.end(3), printer.quote(new), None))
    for lit, new_v, why in literals:
        if new_v != lit.value:
            ed.replace(lit.span, printer.num(new_v), why)
    head = rf.first(n.Ruleset)
    if head is not None and head.version is not None:
        ed.replace(head.span, f"ruleset {printer.quote(head.name)} version {int(head.version) + 1}",
                   f"# points fitted by `leadrules calibrate --suggest` (was version {head.version})")
    by_crit: dict[int, dict] = {}
    for c, pt in zip(p.columns, pts):
        if c.kind in ("crit", "tier"):
            by_crit.setdefault(c.crit, {})[c.tier] = pt
    rows = {r["criterion"]: r for r in criteria_rows}
    specs = {}
    idx = 0
    for sc in rf.of(n.Score):
        for crit in sc.criteria:
            specs[idx] = crit
            idx += 1
    keys = _criterion_keys(rf)
    for i, crit in specs.items():
        got = by_crit.get(i, {})
        why_row = rows.get(keys[i])
        if crit.kind == "first":
            for j, tier in enumerate(crit.tiers):
                new = 0 if tier.cond is None else got.get(j, 0)
                if new == tier.points:
                    continue
                body = "otherwise" if tier.cond is None else f"when {printer.cond(tier.cond)}"
                reason = "the reference tier" if tier.cond is None else None
                tier_row = None
                if why_row is not None and not reason and why_row.get("tiers"):
                    t = why_row["tiers"][j]
                    tier_row = {"leads": t["leads"], "lift": _tier_lift(why_row["tiers"], j)}
                ed.replace(tier.span, f"{printer.points(new)} {body}",
                           _why(tier_row, f"was {printer.points(tier.points)}" + (f", {reason}" if reason else "")))
            continue
        new = got.get(None, crit.points)
        if new == crit.points:
            continue
        cap = None
        if crit.max is not None and crit.points:
            cap = round(abs(new) * crit.max / abs(crit.points), 2)
        rule = printer.criterion_rule(dataclasses.replace(crit, points=new, max=cap if new else None))
        ed.replace(crit.span, f"{printer.quote(crit.name)} {rule}", _why(why_row, f"was {printer.points(crit.points)}"))
    # new criteria at the end of their dimension
    for sc in rf.of(n.Score):
        add = [(c, pt) for c, pt in zip(p.columns, pts) if c.kind == "new" and c.dim == sc.dim and pt != 0]
        if not add:
            continue
        lines = "".join(f"  {printer.quote(c.name)} {printer.points(pt)} when {c.cond}  {_why(c.signal, 'new')}\n"
                        for c, pt in add)
        ed.insert_before(sc.span.end_line, sc.span.end_col, lines)
    if thresholds:
        for g in rf.of(n.Grade):
            ths = thresholds.get(g.dim)
            if not ths:
                continue
            for b, th, why in zip(g.bands, ths, band_why.get(g.dim, [])):
                if b.threshold is None or th is None or th == b.threshold:
                    continue
                ed.replace(b.span, f"{b.name} when >= {printer.num(th)}",
                           f"# was >= {printer.num(b.threshold)}, {why}")
    return ed.render()


def _tier_lift(tiers: list[dict], j: int) -> float | None:
    """Conversion of a tier's leads over the conversion of the criterion's other leads."""
    t = tiers[j]
    rest_n = sum(x["leads"] for i, x in enumerate(tiers) if i != j)
    rest_k = sum(x["converted"] for i, x in enumerate(tiers) if i != j)
    if not t["leads"] or not rest_n or not rest_k:
        return None
    return (t["converted"] / t["leads"]) / (rest_k / rest_n)


def _criterion_keys(rf) -> list[str]:
    names: dict[str, int] = {}
    for sc in rf.of(n.Score):
        for c in sc.criteria:
            names[c.name] = names.get(c.name, 0) + 1
    return [c.name if names[c.name] == 1 else f"{sc.dim}.{c.name}" for sc in rf.of(n.Score) for c in sc.criteria]


def recut(scores: dict[str, list[float]], shares: dict[str, list[tuple[str, float | None, int]]],
          floors: dict[str, float] | None = None) -> tuple[dict[str, list[float | None]], dict[str, list[str]]]:
    """New band thresholds per graded dimension that keep each band's share of leads: the band's
    lower bound is the score of the lead at the cumulative share of the bands above and it. A
    dimension whose new scores cannot keep its bands apart (thresholds not strictly decreasing above
    its floor) keeps today's thresholds."""
    out, why = {}, {}
    floors = floors or {}
    for dim, bands in shares.items():
        vals = sorted(scores.get(dim, []), reverse=True)
        total = sum(k for _, _, k in bands)
        if not vals or not total:
            continue
        ths: list[float | None] = []
        reasons = []
        cum = 0
        prev = math.inf
        for name, th, k in bands:
            cum += k
            if th is None:
                ths.append(None)
                reasons.append("")
                continue
            i = min(len(vals) - 1, max(0, round(cum / total * len(vals)) - 1))
            t = vals[i]
            if t >= prev:
                t = prev - 1
            ths.append(t)
            prev = t
            reasons.append(f"keeps {100 * cum / total:.0f}% of leads at {name} or above")
        cut = [t for t in ths if t is not None]
        if any(t <= floors.get(dim, 0) for t in cut):
            continue   # too few distinct scores to keep the shares: leave the thresholds as they are
        out[dim], why[dim] = ths, reasons
    return out, why


# Public names for the other analyses (calibrate, scorecard) that use these.
fit = _fit
