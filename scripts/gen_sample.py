"""Generate rulesets/samples/leads.jsonl: a few thousand plausible B2B leads with event histories.

Seeded and deterministic: `python scripts/gen_sample.py` always writes the same file. The leads come
from a few hundred companies (several contacts per company, sharing the e-mail domain, so that account
scoring has buying groups to find), drawn from personas — senior buyers, engaged juniors, tire-kickers,
students, competitors, test entries — so the bundled example reaches every band and route.

Each lead also carries a hidden propensity to buy (not written to the leads file) that
`scripts/gen_outcomes.py` turns into `outcomes.csv`. It rises with seniority and engagement, and with
visits to the `/integrations` pages, which `acme.rules` does not score: the signal
`leadrules calibrate` should find.

Usage: python scripts/gen_sample.py [--n 3000] [--seed 7] [--out rulesets/samples/leads.jsonl]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
from pathlib import Path

AS_OF = dt.date(2026, 11, 1)

INDUSTRIES = ["Software", "Financial Services", "Healthcare", "Manufacturing", "Retail", "Education",
              "Logistics", "Media", "Government", "Energy"]
COUNTRIES = ["US", "US", "US", "CA", "GB", "DE", "NL", "FR", "BR", "IN", "AU", "JP"]
SOURCES = ["webinar", "organic", "paid-search", "partner", "event", "content", "outbound"]
INTERESTS = ["analytics", "automation", "crm", "security", "integrations", "reporting", "ai"]
FIRST = ["Ana", "Raj", "Li", "Tom", "Eva", "Sam", "Meg", "Joe", "Kim", "Ola", "Ben", "Zoe", "Ivan", "Noor",
         "Luis", "Mia", "Omar", "Ines", "Kai", "Lea", "Finn", "Aisha", "Hugo", "Yuki", "Priya", "Jonas"]
LAST = ["Smith", "Garcia", "Chen", "Müller", "Rossi", "Okafor", "Kowalski", "Nguyen", "Silva", "Khan",
        "Johnson", "Dubois", "Tanaka", "Larsen", "Patel", "Brown", "Novak", "Haddad", "Costa", "Weber"]
WORDS = ["blue", "north", "data", "cloud", "peak", "bright", "iron", "swift", "green", "core", "nova",
         "terra", "pixel", "logic", "harbor", "summit", "vector", "atlas", "orbit", "maple"]
SUFFIX = ["soft", "ware", "ly", "co", "labs", "works", "systems", "health", "bank", "logistics", "media"]
TLDS = [".com", ".com", ".com", ".io", ".de", ".co.uk", ".net"]

SENIOR = ["VP Marketing", "Vice President, Sales", "Chief Revenue Officer", "CMO", "Head of Growth",
          "VP, Demand Generation", "Chief Technology Officer", "Head of Revenue Operations"]
DIRECTOR = ["Director of Marketing", "Sales Director", "Director, Marketing Operations", "IT Director"]
MANAGER = ["Marketing Manager", "Sales Ops Manager", "Product Manager", "IT Manager", "Account Manager"]
JUNIOR = ["Marketing Analyst", "Sales Development Rep", "Marketing Coordinator", "Engineer", "Consultant",
          "Data Analyst", "Specialist", ""]
STUDENT = ["MBA Student", "Student", "Marketing Intern", "Job seeker"]

PAGES = ["/", "/blog/lead-scoring-101", "/blog/intent-data", "/product", "/product/routing", "/about",
         "/careers", "/docs/getting-started"]
PRICING = ["/pricing", "/pricing/enterprise", "/Pricing"]
CUSTOMERS = ["/customers", "/customers/bigco", "/customers/fintechly"]
INTEGRATIONS = ["/integrations", "/integrations/salesforce", "/integrations/hubspot", "/integrations/snowflake"]
FORMS = ["newsletter", "ebook-download", "contact-sales", "demo-request", "event-signup"]
WEBINARS = ["scoring-101", "abm-in-practice", "hipaa-and-scoring", "revops-roundtable"]
ASSETS = ["scoring-guide", "roi-calculator", "abm-playbook", "benchmark-report"]

# persona: (weight, title pool, engagement level 0..3, integration-curious probability)
PERSONAS = {
    "senior_engaged": (8, SENIOR, 3, 0.35),
    "senior_quiet": (10, SENIOR + DIRECTOR, 0, 0.10),
    "director_active": (12, DIRECTOR, 2, 0.30),
    "manager_active": (15, MANAGER, 2, 0.30),
    "junior_engaged": (15, JUNIOR, 3, 0.40),
    "tire_kicker": (22, MANAGER + JUNIOR, 1, 0.15),
    "dormant": (12, SENIOR + MANAGER + JUNIOR, 0, 0.05),
}


def company(rng: random.Random, i: int) -> dict:
    name = rng.choice(WORDS).capitalize() + rng.choice(SUFFIX)
    size = int(rng.choice([rng.randint(5, 199), rng.randint(200, 999), rng.randint(1000, 50000)]))
    return {"name": f"{name} {['Inc', 'GmbH', 'Ltd', 'LLC', 'SA'][i % 5]}", "domain": name.lower() + rng.choice(TLDS),
            "size": size, "industry": rng.choice(INDUSTRIES), "country": rng.choice(COUNTRIES),
            "revenue": round(size * rng.uniform(80_000, 400_000), -3)}


def at_text(rng: random.Random, day: dt.date) -> str:
    """Event times in the shapes a CRM export has: dates, UTC stamps, stamps with offsets."""
    form = rng.random()
    if form < 0.2:
        return day.isoformat()
    t = dt.datetime(day.year, day.month, day.day, rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))
    if form < 0.8:
        return t.isoformat() + "Z"
    off = rng.choice([-5, -4, 1, 2, 5.5, 9])
    hours, minutes = int(off), int(abs(off - int(off)) * 60)
    tz = dt.timezone(dt.timedelta(hours=hours, minutes=minutes if off >= 0 else -minutes))
    return t.replace(tzinfo=tz).isoformat()


def events_for(rng: random.Random, level: int, curious: bool) -> tuple[list[dict], float]:
    """A history for an engagement level, and the engagement part of the hidden propensity."""
    evs: list[tuple[int, dict]] = []
    recent = {0: 200, 1: 90, 2: 45, 3: 20}[level]  # how far back most activity sits

    def age(spread=recent):
        return max(0, int(rng.expovariate(1 / spread)))

    n_opens = rng.randint(0, [2, 6, 10, 14][level])
    evs += [(age(), {"type": "email_open"}) for _ in range(n_opens)]
    evs += [(age(), {"type": "email_click"}) for _ in range(rng.randint(0, [1, 2, 4, 6][level]))]
    evs += [(age(), {"type": "web_visit", "page": rng.choice(PAGES)}) for _ in range(rng.randint(0, [2, 4, 6, 8][level]))]
    if level >= 1 and rng.random() < [0, 0.25, 0.5, 0.8][level]:
        evs += [(age(), {"type": "web_visit", "page": rng.choice(PRICING)}) for _ in range(rng.randint(1, 4))]
    if level >= 1 and rng.random() < 0.3:
        evs += [(age(), {"type": "web_visit", "page": rng.choice(CUSTOMERS)}) for _ in range(rng.randint(1, 3))]
    if rng.random() < [0.1, 0.3, 0.5, 0.7][level]:
        evs += [(age(), {"type": "content_download", "asset": rng.choice(ASSETS)}) for _ in range(rng.randint(1, 3))]
    if rng.random() < [0.05, 0.15, 0.3, 0.5][level]:
        evs.append((age(60), {"type": "webinar_attended", "webinar": rng.choice(WEBINARS)}))
    if rng.random() < [0.0, 0.05, 0.2, 0.45][level]:
        evs.append((age(), {"type": "form_submit", "form": rng.choice(["demo-request", "demo-request", "contact-sales"])}))
    if rng.random() < 0.25:
        evs.append((age(), {"type": "form_submit", "form": rng.choice(["newsletter", "ebook-download", "event-signup"])}))
    if curious:
        evs += [(age(30), {"type": "web_visit", "page": rng.choice(INTEGRATIONS)}) for _ in range(rng.randint(1, 4))]
    if rng.random() < 0.04:
        evs.append((age(), {"type": "unsubscribe"}))
    if rng.random() < 0.03:  # a few stamps after the as-of date: a CRM export taken later
        evs.append((-rng.randint(1, 5), {"type": "email_open"}))
    evs.sort(key=lambda x: -x[0])  # oldest first, as a CRM export lists them
    out = []
    for a, e in evs:
        e = dict(e)
        e["at"] = at_text(rng, AS_OF - dt.timedelta(days=a))
        out.append(e)
    return out, level / 3


def generate(n: int, seed: int) -> list[tuple[dict, float]]:
    rng = random.Random(seed)
    companies = [company(rng, i) for i in range(max(1, n // 5))]
    personas = list(PERSONAS)
    weights = [PERSONAS[p][0] for p in personas]
    rows: list[tuple[dict, float]] = []
    for i in range(1, n + 1):
        lead_id = f"L{i:05d}"
        co = rng.choice(companies[: max(1, len(companies) * 3 // 4)] if rng.random() < 0.7 else companies)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        kind = rng.random()
        special = None
        if kind < 0.012:
            special = "test"
        elif kind < 0.025:
            special = "competitor"
        elif kind < 0.045:
            special = "student"
        persona = rng.choices(personas, weights)[0]
        _, titles, level, p_curious = PERSONAS[persona]
        title = rng.choice(titles)
        local = f"{first}.{last}".lower().replace("ü", "u")
        domain = co["domain"]
        if rng.random() < 0.08:
            domain = rng.choice(["gmail.com", "yahoo.com", "hotmail.com", "outlook.com"])
        if special == "test":
            if rng.random() < 0.5:
                first, last = "Mickey", "Mouse"
            else:
                domain = "example.com"
        elif special == "competitor":
            domain = rng.choice(["rivalsoft.com", "competeco.io", "RivalSoft.com"])
        elif special == "student":
            title, domain = rng.choice(STUDENT), rng.choice(["uni.edu", "gmail.com", "student.ac.uk"])
        lead = {"id": lead_id, "email": f"{local}@{domain}", "first_name": first, "last_name": last,
                "title": title if rng.random() > 0.03 else None, "company": co["name"],
                "company_size": co["size"] if rng.random() > 0.05 else None, "industry": co["industry"],
                "country": co["country"], "annual_revenue": co["revenue"] if rng.random() > 0.3 else None,
                "lead_source": rng.choice(SOURCES),
                "created_at": (AS_OF - dt.timedelta(days=rng.randint(1, 720))).isoformat(),
                "opted_out": rng.random() < 0.015,
                "interests": rng.sample(INTERESTS, rng.randint(0, 3))}
        if rng.random() < 0.05:  # CRMs export numbers as text now and then
            if lead["company_size"] is not None:
                lead["company_size"] = str(lead["company_size"])
        curious = rng.random() < p_curious
        lead["events"], eng = events_for(rng, level, curious)
        seniority = 1.0 if title in SENIOR else 0.6 if title in DIRECTOR else 0.35 if title in MANAGER else 0.1
        fit = (0.3 if co["industry"] in ("Software", "Financial Services", "Healthcare", "Manufacturing") else 0) + \
              (0.3 if (co["size"] or 0) >= 200 else 0)
        propensity = -3.2 + 1.2 * seniority + 0.9 * fit + 1.4 * eng + (1.6 if curious else 0.0)
        if special or lead["opted_out"]:
            propensity = -6.0
        rows.append((lead, propensity))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "rulesets/samples/leads.jsonl"))
    args = ap.parse_args()
    rows = generate(args.n, args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for lead, _ in rows:
            f.write(json.dumps(lead, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} leads to {out}")


if __name__ == "__main__":
    main()
