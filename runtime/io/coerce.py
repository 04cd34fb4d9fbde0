"""The input contract's values: what each declared type accepts, from JSON and from CSV text.

Defined once, here; every engine reads its input through runtime.io.readers, which uses these (the
DuckDB engine included), so a value means the same everywhere. docs/input.md says it for users.

- missing: absent, null, or text that is empty after trimming (stored as None).
- text: as written (not trimmed: the engine normalises); a JSON number or bool becomes its text
  (`12` -> "12", `12.0` -> "12", `true` -> "true"); a list or object is not a text.
- number: a JSON number, or text that is one after trimming: ASCII digits, an optional sign, decimal
  point and exponent (`7`, ` 7 `, `-1.5`, `2e3`). Not: `1_000`, `1,000`, `1 000`, `inf`, `nan`, bools.
- bool: true/false, or text true/false/yes/no/1/0 (any case, trimmed), or the numbers 0/1.
- date: `YYYY-MM-DD`, or an ISO 8601 time stamp (`2026-11-01T09:30:00Z`, `+02:00`, no offset = UTC),
  read as its UTC date (as a `date.toordinal()`); its UTC date must fall in the years 1 to 9999.
- text list: a JSON list of scalars (nulls and blanks dropped), or one text split on `;` (items
  trimmed, empty ones dropped).
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from typing import Any, Callable

from runtime.core.model import BOOL, DATE, NUMBER, TEXT, TEXT_LIST

__all__ = ["Bad", "show", "blank", "day_ordinal", "c_text", "c_number", "c_date", "c_bool", "c_text_list",
           "COERCERS", "coerce", "EXPECTED_TIME"]

EXPECTED_TIME = "expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS with Z or ±HH:MM"


class Bad(Exception):
    """One value, event or row that cannot be read; `reason` says why (as the bad-row report words it)."""

    __slots__ = ("reason", "key", "column")

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
        self.key: str | None = None       # the column (JSON key) whose value is at fault
        self.column: int | None = None    # JSON Lines: the 1-based column in the line


_UTC = dt.timezone.utc
_fromiso = dt.datetime.fromisoformat
_Decimal = decimal.Decimal
# a number written as text: what `float()` reads, but ASCII only and no `_`, `inf`, `nan`, hex
_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def show(v: Any, limit: int = 60) -> str:
    """A value as it would be written in JSON, shortened, for messages."""
    try:
        s = json.dumps(v, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        s = repr(v)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def blank(v: Any) -> bool:
    return v.__class__ is str and (not v or v.isspace())


def day_ordinal(v: Any) -> int:
    """The UTC date (as `date.toordinal()`) of `YYYY-MM-DD`, an ISO time stamp (`Z`, `±HH:MM` or no
    offset = UTC), or a date/datetime object. Raises ValueError (or OverflowError when the UTC date
    leaves the years 1-9999) when it is none of those."""
    if v.__class__ is str:
        n = len(v)
        if n >= 10 and v[4] == "-" and v[7] == "-" and (n == 10 or v[10] in "Tt "):
            t = _fromiso(v)  # ValueError when invalid
            if n == 10 or t.tzinfo is None or v[-1] == "Z":
                return t.toordinal()
            return t.astimezone(_UTC).toordinal()  # OverflowError out of years 1-9999
        s = v.strip()
        if s and s != v:
            return day_ordinal(s)
        raise ValueError(v)
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(_UTC)
        return v.toordinal()
    if isinstance(v, dt.date):
        return v.toordinal()
    raise ValueError(v)


def c_text(v: Any) -> Any:
    c = v.__class__
    if c is str:
        return v if v and not v.isspace() else None
    if c is int:
        return str(v)
    if c is bool:
        return "true" if v else "false"
    if c is float:
        if v - v == 0.0 and v == int(v):
            return str(int(v))
        return repr(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (str, int, float)):  # subclasses (numpy scalars, enums ...)
        return c_text(str(v) if isinstance(v, str) else int(v) if isinstance(v, int) else float(v))
    if isinstance(v, _Decimal):
        return c_text(int(v)) if v.is_finite() and v == v.to_integral_value() else str(v)
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    raise Bad(f"{show(v)} is not a text")


def c_number(v: Any) -> Any:
    c = v.__class__
    if c is int:
        return v
    if c is float:
        if v - v == 0.0:  # finite
            return v
        raise Bad(f"{show(str(v))} is not a number")
    if c is str:
        s = v.strip()
        if not s:
            return None
        if _NUMBER_RE.fullmatch(s):
            if "." not in s and "e" not in s and "E" not in s:
                return int(s)
            f = float(s)
            if f - f == 0.0:
                return f
        raise Bad(f"{show(v)} is not a number")
    if not isinstance(v, bool):
        if isinstance(v, _Decimal):
            if v.is_finite():
                return int(v) if v == v.to_integral_value() else float(v)
        elif isinstance(v, (int, float, str)):  # subclasses (numpy scalars ...)
            return c_number(int(v) if isinstance(v, int) else float(v) if isinstance(v, float) else str(v))
    raise Bad(f"{show(v)} is not a number")


def c_date(v: Any) -> Any:
    try:
        return day_ordinal(v)
    except (ValueError, TypeError, OverflowError):
        pass
    if blank(v):
        return None
    raise Bad(f"{show(v)} is not a date ({EXPECTED_TIME}, in the years 1-9999 UTC)")


_BOOLS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


def c_bool(v: Any) -> Any:
    if v is True or v is False:
        return v
    c = v.__class__
    if c is str:
        b = _BOOLS.get(v)
        if b is None:
            s = v.strip()
            if not s:
                return None
            b = _BOOLS.get(s.lower())
        if b is not None:
            return b
    elif c is int and (v == 0 or v == 1):
        return v == 1
    raise Bad(f"{show(v)} is not a bool (expected true/false, yes/no or 1/0)")


def c_text_list(v: Any) -> Any:
    c = v.__class__
    if c is str:
        if ";" not in v:
            s = v.strip()
            return (s,) if s else None
        if not v.strip():
            return None
        return tuple(s for s in (p.strip() for p in v.split(";")) if s)
    if c is list or c is tuple:
        out = []
        for x in v:
            if x is None:
                continue
            if x.__class__ is str:
                if x and not x.isspace():
                    out.append(x)
                continue
            if isinstance(x, (list, tuple, dict)):
                raise Bad(f"{show(v)} is not a text list (its items must be texts, not lists or objects)")
            out.append(c_text(x))
        return tuple(out)
    raise Bad(f"{show(v)} is not a text list (expected a list of texts or \"a;b;c\")")


COERCERS: dict[str, Callable[[Any], Any]] = {
    TEXT: c_text, NUMBER: c_number, DATE: c_date, BOOL: c_bool, TEXT_LIST: c_text_list,
}


def coerce(value: Any, type_name: str) -> Any:
    """`value` as the declared type `type_name` (None when missing); ValueError with the reason."""
    if value is None:
        return None
    try:
        return COERCERS[type_name](value)
    except Bad as e:
        raise ValueError(e.reason) from None
