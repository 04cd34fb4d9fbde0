"""Rendering a `leadrules simulate` report: text (rich tables in a terminal, plain ASCII when piped),
json (stable, `"version": 1`, documented in docs/simulate.md) and markdown (for pull requests and
`$GITHUB_STEP_SUMMARY`); the HTML page is runtime/report/simulate_html.py. All render the same
document, built by runtime/commands/simulate.py from `runtime.analysis.simulate.Aggregator.report()`
plus the input counts and guardrail results.
"""
from __future__ import annotations


import json
import re
from typing import Any

from dsl import printer

from runtime.report.term import console as make_console
from runtime.report.term import is_tty, table

BAR_WIDTH = 30


# ---- shared bits --------------------------------------------------------------------------------


def fmt_share(s: float | None) -> str:
    if s is None:
        return "-"
    if 0 < s < 0.001:
        return "<0.1%"
    return f"{100 * s:.1f}%"


def fmt_num(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, int):
        return f"{x:,}"
    return printer.num(x)


def fmt_range(lo: float, hi: float, last: bool) -> str:
    return f"{printer.num(lo)}–{printer.num(hi)}" if last else f"{printer.num(lo)}–<{printer.num(hi)}"


def bar(count: int, biggest: int, tty: bool) -> str:
    if biggest <= 0 or count <= 0:
        return ""
    w = max(1, round(BAR_WIDTH * count / biggest))
    return ("█" if tty else "#") * w


def run_title(run: dict) -> str:
    name = run.get("simulation")
    head = f"simulation {printer.quote(name)}" if name is not None else "simulation"
    src = run["leads_file"]
    if run.get("events_file"):
        src += f" + events {run['events_file']}"
    return f"{head} · {src} · as of {run['as_of']}"


def run_summary(run: dict) -> str:
    L = run["leads"]
    parts = [f"{L['read']:,} read", f"{L['scored']:,} scored", f"{L['rejected']:,} rejected",
             f"{L['disqualified']:,} disqualified"]
    if L.get("numbered"):
        parts.append(f"{L['numbered']:,} without id (numbered)")
    ev = run.get("events") or {}
    if ev.get("orphans"):
        parts.append(f"{ev['orphans']:,} events for leads not in the leads file")
    if ev.get("bad"):
        parts.append(f"{ev['bad']:,} bad events skipped")
    if ev.get("ignored"):
        parts.append(f"{sum(ev['ignored'].values()):,} events of undeclared types ignored (" +
                     ", ".join(f"{t} {c:,}" for t, c in ev["ignored"].items()) + ")")
    acc = run.get("accounts")
    if acc:
        parts.append(f"{fmt_num(acc['accounts'])} accounts, {acc['routed_by_account_line']:,} leads routed by an "
                     "account line")
    g = run.get("guardrails") or []
    if g:
        ok = sum(1 for x in g if x["passed"])
        parts.append(f"guardrails: {ok} passed, {len(g) - ok} failed")
    return " · ".join(parts)


def column_lines(run: dict) -> list[str]:
    """The input header as the reader matched it: fields without a column, columns nobody reads."""
    cols = run.get("columns") or {}
    out = []
    if cols.get("missing"):
        out.append("no column for: " + ", ".join(cols["missing"]))
    if cols.get("unused"):
        out.append("columns not used: " + ", ".join(cols["unused"][:15]) + (" ..." if len(cols["unused"]) > 15 else ""))
    return out


def verdict(doc: dict) -> str:
    g = [x for r in doc["runs"] for x in r.get("guardrails", [])]
    if not g:
        return f"{len(doc['runs'])} run{'s' if len(doc['runs']) != 1 else ''} · no guardrails"
    bad = [x for x in g if not x["passed"]]
    if not bad:
        return f"all {len(g)} guardrail{'s' if len(g) != 1 else ''} passed"
    return f"{len(bad)} of {len(g)} guardrail{'s' if len(g) != 1 else ''} FAILED"


def _guard_result(x: dict) -> str:
    if x.get("error"):
        return "ERROR"
    return "pass" if x["passed"] else "FAIL"


def _rows(run: dict) -> dict[str, tuple[list[str], list[list[str]], tuple[int, ...]]]:
    """Each table of a run as (header, rows, right-aligned columns), shared by text and markdown."""
    T: dict[str, Any] = {}
    tty = False
    grades = run["grades"]
    T["Grades"] = (["grade", "leads", "share"],
                   [[g["grade"], fmt_num(g["count"]), fmt_share(g["share"])] for g in grades], (1, 2))
    m = run.get("matrix")
    if m:
        head = [f"{m['rows']} \\ {m['columns']}"] + m["column_bands"] + ["total"]
        rows = []
        coltot = [0] * len(m["column_bands"])
        for rb, counts in zip(m["row_bands"], m["counts"]):
            rows.append([rb] + [fmt_num(c) for c in counts] + [fmt_num(sum(counts))])
            coltot = [a + b for a, b in zip(coltot, counts)]
        rows.append(["total"] + [fmt_num(c) for c in coltot] + [fmt_num(sum(coltot))])
        T[f"{m['rows'].capitalize()} × {m['columns']}"] = (head, rows, tuple(range(1, len(head))))
    T["Routes"] = (["route", "queue", "SLA", "leads", "share"],
                   [[q["route"] or "(none)", q["queue"] or "", q["sla"] or "", fmt_num(q["count"]),
                     fmt_share(q["share"])] for q in run["queues"]], (3, 4))
    if run["disqualified"]:
        T["Disqualified"] = (["reason", "leads", "share"],
                             [[d["reason"], fmt_num(d["count"]), fmt_share(d["share"])] for d in run["disqualified"]],
                             (1, 2))
    for d in run["dimensions"]:
        st = d["stats"]
        label = f" \"{d['label']}\"" if d.get("label") else ""
        title = (f"Scores: {d['dimension']}{label} (floor {fmt_num(d['floor'])}, max {fmt_num(d['max'])}; "
                 f"mean {fmt_num(st['mean'])}, median {fmt_num(st['median'])}, p90 {fmt_num(st['p90'])})")
        hist = d["histogram"]
        biggest = max((h["count"] for h in hist), default=0)
        rows = [[fmt_range(h["from"], h["to"], i == len(hist) - 1), fmt_num(h["count"]), fmt_share(h["share"]),
                 bar(h["count"], biggest, tty)] for i, h in enumerate(hist)]
        T[title] = (["score", "leads", "share", ""], rows, (1, 2))
        if d.get("bands"):
            T[f"Bands: {d['dimension']}"] = (
                ["band", "when", "leads", "share"],
                [[b["band"], "otherwise" if b["threshold"] is None else f">= {fmt_num(b['threshold'])}",
                  fmt_num(b["count"]), fmt_share(b["share"])] for b in d["bands"]], (2, 3))
    acc = run.get("accounts")
    if acc:
        for d in acc["dimensions"]:
            if not d.get("bands"):
                continue
            label = f" \"{d['label']}\"" if d.get("label") else ""
            title = (f"Account grades: {d['dimension']}{label} (by {acc['by']}; {fmt_num(acc['accounts'])} accounts, "
                     f"{fmt_num(acc['leads_on_their_own'])} lead{'' if acc['leads_on_their_own'] == 1 else 's'} on their own)")
            T[title] = (["band", "when", "accounts", "share", "leads", "share"],
                        [[b["band"], "otherwise" if b["threshold"] is None else f">= {fmt_num(b['threshold'])}",
                          fmt_num(b["accounts"]), fmt_share(b["account_share"]), fmt_num(b["leads"]),
                          fmt_share(b["lead_share"])] for b in d["bands"]], (2, 3, 4, 5))
        if acc.get("criteria"):
            T["Account criteria"] = (["dimension", "criterion", "accounts", "rate"],
                                     [[c["dimension"], c["name"], fmt_num(c["fired_accounts"]),
                                       fmt_share(c["fire_rate"])] for c in acc["criteria"]], (2, 3))
    T["Criteria"] = (["dimension", "criterion", "fires", "rate", "mean points", "cap binds"],
                     [[c["dimension"], c["name"], fmt_num(c["fired"]), fmt_share(c["fire_rate"]),
                       fmt_num(c["mean_points"]),
                       "-" if c["cap"] is None else f"{c['cap_binds']:,} of {c['fired']:,} (max {fmt_num(c['cap'])})"]
                      for c in run["criteria"]], (2, 3, 4))
    dq = run.get("data_quality")
    if dq is not None:
        T.update(dq_tables(dq))
    if run.get("guardrails"):
        T["Guardrails"] = (["expectation", "share", "result", "detail"],
                           [[x["expect"], fmt_share(x["share"]), _guard_result(x), x["message"]]
                            for x in run["guardrails"]], (1,))
    return T


# ---- data quality (shared by text, markdown and runtime/report/simulate_html.py) --------------------


def _lead_text(s: str):
    """A cell holding values from the leads: rich text, so that a rich console never reads `[...]` in a
    lead's value as markup (markdown and HTML render it as the plain string it is)."""
    from rich.text import Text

    return Text(s)


def dq_summary(dq: dict) -> str:
    if dq.get("leads") is None:
        return "Data quality: not available."
    low = [f["field"] for f in dq.get("fields", []) if f["present_share"] < 0.5]
    nf = len(dq.get("fields", []))
    parts = [f"Data quality over {dq['leads']:,} lead{'s' if dq['leads'] != 1 else ''}",
             f"{nf} declared field{'s' if nf != 1 else ''}"]
    if low:
        parts.append(f"present in fewer than half: {', '.join(low)}")
    k = dq.get("near_misses_total", len(dq.get("near_misses", [])))
    parts.append(f"{k} near-miss value{'s' if k != 1 else ''} of the rules' lists")
    return " · ".join(parts)


def _dq_values(f: dict) -> str:
    if f["type"] in ("number", "date"):
        if f.get("min") is None:
            return "-"
        if f["type"] == "date":
            return f"{f['min']} to {f['max']}"
        def big(x):
            return f"{int(x):,}" if float(x).is_integer() else f"{x:,.2f}"

        r = f"{big(f['min'])} to {big(f['max'])}"
        return r + (f", mean {big(f['mean'])}" if f.get("mean") is not None else "")
    top = f.get("top") or []
    if not top:
        return "-"

    def show(v):
        return printer.num(v) if isinstance(v, bool) else printer.quote(str(v))

    more = f.get("distinct", 0) - len(top)
    out = ", ".join(f"{show(t['value'])} {t['count']:,}" for t in top)
    if more > 0:
        out += f" (+{more:,}{'+' if f.get('distinct_capped') else ''} more)"
    return out


def dq_field_rows(dq: dict) -> tuple[list[str], list[list[str]], tuple[int, ...]]:
    """The per-field table: (header, rows, right-aligned columns)."""
    rows = [[f["field"], f["type"], fmt_num(f["present"]), fmt_share(f["present_share"]), _lead_text(_dq_values(f))]
            for f in dq.get("fields", [])]
    return ["field", "type", "present", "share", "top values / range"], rows, (2, 3)


def dq_tables(dq: dict) -> dict:
    T = {}
    if dq.get("fields"):
        T[dq_summary(dq)] = dq_field_rows(dq)
    if dq.get("near_misses"):
        T["Near-misses: values that look like an item of a list the rules use, but do not match it"] = (
            ["field", "value", "leads", "looks like", "in", "why"],
            [[x["field"], _lead_text(printer.quote(x["value"])), fmt_num(x["count"]),
              _lead_text(printer.quote(x["nearest"])), x["list"], x["why"]] for x in dq["near_misses"]], (2,))
    if dq.get("events"):
        T["Events per type"] = (["event", "count", "leads", "first", "last"],
                                [[e["type"], fmt_num(e["count"]), fmt_num(e["leads"]), e["first"] or "-",
                                  e["last"] or "-"] for e in dq["events"]], (1, 2))
    if dq.get("note"):
        T["Data quality"] = (["note"], [[dq["note"]]], ())
    return T


def _never_fired(run: dict) -> str:
    nf = run.get("never_fired") or []
    if not run["criteria"]:
        return "No criteria."
    if not run["leads"].get("graded"):
        return "No criterion fired: no lead was graded (every lead was disqualified, or there were none)."
    if not nf and any(c["fired"] == 0 for c in run["criteria"]):
        return "Which criteria fired is not known: the engine gave no points per criterion."
    if not nf:
        return "Every criterion fired at least once."
    return "Never fired: " + ", ".join(f"{printer.quote(c['name'])} ({c['dimension']})" for c in nf)


def _unreached(run: dict) -> str:
    ub = run.get("unreached_bands") or []
    if not any(d.get("bands") for d in run["dimensions"]):
        return "No graded dimensions."
    if not ub:
        return "Every band was reached."
    return "Bands no lead reached: " + ", ".join(f"{b['dimension']} {b['band']}" for b in ub)


# ---- json ---------------------------------------------------------------------------------------


def as_json(doc: dict) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2)


# ---- text ---------------------------------------------------------------------------------------


def print_text(doc: dict, con=None) -> None:
    """The report on a rich console: rich tables on a terminal, ASCII tables when piped."""
    con = con or make_console()
    tty = is_tty(con.file) if con is not None else is_tty()
    con.print(f"{doc['rules']} · {verdict(doc)}", markup=False)
    for run in doc["runs"]:
        con.print("", markup=False)
        con.print(run_title(run), markup=False, style="bold" if tty else None)
        con.print(run_summary(run), markup=False)
        ev = run.get("events") or {}
        if ev.get("orphan_lead_ids"):
            con.print("  events for unknown leads, e.g.: " + ", ".join(ev["orphan_lead_ids"][:5]), markup=False)
        for line in column_lines(run):
            con.print("  " + line, markup=False)
        for title, (head, rows, right) in _rows(run).items():
            if tty and title.startswith("Scores:"):
                rows = [r[:3] + [r[3].replace("#", "█")] for r in rows]
            t = table(*head, title=title, tty=tty, right=right)
            for r in rows:
                t.add_row(*r)
            con.print("", markup=False)
            con.print(t)
        con.print("", markup=False)
        con.print(_never_fired(run), markup=False)
        con.print(_unreached(run), markup=False)
    lines = failure_lines(doc)
    if lines:
        con.print("", markup=False)
        for line in lines:
            con.print(line, markup=False)


def failure_lines(doc: dict) -> list[str]:
    """One line per broken guardrail: which block, which expectation, and by how much it misses."""
    out = []
    for r in doc["runs"]:
        for x in r.get("guardrails", []):
            if not x["passed"]:
                block = x.get("simulation") or r.get("simulation")
                where = f"simulation {printer.quote(block)}" if block else "simulation"
                out.append(f"{_guard_result(x)}: {where}: expect {x['expect']}: {x['message']}")
    return out


# ---- markdown -----------------------------------------------------------------------------------


def _md_cell(s: str) -> str:
    # a `<` that could open an HTML tag (a lead's value, now in the data-quality tables) is escaped;
    # `0–<10` stays as it is
    s = re.sub(r"<(?=[A-Za-z/!?])", "&lt;", str(s))
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(head: list[str], rows: list[list[str]], right: tuple[int, ...]) -> list[str]:
    out = ["| " + " | ".join(_md_cell(h) for h in head) + " |",
           "|" + "|".join("---:" if i in right else "---" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return out


def as_markdown(doc: dict) -> str:
    lines = [f"## leadrules simulate: `{str(doc['rules']).replace('`', '')}`", "", f"**{_md_cell(verdict(doc))}**", ""]
    for run in doc["runs"]:
        lines += [f"### {_md_cell(run_title(run))}", "", _md_cell(run_summary(run)), ""]
        cl = column_lines(run)
        if cl:
            lines += [f"- {_md_cell(x)}" for x in cl] + [""]
        gr = run.get("guardrails") or []
        tables = _rows(run)
        if gr:  # what a reviewer looks for first
            head, rows, right = tables.pop("Guardrails")
            rows = [[("✅ " if x["passed"] else "❌ ") + r[2]] + r[:2] + r[3:] for r, x in zip(rows, gr)]
            lines += ["#### Guardrails", ""] + _md_table(["result", "expectation", "share", "detail"], rows, (2,)) + [""]
        for title, (head, rows, right) in tables.items():
            if title.startswith("Scores:"):
                head = head[:3]
                rows = [r[:3] for r in rows]
            lines += [f"#### {_md_cell(title)}", ""] + _md_table(head, rows, right) + [""]
        lines += [_md_cell(_never_fired(run)), "", _md_cell(_unreached(run)), ""]
    return "\n".join(lines).rstrip() + "\n"
