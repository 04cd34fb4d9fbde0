"""`leadrules calibrate --format html`: the calibrate report as one self-contained page — conversion
by grade and by route with 95% confidence intervals, the cherry-pick comparison, missed signals and
the sales-threshold sweep as charts over the same json document the other formats render
(runtime/report/calibrate.py). Sections it does not know (a newer report's keys) are shown as
generic tables, so nothing in the json is left off the page.
"""
from __future__ import annotations

from dsl import printer

from runtime.report import html as H
from runtime.report import svg
from runtime.report.calibrate import ci, grade_name, headline, input_lines, num, pct, pvalue, route_name, sources

KNOWN = {"version", "rules", "ruleset", "ruleset_version", "leads_file", "events_file", "outcomes_file", "as_of",
         "inputs", "totals", "by_grade", "by_route", "cherry_picking", "missed_signals", "threshold_sweep",
         "dimensions", "criteria"}
RATE_HEAD = ["leads", "worked", "converted", "rate", "95% CI"]


def _rate_cells(r: dict, leads_key: str = "leads") -> list:
    return [num(r.get(leads_key)), num(r["worked"]), num(r["converted"]), pct(r["rate"]), ci(r)]


def _interval_row(label: str, r: dict) -> dict:
    return {"label": label, "rate": r.get("rate"), "lo": r.get("ci_low"), "hi": r.get("ci_high"),
            "text": f"{pct(r.get('rate'))} ({r['converted']:,} of {r['worked']:,})" if r.get("rate") is not None
            else f"no worked leads ({r.get('leads', 0) or 0:,} leads)",
            "data": {"rate": r.get("rate"), "ci_low": r.get("ci_low"), "ci_high": r.get("ci_high"),
                     "worked": r["worked"], "converted": r["converted"]}}


def render(doc: dict) -> str:
    t = doc["totals"]
    ruleset = doc.get("ruleset")
    page = H.Page(f"Calibration: {ruleset or doc['rules']}", headline(doc), sub=[sources(doc)] + input_lines(doc),
                  doc_title=f"leadrules calibrate · {doc['rules']}")
    overall = ("all worked leads", t["rate"]) if t.get("rate") is not None else None
    _by_grade(page, doc, overall)
    _by_route(page, doc, overall)
    _dimensions(page, doc, overall)
    _criteria(page, doc)
    _cherry(page, doc)
    _signals(page, doc)
    _sweep(page, doc)
    for key in doc:
        if key not in KNOWN and not key.startswith("_") and doc[key] not in (None, [], {}):
            page.add(H.h2(key.replace("_", " ").capitalize()), generic(doc[key]))
    return page.render("Made by leadrules calibrate. Rates are converted / worked; intervals are 95% Wilson "
                       "intervals; the dashed line is the rate over all worked leads.")


def _by_grade(page: H.Page, doc: dict, overall) -> None:
    page.add(H.h2("Conversion by grade"))
    rows = doc["by_grade"]
    if not rows:
        page.add(H.para("No leads were scored.", cls="note"))
        return
    page.add(H.figure(svg.intervals([_interval_row(grade_name(g["grade"]), g) for g in rows],
                                    label="Conversion rate by grade with 95% confidence intervals", reference=overall),
                      "Conversion rate of the worked leads of each grade; the whisker is the 95% interval (wide "
                      "when few leads were worked)."))
    tbl = H.table(["grade"] + RATE_HEAD, [[grade_name(g["grade"])] + _rate_cells(g) for g in rows], right=(1, 2, 3, 4))
    page.add(H.details(f"Conversion by grade as a table ({len(rows)} rows)", tbl))


def _by_route(page: H.Page, doc: dict, overall) -> None:
    rows = doc.get("by_route") or []
    if not rows:
        return
    page.add(H.h2("Conversion by route"))
    page.add(H.figure(svg.intervals([_interval_row(route_name(r["route"], r["queue"]), r) for r in rows],
                                    label="Conversion rate by route with 95% confidence intervals", reference=overall)))
    page.add(H.table(["route"] + RATE_HEAD, [[route_name(r["route"], r["queue"])] + _rate_cells(r) for r in rows],
                     right=(1, 2, 3, 4)))


def _cherry(page: H.Page, doc: dict) -> None:
    cp = doc.get("cherry_picking")
    if not cp:
        return
    c, s, cmp_ = cp["cherry_picked"], cp["routed_to_sales"], cp.get("comparison") or {}
    page.add(H.h2("Cherry-picking"), H.para(cp.get("verdict", "")))
    page.add(H.figure(svg.intervals([
        {**_interval_row("cherry-picked (routed elsewhere)", c), "colour": H.ORANGE},
        _interval_row("routed to sales", s)], label="Cherry-picked leads against leads routed to sales"),
        "Leads sales worked although the rules routed them elsewhere (orange), against the leads the rules "
        "sent to sales (blue)."))
    page.add(H.table(["group"] + RATE_HEAD, [["cherry-picked (routed elsewhere)"] + _rate_cells(c, "leads_routed_elsewhere"),
                                             ["routed to sales"] + _rate_cells(s)], right=(1, 2, 3, 4)))
    notes = [f"{c['worked']:,} of {doc['totals']['worked']:,} worked leads were cherry-picked "
             f"({pct(cp.get('share_of_worked'))}); {s.get('not_worked', 0):,} of {s['leads']:,} leads routed to sales "
             "were not worked."]
    if cmp_.get("test"):
        stat = f"z = {cmp_['statistic']:.2f}, " if cmp_.get("statistic") is not None else ""
        notes.append(f"Difference {100 * cmp_['difference']:+.1f} points · {cmp_['test']}: {stat}p = "
                     f"{pvalue(cmp_['p_value'])}.")
    page.add(H.para(" ".join(notes), cls="note"))
    if cp.get("by_grade"):
        tbl = H.table(["grade", "routed to"] + RATE_HEAD,
                      [[grade_name(g["grade"]), route_name(g["route"], g["queue"])] + _rate_cells(g)
                       for g in cp["by_grade"]], right=(2, 3, 4, 5))
        page.add(H.maybe_fold(f"Cherry-picks by grade ({len(cp['by_grade'])} rows)",
                              H.Markup(f"<h3>Cherry-picks by grade</h3>{tbl}") if len(cp["by_grade"]) <= H.FOLD_ROWS
                              else tbl, len(cp["by_grade"])))


def _auc(d: dict) -> str:
    if d.get("auc") is None:
        return "-"
    lo, hi = d.get("auc_ci_low"), d.get("auc_ci_high")
    return f"{d['auc']:.3f}" + (f" ({lo:.3f}–{hi:.3f})" if lo is not None and hi is not None else "")


def _lift(r: dict) -> str:
    if r.get("lift") is None:
        return "-"
    lo, hi = r.get("lift_ci_low"), r.get("lift_ci_high")
    return f"{r['lift']:.2f}" + (f" ({lo:.2f}–{hi:.2f})" if lo is not None and hi is not None else "")


def _dimensions(page: H.Page, doc: dict, overall) -> None:
    """How well each score separates converters (AUC) and conversion by band (report version 2)."""
    dm = doc.get("dimensions")
    if not isinstance(dm, dict) or "by_dimension" not in dm:
        if dm:
            page.add(H.h2("Dimensions"), generic(dm))
        return
    page.add(H.h2("How well the scores separate converters"))
    rows = [["total", _auc(dm.get("total") or {})]] + [[d["dimension"], _auc(d)] for d in dm["by_dimension"]]
    page.add(H.para(f"AUC over {num(dm.get('worked_scored'))} worked leads the rules scored: 0.5 is chance, 1 is "
                    "perfect.", cls="note"), H.table(["score", "AUC (95% CI)"], rows, right=(1,)))
    for d in dm["by_dimension"]:
        bands = d.get("bands") or []
        if not bands:
            continue
        page.add(H.h3(f"Conversion by {d['dimension']} band"))
        page.add(H.figure(svg.intervals([_interval_row(str(b["band"]), b) for b in bands],
                                        label=f"Conversion rate by {d['dimension']} band with 95% confidence intervals",
                                        reference=overall)))
        page.add(H.table(["band", "from"] + RATE_HEAD + ["median days to convert"],
                         [[b["band"], "otherwise" if b.get("threshold") is None else num(b["threshold"])]
                          + _rate_cells(b) + [num(b.get("median_days_to_convert"))] for b in bands],
                         right=(2, 3, 4, 5, 7)))


def _criteria(page: H.Page, doc: dict) -> None:
    """Each criterion judged over the worked leads (report version 2)."""
    crit = doc.get("criteria")
    if not isinstance(crit, list) or not crit or "rate_when_fires" not in crit[0]:
        if crit:
            page.add(H.h2("Criteria"), generic(crit))
        return
    page.add(H.h2("Criteria judged over the worked leads"))
    rows = [{"label": c["criterion"], "rate": c.get("rate_when_fires"), "lo": None, "hi": None,
             "other": c.get("rate_otherwise"),
             "text": f"{pct(c.get('rate_when_fires'))} when it fires · {pct(c.get('rate_otherwise'))} otherwise",
             "data": {"criterion": c["criterion"], "rate": c.get("rate_when_fires"),
                      "rate_otherwise": c.get("rate_otherwise")},
             "colour": {"against": H.VERMILLION, "no signal": H.GREY}.get(c.get("verdict"), H.BLUE)}
            for c in crit]
    page.add(H.figure(svg.intervals(rows, label="Conversion when each criterion fires"),
                      "Conversion rate of the worked leads a criterion fires for (filled dot) and of those it does "
                      "not fire for (hollow dot); grey: no detectable signal, vermillion: predicts against its "
                      "points."))
    page.add(H.table(["criterion", "points", "fires", "rate fires", "rate not", "lift (95% CI)", "q", "AUC −",
                      "verdict"],
                     [[c["criterion"], "tiers" if c.get("points") is None else printer.points(c["points"]),
                       f"{num(c.get('fires'))} ({pct(c.get('fire_rate'))})", pct(c.get("rate_when_fires")),
                       pct(c.get("rate_otherwise")), _lift(c), pvalue(c.get("q_value")),
                       "-" if c.get("auc_contribution") is None else f"{c['auc_contribution']:+.3f}",
                       c.get("verdict", "")] for c in crit], right=(1, 2, 3, 4, 6, 7)))


def _signals(page: H.Page, doc: dict) -> None:
    ms = doc.get("missed_signals")
    if not ms:
        return
    page.add(H.h2("Missed signals"))
    v1 = "converting_cherry_picks" in ms
    if v1:
        page.add(H.para(f"More common among converting cherry-picks ({ms['converting_cherry_picks']:,}) than among "
                        f"non-converting ones ({ms['non_converting_cherry_picks']:,}); at least {ms['min_support']} "
                        "converting. * = meaningful after correcting for the number of signals tested.", cls="note"))
    else:
        page.add(H.para(f"Worked leads: {num(ms.get('converting'))} converted, {num(ms.get('not_converting'))} not; "
                        f"{num(ms.get('tested'))} signals tested, {num(ms.get('meaningful'))} meaningful after "
                        "correcting for the number tested (*).", cls="note"))
    if ms.get("top_unscored"):
        page.add(H.para(H.join(["Top signal no criterion scores: ", H.tag("strong", ms["top_unscored"]), "."])))
        if ms.get("suggestion"):
            page.add(H.para(H.join(["A criterion for it, to weigh and test: ", H.tag("code", ms["suggestion"])])))
    if ms.get("top_against"):
        page.add(H.para(H.join(["Strongest signal against conversion: ", H.tag("strong", ms["top_against"]), "."])))
    if ms.get("excluded_keys"):
        page.add(H.para("Not used as signals (they identify rather than describe): "
                        + ", ".join(f"{e.get('key')} ({e.get('reason')})" for e in ms["excluded_keys"]) + ".",
                        cls="note"))
    sig = ms.get("signals") or []
    if not sig:
        page.add(H.para("No signal to show.", cls="note"))
        return

    def star(r):
        return pvalue(r.get("q_value")) + (" *" if r.get("meaningful") else "")

    scored = lambda r: ", ".join(r.get("scored_by") or []) or "— not scored"  # noqa: E731
    if v1:
        head = ["signal", "converting", "not converting", "lift", "p", "q", "scored by"]
        rows = [[r["label"], f"{r['converting']:,} ({pct(r['converting_share'])})",
                 f"{r['not_converting']:,} ({pct(r['not_converting_share'])})",
                 "∞" if r["lift"] is None else f"{r['lift']:.2f}", pvalue(r["p_value"]), star(r), scored(r)]
                for r in sig]
        right = (1, 2, 3, 4, 5)
        shown = rows[:10]
    else:
        head = ["signal", "leads", "rate with", "rate without", "lift (95% CI)", "q", "scored by"]
        rows = [[r["label"], num(r.get("leads")), pct(r.get("rate_with")), pct(r.get("rate_without")), _lift(r),
                 star(r), scored(r)] for r in sig]
        right = (1, 2, 3, 5)
        top = [k for k, r in enumerate(sig) if r.get("meaningful")][:10] or list(range(min(5, len(sig))))
        shown = [rows[k] for k in top]
    page.add(H.table(head, shown, right=right))
    if len(rows) > len(shown):
        page.add(H.details(f"All {len(rows)} signals", H.table(head, rows, right=right)))


def _sweep(page: H.Page, doc: dict) -> None:
    for sw in doc.get("threshold_sweep") or []:
        cands = sw["candidates"]
        page.add(H.h2(f"Sales threshold: {sw['dimension']}"))
        page.add(H.para(f"Bands {', '.join(sw['sales_bands'])} can reach sales; band {sw['band']} starts at "
                        f"{num(sw['current_threshold'])} now. Each point: the leads that would reach sales with "
                        f"{sw['dimension']} ≥ the threshold.", cls="note"))
        xs = [c["threshold"] for c in cands]
        pts = [{"threshold": c["threshold"], "rate": c["rate"], "share_of_conversions": c["share_of_conversions"]}
               for c in cands]
        page.add(H.figure(svg.lines(
            xs, [{"name": "conversion rate (95% interval shaded)", "colour": H.BLUE, "ys": [c["rate"] for c in cands],
                  "lo": [c["ci_low"] for c in cands], "hi": [c["ci_high"] for c in cands],
                  "data": [{"value": p["rate"], "threshold": p["threshold"]} for p in pts]},
                 {"name": "share of all conversions", "colour": H.ORANGE,
                  "ys": [c["share_of_conversions"] for c in cands],
                  "data": [{"value": p["share_of_conversions"], "threshold": p["threshold"]} for p in pts]}],
            label=f"Sales threshold sweep over {sw['dimension']}", marker=("now", sw["current_threshold"]),
            x_title=f"{sw['dimension']} threshold", fmt_x=num),
            "Raising the threshold sends fewer leads to sales: watch the rate rise (or not) and the share "
            "of conversions they hold fall."))
        rows = [[num(c["threshold"]) + (" (now)" if c["current"] else ""), num(c["leads"]), num(c["worked"]),
                 num(c["converted"]), pct(c["rate"]), ci(c), pct(c["share_of_conversions"])] for c in cands]
        page.add(H.maybe_fold(f"The sweep as a table ({len(rows)} thresholds)",
                              H.table([f"{sw['dimension']} ≥", "to sales", "worked", "converted", "rate", "95% CI",
                                       "of all conversions"], rows, right=(0, 1, 2, 3, 4, 6)), len(rows)))


def generic(x, depth: int = 0) -> H.Markup:
    """Any json value as HTML: a list of objects as a table, an object as label/value lines (nested
    parts below), anything else as text."""
    if isinstance(x, list):
        if x and all(isinstance(r, dict) for r in x):
            cols: list[str] = []
            for r in x:
                for k in r:
                    if k not in cols:
                        cols.append(k)
            right = tuple(i for i, k in enumerate(cols) if all(isinstance(r.get(k), (int, float)) and
                                                                not isinstance(r.get(k), bool)
                                                                for r in x if r.get(k) is not None))
            rows = [[_cell(r.get(k)) for k in cols] for r in x]
            return H.maybe_fold(f"{len(rows)} rows", H.table(cols, rows, right=right), len(rows))
        return H.para(", ".join(_cell(v) for v in x) or "(none)")
    if isinstance(x, dict):
        flat = [(k, _cell(v)) for k, v in x.items() if not isinstance(v, (dict, list)) or
                (isinstance(v, list) and not any(isinstance(i, dict) for i in v))]
        parts = [H.kv_table(flat)] if flat else []
        for k, v in x.items():
            if isinstance(v, dict) or (isinstance(v, list) and any(isinstance(i, dict) for i in v)):
                parts.append(H.tag("h4" if depth else "h3", k.replace("_", " ")))
                parts.append(generic(v, depth + 1))
        return H.Markup("".join(parts))
    return H.para(_cell(x))


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, list):
        return ", ".join(_cell(i) for i in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_cell(i)}" for k, i in v.items())
    return str(v)
