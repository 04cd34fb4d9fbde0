"""`leadrules simulate --format html`: the simulate report as one self-contained page with charts —
the grade matrix as a heat map, route shares, a score histogram per dimension with its band edges,
criteria fire rates and cap binds, and the data-quality section. It renders the same document as the
text, markdown and json reports (runtime/report/simulate.py), so the numbers agree; each chart has
its table beside it (folded when long) for email clients that drop SVG.
"""
from __future__ import annotations

from dsl import printer

from runtime.report import html as H
from runtime.report import svg
from runtime.report.simulate import fmt_num, fmt_range, fmt_share, run_summary, run_title, verdict


# route actions keep their colour on every page
ROUTE_COLOURS = {"sales": H.BLUE, "qualify": H.GREEN, "nurture": H.ORANGE, "suppress": H.GREY}


def _route_name(q: dict) -> str:
    r = q["route"] or "(none)"
    if q.get("queue"):
        r += f" {printer.quote(q['queue'])}"
    return r


def render(doc: dict) -> str:
    ruleset = doc.get("ruleset")
    title = f"Simulation: {ruleset or doc['rules']}"
    sub = [f"rule file {doc['rules']}" + (f" · ruleset {printer.quote(ruleset)} version {doc.get('ruleset_version')}"
                                          if ruleset else "")]
    bad = not doc.get("passed", True)
    page = H.Page(title, f"{doc['rules']} · {verdict(doc)}", sub=sub, bad=bad,
                  doc_title=f"leadrules simulate · {doc['rules']}")
    for k, run in enumerate(doc["runs"]):
        _run(page, run, k)
    return page.render("Made by leadrules simulate. Shares are of all leads scored, disqualified included; "
                       "fire rates are of the leads that were graded.")


def _run(page: H.Page, run: dict, k: int) -> None:
    page.add(H.h2(run_title(run), id=f"run-{k}"), H.para(run_summary(run), cls="note"))
    gr = run.get("guardrails") or []
    if gr:
        page.add(H.h3("Guardrails"), H.table(
            ["result", "expectation", "share", "detail"],
            [[H.result_word(x["passed"]), x["expect"], fmt_share(x["share"]), x["message"]] for x in gr], right=(2,)))
    _grades(page, run)
    _routes(page, run)
    _scores(page, run)
    _criteria(page, run)
    _accounts(page, run)
    dq = run.get("data_quality")
    if dq is not None:
        render_data_quality(page, dq)


def _grades(page: H.Page, run: dict) -> None:
    page.add(H.h3("Grades"))
    m = run.get("matrix")
    total = run["leads"]["scored"]
    figs = []
    if m:
        figs.append(H.figure(svg.heatmap(
            m["row_bands"], m["column_bands"], m["counts"],
            label=f"Leads by {m['rows']} band (rows) and {m['columns']} band (columns)",
            row_title=m["rows"], col_title=m["columns"],
            cell_text=lambda i, j, c: f"{c:,}",
            cell_data=lambda i, j, c: {"share": repr(m["shares"][i][j])}),
            f"{m['rows']} × {m['columns']}: leads per pair of bands (darker = more); "
            f"{run['leads']['disqualified']:,} disqualified leads are not in it."))
    rows = [{"label": g["grade"] or "(no grade)", "value": g["share"], "text": f"{g['count']:,} · {fmt_share(g['share'])}",
             "data": {"grade": g["grade"], "count": g["count"], "share": g["share"]},
             **({"colour": H.GREY} if g["grade"] == "disqualified" else {})} for g in run["grades"]]
    figs.append(H.figure(svg.hbars(rows, label="Leads per grade", width=600 if m else 720,
                                   vmax=max((g["share"] for g in run["grades"]), default=0) or 1),
                         f"Leads per grade, of {total:,} scored."))
    page.add(H.Markup('<div class="grid">' + "".join(figs) + "</div>"))
    tbl = H.table(["grade", "leads", "share"], [[g["grade"] or "(no grade)", fmt_num(g["count"]), fmt_share(g["share"])]
                                               for g in run["grades"]], right=(1, 2))
    page.add(H.details(f"Grades as a table ({len(run['grades'])} rows)", tbl))


def _routes(page: H.Page, run: dict) -> None:
    page.add(H.h3("Routes"))
    qs = run["queues"]
    rows = [{"label": _route_name(q) + (f" within {q['sla']}" if q.get("sla") else ""), "value": q["share"],
             "text": f"{q['count']:,} · {fmt_share(q['share'])}",
             "data": {"route": q["route"] or "", "queue": q.get("queue") or "", "count": q["count"], "share": q["share"]},
             "colour": ROUTE_COLOURS.get(q["route"], H.PURPLE)}
            for q in qs]
    if rows:
        page.add(H.figure(svg.hbars(rows, label="Share of leads per route and queue"),
                          "Share of all leads per route and queue (blue: sales, green: qualify, orange: nurture, "
                          "grey: suppress)."))
    page.add(H.table(["route", "queue", "SLA", "leads", "share"],
                     [[q["route"] or "(none)", q.get("queue") or "", q.get("sla") or "", fmt_num(q["count"]),
                       fmt_share(q["share"])] for q in qs], right=(3, 4)))
    if run["disqualified"]:
        page.add(H.h3("Disqualified"), H.table(
            ["reason", "leads", "share"],
            [[d["reason"], fmt_num(d["count"]), fmt_share(d["share"])] for d in run["disqualified"]], right=(1, 2)))


def _scores(page: H.Page, run: dict) -> None:
    for d in run["dimensions"]:
        st = d["stats"]
        label = f" “{d['label']}”" if d.get("label") else ""
        page.add(H.h3(f"Scores: {d['dimension']}{label}"))
        page.add(H.para(f"floor {fmt_num(d['floor'])} · max {fmt_num(d['max'])} · mean {fmt_num(st['mean'])} · "
                        f"median {fmt_num(st['median'])} · p90 {fmt_num(st['p90'])} · {d['leads']:,} leads graded",
                        cls="note"))
        hist = d["histogram"]
        bins = [{"from": h["from"], "to": h["to"], "count": h["count"],
                 "text": f"{fmt_range(h['from'], h['to'], i == len(hist) - 1)}: {h['count']:,} ({fmt_share(h['share'])})",
                 "data": {"from": h["from"], "to": h["to"], "count": h["count"]}} for i, h in enumerate(hist)]
        marks = [{"at": b["threshold"], "name": f"{b['band']} ≥ {fmt_num(b['threshold'])}",
                  "data": {"band": b["band"], "threshold": b["threshold"]}}
                 for b in (d.get("bands") or []) if b["threshold"] is not None and d["floor"] <= b["threshold"] <= d["max"]]
        page.add(H.figure(svg.histogram(bins, label=f"Histogram of {d['dimension']} scores", lo=d["floor"], hi=d["max"],
                                        marks=marks, fmt=printer.num),
                          f"Leads per {d['dimension']} score; dashed lines are the band edges." if marks else
                          f"Leads per {d['dimension']} score."))
        tbl = H.table(["score", "leads", "share"],
                      [[fmt_range(h["from"], h["to"], i == len(hist) - 1), fmt_num(h["count"]), fmt_share(h["share"])]
                       for i, h in enumerate(hist)], right=(1, 2))
        parts = [tbl]
        if d.get("bands"):
            parts.append(H.table(["band", "when", "leads", "share"],
                                 [[b["band"], "otherwise" if b["threshold"] is None else f"≥ {fmt_num(b['threshold'])}",
                                   fmt_num(b["count"]), fmt_share(b["share"])] for b in d["bands"]], right=(2, 3)))
        page.add(H.details(f"{d['dimension']}: histogram and bands as tables",
                           H.Markup('<div class="grid">' + "".join(parts) + "</div>")))
    ub = run.get("unreached_bands") or []
    if ub:
        page.add(H.para("Bands no lead reached: " + ", ".join(f"{b['dimension']} {b['band']}" for b in ub)))


def _criteria(page: H.Page, run: dict) -> None:
    crits = run["criteria"]
    page.add(H.h3("Criteria"))
    if not crits:
        page.add(H.para("No criteria."))
        return
    graded = run["leads"].get("graded", 0)
    rows = []
    for c in crits:
        r = {"label": f"{c['name']} ({c['dimension']})", "value": c["fire_rate"],
             "text": f"{fmt_share(c['fire_rate'])} · {c['fired']:,}",
             "data": {"dimension": c["dimension"], "name": c["name"], "fired": c["fired"], "fire_rate": c["fire_rate"]},
             "title": f"{c['name']}: fires for {c['fired']:,} of {graded:,} graded leads ({fmt_share(c['fire_rate'])})"}
        if c.get("cap") is not None:
            r["value2"] = c["cap_bind_rate"]
            r["data2"] = {"cap_binds": c["cap_binds"], "cap_bind_rate": c["cap_bind_rate"]}
            r["title2"] = (f"{c['name']}: the cap (max {fmt_num(c['cap'])}) binds for {c['cap_binds']:,} of "
                           f"{c['fired']:,} leads it fires for")
        rows.append(r)
    capped = any(c.get("cap") is not None for c in crits)
    page.add(H.figure(svg.hbars(rows, label="Criteria: fire rate and cap binds", vmax=1, first_name="fires (of graded leads)",
                                second=("cap binds (of the leads it fires for)", H.ORANGE) if capped else None),
                      "How often each criterion fires (of the graded leads)" +
                      (", and for capped criteria how often the cap binds (of the leads it fires for)." if capped else ".")))
    tbl = H.table(["dimension", "criterion", "rule", "fires", "rate", "mean points", "cap binds"],
                  [[c["dimension"], c["name"], H.tag("code", c["rule"]), fmt_num(c["fired"]), fmt_share(c["fire_rate"]),
                    fmt_num(c["mean_points"]),
                    "-" if c["cap"] is None else f"{c['cap_binds']:,} of {c['fired']:,} (max {fmt_num(c['cap'])})"]
                   for c in crits], right=(3, 4, 5, 6))
    page.add(H.maybe_fold(f"Criteria as a table ({len(crits)} rows)", tbl, len(crits)))
    nf = run.get("never_fired") or []
    page.add(H.para("Never fired: " + ", ".join(f"{printer.quote(c['name'])} ({c['dimension']})" for c in nf)
                    if nf else "Every criterion fired at least once."))


def _accounts(page: H.Page, run: dict) -> None:
    acc = run.get("accounts")
    if not acc:
        return
    page.add(H.h3(f"Accounts (by {acc['by']})"))
    page.add(H.para(f"{fmt_num(acc['accounts'])} accounts · {fmt_num(acc['leads_on_their_own'])} leads on their own · "
                    f"{acc['routed_by_account_line']:,} leads routed by an account line "
                    f"({fmt_share(acc['routed_by_account_line_share'])})", cls="note"))
    for d in acc["dimensions"]:
        if not d.get("bands"):
            continue
        page.add(H.table(["band", "when", "accounts", "share", "leads", "share"],
                         [[b["band"], "otherwise" if b["threshold"] is None else f"≥ {fmt_num(b['threshold'])}",
                           fmt_num(b["accounts"]), fmt_share(b["account_share"]), fmt_num(b["leads"]),
                           fmt_share(b["lead_share"])] for b in d["bands"]], right=(2, 3, 4, 5),
                         caption=f"Account grades: {d['dimension']}" + (f" “{d['label']}”" if d.get("label") else "")))
    if acc.get("criteria"):
        page.add(H.table(["dimension", "criterion", "accounts", "rate"],
                         [[c["dimension"], c["name"], fmt_num(c["fired_accounts"]), fmt_share(c["fire_rate"])]
                          for c in acc["criteria"]], right=(2, 3), caption="Account criteria"))


def render_data_quality(page: H.Page, dq: dict) -> None:
    from runtime.report.simulate import dq_field_rows, dq_summary

    page.add(H.h3("Data quality"), H.para(dq_summary(dq), cls="note"))
    if dq.get("note"):
        page.add(H.para(dq["note"], cls="note"))
    fields = dq.get("fields") or []
    if fields:
        rows = [{"label": f["field"], "value": f["present_share"],
                 "text": f"{fmt_share(f['present_share'])} · {f['present']:,}",
                 "data": {"field": f["field"], "present": f["present"], "present_share": f["present_share"]},
                 "colour": H.BLUE if f["present_share"] >= 0.5 else H.ORANGE} for f in fields]
        page.add(H.figure(svg.hbars(rows, label="How often each declared field is present", vmax=1),
                          "How often each declared field is present (orange: in fewer than half of the leads)."))
        head, body, right = dq_field_rows(dq)
        page.add(H.table(head, body, right=right, caption="Fields: presence, top values or range"))
    nm = dq.get("near_misses") or []
    if nm:
        page.add(H.table(["field", "value", "leads", "looks like", "in list", "why"],
                         [[x["field"], printer.quote(x["value"]), fmt_num(x["count"]), printer.quote(x["nearest"]),
                           x["list"], x["why"]] for x in nm], right=(2,),
                         caption="Values that look like near-misses of a list the rules use"))
    ev = dq.get("events") or []
    if ev:
        page.add(H.table(["event", "count", "leads", "first", "last"],
                         [[e["type"], fmt_num(e["count"]), fmt_num(e["leads"]), e["first"] or "-", e["last"] or "-"]
                          for e in ev], right=(1, 2), caption="Events per type"))
