"""`leadrules explain` as text: the data of runtime/analysis/explain.py as rich tables."""
from __future__ import annotations

from rich.console import Group
from rich.text import Text

from dsl import printer

from runtime.core.kernel import round2
from runtime.report.term import table


def _p(x) -> str:
    return printer.points(round2(x))


def render_text(d: dict, tty: bool) -> Group:
    parts = []
    route = d["route"] or "no route"
    if d["queue"]:
        route += f' "{d["queue"]}"'
    if d["sla"]:
        route += f" within {d['sla']}"
    head = f"Lead {d['id']} as of {d['as_of']}: "
    if d["disqualified"]:
        head += f'disqualified "{d["disqualified"]}" -> {route}'
    else:
        scores = ", ".join(f"{k} {printer.num(v)}" for k, v in d["scores"].items())
        head += f"grade {d['grade'] or '-'} ({scores}) -> {route}"
    parts.append(Text(head, style="bold" if tty else ""))
    ev = d["events"]
    parts.append(Text(f"{ev['total']} events, {ev['on_or_before_as_of']} on or before the as-of date "
                      "(later ones are ignored)"))
    if d["disqualify_checks"]:
        t = table("disqualify reason", "matched", tty=tty, title="Disqualification (first match wins)")
        for c in d["disqualify_checks"]:
            t.add_row(c["reason"], "yes" if c["matched"] else "no")
        parts.append(t)
    if d["disqualified"]:
        parts.append(Text("A disqualified lead gets no scores."))
        if d.get("account"):
            parts += _account_parts(d, tty)
        return Group(*parts)
    for dim in d["dimensions"]:
        t = table("criterion", "rule", "fired", "raw", "cap", "points", tty=tty, right=(3, 4, 5),
                  title=f"{dim['dimension']}: {printer.num(dim['score'])}"
                        + (f" -> band {dim['band']}" if dim["band"] is not None else ""))
        for c in d["criteria"]:
            if c["dimension"] != dim["dimension"]:
                continue
            rule = c["rule"]
            if c.get("events"):
                n = len(c["events"])
                ages = ", ".join(str(e["age_days"]) for e in c["events"][:8]) + (" ..." if n > 8 else "")
                decay = f"half-life {printer.num(c['decay_half_life_days'])} days" if c.get("decay_half_life_days") else "no decay"
                rule += f"\n{n} event{'s' if n != 1 else ''}, ages {ages} days; {decay}"
            if c.get("tier"):
                rule += f"\ntier {c['tier']} matched"
            cap = "" if c["cap"] is None else printer.num(c["cap"]) + (" (binds)" if c["capped"] else "")
            t.add_row(c["name"], rule, "yes" if c["fired"] else "no",
                      _p(c["raw_points"]) if c["fired"] else "", cap, _p(c["points"]) if c["fired"] else "0")
        clamp = ""
        if dim["sum"] != dim["score"]:
            clamp = f" -> clamped to [{printer.num(dim['floor'])}, {printer.num(dim['max'])}] and rounded: {printer.num(dim['score'])}"
        t.caption = f"sum {printer.num(dim['sum'])}{clamp}" + _reset_text(dim)
        parts.append(t)
    if d.get("account"):
        parts += _account_parts(d, tty)
    return Group(*parts)


def _reset_text(dim: dict) -> str:
    """The reset of a dimension with `reset on`: its date and the events it voided."""
    if "reset" not in dim:
        return ""
    r = dim["reset"]
    if r is None:
        return "\nno reset on or before the as-of date: every event counts"
    v = r["voided_events"]
    shown = ", ".join(f"{e['type']} {e['date']}" for e in v[:8]) + (" ..." if len(v) > 8 else "")
    return (f"\nreset on {r['date']}: only later events count; voided {len(v)} event{'s' if len(v) != 1 else ''}"
            + (f" ({shown})" if v else ""))


def _account_parts(d: dict, tty: bool) -> list:
    """The lead's account: its leads, each account criterion and the leads that made it fire."""
    a = d["account"]
    n = len(a["leads"])
    if a["own_account"]:
        who = f"its own account (no {a['by']})"
    else:
        who = f"{a['key']} (by {a['by']}, {n} lead{'s' if n != 1 else ''}: " + \
            ", ".join(x["id"] + (" disqualified" if x["disqualified"] else "") for x in a["leads"][:12]) + \
            (" ..." if n > 12 else "") + ")"
    bands = ", ".join(f"{k} {printer.num(v)}" + (f" -> {a['bands'][k]}" if k in a["bands"] else "")
                      for k, v in a["scores"].items())
    out = [Text(""), Text(f"Account: {who}: {bands}" +
                          ("; the route comes from an `account` line" if a.get("routed_by_account_line") else ""),
                          style="bold" if tty else "")]
    for dim in a["dimensions"]:
        t = table("criterion", "rule", "fired", "points", "leads that count", tty=tty, right=(3,),
                  title=f"account {dim['dimension']}: {printer.num(dim['score'])}"
                        + (f" -> band {dim['band']}" if dim["band"] is not None else ""))
        for c in a["criteria"]:
            if c["dimension"] != dim["dimension"]:
                continue
            conds = c["lead_conditions"]
            who = "\n".join((f"{u['leads']}: " if len(conds) > 1 else "")
                             + (", ".join(u["matching_leads"][:10]) or "none")
                             + (" ..." if len(u["matching_leads"]) > 10 else "") for u in conds)
            t.add_row(c["name"], c["rule"], "yes" if c["fired"] else "no", _p(c["points"]) if c["fired"] else "0", who)
        out.append(t)
    out.append(Text("Only leads that are not disqualified count towards their account."))
    return out
