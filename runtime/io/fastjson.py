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
from typing import Any

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
