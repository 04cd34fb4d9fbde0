"""Rendering the sales load over time (`simulate --from/--to`, runtime/analysis/load.py): text (rich
tables, plain ASCII when piped), markdown (pull requests) and JSON (`"version": 1`, docs/over-time.md).

Three tables per run — leads entering each route and queue per date, leads leaving, and leads due per
day for queues with an SLA — then the `expect new leads …` guardrails.
"""
from __future__ import annotations

import json

from runtime.analysis.load import key_label


def _label(row: dict) -> str:
    return key_label((row["route"], row["queue"], row["sla"]))


def _head(run: dict) -> str:
    name = f'simulation "{run["simulation"]}"' if run["simulation"] else "leads"
    lf = run["leads"]
    return (f"{name} ({run['leads_file']}): {lf['scored']:,} leads scored at {len(run['dates'])} dates "
            f"from {run['from']} to {run['to']}, every {run['every_days']} day{'s' if run['every_days'] != 1 else ''} "
            f"({run['scorings']:,} scorings; entries are counted from {run['baseline']})"
            + (f" · {lf['rejected']:,} rejected" if lf["rejected"] else ""))


def _tables(run: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for the entering, leaving and due tables."""
    if not run["dates"]:
        return []
    labels = [_label(r) for r in run["dates"][0]["routes"]]
    sla_cols = [i for i, r in enumerate(run["dates"][0]["routes"]) if r["sla"]]
    out = []
    for what, title in (("entered", "New leads entering each route and queue"), ("left", "Leads leaving")):
        rows = [[d["date"], *[f"{r[what]:,}" for r in d["routes"]]] for d in run["dates"]]
        rows.append(["total", *[f"{t[what]:,}" for t in run["totals"]]])
        out.append((title, ["date", *labels], rows))
    if sla_cols:
        head = ["date", *[f"{labels[i]} (within {run['dates'][0]['routes'][i]['sla']})" for i in sla_cols]]
        rows = [[d["date"], *[f"{d['routes'][i]['due']:,}" for i in sla_cols]] for d in run["dates"]]
        after = {}
        for x in run["due"]:
            if x["after_range"]:
                k = key_label((x["route"], x["queue"], x["sla"]))
                after[k] = after.get(k, 0) + x["count"]
        if after:
            rows.append(["after " + run["to"], *[f"{after.get(labels[i], 0):,}" for i in sla_cols]])
        out.append(("Leads due per day (SLA from the day they enter)", head, rows))
    return out


def _guard(g: dict) -> str:
    mark = "PASS" if g["passed"] else "FAIL"
    return f'{mark}: simulation "{g["simulation"]}": expect {g["expect"]}: {g["message"]}'


def print_text(doc: dict, con=None) -> None:
    from rich.markup import escape

    from runtime.report.term import console, is_tty, table

    con = con or console()
    tty = is_tty()
    for run in doc["runs"]:
        con.print(escape(_head(run)))
        for title, head, rows in _tables(run):
            t = table(*head, title=title, tty=tty, right=tuple(range(1, len(head))))
            for r in rows:
                t.add_row(*[escape(c) for c in r])
            con.print(t)
        for g in run["guardrails"]:
            con.print(escape(_guard(g)))
        if run["not_checked"]:
            n = len(run["not_checked"])
            con.print(f"{n} share guardrail{'s' if n != 1 else ''} not checked over time "
                      "(they hold for one date: `leadrules simulate` without --from/--to)")
    failed = doc["guardrails_failed"]
    total = sum(len(r["guardrails"]) for r in doc["runs"])
    con.print(f"over-time guardrails: {total - failed} passed, {failed} failed")


def failure_lines(doc: dict) -> list[str]:
    return [_guard(g) for r in doc["runs"] for g in r["guardrails"] if g["passed"] is False]


def as_markdown(doc: dict) -> str:
    out = []
    for run in doc["runs"]:
        title = f'simulation "{run["simulation"]}"' if run["simulation"] else run["leads_file"]
        out += [f"### Sales load over time: {title}", "", _head(run), ""]
        for g in run["guardrails"]:
            out.append(f"- {'✅' if g['passed'] else '❌'} `expect {g['expect']}`: {g['message']}")
        if run["guardrails"]:
            out.append("")
        for t, head, rows in _tables(run):
            out += [f"**{t}**", "", "| " + " | ".join(h.replace("|", "\\|") for h in head) + " |",
                    "|---|" + "---:|" * (len(head) - 1)]
            out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
            out.append("")
    return "\n".join(out) + "\n"


def as_json(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str)
