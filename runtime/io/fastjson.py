"""JSON text -> Python values for the readers: msgspec when it is installed (`pip install
'leadrules[fast]'`, about twice as fast as the standard library on lead rows), else the standard
library's `json`. Both give the same value, or the same error, for every input (tests/test_fastjson.py).

Why msgspec and not orjson (bench/RESULTS.md): on bench rows msgspec decodes ~10 % faster than orjson
and, unlike orjson, keeps integers beyond 64 bits exact (orjson turns them into floats, silently).
Its typed structs are faster still, but a struct decides the columns and their types, which the input
contract (docs/input.md: columns matched ignoring case, "166" read as a number, bad rows reported) does
not: rows stay dicts. Where msgspec refuses a line, the standard library reads it (and words the error).
`leadrules --version` says which parser is used.
"""
from __future__ import annotations

import json
import os
from typing import Any, Callable

_std_loads = json.loads

try:
    import msgspec as _msgspec
except ImportError:  # the `fast` extra is not installed: the standard library, same results
    _msgspec = None

# a line nested ~1000 deep: the standard library gives up a few levels before msgspec does, so such a
# line is read by the standard library (its verdict is the contract); only long lines can be that deep
_DEEP_LEN, _DEEP_OPEN = 1900, 900


def _fast_loads(text: str) -> Any:
    try:
        v = _decode(text)
    except Exception:  # not JSON to msgspec (NaN, 1e400, a lone surrogate ...): the standard library decides
        return _std_loads(text)
    if len(text) > _DEEP_LEN and text.count("[") + text.count("{") > _DEEP_OPEN:
        return _std_loads(text)
    return v


def use(parser: str) -> str:
    """Select the parser: "msgspec", "json" or "auto" (msgspec when installed). Returns the one used."""
    global loads, PARSER
    if parser not in ("auto", "msgspec", "json"):
        raise ValueError(f"unknown JSON parser {parser!r}")
    if parser != "json" and _msgspec is not None:
        loads, PARSER = _fast_loads, "msgspec"
    elif parser == "msgspec":
        raise ValueError("msgspec is not installed (pip install 'leadrules[fast]')")
    else:
        loads, PARSER = _std_loads, "json"
    return PARSER


def describe() -> str:
    """One line for `leadrules --version`: which parser reads JSON Lines and why."""
    if PARSER == "msgspec":
        return f"JSON reader: msgspec {_msgspec.__version__} (the fast extra)"
    if _msgspec is None:
        return "JSON reader: json (standard library; pip install 'leadrules[fast]' reads JSON Lines about 2x faster)"
    return "JSON reader: json (standard library, chosen by LEADRULES_JSON=json)"


_decode = _msgspec.json.Decoder().decode if _msgspec is not None else None
loads = _std_loads
PARSER = "json"
# LEADRULES_JSON=json forces the standard library (to compare, or to rule the fast parser out)
use("json" if os.environ.get("LEADRULES_JSON", "").strip().lower() in ("json", "stdlib") else "auto")


def row_reader(fields, id_field: str, event_attrs) -> Callable[[str], Any] | None:
    """A JSON Lines row decoded by msgspec into a struct of exactly these keys, for generated code
    (runtime/backends/pygen.py `score_struct`): the lead's `fields` as attributes `f_<field>`, its
    `id_field` as `id_`, its `events` (when `event_attrs` is not None) as `events_`, a list of event
    structs with `e_type`, `e_at` and `a_<attribute>` for each of `event_attrs`. Every value is kept
    as the JSON has it (the generated code checks it as score_obj checks a dict's).

    The returned `read(text)` gives the struct, or None when this is not such a row — a key the
    struct does not have (another column: the reader matches columns by name, ignoring case), an
    event that is not an object, anything msgspec refuses, a `\\u` escape (lone surrogates are the
    reader's to report) or a line nested deep enough for the guard above. The caller then reads the
    line as before. None (no reader) when msgspec is not the parser in use or a name cannot be an
    attribute. Measured in bench/RESULTS.md: decoding into structs skips a dict per lead and per
    event (~0.4 s of ~3.4 s at 100k bench leads)."""
    if PARSER != "msgspec":
        return None
    from typing import Any as _Any, Optional

    names = list(fields) + [id_field] + (["events"] if event_attrs is not None else [])
    if len(set(names)) != len(names) or not all(isinstance(x, str) and x.isidentifier() for x in names):
        return None
    if event_attrs is not None and not all(isinstance(a, str) and a.isidentifier() for a in event_attrs):
        return None
    struct_kw = dict(forbid_unknown_fields=True, gc=False)
    row_fields: list = [("id_", _Any, None)] + [("f_" + f, _Any, None) for f in fields]
    rename = {"id_": id_field, **{"f_" + f: f for f in fields}}
    if event_attrs is not None:
        ev_fields = [("e_type", _Any, None), ("e_at", _Any, None)] + [("a_" + a, _Any, None) for a in event_attrs]
        ev_rename = {"e_type": "type", "e_at": "at", **{"a_" + a: a for a in event_attrs}}
        Event = _msgspec.defstruct("LeadEvent", ev_fields, rename=ev_rename, gc=False)
        row_fields.append(("events_", Optional[list[Event]], None))
        rename["events_"] = "events"
    Row = _msgspec.defstruct("LeadRow", row_fields, rename=rename, **struct_kw)
    decode = _msgspec.json.Decoder(Row).decode
    # (a line with bytes that were not UTF-8 holds surrogates: msgspec cannot encode it, UnicodeError)
    errors = (_msgspec.ValidationError, _msgspec.DecodeError, UnicodeError)

    def read(text: str):
        if "\\u" in text or (len(text) > _DEEP_LEN and text.count("[") + text.count("{") > _DEEP_OPEN):
            return None
        try:
            return decode(text)
        except errors:
            return None

    return read
