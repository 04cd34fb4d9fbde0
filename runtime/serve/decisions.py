"""The decision log: one JSON line per scored lead (time, lead id, ruleset and its rules_sha256,
grade, route, the lead's declared fields with the listed ones masked, and the shadow ruleset's
decision beside the live one). Lines are written whole, under a lock, and flushed.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any


def mask_value(v: Any) -> Any:
    """`***` in place of a value; an e-mail address keeps its domain (the company, which accounts and
    reports need), e.g. `***@bigco.com`. Missing values stay null."""
    if v is None:
        return None
    if isinstance(v, str) and "@" in v:
        return "***@" + v.rsplit("@", 1)[1]
    return "***"


class DecisionLog:
    def __init__(self, path: str, mask: frozenset[str] = frozenset()):
        self.path = path
        self.mask = mask
        self.fh = open(path, "a", encoding="utf-8")
        self._lock = threading.Lock()
        self._dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode

    def lead_fields(self, obj: dict, schema) -> dict:
        """The declared fields as received (not the undeclared ones), masked."""
        out = {}
        for f in schema.fields:
            if f in obj:
                v = obj[f]
                out[f] = mask_value(v) if f in self.mask else v
        return out

    def lead_id(self, lead_id: Any) -> Any:
        return mask_value(lead_id) if "id" in self.mask else lead_id

    def write(self, entries: list[dict]) -> None:
        if not entries:
            return
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        text = "".join(self._dumps({"time": now, **e}) + "\n" for e in entries)
        with self._lock:
            self.fh.write(text)
            self.fh.flush()

    def close(self) -> None:
        with self._lock:
            self.fh.close()
