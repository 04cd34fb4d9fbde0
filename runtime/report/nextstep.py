"""Rendering `explain --next` (runtime/analysis/nextstep.py): text, markdown and JSON. Each step with
its cost, the points the rules give it, and the score, grade and route the engine verified."""
from __future__ import annotations

import json

from dsl import printer


def _head(d: dict) -> str:
    if d["disqualified"]:
        return f'Lead {d["id"]} as of {d["as_of"]}: disqualified "{d["disqualified"]}" -> {d["route"]}'
    scores = ", ".join(f"{k} {printer.num(v)}" for k, v in d["scores"].items())
    return f"Lead {d['id']} as of {d['as_of']}: grade {d['grade']} ({scores}) -> {d['route']}"


def step_line(k: int, s: dict) -> str:
    v = s["verified"]
    dim = s["dimension"]
    line = (f"{k}. {s['change']} ({s['criterion']} {printer.points(s['points'])}): {dim} "
            f"{printer.num(v['scores'][dim])}, grade {v['grade']}, route {v['route']}")
    if s.get("by"):
        line += f"; by {s['by']}"
    elif s.get("by_note") and s.get("kind") == "events":
        line += f"; {s['by_note']}"
    # `on`: the events are proposed for a later day (the dimension was reset today, docs/over-time.md)
    when = f"done on {s['on']}" if s.get("on") else "done today"
    if s.get("kind") == "events" and "lasts_until" in s:
        line += f"; {when}, it holds until {s['lasts_until']}" if s["lasts_until"] else f"; {when}, it holds for a year or more"
    elif s.get("on"):
        line += f"; {when}"
    notes = []
    if s.get("predicted_events") and s["predicted_events"] != s.get("events"):
        notes.append(f"the points alone need {s['predicted_events']}")
    if s["also_changes"]:
        notes.append("also " + ", ".join(f"{c['criterion']} {printer.points(c['points'])}" for c in s["also_changes"]))
    if notes:
        line += f" ({'; '.join(notes)})"
    return line


def as_text(d: dict, tty: bool = False):
    from rich.console import Group
    from rich.text import Text

    parts = [Text(_head(d), style="bold" if tty else "")]
    if d["steps"]:
        parts.append(Text("The next step up, cheapest first (each verified by scoring the changed lead):"))
        parts.append(Text("\n".join(step_line(k, s) for k, s in enumerate(d["steps"], 1))))
    elif not d["disqualified"]:
        parts.append(Text("No single criterion moves this lead to a better grade or route."))
    if d["not_exact"]:
        parts.append(Text("Not covered or not exact:\n" + "\n".join(f"- {x}" for x in d["not_exact"])))
    return Group(*parts)


def as_markdown(d: dict) -> str:
    out = [f"### {_head(d)}", ""]
    for k, s in enumerate(d["steps"], 1):
        out.append(step_line(k, s))
    if not d["steps"]:
        out.append("No single criterion moves this lead to a better grade or route.")
    if d["not_exact"]:
        out += ["", "**Not covered or not exact**", ""] + [f"- {x}" for x in d["not_exact"]]
    return "\n".join(out) + "\n"


def as_json(d: dict) -> str:
    return json.dumps(d, indent=2, ensure_ascii=False, default=str)
