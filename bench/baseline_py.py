#!/usr/bin/env python3
"""Hand-written pure-Python scorer of bench/MODEL.md: the speed baseline for `leadrules score`.

One function per lead over the dict `json.loads` gives, precompiled regular expressions, locals,
a decay table and a memo of event dates. As a program it reads JSONL and writes one JSON line per
lead (the same keys as `leadrules score`):

    python bench/baseline_py.py LEADS.jsonl [-o OUT.jsonl]
"""
from __future__ import annotations

import datetime as dt
import json
import re
import sys

AS_OF = dt.date(2026, 11, 1).toordinal()
HALF_LIFE = 30
W = [0.5 ** (a / HALF_LIFE) for a in range(366)]

T_C = re.compile(r"\b(chief|ceo|cto|cmo|cfo|coo|cro|cio|founder)\b")
T_VP = re.compile(r"\b(vp|svp|evp|vice president)\b")
T_DIR = re.compile(r"\b(director|head of)\b")
T_MGR = re.compile(r"\b(manager|lead)\b")
T_FN = re.compile(r"\b(marketing|growth|demand|revops)\b")
T_STU = re.compile(r"\b(student|intern|internship)\b")
DQ_TEST = re.compile(r"^test[0-9]*@")

DISPOSABLE = frozenset(["example.com", "test.com", "mailinator.com"])
BOGUS = frozenset(["mickey mouse", "minnie mouse", "donald duck", "test test", "asdf asdf"])
IND1 = frozenset(["software", "saas", "fintech", "healthcare it", "e-commerce"])
IND2 = frozenset(["financial services", "manufacturing", "retail", "telecommunications", "professional services"])
C1 = frozenset(["US", "CA", "GB", "DE", "FR", "NL", "AU"])
C2 = frozenset(["ES", "IT", "SE", "DK", "NO", "FI", "IE", "CH", "AT", "BE", "SG", "JP", "NZ"])
SOURCE = {"referral": 10, "partner": 8, "organic_search": 5, "webinar": 5, "event": 5, "paid_search": 3,
          "paid_social": 3, "purchased_list": -10}
PERSONAL = frozenset(["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com",
                      "proton.me", "gmx.de"])
COMPETITORS = frozenset(["hubspot.com", "marketo.com", "salesforce.com", "pardot.com", "eloqua.com",
                         "pipedrive.com", "act-on.com"])
_AGE: dict[str, int] = {}


def _age(day: str) -> int:
    a = _AGE.get(day)
    if a is None:
        a = _AGE[day] = AS_OF - dt.date.fromisoformat(day).toordinal()
    return a


def score(lead: dict):
    """(id, profile, engagement, disqualified, grade, route) per MODEL.md."""
    get = lead.get
    title_l = (get("title") or "").lower()
    email_l = (get("email") or "").strip().lower()
    at = email_l.rfind("@")
    domain = email_l[at + 1:] if at >= 0 else ""
    first = (get("first_name") or "").strip()
    last = (get("last_name") or "").strip()
    dq = (at < 0 or DQ_TEST.match(email_l) is not None or domain in DISPOSABLE
          or f"{first.lower()} {last.lower()}" in BOGUS or not first or not last)

    # profile
    if T_C.search(title_l):
        p1 = 30
    elif T_VP.search(title_l):
        p1 = 25
    elif T_DIR.search(title_l):
        p1 = 20
    elif T_MGR.search(title_l):
        p1 = 10
    else:
        p1 = 0
    p = p1
    if T_FN.search(title_l):
        p += 10
    size = get("company_size")
    if size is not None:
        if size >= 5000:
            p += 15
        elif size >= 1000:
            p += 20
        elif size >= 200:
            p += 15
        elif size >= 50:
            p += 10
        elif size >= 10:
            p += 5
    ind = (get("industry") or "").strip().lower()
    if ind in IND1:
        p += 15
    elif ind in IND2:
        p += 8
    country = (get("country") or "").strip().upper()
    if country in C1:
        p += 10
    elif country in C2:
        p += 5
    rev = get("annual_revenue")
    if rev is not None:
        if rev >= 100_000_000:
            p += 15
        elif rev >= 10_000_000:
            p += 10
        elif rev >= 1_000_000:
            p += 5
    p += SOURCE.get((get("lead_source") or "").lower(), 0)
    if domain in PERSONAL:
        p -= 10
    if domain.endswith(".edu") or domain.endswith(".ac.uk"):
        p -= 15
    if T_STU.search(title_l):
        p -= 20
    if domain in COMPETITORS:
        p -= 100
    if p1 >= 20 and size is not None and size >= 200:
        p += 10
    profile = 0 if p < 0 else 100 if p > 100 else p

    # engagement
    e1 = e2 = e3 = e4 = e5 = e6 = e7 = e8 = e9 = e10 = e11 = 0.0
    recent = set()
    for ev in get("events") or ():
        age = _age(ev["at"][:10])
        if age < 0 or age > 365:
            continue
        t = ev["type"]
        w = W[age]
        if t == "email_open":
            e1 += w
        elif t == "web_visit":
            page = ev.get("page")
            if page is not None and (page == "/pricing" or page.startswith("/pricing/")):
                e4 += 10 * w
            elif page is not None and (page == "/careers" or page.startswith("/careers/")):
                e11 -= 5 * w
            else:
                e3 += 2 * w
        elif t == "email_click":
            e2 += 3 * w
        elif t == "content_download":
            e9 += 4 * w
        elif t == "form_submit":
            form = ev.get("form")
            if form == "demo_request":
                e5 += 40 * w
            elif form == "contact_sales":
                e6 += 25 * w
            else:
                e7 += 5 * w
        elif t == "webinar_attended":
            if age <= 90:
                e8 += 15 * w
        elif t == "unsubscribe":
            e10 -= 30 * w
        else:
            continue
        if age <= 30:
            recent.add(t)
    e = (min(e1, 10) + min(e2, 15) + min(e3, 10) + min(e4, 30) + min(e5, 40) + min(e6, 25) + min(e7, 10)
         + min(e8, 30) + min(e9, 12) + max(e10, -30) + max(e11, -10) + (10 if len(recent) >= 3 else 0))
    engagement = 0.0 if e < 0 else 100.0 if e > 100 else e

    g = ("A" if profile >= 80 else "B" if profile >= 60 else "C" if profile >= 30 else "D") + \
        ("1" if engagement >= 75 else "2" if engagement >= 50 else "3" if engagement >= 25 else "4")
    if dq:
        route = "suppress"
    elif g in ("A1", "A2", "B1"):
        route = "sales_hot"
    elif g in ("A3", "B2"):
        route = "sales_standard"
    else:
        route = "nurture"
    return lead.get("id"), profile, engagement, dq, g, route


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("leads")
    ap.add_argument("-o", "--output", default="-")
    a = ap.parse_args(argv)
    loads = json.loads
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    out = sys.stdout if a.output == "-" else open(a.output, "w", encoding="utf-8")
    write = out.write
    with open(a.leads, encoding="utf-8") as fh:
        for line in fh:
            lid, profile, engagement, dq, g, route = score(loads(line))
            r, _, q = route.partition("_")
            if dq:
                rec = {"id": lid, "scores": {}, "bands": {}, "grade": "disqualified", "route": r, "queue": None,
                       "sla": None, "disqualified": "disqualified"}
            else:
                rec = {"id": lid, "scores": {"profile": float(profile), "engagement": engagement},
                       "bands": {"profile": g[0], "engagement": g[1]}, "grade": g, "route": r, "queue": q or None,
                       "sla": None, "disqualified": None}
            write(dumps(rec))
            write("\n")
    if out is not sys.stdout:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
