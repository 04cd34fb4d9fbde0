"""Synthetic leads for demos and benchmarks (`leadrules sample`): JSON Lines with embedded events that
fit a rule file's `fields` and `events`, deterministic for a seed, written as they are made (a million
leads need no more memory than ten).

To reach every band, values are not only random: the rule file's own literals are candidates. Every
condition is walked with the sign of what it leads to (a positive criterion, a negative one, a
disqualify rule; `not` flips the sign) and each test on a field or event attribute yields a value that
makes it true: the string of `=`/`in`/`contains`/`starts with`/`ends with`, an e-mail at the domain of
`domain(email) in [...]`, a number on and around a threshold, a date that many days back. Each lead
draws a *fit* (how often its fields take positive candidates) and a *heat* (how many events it has,
how recent, how often they hit `where` candidates), so the sample spans cold strangers to hot
prospects; a few leads (about 2%) are given one disqualifying value.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import random
from dataclasses import dataclass, field
from typing import IO, Any, Callable

from dsl import nodes as n

from runtime.core.kernel import date_ordinal

TEXT, NUMBER, DATE, BOOL, TEXT_LIST = "text", "number", "date", "bool", "text list"
POS, NEG, DISQ, SAFE = "pos", "neg", "disq", "safe"
DISQ_SHARE = 0.02       # leads given one disqualifying value
MISSING_SHARE = 0.03    # a field left out
MAX_EVENTS = 60

# ---- filler vocabulary (neutral values, chosen by the field's name) -------------------------------

FIRST = ("Ana", "Ben", "Chloe", "David", "Elif", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Lena",
         "Marco", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wei", "Yusuf")
LAST = ("Adams", "Berg", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ivanova", "Jensen",
        "Kim", "Lopez", "Moreau", "Novak", "Okafor", "Patel", "Rossi", "Silva", "Tanaka", "Weber", "Zhang")
TITLES = ("Analyst", "Engineer", "Consultant", "Specialist", "Coordinator", "Associate", "Designer",
          "Developer", "Accountant", "Administrator", "Intern", "Student", "Owner", "Advisor")
COMPANIES = ("Northwind", "Contoso", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Acme Labs",
             "Stark Works", "Wayne Group", "Tyrell", "Cyberdyne", "Soylent", "Wonka", "Gringotts")
INDUSTRIES = ("Retail", "Manufacturing", "Education", "Logistics", "Hospitality", "Agriculture",
              "Media", "Construction", "Energy", "Nonprofit", "Government", "Telecom")
COUNTRIES = ("US", "GB", "DE", "FR", "NL", "ES", "IT", "SE", "IN", "BR", "CA", "AU", "JP", "SG")
SOURCES = ("web", "event", "referral", "partner", "paid-search", "social", "list-import")
DOMAINS = ("mailhub.net", "corpmail.org", "northwind.com", "globex.io", "initech.co", "hooli.dev",
           "contoso.biz", "vandelay.net")
PAGES = ("/", "/blog/lead-scoring", "/docs/getting-started", "/about", "/careers", "/blog/crm-tips",
         "/customers", "/integrations", "/contact")
FUNCTIONS = ("Marketing", "Sales", "Engineering", "Finance", "Operations", "IT", "Product", "People",
             "Customer Success", "Data")
WORDS = ("alpha", "bravo", "delta", "echo", "kilo", "lima", "nova", "orbit", "pixel", "quartz", "sierra",
         "tango", "vector", "zephyr")


def _filler_text(name: str) -> Callable[[random.Random, dict], str]:
    """A neutral value for a text field or attribute, by its name."""
    low = name.lower()
    if "email" in low or low.endswith("mail"):
        def email(rng, lead):
            first = lead.get("_first") or rng.choice(FIRST)
            last = lead.get("_last") or rng.choice(LAST)
            return f"{first.lower()}.{last.lower()}{rng.randrange(100)}@{rng.choice(DOMAINS)}"
        return email
    for keys, pool in ((("first",), FIRST), (("last", "surname"), LAST), (("title", "role", "position"), TITLES),
                       (("company", "account", "organization", "org"), COMPANIES), (("industry", "sector"), INDUSTRIES),
                       (("country",), COUNTRIES), (("source", "channel", "campaign"), SOURCES),
                       (("page", "url", "path"), PAGES)):
        if any(k in low for k in keys):
            return lambda rng, lead, pool=pool: rng.choice(pool)
    if "name" in low:
        return lambda rng, lead: f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    if "domain" in low or "website" in low:
        return lambda rng, lead: rng.choice(DOMAINS)
    return lambda rng, lead: f"{rng.choice(WORDS)}-{rng.randrange(1000)}"


def _filler_number(name: str, thresholds: list[float]) -> Callable[[random.Random, dict], Any]:
    low = name.lower()
    top = max((abs(t) for t in thresholds), default=0)
    if "revenue" in low or "amount" in low or "budget" in low:
        lo, hi = 1e4, max(1e9, top * 3)
    elif "size" in low or "employee" in low or "headcount" in low:
        lo, hi = 1, max(50000, top * 3)
    elif top:
        lo, hi = 1, top * 3
    else:
        lo, hi = 1, 1000
    llo, lhi = math.log(lo), math.log(hi)
    return lambda rng, lead: int(round(math.exp(rng.uniform(llo, lhi))))


# ---- candidates from the rule file --------------------------------------------------------------


@dataclass
class Cand:
    """A way to make one test true: `how` is exact | contains | starts | ends | domain | missing |
    element | days_ago; `value` its argument."""

    how: str
    value: Any


@dataclass
class Target:
    type: str
    titles: bool = False   # a job title: candidates read best followed by a business function
    cands: dict[str, list[Cand]] = field(default_factory=lambda: {POS: [], NEG: [], DISQ: [], SAFE: []})
    weights: dict[str, list[float]] = field(default_factory=lambda: {POS: [], NEG: [], DISQ: [], SAFE: []})
    thresholds: list[float] = field(default_factory=list)
    cum: dict[str, list[float]] = field(default_factory=dict)

    def add(self, pol: str, c: Cand, weight: float = 1.0) -> None:
        """A candidate; its weight is the points of the criterion it serves (bigger is drawn more)."""
        lst = self.cands[pol]
        w = max(abs(weight), 1.0)
        if c in lst:
            i = lst.index(c)
            self.weights[pol][i] = max(self.weights[pol][i], w)
        else:
            lst.append(c)
            self.weights[pol].append(w)

    def pick(self, rng: random.Random, pol: str) -> Cand:
        cum = self.cum.get(pol)
        if cum is None:
            acc, cum = 0.0, []
            for w in self.weights[pol]:
                acc += w
                cum.append(acc)
            self.cum[pol] = cum
        return rng.choices(self.cands[pol], cum_weights=cum)[0]


def _flip(pol: str) -> str:
    return {POS: NEG, NEG: POS, DISQ: SAFE, SAFE: DISQ}[pol]


def _sign(points: float) -> str:
    return POS if points >= 0 else NEG


class Planner:
    """Walks the checked tree and collects candidates per field and per (event, attribute)."""

    def __init__(self, checked):
        self.fields: dict[str, str] = dict(checked.fields)
        self.events: dict[str, dict[str, str]] = {k: dict(v) for k, v in checked.events.items()}
        self.lists: dict[str, tuple] = dict(getattr(checked, "lists", {}) or {})
        self.field_t = {f: Target(t, titles=any(k in f.lower() for k in ("title", "role", "position")))
                        for f, t in self.fields.items()}
        self.attr_t = {(e, a): Target(t) for e, attrs in self.events.items() for a, t in attrs.items()}
        self.event_pol: dict[str, set[str]] = {e: set() for e in self.events}
        self.w = 1.0  # the points of the criterion being walked: candidates for bigger points weigh more
        rf = checked.file
        for d in rf.of(n.Disqualify):
            self.cond(d.cond, DISQ, None)
        for sc in rf.of(n.Score):
            for c in sc.criteria:
                if c.kind == "when":
                    self.w = c.points
                    self.cond(c.cond, _sign(c.points), None)
                elif c.kind == "first":
                    for t in c.tiers:
                        if t.cond is not None:
                            self.w = t.points
                            self.cond(t.cond, _sign(t.points), None)
                else:
                    self.w = c.points
                    self.filter(c.filter, _sign(c.points))

    # -- targets --
    def target(self, v, ev: str | None) -> Target | None:
        if isinstance(v, n.Name):
            if ev and (ev, v.name) in self.attr_t:
                return self.attr_t[(ev, v.name)]
            return self.field_t.get(v.name)
        if isinstance(v, n.Call) and v.func == "lower":
            return self.target(v.arg, ev)
        return None

    def items(self, ref) -> tuple:
        if isinstance(ref, n.Name):
            return tuple(self.lists.get(ref.name, ()))
        if isinstance(ref, n.ListLit):
            return tuple(i.value for i in ref.items)
        if isinstance(ref, n.Literal):
            return (ref.value,)
        return ()

    def filter(self, f: n.EventFilter, pol: str) -> None:
        if f.event is not None and f.event in self.event_pol:
            self.event_pol[f.event].add(pol)
        if f.where is not None:
            self.cond(f.where, pol, f.event)

    # -- conditions --
    def cond(self, c, pol: str, ev: str | None) -> None:
        if isinstance(c, n.Paren):
            return self.cond(c.cond, pol, ev)
        if isinstance(c, n.Not):
            return self.cond(c.cond, _flip(pol), ev)
        if isinstance(c, n.BoolOp):
            for i in c.items:
                self.cond(i, pol, ev)
            return
        if isinstance(c, n.Has):
            return self.filter(c.filter, pol)
        if isinstance(c, n.Compare):
            return self.compare(c, pol, ev)
        if isinstance(c, n.Between):
            lo, hi = self.num_lit(c.low), self.num_lit(c.high)
            if lo is not None and hi is not None:
                mid = (lo + hi) / 2
                for v in (lo, hi, int(mid) if isinstance(lo, int) and isinstance(hi, int) else mid):
                    self.number(c.value, v, pol, ev)
            return
        if isinstance(c, n.In):
            p = _flip(pol) if c.negated else pol
            for item in self.items(c.items):
                self.equal(c.value, item, p, ev)
            return
        if isinstance(c, n.TextTest):
            t = self.target(c.value, ev)
            if t is None:
                return self.domain_test(c, pol, ev)
            how = {"contains": "contains", "contains_any": "contains", "contains_word": "contains",
                   "contains_any_word": "contains", "contains_all": "contains_all", "starts_with": "starts",
                   "ends_with": "ends"}[c.op]
            vals = self.items(c.arg) if c.op in ("contains_any", "contains_all", "contains_any_word") else \
                self.items(c.arg) if isinstance(c.arg, n.Literal) else ()
            vals = tuple(str(v) for v in vals if v is not None)
            if not vals:
                return
            if t.type == TEXT_LIST:
                if how == "contains_all":
                    t.add(pol, Cand("elements", vals), self.w)
                else:
                    for v in vals:
                        t.add(pol, Cand("elements", (v,)), self.w)
                return
            if t.type != TEXT:
                return
            if how == "contains_all":
                t.add(pol, Cand("exact", " ".join(vals)), self.w)
            else:
                for v in vals:
                    t.add(pol, Cand(how, v), self.w)
            return
        if isinstance(c, n.Matches):
            t = self.target(c.value, ev)
            plain = c.pattern.strip("^$")
            if t is not None and t.type == TEXT and plain and all(ch.isalnum() or ch in " -_/.@" for ch in plain):
                t.add(pol, Cand("contains", plain.replace("\\", "")), self.w)
            return
        if isinstance(c, n.IsMissing):
            t = self.target(c.value, ev)
            if t is not None:
                t.add(pol if c.missing else _flip(pol), Cand("missing", None), self.w)
            return

    @staticmethod
    def num_lit(v):
        if isinstance(v, n.Literal) and v.kind == "number" and not isinstance(v.value, bool):
            return v.value
        return None

    def domain_test(self, c: n.TextTest, pol: str, ev):
        """`domain(email) ends with "x"` and friends: an address at a matching domain."""
        if not (isinstance(c.value, n.Call) and c.value.func == "domain"):
            return
        t = self.target(c.value.arg, ev)
        if t is None or t.type != TEXT:
            return
        vals = self.items(c.arg) if c.op in ("contains_any", "contains_all", "contains_any_word") else self.items(c.arg)
        for v in vals:
            if isinstance(v, str):
                d = v.lstrip("@.") if c.op in ("ends_with", "contains", "contains_any") else v
                t.add(pol, Cand("domain", d if "." in d else d + ".com"), self.w)

    def equal(self, value, lit, pol: str, ev):
        if isinstance(value, n.Call) and value.func == "domain":
            t = self.target(value.arg, ev)
            if t is not None and t.type == TEXT and isinstance(lit, str):
                t.add(pol, Cand("domain", lit), self.w)
            return
        t = self.target(value, ev)
        if t is None:
            return
        if t.type == TEXT and isinstance(lit, str):
            t.add(pol, Cand("exact", lit), self.w)
        elif t.type == TEXT_LIST and isinstance(lit, str):
            t.add(pol, Cand("elements", (lit,)), self.w)
        elif t.type == NUMBER and isinstance(lit, (int, float)) and not isinstance(lit, bool):
            t.add(pol, Cand("exact", lit), self.w)
            t.thresholds.append(lit)
        elif t.type == BOOL and isinstance(lit, bool):
            t.add(pol, Cand("exact", lit), self.w)
        elif t.type == DATE and isinstance(lit, str):
            t.add(pol, Cand("date", lit[:10]), self.w)

    def number(self, value, v, pol, ev):
        if isinstance(value, n.DaysSince):
            t = self.field_t.get(value.field)
            if t is not None:
                t.add(pol, Cand("days_ago", int(v)), self.w)
            return
        t = self.target(value, ev)
        if t is not None and t.type == NUMBER:
            t.add(pol, Cand("exact", v), self.w)
            t.thresholds.append(v)

    def compare(self, c: n.Compare, pol: str, ev):
        left, right, op = c.left, c.right, c.op
        if isinstance(left, n.Literal) and not isinstance(right, n.Literal):
            left, right = right, left
            op = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
        if not isinstance(right, n.Literal):
            return
        lit = right.value
        if isinstance(left, (n.Count,)):
            f = left.filter
            if f.event is not None and f.event in self.event_pol:
                # many events satisfy `count >= N`; few satisfy `count < N`
                self.filter(f, pol if op in (">", ">=", "=") else _flip(pol))
            return
        if right.kind == "number" and not isinstance(lit, bool):
            if op == "=":
                vals, p = (lit,), pol
            elif op == "!=":
                vals, p = (lit,), _flip(pol)
            elif op in (">", ">="):
                step = 1 if isinstance(lit, int) else 0.5
                vals = (lit if op == ">=" else lit + step, lit + step * (3 if lit == 0 else 0) + abs(lit))
                p = pol
            else:
                step = 1 if isinstance(lit, int) else 0.5
                vals = (lit if op == "<=" else lit - step, lit / 2 if lit > 0 else lit - 10)
                p = pol
            for v in vals:
                if isinstance(left, n.DaysSince):
                    self.number(left, max(0, int(v)), p, ev)
                else:
                    self.number(left, int(v) if isinstance(lit, int) and float(v).is_integer() else v, p, ev)
            return
        if op in ("=", "!="):
            self.equal(left, lit if right.kind != "date" else str(lit), pol if op == "=" else _flip(pol), ev)
        elif right.kind == "date":
            t = self.target(left, ev)
            if t is not None and t.type == DATE:
                d = date_ordinal(str(lit)[:10])
                shift = {"<": -1, "<=": 0, ">": 1, ">=": 0}[op]
                t.add(pol, Cand("ordinal", d + shift), self.w)
                t.add(pol, Cand("ordinal", d + shift * 30), self.w)


# ---- generation ---------------------------------------------------------------------------------


class Sampler:
    """Makes leads for one rule file; `lead(i)` returns one JSON-ready dict."""

    def __init__(self, checked, seed: int = 0, as_of: dt.date | None = None, id_field: str = "id"):
        self.plan = Planner(checked)
        self.rng = random.Random(seed)
        self.as_of = as_of or dt.date.today()
        self.asof_ord = self.as_of.toordinal()
        self.id_field = id_field
        self.field_order = [f for f in self.plan.fields if f != id_field]
        self.fill: dict[str, Callable] = {}
        for f in self.field_order:
            t = self.plan.field_t[f]
            self.fill[f] = self._filler(f, t)
        self.attr_fill: dict[tuple, Callable] = {k: self._filler(k[1], t) for k, t in self.plan.attr_t.items()}
        pol = self.plan.event_pol
        self.ev_types = list(self.plan.events)
        # an event type's weight per lead: positive ones grow with heat, negative ones shrink, and
        # types that disqualify stay rare
        self.ev_kind = [POS if POS in pol[e] else DISQ if DISQ in pol[e] else NEG if NEG in pol[e] else SAFE
                        for e in self.ev_types]
        self.disq = [(f, c) for f, t in self.plan.field_t.items() for c in t.cands[DISQ]]
        self.first_f = next((f for f in self.field_order if "first" in f.lower() and self.plan.fields[f] == TEXT), None)
        self.last_f = next((f for f in self.field_order if "last" in f.lower() and self.plan.fields[f] == TEXT), None)

    def _filler(self, name: str, t: Target) -> Callable:
        if t.type == TEXT:
            return _filler_text(name)
        if t.type == NUMBER:
            return _filler_number(name, t.thresholds)
        if t.type == DATE:
            return lambda rng, lead: self.asof_ord - int(rng.expovariate(1 / 200))
        if t.type == BOOL:
            # a bool that disqualifies (opted_out = true) takes that value only through the rare
            # disqualifying draw, never by chance
            bad = {c.value for c in t.cands[DISQ] if c.how == "exact"}
            if bad:
                safe = next((b for b in (False, True) if b not in bad), None)
                return lambda rng, lead: safe
            return lambda rng, lead: rng.random() < 0.15
        return lambda rng, lead: tuple(rng.sample(WORDS, rng.randrange(3)))

    # -- one value --
    def _make(self, t: Target, c: Cand, filler: Callable, lead: dict) -> Any:
        rng = self.rng
        how, v = c.how, c.value
        if how == "exact":
            return v
        if how == "missing":
            return None
        if how == "contains":
            r = rng.random()
            if r < 0.4:
                return v
            if t.titles:  # "VP" -> "VP Marketing", "Head of" -> "Head of Sales"
                return f"{v} {rng.choice(FUNCTIONS)}" if r < 0.85 else f"Senior {v}"
            base = filler(rng, lead)
            if not isinstance(base, str) or "@" in base:
                base = rng.choice(WORDS)
            return f"{base} {v}" if r < 0.7 else f"{v} {base}"
        if how == "starts":
            return v if rng.random() < 0.5 else f"{v}{rng.choice(('', '/', '-', ' '))}{rng.choice(WORDS)}"
        if how == "ends":
            sep = "" if not v[:1].isalnum() else " "
            return f"{rng.choice(WORDS)}{sep}{v}"
        if how == "domain":
            first = (lead.get("_first") or rng.choice(FIRST)).lower()
            return f"{first}{rng.randrange(100)}@{v}"
        if how == "elements":
            return tuple(v)
        if how == "days_ago":
            return self.asof_ord - v
        if how == "ordinal":
            return v
        if how == "date":
            return date_ordinal(v)
        return v

    def value(self, t: Target, filler: Callable, fit: float, lead: dict, *, avoid_disq: bool = True) -> Any:
        rng = self.rng
        r = rng.random()
        pos, neg = t.cands[POS], t.cands[NEG]
        if pos and r < 0.95 * fit:
            c = t.pick(rng, POS)
        elif neg and r < 0.95 * fit + 0.15 * (1 - fit):
            c = t.pick(rng, NEG)
        elif t.cands[SAFE] and r < 0.5:
            c = t.pick(rng, SAFE)
        else:
            v = filler(rng, lead)
            if t.type == TEXT_LIST and pos and rng.random() < fit:
                v = tuple(v) + tuple(t.pick(rng, POS).value)
            return v
        v = self._make(t, c, filler, lead)
        if t.type == TEXT_LIST and v is not None:
            extra = filler(rng, lead)
            v = tuple(v) + tuple(x for x in extra if x not in v)
        return v

    # -- one lead --
    def lead(self, i: int, width: int = 7) -> dict:
        rng = self.rng
        fit = rng.betavariate(0.6, 0.6)   # more strangers and more perfect fits than a uniform draw
        # leads who fit tend to engage: half of the leads get a heat near their fit, half a random one
        heat = min(1.0, max(0.0, fit + rng.gauss(0, 0.15))) if rng.random() < 0.5 else rng.random()
        out: dict[str, Any] = {self.id_field: f"L{i:0{width}d}"}
        ctx: dict[str, Any] = {}
        if self.first_f:
            ctx["_first"] = rng.choice(FIRST)
        if self.last_f:
            ctx["_last"] = rng.choice(LAST)
        plan = self.plan
        for f in self.field_order:
            t = plan.field_t[f]
            if f == self.first_f:
                v = ctx["_first"] if not t.cands[POS] or rng.random() > fit else self.value(t, self.fill[f], fit, ctx)
            elif f == self.last_f:
                v = ctx["_last"] if not t.cands[POS] or rng.random() > fit else self.value(t, self.fill[f], fit, ctx)
            else:
                v = self.value(t, self.fill[f], fit, ctx)
            if rng.random() < MISSING_SHARE:
                v = None
            out[f] = v
        if self.disq and rng.random() < DISQ_SHARE:
            f, c = rng.choice(self.disq)
            out[f] = self._make(plan.field_t[f], c, self.fill[f], ctx)
        for f in self.field_order:
            v = out[f]
            if v is None:
                del out[f]
                continue
            typ = plan.fields[f]
            if typ == DATE:
                out[f] = dt.date.fromordinal(v).isoformat()
            elif typ == TEXT_LIST:
                out[f] = list(v)
            elif typ == NUMBER and isinstance(v, float):
                out[f] = round(v, 2)
        if plan.events:
            out["events"] = self.events(heat)
        return out

    def events(self, heat: float) -> list[dict]:
        rng = self.rng
        lam = 0.3 + 14 * heat ** 3
        k = min(MAX_EVENTS, int(rng.expovariate(1 / lam)))
        if k == 0:
            return []
        types = self.ev_types
        w = {POS: 0.5 + 3 * heat, NEG: 0.06 * (1 - heat) + 0.01, DISQ: 0.004, SAFE: 1.0}
        weights = [w[k] for k in self.ev_kind]
        mean_age = 3 + 150 * (1 - heat) ** 2
        plan = self.plan
        evs = []
        for typ in rng.choices(types, weights, k=k):
            age = min(720, int(rng.expovariate(1 / mean_age)))
            e: dict[str, Any] = {"type": typ}
            for a in plan.events[typ]:
                t = plan.attr_t[(typ, a)]
                v = self.value(t, self.attr_fill[(typ, a)], 0.2 + 0.75 * heat, {})
                if v is None:
                    continue
                if t.type == DATE:
                    v = dt.date.fromordinal(v).isoformat()
                elif t.type == TEXT_LIST:
                    v = list(v)
                e[a] = v
            day = dt.date.fromordinal(self.asof_ord - age)
            e["at"] = f"{day.isoformat()}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z"
            evs.append((age, e))
        evs.sort(key=lambda x: -x[0])  # oldest first, as a CRM export lists them
        return [e for _, e in evs]


def _as_columns(checked, id_field: str):
    """A sample lead with the keys the rule file reads it by (`from "..."`, docs/input.md), so that the
    sample reads back as it was made."""
    sources = dict(getattr(checked, "sources", {}))
    id_col = getattr(checked, "id_column", None) if id_field == "id" else None
    ev_cols = dict(getattr(checked, "event_columns", {}))
    ev_src = dict(getattr(checked, "event_sources", {}))
    attr_src = {k: dict(v) for k, v in getattr(checked, "attr_sources", {}).items()}
    if not (sources or id_col or ev_cols or ev_src or attr_src):
        return lambda lead: lead
    tcol, acol = ev_cols.get("type", "type"), ev_cols.get("at", "at")

    def event(e: dict) -> dict:
        t = e["type"]
        cols = attr_src.get(t, {})
        out = {}
        for k, v in e.items():
            if k == "type":
                out[tcol] = ev_src.get(t, t)
            elif k == "at":
                out[acol] = v
            else:
                out[cols.get(k, k)] = v
        return out

    def named(lead: dict) -> dict:
        out = {}
        for k, v in lead.items():
            if k == id_field:
                out[id_col or k] = v
            elif k == "events":
                out[k] = [event(e) for e in v]
            else:
                out[sources.get(k, k)] = v
        return out

    return named


def write_sample(checked, out: IO[str], count: int, *, seed: int = 0, as_of: dt.date | None = None,
                 id_field: str = "id", progress=None) -> int:
    """Write `count` leads as JSON Lines to `out`; returns how many were written."""
    s = Sampler(checked, seed, as_of, id_field)
    width = max(7, len(str(count)))
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    write = out.write
    rng_range = range(1, count + 1) if progress is None else progress
    named = _as_columns(checked, id_field)
    buf = []
    for i in rng_range:
        buf.append(dumps(named(s.lead(i, width))))
        if len(buf) >= 256:
            buf.append("")
            write("\n".join(buf))
            buf = []
    if buf:
        buf.append("")
        write("\n".join(buf))
    return count
