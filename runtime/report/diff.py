"""Rendering a `leadrules diff` report: text (rich tables in a terminal, plain ASCII when piped),
markdown (a pull-request comment or `$GITHUB_STEP_SUMMARY`: the summary line first, then tables, the
long parts folded in `<details>`) and json (stable, `"version": 1`, documented in docs/cli.md). All
three render the document built by `runtime.analysis.diff.run_diff` and `evaluate_gates`.
"""
from __future__ import annotations

import html
import json

from dsl import printer

from runtime.report.term import console as make_console
from runtime.report.term import is_tty, table

ARROW = "→"


# ---- shared bits --------------------------------------------------------------------------------


def fmt_int(k: int) -> str:
    return f"{k:,}"


def fmt_signed(x) -> str:
    if x is None:
        return "-"
    if x == 0:
        return "0"
    s = printer.num(x)
    return s if s.startswith("-") else "+" + s


def fmt_num(x) -> str:
    return "-" if x is None else printer.num(x)


def route_label(route, queue) -> str:
    if route is None:
        return "(no route)"
    return route + (f" {printer.quote(queue)}" if queue is not None else "")


def _pair(a: str, b: str) -> str:
    return a if a == b else f"{a} {ARROW} {b}"


def title(doc: dict) -> str:
    return f"{doc['old']['rules']} {ARROW} {doc['new']['rules']}"


def input_line(run: dict) -> str:
    src = run["leads_file"] + (f" + events {run['events_file']}" if run.get("events_file") else "")
    head = f"{src} as of {run['as_of']}"
    if run.get("simulation") is not None:
        head += f" (simulation {printer.quote(run['simulation'])})"
    parts = [head, f"{run['read']:,} read", f"{run['scored']:,} scored", f"{run['rejected']:,} rejected"]
    if run.get("bad_events"):
        parts.append(f"{run['bad_events']:,} bad events skipped")
    if run.get("orphan_events"):
        parts.append(f"{run['orphan_events']:,} events for leads not in the leads file")
    return " · ".join(parts)


def gate_lines(doc: dict) -> list[str]:
    return [f"{'pass' if g['passed'] else 'FAIL'}: --{'fail-on ' + g['gate'] if g['gate'] != 'max-changed' else 'max-changed'}"
            f": {g['message']}" for g in doc.get("gates", [])]


def _change_line(c: dict) -> str:
    if c["line"] is not None:
        return str(c["line"])
    return f"(was {c['old_line']})" if c["old_line"] is not None else "-"


def _mover_lead(m: dict) -> str:
    return f"line {m['id']}" if m.get("numbered") else m["id"]


def _mover_score(m: dict) -> str:
    dims = m.get("dimension_changes") or {}
    if m["old"]["disqualified"] is not None or m["new"]["disqualified"] is not None:
        return fmt_signed(m["score_change"])
    if len(dims) > 1:
        return fmt_signed(m["score_change"]) + " (" + ", ".join(f"{d} {fmt_signed(v)}" for d, v in dims.items()) + ")"
    return fmt_signed(m["score_change"])


def _mover_why(m: dict) -> str:
    o, w = m["old"], m["new"]
    if w["disqualified"] is not None and o["disqualified"] != w["disqualified"]:
        return f"disqualified: {w['disqualified']}"
    if o["disqualified"] is not None and w["disqualified"] is None:
        return f"no longer disqualified (was: {o['disqualified']})"
    parts = [f"{printer.quote(c['name'])} {fmt_signed(c['old'])} {ARROW} {fmt_signed(c['new'])}" for c in m["criteria"]]
    if parts:
        return ", ".join(parts)
    # the same points: a band (or a route line) moved under the lead
    bands = [f"{d} {fmt_num(w['scores'].get(d))}: band {_pair(str(o['bands'].get(d)), str(w['bands'].get(d)))}"
             for d in w.get("bands", {}) if o.get("bands", {}).get(d) != w["bands"].get(d)]
    return ", ".join(bands) if bands else "same points and bands; the route lines changed"


def tables(doc: dict) -> dict[str, tuple[list[str], list[list[str]], tuple[int, ...]]]:
    """Each table as (header, rows, right-aligned columns), shared by text and markdown. Empty ones
    are left out (`empty_note` says so)."""
    T: dict = {}
    rc = doc["rule_changes"]
    if rc:
        T["Rule changes"] = (["change", "what", "line", "was", "now"],
                             [[c["label"], c["what"] + (f" ({c['detail']})" if c.get("detail") else ""),
                               _change_line(c), c["old"] if c["old"] is not None else "-",
                               c["new"] if c["new"] is not None else "-"] for c in rc], (2,))
    gt = doc["grade_transitions"]
    if gt:
        T["Grade changes"] = (["old grade", "new grade", "leads", "direction"],
                              [[t["old"], t["new"], fmt_int(t["count"]), t["direction"]] for t in gt], (2,))
    rt = doc["route_transitions"]
    if rt:
        T["Route changes"] = (["old route", "new route", "leads"],
                              [[route_label(t["old"]["route"], t["old"]["queue"]),
                                route_label(t["new"]["route"], t["new"]["queue"]), fmt_int(t["count"])] for t in rt],
                              (2,))
    if doc["routes"]:
        T["Leads per route"] = (["route", "old", "new", "change"],
                                [[route_label(r["route"], r["queue"]), fmt_int(r["old"]), fmt_int(r["new"]),
                                  fmt_signed(r["change"])] for r in doc["routes"]], (1, 2, 3))
    m = doc["grade_matrix"]
    if m["old"]:
        head = ["old \\ new"] + m["new"] + ["total"]
        rows = []
        coltot = [0] * len(m["new"])
        for g, counts in zip(m["old"], m["counts"]):
            rows.append([g] + [fmt_int(k) if k else "." for k in counts] + [fmt_int(sum(counts))])
            coltot = [a + b for a, b in zip(coltot, counts)]
        rows.append(["total"] + [fmt_int(k) for k in coltot] + [fmt_int(sum(coltot))])
        T["Grade matrix (old × new)"] = (head, rows, tuple(range(1, len(head))))
    mv = doc["movers"]
    if mv["leads"]:
        T["Leads that moved"] = (["lead", "grade", "route", "score change", "why"],
                                 [[_mover_lead(x), _pair(x["old"]["grade"], x["new"]["grade"]),
                                   _pair(route_label(x["old"]["route"], x["old"]["queue"]),
                                         route_label(x["new"]["route"], x["new"]["queue"])),
                                   _mover_score(x), _mover_why(x)] for x in mv["leads"]], (3,))
    if doc["criteria"]:
        T["Criteria whose points changed"] = (
            ["dimension", "criterion", "in", "leads", "mean change"],
            [[c["dimension"], c["name"], c["in"], fmt_int(c["leads"]), fmt_signed(c["mean_change"])]
             for c in doc["criteria"]], (3, 4))
    if doc["dimensions"]:
        T["Scores"] = (["dimension", "mean old", "mean new", "leads whose score changed"],
                       [[d["dimension"], fmt_num(d["mean_old"]), fmt_num(d["mean_new"]), fmt_int(d["changed"])]
                        for d in doc["dimensions"]], (1, 2, 3))
    return T


def movers_title(doc: dict) -> str:
    mv = doc["movers"]
    if mv["shown"] < mv["total"]:
        return f"Leads that moved: {mv['shown']:,} of {mv['total']:,}, biggest score movers first"
    return f"Leads that moved: all {mv['total']:,}, biggest score movers first"


def empty_notes(doc: dict) -> list[str]:
    out = []
    if not doc["rule_changes"]:
        out.append("No rule changes: the two versions score alike.")
    if not doc["grade_transitions"]:
        out.append("No lead changes grade.")
    if not doc["route_transitions"]:
        out.append("No lead changes route or queue.")
    if not doc["movers"]["total"]:
        out.append("No lead moved (grade, route, queue and scores all stay the same).")
    return out


# ---- json ---------------------------------------------------------------------------------------


def as_json(doc: dict) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2)


# ---- text ---------------------------------------------------------------------------------------


def print_text(doc: dict, con=None) -> None:
    """The report on a rich console: rich tables on a terminal, ASCII tables when piped."""
    con = con or make_console()
    tty = is_tty(con.file)
    con.print(f"{title(doc)} · {doc['summary']}", markup=False, style="bold" if tty else None)
    for run in doc["inputs"]:
        con.print(input_line(run), markup=False)
    for t, (head, rows, right) in tables(doc).items():
        if t == "Leads that moved":
            t = movers_title(doc)
        tb = table(*head, title=t, tty=tty, right=right)
        for r in rows:
            tb.add_row(*r)
        con.print("", markup=False)
        con.print(tb)
    notes = empty_notes(doc)
    if notes:
        con.print("", markup=False)
        for line in notes:
            con.print(line, markup=False)
    lines = gate_lines(doc)
    if lines:
        con.print("", markup=False)
        for line in lines:
            con.print(line, markup=False)


# ---- markdown -----------------------------------------------------------------------------------


def md_cell(s) -> str:
    """Plain text in a table cell: pipes escaped, HTML and newlines neutralised."""
    return (html.escape(str(s), quote=False).replace("\\", "\\\\").replace("|", "\\|")
            .replace("\n", " ").replace("`", "\\`"))


def md_code(s) -> str:
    """Rule text as inline code in a table cell (a fence longer than any run of backticks in it)."""
    s = str(s).replace("\n", " ")
    run = longest = 0
    for ch in s:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return fence + pad + s.replace("|", "\\|") + pad + fence


def md_table(head: list[str], rows: list[list[str]], right: tuple[int, ...] = (), code: tuple[int, ...] = ()) -> list[str]:
    def cell(i, c):
        return md_code(c) if i in code and c != "-" else md_cell(c)

    out = ["| " + " | ".join(md_cell(h) for h in head) + " |",
           "|" + "|".join("---:" if i in right else "---" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(cell(i, c) for i, c in enumerate(r)) + " |" for r in rows]
    return out


def _details(summary: str, body: list[str]) -> list[str]:
    # blank lines around the table so that GitHub renders the markdown inside the HTML block
    return [f"<details><summary>{html.escape(summary, quote=False)}</summary>", ""] + body + ["", "</details>", ""]


FOLDED = ("Grade matrix (old × new)", "Leads that moved", "Criteria whose points changed", "Scores")


def as_markdown(doc: dict) -> str:
    lines = [f"**leadrules diff** · {md_cell(doc['summary'])}", "",
             f"`{md_cell(doc['old']['rules'])}` {ARROW} `{md_cell(doc['new']['rules'])}`", ""]
    for run in doc["inputs"]:
        lines += [f"Leads: {md_cell(input_line(run))}", ""]
    gates = doc.get("gates") or []
    if gates:
        rows = [[("✅ pass" if g["passed"] else "❌ FAIL"), "--fail-on " + g["gate"] if g["gate"] != "max-changed"
                 else f"--max-changed {fmt_num(g['threshold'])}%", g["message"]] for g in gates]
        lines += ["#### Gates", ""] + md_table(["result", "gate", "detail"], rows) + [""]
    T = tables(doc)
    for name, (head, rows, right) in T.items():
        if name in FOLDED:
            continue
        code = (3, 4) if name == "Rule changes" else ()
        lines += [f"#### {md_cell(name)}", ""] + md_table(head, rows, right, code) + [""]
    notes = empty_notes(doc)
    if notes:
        lines += [" ".join(notes), ""]
    for name in FOLDED:
        if name not in T:
            continue
        head, rows, right = T[name]
        label = movers_title(doc) if name == "Leads that moved" else (
            f"{name} ({len(rows)})" if name == "Criteria whose points changed" else name)
        lines += _details(label, md_table(head, rows, right))
    return "\n".join(lines).rstrip() + "\n"
