"""Rendering a `leadrules calibrate` report: text (rich tables in a terminal, plain ASCII when piped,
with a bar chart of conversion by grade drawn in characters), json (stable, `"version": 2`,
documented in docs/calibrate.md), markdown (for pull requests), and an optional chart file
(`--plot FILE.png|svg`, matplotlib, imported only then). All render the document built by
runtime/commands/calibrate.py from `runtime.analysis.calibrate.Calibrator.report()`.
"""
from __future__ import annotations

import html
import io
import json
from typing import Any

from dsl import printer

from runtime.report.term import console as make_console
from runtime.report.term import is_tty, table

CHART_WIDTH = 20
TOP_SIGNALS = 10


# ---- shared bits --------------------------------------------------------------------------------


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def ci(row: dict) -> str:
    if row.get("ci_low") is None:
        return "-"
    return f"{100 * row['ci_low']:.1f}–{100 * row['ci_high']:.1f}%"


def num(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, int):
        return f"{x:,}"
    return printer.num(x)


def pvalue(p: float | None) -> str:
    if p is None:
        return "-"
    if p < 0.0001:
        return "<0.0001"
    return f"{p:.2g}"


def auc1(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def auc_txt(d: dict) -> str:
    if d.get("auc") is None:
        return "-"
    return f"{d['auc']:.3f} ({d['auc_ci_low']:.3f}–{d['auc_ci_high']:.3f})"


def lift_txt(r: dict) -> str:
    if r.get("lift") is None:
        return "-"
    s = f"{r['lift']:.2f}"
    if r.get("lift_ci_low") is not None:
        s += f" ({r['lift_ci_low']:.2f}–{r['lift_ci_high']:.2f})"
    return s


def chart(rate: float | None, tty: bool, width: int = CHART_WIDTH) -> str:
    """A bar of characters for a conversion rate, scaled so that `width` characters are 100%."""
    if rate is None:
        return ""
    fill = "█" if tty else "#"
    cells = rate * width
    full = int(cells)
    out = fill * full
    if tty and cells - full >= 0.5 and full < width:
        out += "▌"
    elif not tty and cells - full >= 0.5:
        out += fill
    return (out or "·").ljust(width, " ")


def grade_name(g: str) -> str:
    return g if g else "(no grade)"  # a file without grade blocks


def route_name(route: str | None, queue: str | None) -> str:
    if route is None:
        return "(none)"
    return f"{route} {printer.quote(queue)}" if queue else route


def headline(doc: dict) -> str:
    t = doc["totals"]
    head = (f"{doc['rules']} · {t['leads']:,} leads · {t['worked']:,} worked · {t['converted']:,} converted "
            f"({pct(t['rate'])} of worked, 95% CI {ci(t)})")
    return head


def sources(doc: dict) -> str:
    s = f"leads {doc['leads_file']}"
    if doc.get("events_file"):
        s += f" + events {doc['events_file']}"
    s += f" · outcomes {doc['outcomes_file']} · as of {doc['as_of']}"
    return s


def input_lines(doc: dict) -> list[str]:
    t, inp = doc["totals"], doc["inputs"]
    L, O = inp["leads"], inp["outcomes"]
    out = [f"leads: {L['read']:,} read · {L['scored']:,} scored · {L['rejected']:,} rejected"
           + (f" · {t['numbered']:,} without id (no outcome can match them)" if t.get("numbered") else "")]
    line = (f"outcomes: {O['read']:,} read · {O['matched']:,} matched · {O['rejected']:,} rejected"
            f" · {O['unknown_leads']:,} for unknown leads")
    if O["unknown_leads"]:
        line += " (e.g. " + ", ".join(O["unknown_lead_ids"][:5]) + ")"
    out.append(line)
    extra = [f"{t['scored_as_of_worked_at']:,} worked leads scored as of their worked_at, "
             f"{t['scored_as_of_date']:,} others as of {doc['as_of']}"]
    if t["without_outcome"]:
        extra.append(f"{t['without_outcome']:,} leads have no outcome row (counted as not worked)")
    if t["converted_unworked"]:
        extra.append(f"{t['converted_unworked']:,} converted without being worked (not in the rates)")
    out.append(" · ".join(extra))
    ev = inp.get("events") or {}
    if ev.get("orphans") or ev.get("bad"):
        out.append(f"events: {ev.get('orphans', 0):,} for leads not in the leads file · {ev.get('bad', 0):,} bad")
    return out


def _tables(doc: dict, tty: bool) -> list[tuple[str, list[str], list[list[str]], tuple[int, ...], list[str]]]:
    """Each section as (title, header, rows, right-aligned columns, lines after), for text and markdown."""
    T = []
    T.append(("Conversion by grade (rate = converted / worked; 95% Wilson interval)",
              ["grade", "leads", "worked", "converted", "rate", "95% CI", "conversion (0–100%)"],
              [[grade_name(g["grade"]), num(g["leads"]), num(g["worked"]), num(g["converted"]), pct(g["rate"]), ci(g),
                chart(g["rate"], tty)] for g in doc["by_grade"]], (1, 2, 3, 4), []))
    T.append(("Conversion by route",
              ["route", "leads", "worked", "converted", "rate", "95% CI"],
              [[route_name(r["route"], r["queue"]), num(r["leads"]), num(r["worked"]), num(r["converted"]),
                pct(r["rate"]), ci(r)] for r in doc["by_route"]], (1, 2, 3, 4), []))
    cp = doc["cherry_picking"]
    c, s, cmp_ = cp["cherry_picked"], cp["routed_to_sales"], cp["comparison"]
    rows = [["cherry-picked (routed elsewhere)", num(c["leads_routed_elsewhere"]), num(c["worked"]),
             num(c["converted"]), pct(c["rate"]), ci(c)],
            ["routed to sales", num(s["leads"]), num(s["worked"]), num(s["converted"]), pct(s["rate"]), ci(s)]]
    after = [cp["verdict"]]
    if cmp_.get("test"):
        stat = f"z = {cmp_['statistic']:.2f}, " if cmp_.get("statistic") is not None else ""
        after.append(f"difference {100 * cmp_['difference']:+.1f} points · {cmp_['test']}: {stat}p = "
                     f"{pvalue(cmp_['p_value'])}")
    share = cp.get("share_of_worked")
    summary = (f"{c['worked']:,} of {doc['totals']['worked']:,} worked leads were cherry-picked ({pct(share)}); "
               f"{s['not_worked']:,} of {s['leads']:,} leads routed to sales were not worked.")
    T.append(("Cherry-picking: leads sales worked although the rules routed them elsewhere",
              ["group", "leads", "worked", "converted", "rate", "95% CI"], rows, (1, 2, 3, 4), [summary] + after))
    if cp["by_grade"]:
        T.append(("Cherry-picks by grade",
                  ["grade", "routed to", "leads", "worked", "converted", "rate", "95% CI"],
                  [[grade_name(g["grade"]), route_name(g["route"], g["queue"]), num(g["leads"]), num(g["worked"]),
                    num(g["converted"]), pct(g["rate"]), ci(g)] for g in cp["by_grade"]], (2, 3, 4, 5), []))
    dm = doc.get("dimensions")
    if dm:
        rows = [["total", auc_txt(dm["total"])]]
        rows += [[d["dimension"], auc_txt(d)] for d in dm["by_dimension"]]
        T.append((f"How well the scores separate converters: AUC over {dm['worked_scored']:,} worked leads the rules "
                  f"scored (0.5 = chance, 1 = perfect)", ["score", "AUC (95% CI)"], rows, (), []))
        for d in dm["by_dimension"]:
            if not d["bands"]:
                continue
            T.append((f"Conversion by {d['dimension']} band",
                      ["band", "from", "leads", "worked", "converted", "rate", "95% CI", "median days to convert"],
                      [[b["band"], "otherwise" if b["threshold"] is None else num(b["threshold"]), num(b["leads"]),
                        num(b["worked"]), num(b["converted"]), pct(b["rate"]), ci(b),
                        num(b["median_days_to_convert"])] for b in d["bands"]], (1, 2, 3, 4, 5, 7), []))
    crit = doc.get("criteria")
    if crit:
        after = []
        quiet = [c["criterion"] for c in crit if c["verdict"] == "no signal"]
        against = [c["criterion"] for c in crit if c["verdict"] == "against"]
        if quiet:
            after.append("No detectable signal at this sample size: " + ", ".join(quiet) + ".")
        if against:
            after.append("Predicts against its points: " + ", ".join(against) + ".")
        T.append(("Criteria judged over the worked leads: conversion when it fires vs not (lift with 95% CI); "
                  "AUC lost without it",
                  ["criterion", "points", "fires", "rate fires", "rate not", "lift (95% CI)", "q", "AUC −",
                   "verdict"],
                  [[c["criterion"], "tiers" if c["points"] is None else printer.points(c["points"]),
                    f"{c['fires']:,} ({pct(c['fire_rate'])})", pct(c["rate_when_fires"]), pct(c["rate_otherwise"]),
                    lift_txt(c), pvalue(c["q_value"]), "-" if c["auc_contribution"] is None
                    else f"{c['auc_contribution']:+.3f}", c["verdict"]] for c in crit],
                  (2, 3, 4, 6, 7), after))
    ms = doc["missed_signals"]
    sig = ms["signals"]
    shown = [r for r in sig if r["meaningful"]][:TOP_SIGNALS] or sig[:TOP_SIGNALS // 2]
    after = []
    if len(sig) > len(shown):
        after.append(f"{len(shown)} of {len(sig)} signals tested shown; --format json lists them all.")
    if ms.get("excluded_keys"):
        after.append("Not used as signals (identify rather than describe): "
                     + ", ".join(e["key"] for e in ms["excluded_keys"]) + ".")
    if ms.get("top_unscored"):
        after.append(f"Top signal no criterion scores: {ms['top_unscored']}.")
        if ms.get("suggestion"):
            after.append(f"  a criterion for it, to weigh and test: {ms['suggestion']}")
    elif not ms["converting"]:
        after.append("No worked lead converted: no signals to compare.")
    elif not sig:
        after.append(f"No signal is held by at least {ms['min_support']} converting and {ms['min_support']} "
                     "non-converting worked leads (see --min-support).")
    else:
        after.append("No unscored signal stands out at this sample size (none meaningful after correcting for "
                     "the number of signals tested).")
    if ms.get("top_against"):
        after.append(f"Strongest signal against conversion: {ms['top_against']}.")
    T.append((f"Missed signals: worked leads ({ms['converting']:,} converted, {ms['not_converting']:,} not), "
              f"{ms['tested']:,} signals tested, {ms['meaningful']:,} meaningful",
              ["signal", "leads", "rate with", "rate without", "lift (95% CI)", "q", "scored by"],
              [[r["label"], num(r["leads"]), pct(r["rate_with"]), pct(r["rate_without"]), lift_txt(r),
                pvalue(r["q_value"]) + (" *" if r["meaningful"] else ""),
                ", ".join(r["scored_by"]) or "— not scored"] for r in shown], (1, 2, 3, 5), after))
    sg = doc.get("suggested")
    if sg:
        h = sg["held_out_auc"]
        rows = [["rules today", auc1(h["current"])], ["suggested rules", auc1(h["suggested"])],
                ["logistic regression (same signals)", auc1(h["logistic_regression"])]]
        after = [f"Suggested version written to {sg['file']}: {sg['reweighted']} criteria re-weighted, "
                 f"{len(sg['added'])} added" + (f" ({', '.join(a['criterion'] for a in sg['added'])})"
                                                  if sg["added"] else "") + "; review it with "
                 f"`leadrules diff {doc['rules']} {sg['file']}`."]
        rs = sg.get("route_shares") or []
        if rs:
            after.append("Share of leads by route, now → suggested: " + ", ".join(
                f"{r['route'] or '(none)'} {pct(r['now'])} → {pct(r['suggested'])}" for r in rs) + ".")
        if sg.get("all_zero"):
            after.append("No criterion and no signal carries enough signal at this sample size: every point is 0 "
                         "in the suggestion. Gather more outcomes before re-weighting.")
        T.append((f"Suggested points: held-out AUC ({sg['folds']}-fold cross-validation over the worked leads)",
                  ["version", "AUC"], rows, (1,), after))
    for sw in doc["threshold_sweep"]:
        bands = ", ".join(sw["sales_bands"])
        title = (f"Sales threshold sweep: {sw['dimension']} (bands {bands} can reach sales; band {sw['band']} "
                 f"starts at {num(sw['current_threshold'])} now)")
        rows = [[f"{num(r['threshold'])}" + (" (now)" if r["current"] else ""), num(r["leads"]), num(r["worked"]),
                 num(r["converted"]), pct(r["rate"]), ci(r), pct(r["share_of_conversions"])]
                for r in sw["candidates"]]
        T.append((title, [f"{sw['dimension']} >=", "to sales", "worked", "converted", "rate", "95% CI",
                          "of all conversions"], rows, (0, 1, 2, 3, 4, 6), []))
    return T


# ---- json ---------------------------------------------------------------------------------------


def as_json(doc: dict) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2)


# ---- text ---------------------------------------------------------------------------------------


def print_text(doc: dict, con=None) -> None:
    con = con or make_console()
    tty = is_tty(con.file)
    con.print(headline(doc), markup=False, style="bold" if tty else None)
    con.print(sources(doc), markup=False)
    for line in input_lines(doc):
        con.print(line, markup=False)
    for title, head, rows, right, after in _tables(doc, tty):
        t = table(*head, title=title, tty=tty, right=right)
        for r in rows:
            t.add_row(*r)
        con.print("", markup=False)
        con.print(t)
        for line in after:
            con.print(line, markup=False)
    con.print("", markup=False)
    con.print("rate: converted / worked. *: meaningful after the Benjamini-Hochberg correction (q < 0.05). "
              "See docs/calibrate.md.", markup=False)


# ---- markdown -----------------------------------------------------------------------------------


def _md_cell(s: str) -> str:
    """Plain text for markdown: raw HTML in a name or value is shown, never rendered."""
    return html.escape(str(s), quote=False).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(head: list[str], rows: list[list[str]], right: tuple[int, ...]) -> list[str]:
    out = ["| " + " | ".join(_md_cell(h) for h in head) + " |",
           "|" + "|".join("---:" if i in right else "---" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return out


def as_markdown(doc: dict) -> str:
    lines = [f"## leadrules calibrate: `{str(doc['rules']).replace('`', '')}`", "", f"**{_md_cell(headline(doc))}**", "",
             _md_cell(sources(doc)), ""]
    lines += [f"- {_md_cell(x)}" for x in input_lines(doc)] + [""]
    for title, head, rows, right, after in _tables(doc, tty=False):
        if head[-1].startswith("conversion ("):
            head, rows = head[:-1], [r[:-1] for r in rows]
        lines += [f"### {_md_cell(title)}", ""] + _md_table(head, rows, right) + [""]
        for a in after:
            if "a criterion for it" in a:
                lines += ["```", a.split(": ", 1)[1], "```", ""]
            else:
                lines += [_md_cell(a), ""]
    return "\n".join(lines).rstrip() + "\n"


# ---- a chart file -------------------------------------------------------------------------------


PLOT_SUFFIXES = (".png", ".svg")


class PlotUnavailable(Exception):
    pass


def load_pyplot():
    """matplotlib's pyplot on a file-only backend; PlotUnavailable when matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        raise PlotUnavailable("--plot needs matplotlib, which is not installed; install it with "
                              "pip install 'leadrules[plot]' (or leave out --plot: the text report has a chart "
                              "of characters)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot(doc: dict, path: str, plt=None) -> None:
    """Conversion by grade (worked leads) with 95% Wilson intervals, as PNG or SVG by suffix."""
    plt = plt or load_pyplot()
    rows = [g for g in doc["by_grade"] if g["rate"] is not None]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.55 * len(rows) + 2), 3.6))
    xs = list(range(len(rows)))
    rates = [100 * g["rate"] for g in rows]
    err = [[100 * (g["rate"] - g["ci_low"]) for g in rows], [100 * (g["ci_high"] - g["rate"]) for g in rows]]
    ax.bar(xs, rates, color="#4C78A8", yerr=err, capsize=3, ecolor="#333333")
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{g['grade']}\nn={g['worked']}" for g in rows], fontsize=8)
    ax.set_ylabel("converted / worked (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"Conversion by grade · {doc['rules']} · as of {doc['as_of']}", fontsize=10)
    overall = doc["totals"]["rate"]
    if overall is not None:
        ax.axhline(100 * overall, color="#E45756", linestyle="--", linewidth=1, label=f"all worked: {pct(overall)}")
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    from runtime.io.files import open_output

    try:
        # drawn into memory first: matplotlib wants a seekable file, then written whole or absent,
        # like every output file
        buf = io.BytesIO()
        fig.savefig(buf, format=path.rsplit(".", 1)[-1].lower())
        with open_output(path, binary=True) as fh:
            fh.write(buf.getvalue())
    finally:
        plt.close(fig)
