"""Rendering the scoring sheet (`leadrules docs`): markdown (for a repository or a wiki) and a
self-contained HTML page (to print and sign). Both render the dict built by
runtime/analysis/sheet.py; every value from the rule file is escaped (markdown: runtime/report/diff.py
`md_cell`/`md_code`; HTML: runtime/report/html.py).
"""
from __future__ import annotations

from dsl import printer

from runtime.report import html as H
from runtime.report.diff import md_cell, md_code


def title(doc: dict) -> str:
    name = doc.get("ruleset") or doc["rules"]
    v = doc.get("ruleset_version")
    return f"Scoring sheet: {name}" + (f", version {v}" if v is not None else "")


def summary(doc: dict) -> str:
    dims = doc["dimensions"]
    crits = sum(len(d["criteria"]) for d in dims)
    ex = doc["examples"]
    ok = sum(1 for e in ex if e["passed"])
    parts = [f"{len(dims)} dimension{'s' if len(dims) != 1 else ''}", f"{crits} criteria",
             f"{len(doc['disqualify'])} disqualification reason{'s' if len(doc['disqualify']) != 1 else ''}",
             f"{len(doc['routes'])} route line{'s' if len(doc['routes']) != 1 else ''}"]
    if doc.get("accounts"):
        parts.append(f"account scoring by {doc['accounts']['by']}")
    parts.append(f"{len(ex)} worked example{'s' if len(ex) != 1 else ''}"
                 + (f" ({ok} as expected)" if ex and ok == len(ex) else f" ({len(ex) - ok} NOT as expected)" if ex else ""))
    return " · ".join(parts)


def identity(doc: dict) -> list[tuple[str, str]]:
    out = [("rule file", doc["rules"])]
    if doc.get("ruleset"):
        out.append(("ruleset", f"{doc['ruleset']}, version {doc.get('ruleset_version')}"))
    if doc.get("owners"):
        out.append(("owners", ", ".join(doc["owners"])))
    out.append(("rules_sha256", doc.get("rules_sha256") or "-"))
    return out


def route_goes(r: dict) -> str:
    s = r["action"] + (f" {printer.quote(r['queue'])}" if r.get("queue") else "")
    return s


def route_when(r: dict) -> str:
    s = r["patterns"]
    if r.get("account"):
        s = f"account {r['account']} and {s}"
    return s


def outcome_words(e: dict) -> str:
    r = e.get("result")
    if r is None:
        return "not run (the rule file has errors)"
    if r["disqualified"] is not None:
        s = f"disqualified ({printer.quote(r['disqualified'])})"
    else:
        s = ", ".join(f"{k} {printer.num(v)}" for k, v in r["scores"].items()) + f" → grade {r['grade']}"
    if r.get("account_bands"):
        s += " · account " + ", ".join(f"{k} {v}" for k, v in r["account_bands"].items())
    route = r["route"] or "no route"
    if r.get("queue"):
        route += f" {printer.quote(r['queue'])}"
    if r.get("sla"):
        route += f" within {r['sla']}"
    return s + f" → {route}"


def as_of_words(e: dict) -> str:
    if e["as_of_given"]:
        return e["as_of"]
    if e["as_of"] is not None:
        return f"{e['as_of']} (--as-of; the test gives no date)"
    return "the day the sheet is made (the test gives no date)"


def signers(doc: dict) -> list[str]:
    return ["Marketing", "Sales"]


# ---- markdown -----------------------------------------------------------------------------------


def _md_table(head, rows, right=(), code=()) -> list[str]:
    out = ["| " + " | ".join(md_cell(h) for h in head) + " |",
           "|" + "|".join("---:" if i in right else "---" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(md_code(c) if i in code and c not in ("", "-") else md_cell(c) for i, c in enumerate(r))
            + " |" for r in rows]
    return out + [""]


def _md_dimension(d: dict, level: str = "##") -> list[str]:
    label = f" — {d['label']}" if d.get("label") else ""
    out = [f"{level} {md_cell(d['dimension'])}{md_cell(label)}", ""]
    line = f"Score: {d['range_words']}."
    if d.get("decay_words"):
        line += f" Interest fades: {d['decay_words']} (decay half-life)."
    out += [md_cell(line), ""]
    rows = [[md_cell(c["name"]), "".join(md_code(t) if k == "rule" else md_cell(t) for k, t in c["parts"])]
            for c in d["criteria"]]
    out += ["| criterion | in words |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows] + [""]
    if d.get("bands"):
        out += ["Bands, tested from the top:", ""]
        out += _md_table(["band", "when"], [[b["band"], b["words"]] for b in d["bands"]])
    return out


def as_markdown(doc: dict) -> str:
    L = [f"# {md_cell(title(doc))}", "", f"**{md_cell(summary(doc))}**", ""]
    L += [f"- {md_cell(k)}: " + (md_code(v) if k == "rules_sha256" else md_cell(v)) for k, v in identity(doc)] + [""]
    L += ["## Disqualification", "",
          "A lead is disqualified — never scored, graded `disqualified` — when one of these holds; the first that "
          "holds gives the reason.", ""]
    if doc["disqualify"]:
        L += _md_table(["reason", "when"], [[d["reason"], d["when"]] for d in doc["disqualify"]], code=(1,))
    else:
        L += ["No disqualification reasons.", ""]
    for d in doc["dimensions"]:
        L += _md_dimension(d)
    L += ["## Grades", "", md_cell(doc["grade"]["words"][0].upper() + doc["grade"]["words"][1:]) + ".", ""]
    L += ["## Routes", "", "The first line that matches the lead's grade decides where it goes.", ""]
    if doc["routes"]:
        L += _md_table(["grade", "goes to", "follow up within"],
                       [[route_when(r), route_goes(r), r["sla"] or "-"] for r in doc["routes"]])
    acc = doc.get("accounts")
    if acc:
        L += [f"## Accounts (by {md_cell(acc['by'])})", "",
              "Leads that share an account are scored together as a buying group.", ""]
        for d in acc["dimensions"]:
            L += _md_dimension(d, "###")
    if doc.get("guardrails"):
        L += ["## Guardrails", "", "`leadrules simulate` checks these bounds on a sample of leads before a change "
              "goes live.", ""]
        for g in doc["guardrails"]:
            L += [f"- {md_cell(g['simulation'])}: " + "; ".join(md_cell(x) for x in g["expect"])]
        L += [""]
    L += ["## Worked examples", "", "Each example is one of the rule file's tests, run on these rules.", ""]
    for e in doc["examples"]:
        mark = "as expected" if e["passed"] else "NOT as expected"
        L += [f"### {md_cell(e['name'])}", ""]
        L += [f"- as of {as_of_words(e)}"]
        L += ["- lead: " + (", ".join(md_cell(f"{x['field']}: {x['value']}") for x in e["lead"]) or "(no fields)")]
        if e["events"]:
            L += ["- events: " + "; ".join(md_cell(x) for x in e["events"])]
        L += [f"- comes out: {md_cell(outcome_words(e))}"]
        if e.get("result") and e["result"]["fired"]:
            L += ["- criteria that fired: " + ", ".join(md_cell(x) for x in e["result"]["fired"])]
        L += [f"- expected: {md_cell('; '.join(e['expects']))} — **{mark}**"]
        for f in e.get("failures") or []:
            L += [f"  - {md_cell(f)}"]
        L += [""]
    if doc["lists"]:
        L += ["## Lists", ""]
        L += _md_table(["list", "items"], [[x["name"], ", ".join(x["items"])] for x in doc["lists"]])
    L += ["## Sign-off", "", f"rules_sha256 `{doc.get('rules_sha256')}`", ""]
    L += _md_table(["team", "name", "signature", "date"], [[s, "", "", ""] for s in signers(doc)])
    return "\n".join(L).rstrip() + "\n"


# ---- html ---------------------------------------------------------------------------------------


def _html_dimension(page: H.Page, d: dict, level=H.h2) -> None:
    label = f" — {d['label']}" if d.get("label") else ""
    page.add(level(f"{d['dimension']}{label}", id=f"dim-{d['dimension']}"))
    line = f"Score: {d['range_words']}."
    if d.get("decay_words"):
        line += f" Interest fades: {d['decay_words']} (decay half-life)."
    page.add(H.para(line))
    rows = []
    for c in d["criteria"]:
        rows.append([H.tag("strong", c["name"]),
                     H.join(H.tag("code", t) if k == "rule" else t for k, t in c["parts"])])
    page.add(H.table(["criterion", "in words"], rows))
    if d.get("bands"):
        page.add(H.table(["band", "when"], [[H.tag("strong", b["band"]), b["words"]] for b in d["bands"]],
                         caption="Bands, tested from the top"))


def as_html(doc: dict) -> str:
    page = H.Page(title(doc), summary(doc), doc_title=title(doc))
    page.add(H.kv_table([(k, H.tag("code", v) if k == "rules_sha256" else v) for k, v in identity(doc)]))
    page.add(H.h2("Disqualification", id="disqualification"),
             H.para("A lead is disqualified — never scored, graded “disqualified” — when one of these holds; the "
                    "first that holds gives the reason."))
    if doc["disqualify"]:
        page.add(H.table(["reason", "when"], [[H.tag("strong", d["reason"]), H.tag("code", d["when"])]
                                              for d in doc["disqualify"]]))
    for d in doc["dimensions"]:
        _html_dimension(page, d)
    w = doc["grade"]["words"]
    page.add(H.h2("Grades", id="grades"), H.para(w[0].upper() + w[1:] + "."))
    page.add(H.h2("Routes", id="routes"), H.para("The first line that matches the lead's grade decides where it goes."))
    if doc["routes"]:
        page.add(H.table(["grade", "goes to", "follow up within"],
                         [[route_when(r), H.tag("strong", route_goes(r)), r["sla"] or "-"] for r in doc["routes"]]))
    acc = doc.get("accounts")
    if acc:
        page.add(H.h2(f"Accounts (by {acc['by']})", id="accounts"),
                 H.para("Leads that share an account are scored together as a buying group."))
        for d in acc["dimensions"]:
            _html_dimension(page, d, H.h3)
    if doc.get("guardrails"):
        page.add(H.h2("Guardrails", id="guardrails"),
                 H.para("leadrules simulate checks these bounds on a sample of leads before a change goes live."))
        for g in doc["guardrails"]:
            page.add(H.table(["expectation"], [[x] for x in g["expect"]], caption=f"simulation “{g['simulation']}”"))
    page.add(H.h2("Worked examples", id="examples"),
             H.para("Each example is one of the rule file's tests, run on these rules."))
    for e in doc["examples"]:
        rows = [("as of", as_of_words(e)),
                ("lead", ", ".join(f"{x['field']}: {x['value']}" for x in e["lead"]) or "(no fields)")]
        if e["events"]:
            rows.append(("events", H.Markup("<br>".join(H.esc(x) for x in e["events"]))))
        rows.append(("comes out", H.tag("strong", outcome_words(e))))
        if e.get("result") and e["result"]["fired"]:
            rows.append(("criteria that fired", ", ".join(e["result"]["fired"])))
        rows.append(("expected", H.join(["; ".join(e["expects"]), " — ", H.result_word(e["passed"]) if not e["passed"]
                                         else H.Markup('<span class="pass">as expected</span>')])))
        for f in e.get("failures") or []:
            rows.append(("", f))
        page.add(H.h3(e["name"]), H.kv_table(rows))
    if doc["lists"]:
        page.add(H.h2("Lists", id="lists"),
                 H.table(["list", "items"], [[H.tag("code", x["name"]), ", ".join(x["items"])] for x in doc["lists"]]))
    page.add(H.h2("Sign-off", id="sign-off"),
             H.para(H.join(["We agree that leads are scored, graded and routed as this sheet says (rules_sha256 ",
                            H.tag("code", doc.get("rules_sha256") or "-"), ")."])))
    rows = "".join(f'<tr><td class="who">{H.esc(s)}</td>' + '<td class="blank"></td>' * 3 + "</tr>"
                   for s in signers(doc))
    page.add(H.Markup('<table class="sign"><thead><tr><th></th><th>name</th><th>signature</th><th>date</th></tr>'
                      f"</thead><tbody>{rows}</tbody></table>"))
    return page.render(f"Made by leadrules docs from {doc['rules']}.")
