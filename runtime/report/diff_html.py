"""`leadrules diff --format html`: the diff report as one self-contained page — the summary line, the
gates, the rule changes, the old × new grade transition matrix as a heat map, route flows from the
old routes to the new, and the leads that moved as a chart of score changes. It renders the document
the text, markdown and json reports render (runtime/report/diff.py `tables`), so the numbers agree.
"""
from __future__ import annotations

from runtime.report import html as H
from runtime.report import svg
from runtime.report.simulate_html import ROUTE_COLOURS
from runtime.report.diff import (empty_notes, fmt_num, fmt_signed, input_line, movers_title, route_label, tables,
                                 title)


def render(doc: dict) -> str:
    page = H.Page(f"Rule change: {title(doc)}", doc["summary"], sub=[input_line(r) for r in doc["inputs"]],
                  bad=not doc.get("passed", True), doc_title=f"leadrules diff · {title(doc)}")
    for label, side in (("old", doc["old"]), ("new", doc["new"])):
        if side.get("ruleset"):
            page.sub.append(f"{label}: {side['rules']} · ruleset \"{side['ruleset']}\" version {side.get('ruleset_version')}")
    T = tables(doc)
    gates = doc.get("gates") or []
    if gates:
        page.add(H.h2("Gates"), H.table(
            ["result", "gate", "detail"],
            [[H.result_word(g["passed"]), "--fail-on " + g["gate"] if g["gate"] != "max-changed"
              else f"--max-changed {fmt_num(g['threshold'])}%", g["message"]] for g in gates]))
    if "Rule changes" in T:
        head, rows, right = T["Rule changes"]
        rows = [r[:3] + [H.tag("code", r[3]), H.tag("code", r[4])] for r in rows]
        page.add(H.h2("Rule changes"), H.table(head, rows, right=right))
    notes = empty_notes(doc)
    if notes:
        page.add(H.para(" ".join(notes), cls="note"))
    _grades(page, doc, T)
    _routes(page, doc, T)
    _movers(page, doc, T)
    for name in ("Criteria whose points changed", "Scores"):
        if name in T:
            head, rows, right = T[name]
            page.add(H.h2(name), H.table(head, rows, right=right))
    return page.render("Made by leadrules diff: the same leads scored under the old and the new rules.")


def _grades(page: H.Page, doc: dict, T: dict) -> None:
    m = doc["grade_matrix"]
    if not m["old"]:
        return
    page.add(H.h2("Grades: old × new"))
    page.add(H.figure(svg.heatmap(m["old"], m["new"], m["counts"], label="Leads by old grade (rows) and new grade (columns)",
                                  row_title="old grade", col_title="new grade", cell=(46, 26), diagonal_grey=True),
                      "Each cell counts the leads with that old grade (row) and new grade (column). Grey: the "
                      "diagonal, grade unchanged; blue: leads that changed grade (darker = more)."))
    if "Grade changes" in T:
        head, rows, right = T["Grade changes"]
        page.add(H.maybe_fold(f"Grade changes ({len(rows)})", H.table(head, rows, right=right, caption="Grade changes"),
                              len(rows)))
    head, rows, right = T["Grade matrix (old × new)"]
    page.add(H.details("The matrix as a table", H.table(head, rows, right=right, total_row=True)))


def _routes(page: H.Page, doc: dict, T: dict) -> None:
    routes = doc["routes"]
    if not routes:
        return
    page.add(H.h2("Routes: old → new"))
    labels = [route_label(r["route"], r["queue"]) for r in routes]
    index = {(r["route"], r["queue"]): i for i, r in enumerate(routes)}
    out = [0] * len(routes)
    links = []
    for t in doc["route_transitions"]:
        i = index.get((t["old"]["route"], t["old"]["queue"]))
        j = index.get((t["new"]["route"], t["new"]["queue"]))
        if i is None or j is None:
            continue
        links.append((i, j, t["count"]))
        out[i] += t["count"]
    for i, r in enumerate(routes):
        stay = r["old"] - out[i]
        if stay > 0:
            links.append((i, i, stay))
    page.add(H.figure(svg.flows([(lb, r["old"]) for lb, r in zip(labels, routes)],
                                [(lb, r["new"]) for lb, r in zip(labels, routes)], links,
                                label="Leads per route under the old rules (left) and the new (right)",
                                titles=("old rules", "new rules"),
                                colours=[ROUTE_COLOURS.get(r["route"], H.PURPLE) for r in routes]),
                      "Leads per route and queue, old rules on the left, new on the right (blue: sales, green: "
                      "qualify, orange: nurture, grey: suppress); the strong bands are leads that change route or "
                      "queue, the faint ones leads that stay."))
    for name in ("Route changes", "Leads per route"):
        if name in T:
            head, rows, right = T[name]
            page.add(H.table(head, rows, right=right, caption=name))


def _movers(page: H.Page, doc: dict, T: dict) -> None:
    mv = doc["movers"]
    if not mv["leads"]:
        return
    page.add(H.h2(movers_title(doc)))
    rows = []
    for x in mv["leads"]:
        lead = f"line {x['id']}" if x.get("numbered") else str(x["id"])
        g = x["old"]["grade"] if x["old"]["grade"] == x["new"]["grade"] else f"{x['old']['grade']} → {x['new']['grade']}"
        rows.append({"label": f"{lead} · {g}", "value": x["score_change"] or 0,
                     "text": fmt_signed(x["score_change"]),
                     "data": {"id": x["id"], "score_change": x["score_change"]}})
    page.add(H.figure(svg.diverging(rows, label="Score change of the leads that moved"),
                      "Score change (all dimensions) of each lead shown; blue up, vermillion down."))
    head, rows_, right = T["Leads that moved"]
    page.add(H.maybe_fold(f"The {len(rows_)} leads as a table", H.table(head, rows_, right=right), len(rows_)))
