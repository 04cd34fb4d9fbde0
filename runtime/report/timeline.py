"""Rendering a lead's timeline (runtime/analysis/timeline.py) as text, markdown or JSON.

One line per change — "2026-10-03: engagement 74.8 → 52.1 (decay −22.7), band 1 → 2, route sales →
nurture" — with the events that arrived named under it, then the table of every date.
"""
from __future__ import annotations

import json

from dsl import printer


def _num(x) -> str:
    return printer.num(x)


def _signed(x) -> str:
    s = printer.num(abs(x))
    return ("+" if x >= 0 else "−") + s


def change_lines(ch: dict) -> list[str]:
    """The change as one headline and its detail lines (plain text, no markup)."""
    parts = []
    for d in ch["dimensions"]:
        why = []
        if d["events"]:
            why.append(f"events {_signed(d['events'])}")
        if d["decay"]:
            why.append(f"{'decay' if d['half_life_days'] else 'time'} {_signed(d['decay'])}")
        s = f"{d['dimension']} {_num(d['from'])} → {_num(d['to'])}"
        if why:
            s += f" ({', '.join(why)})"
        if d["band"]:
            s += f", band {d['band'][0]} → {d['band'][1]}"
        parts.append(s)
    if ch.get("disqualified"):
        a, b = ch["disqualified"]
        by = ch.get("disqualified_by")
        parts.append((f'disqualified "{b}"' if b else f'no longer disqualified (was "{a}")') + f" (by {by})")
    if ch.get("grade"):
        a, b = ch["grade"]
        parts.append(f"grade {a or '-'} → {b or '-'}")
    if ch.get("account_bands"):
        a, b = ch["account_bands"]
        parts += [f"account {k} {a.get(k)} → {b.get(k)}" for k in b if a.get(k) != b.get(k)]
    if ch.get("route"):
        parts.append(f"route {ch['route']['from']} → {ch['route']['to']}")
    lines = [f"{ch['date']}: " + ", ".join(parts)]
    for e in ch["events"]:
        if e.get("resets"):
            lines.append(f"  {e['text']}: resets {', '.join(e['resets'])} (earlier events no longer count)")
        if e.get("voided_in"):
            lines.append(f"  {e['text']}: voided in {', '.join(e['voided_in'])} by a reset on or after its day")
        if e.get("disqualifies"):
            lines.append(f'  {e["text"]}: disqualifies ("{e["disqualifies"]}")')
        elif "disqualifies" in e:
            lines.append(f"  {e['text']}: lifts the disqualification")
        elif e["criteria"]:
            for c in e["criteria"]:
                lines.append(f"  {_signed(c['points'])} {c['criterion']} ({e['text']})")
        else:
            lines.append(f"  {e['text']}: scores nothing")
    for c in ch.get("time_criteria", ()):
        if "fires" in c:
            lines.append(f"  {_signed(c['points'])} {c['criterion']} ({'now fires' if c['fires'] else 'stops firing'}, "
                         "as time passes)")
    return lines


def _route(s: dict) -> str:
    if s["route"] is None:
        return "no route"
    return s["route"] + (f' "{s["queue"]}"' if s["queue"] else "")


def as_text(t: dict, tty: bool = False):
    from rich.console import Group
    from rich.text import Text

    from rich.markup import escape

    from runtime.report.term import table

    n = len(t["changes"])
    head = (f"Lead {t['id']} from {t['from']} to {t['to']}, every {t['every_days']} day"
            f"{'s' if t['every_days'] != 1 else ''}: {len(t['dates'])} dates, "
            f"{n} change{'s' if n != 1 else ''} of grade or route")
    parts = [Text(head, style="bold" if tty else "")]
    if n:
        parts.append(Text("\n".join(line for ch in t["changes"] for line in change_lines(ch))))
    else:
        parts.append(Text("Its grade and route stay the same over the whole range."))
    dims = t["dimensions"]
    tb = table("date", *dims, "grade", "route", tty=tty, right=tuple(range(1, len(dims) + 1)),
               title="On each date")
    changed = {c["date"] for c in t["changes"]}
    for s in t["dates"]:
        grade = s["grade"] if s["disqualified"] is None else f'disqualified "{s["disqualified"]}"'
        tb.add_row(s["date"] + (" *" if s["date"] in changed else ""),
                   *[_num(s["scores"][d]) if d in s["scores"] else "" for d in dims], escape(grade or "-"),
                   escape(_route(s)))
    tb.caption = "* the grade or route changed on this date"
    parts.append(tb)
    return Group(*parts)


def as_markdown(t: dict) -> str:
    out = [f"### Lead `{t['id']}` from {t['from']} to {t['to']}", ""]
    if t["changes"]:
        for ch in t["changes"]:
            lines = change_lines(ch)
            out.append(f"- **{lines[0]}**")
            out += [f"  - {x.strip()}" for x in lines[1:]]
    else:
        out.append("Its grade and route stay the same over the whole range.")
    dims = t["dimensions"]
    out += ["", "| date | " + " | ".join(dims) + " | grade | route |",
            "|---|" + "---:|" * len(dims) + "---|---|"]
    for s in t["dates"]:
        grade = s["grade"] if s["disqualified"] is None else f'disqualified "{s["disqualified"]}"'
        out.append(f"| {s['date']} | " + " | ".join(_num(s["scores"][d]) if d in s["scores"] else "" for d in dims)
                   + f" | {grade or '-'} | {_route(s)} |")
    return "\n".join(out) + "\n"


def as_json(t: dict) -> str:
    return json.dumps(t, indent=2, ensure_ascii=False, default=str)
