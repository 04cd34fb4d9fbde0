"""The kernel of meaning: each rule of the language's arithmetic and text handling, defined once.

The closure engine calls these functions; generated Python imports them by `__all__` (as jinja2's
generated code imports from jinja2.runtime) and inlines a few for speed where tests/test_kernel.py
pins the inlined form to the function; the SQL generator has one builder per rule, pinned to these
functions by property tests that run the SQL in DuckDB (tests/test_kernel.py). docs/language.md
describes the rules for a reader; docs/architecture.md lists where each is used.
"""
from __future__ import annotations

import datetime as _dt
import math
import re

from dsl.nodes import grade_matches

__all__ = [
    "norm", "norm_list", "domain", "words_regex", "word_match", "date_ordinal", "known_age", "in_window",
    "per_unit",
    "decay_weight", "decay_table", "DECAY_TABLE_SIZE", "cap", "clamp", "round2", "clamp_round",
    "band", "grade_matches", "pattern_matches", "route_choice", "whole_points", "reasons", "REASONS_MAX", "REASONS_ORDER_CAP",
    "reset_age", "reset_keeps", "ordinal_text",
]


# ---- text ----------------------------------------------------------------------------------------


def norm(v):
    """Text as the language compares it: trimmed, lower case; empty text is missing (None)."""
    if v is None:
        return None
    if not isinstance(v, str):
        v = str(v)
    v = v.strip().lower()
    return v or None


def norm_list(v):
    """A text list as the language compares it: every item normalized, missing items dropped; an
    empty list is missing (None)."""
    if v is None:
        return None
    out = tuple(x for x in (norm(i) for i in v) if x is not None)
    return out or None


def domain(s):
    """`domain(x)`: the part after the last `@` of a (normalized) text, trimmed; None when there is
    no `@` or nothing after it."""
    if s is None or "@" not in s:
        return None
    return s.rsplit("@", 1)[1].strip() or None


_NONWORD = r"[\W_]+"


def words_regex(phrases) -> re.Pattern:
    """Whole-word match of one or more phrases; words are runs of letters and digits, and the words
    of a phrase may be separated by any run of other characters."""
    alts = []
    for p in phrases:
        ws = [w for w in re.split(_NONWORD, p.lower()) if w]
        if ws:
            alts.append(_NONWORD.join(re.escape(w) for w in ws))
    if not alts:
        return re.compile(r"(?!x)x")
    return re.compile(r"(?<![^\W_])(?:" + "|".join(alts) + r")(?![^\W_])")


def word_match(value, phrase, islist: bool = False) -> bool:
    """`value contains word phrase` when the phrase is only known per lead (a field, an attribute)."""
    if value is None or phrase is None:
        return False
    r = words_regex([phrase])
    return any(r.search(x) for x in value) if islist else r.search(value) is not None


# ---- dates ---------------------------------------------------------------------------------------


def date_ordinal(text: str) -> int:
    """A date (`YYYY-MM-DD`) or time stamp's UTC date, as a proleptic ordinal (date.toordinal())."""
    if len(text) == 10:
        return _dt.date.fromisoformat(text).toordinal()
    t = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is not None:
        t = t.astimezone(_dt.timezone.utc)
    return t.date().toordinal()


def ordinal_text(day: int) -> str:
    """A date ordinal as `YYYY-MM-DD` (reports)."""
    return _dt.date.fromordinal(day).isoformat()
def known_age(asof: int, day) -> int | None:
    """Whole days from a date field's day (an ordinal) to the as-of day. None when the date is
    missing or after the as-of day: a date in the future is not yet known (`days since created_at`
    is then missing, and a window counted from it holds no events)."""
    if day is None or day > asof:
        return None
    return asof - day


def in_window(age: int, within, anchor_age=None, anchored: bool = False) -> bool:
    """Is an event `age` days old inside `within N days`? Without an anchor: age <= N. With one
    (`within N days of FIELD`, `anchor_age` = known_age of the field): the event's day is from the
    field's day to N days after it, 0 <= anchor_age - age <= N; never when the field is not known."""
    if anchored:
        return anchor_age is not None and 0 <= anchor_age - age <= within
    return within is None or age <= within


def per_unit(points, amount, weight=1.0):
    """One event's points under `+P per ATTR`: (P × the attribute) × the decay weight; None when the
    event has no value for the attribute (it adds nothing and does not make the criterion fire)."""
    if amount is None:
        return None
    return points * amount * weight


# ---- points --------------------------------------------------------------------------------------


def decay_weight(age: int, half_life) -> float:
    """The weight of an event `age` whole days old under a half-life of `half_life` days:
    0.5 ** (age / half_life); 1.0 without decay (half_life None)."""
    if half_life is None:
        return 1.0
    return 0.5 ** (age / half_life)


DECAY_TABLE_SIZE = 4096  # ages (days) with a precomputed weight in generated code


def decay_table(half_life) -> tuple:
    """decay_weight(age, half_life) for ages 0..DECAY_TABLE_SIZE-1 (generated code looks them up)."""
    return tuple(decay_weight(a, half_life) for a in range(DECAY_TABLE_SIZE))


def cap(total, points, limit):
    """A criterion's `max M` applied to its total: positive points are capped at M, negative points
    at -M (a penalty is capped in size); no cap when `limit` is None."""
    if limit is None:
        return total
    if points >= 0:
        return limit if total > limit else total
    return -limit if total < -limit else total


def clamp(total, mx, floor):
    """A dimension's sum held to [floor, max]."""
    if total > mx:
        return mx
    if total < floor:
        return floor
    return total


def round2(x) -> float:
    """Scores are rounded half up to two decimals: floor(x * 100 + 0.5) / 100."""
    return math.floor(x * 100 + 0.5) / 100


def clamp_round(total, mx, floor) -> float:
    """A dimension's score from the sum of its criteria: clamped, then rounded."""
    return round2(clamp(total, mx, floor))


# ---- resets ----------------------------------------------------------------------------------------


def reset_age(ages):
    """`reset on E [where C]`: the age (whole days before the as-of date) of the latest matching reset
    event, from the ages of the matching events on or before the as-of date (all >= 0); None when
    there is none (nothing is reset)."""
    return min(ages, default=None)


def reset_keeps(age: int, reset: int | None, is_reset: bool) -> bool:
    """Does an event `age` days old still count for a dimension's event criteria, when the dimension
    was reset `reset` days ago (None: never)? Only the events after the reset day count, and, of the
    reset's own day, the reset events themselves (`is_reset`: the event matches a `reset on` line of
    the dimension), so that a criterion on the reset event scores the latest one."""
    return reset is None or age < reset or (age == reset and is_reset)


# ---- grades and routes ---------------------------------------------------------------------------


def band(score, bands):
    """A grade block's band for a rounded score: the first band, top-down, whose threshold the
    score reaches (`otherwise` has threshold None); None when none does. `bands`: [(name, threshold)]."""
    for name, th in bands:
        if th is None or score >= th:
            return name
    return None


def pattern_matches(kind: str, text: str, grade: str | None, disqualified: bool) -> bool:
    """Does a route pattern (`kind`: "grade", "disqualified" or "otherwise") take this lead?"""
    if kind == "otherwise":
        return True
    if kind == "disqualified":
        return disqualified
    if disqualified or grade is None:
        return False
    return grade_matches(text, grade)


def route_choice(lines, grade: str | None, disqualified: bool, account_bands=None):
    """The index of the first route line that takes the lead, or None. `lines`: a sequence of
    (patterns, account_band) where patterns are (kind, text) pairs. A line that names an account band
    takes only a lead (not disqualified) whose account has that band; with `account_bands` None
    (the account is not scored yet) such lines are skipped."""
    for i, (patterns, account_band) in enumerate(lines):
        if account_band is not None:
            if account_bands is None or disqualified or account_band not in account_bands:
                continue
        if any(pattern_matches(k, t, grade, disqualified) for k, t in patterns):
            return i
    return None


# ---- reasons -------------------------------------------------------------------------------------

REASONS_MAX = 255  # characters: what fits a CRM text field
REASONS_ORDER_CAP = 10**12  # whole points beyond this count as this much for the order (ties in file order)


def whole_points(p) -> int:
    """A criterion's points as a reason shows them: whole points, half away from zero."""
    w = math.floor(abs(p) + 0.5)
    return w if p >= 0 else -w


def reasons(names, points, disqualified: str | None = None) -> str:
    """The short text a rep reads: the disqualification reason, or the criteria that contributed
    most, largest first (ties in file order), as `Name +40; Other -20`, as many whole items as fit
    in REASONS_MAX characters. Criteria whose whole points are 0 are left out; for the order, whole
    points beyond REASONS_ORDER_CAP count as REASONS_ORDER_CAP (so that SQL can order by one exact
    BIGINT key). `names` and `points` are per criterion, in file order."""
    if disqualified is not None:
        return disqualified[:REASONS_MAX]
    # (whole_points and the order key written out: this runs for every scored lead)
    floor, cap = math.floor, REASONS_ORDER_CAP
    items = []
    for i, p in enumerate(points):
        if p:
            if p > 0:
                w = floor(p + 0.5)
                if w:
                    items.append((-(w if w < cap else cap), i, f"{names[i]} +{w}"))
            else:
                w = floor(0.5 - p)
                if w:
                    items.append((-(w if w < cap else cap), i, f"{names[i]} -{w}"))
    if not items:
        return ""
    items.sort()
    text = "; ".join([t for _a, _i, t in items])
    if len(text) <= REASONS_MAX:
        return text
    out, size = [], -2
    for _a, _i, t in items:
        size += 2 + len(t)
        if size > REASONS_MAX:
            break
        out.append(t)
    return "; ".join(out)
