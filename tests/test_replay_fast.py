"""`replay` with an accounts block (runtime/backends/replay.py) counts each account's flags at each day
it is needed without scoring every lead at every day (static flags once, saturated counts no more):
pinned here to `replay_exhaustive`, the straightforward path, result by result, and through
`leadrules calibrate` byte by byte (report and --scores-out)."""
from __future__ import annotations

import datetime as dt
import json
import random
from operator import attrgetter
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cli
from runtime.analysis import calibrate as cal_mod
from runtime.backends import replay as R
from runtime.backends.closure import compile_checked
from runtime.backends.load import load_rules
from runtime.commands.options import schema_of
from runtime.core.kernel import date_ordinal
from runtime.core.model import Event, Lead, Result
from runtime.io.readers import LeadReader
from tests.helpers import HEADER

ROOT = Path(__file__).resolve().parent.parent
ACME = ROOT / "rulesets" / "acme.rules"
AS_OF = date_ordinal("2026-11-01")

# flags of every kind: static (fields only), dynamic (a dimension, an event, days since a field), a
# filter without `where`; counts used by `has`, `each … max`, `each` without max (never capped) and a
# comparison; a disqualification that depends on the day (so no flag is static)
MIXED = HEADER + """
disqualify "unsubscribed" when has unsubscribe
disqualify "opted out" when opted_out = true

score profile "Fit" max 100 {
  "Senior"  +60 when title contains any word ["VP", "Chief"]
  "Big"     +20 when company_size >= 500
}

score engagement "Interest" max 100 {
  decay half-life 10 days
  "Demo"    +50 each form_submit where form = "demo" max 50
  "Visits"  +10 each web_visit max 40
  "Quiet"   -20 when days since last event > 20
}

grade profile {
  A when >= 60
  B otherwise
}

grade engagement {
  1 when >= 50
  2 when >= 20
  3 otherwise
}

accounts by domain(email) {
  score buying "Buying group" max 100 {
    "Decision maker" +30 when has lead where title contains word "VP" and domain(email) != "gmail.com"
    "Champion"       +30 when has lead where engagement >= 50 and domain(email) != "gmail.com"
    "Committee"      +10 each lead where engagement >= 20 max 30
    "Crowd"          +1  each lead
    "Old hands"      +10 when count lead where days since created_at > 30 >= 2
    "Watchers"       +5  each lead where has webinar_attended max 10
  }
  grade buying {
    hot  when >= 70
    warm when >= 40
    cold otherwise
  }
}

route {
  disqualified          -> suppress
  A1                    -> sales "s"
  account hot and *2    -> sales "abm"
  account warm and A*   -> qualify "q"
  otherwise             -> nurture "n"
}
"""

# a few big accounts (their counts saturate), many small ones (their bands change from day to day)
# no `days since FIELD`: a lead scores the same on every day before its first event (FlagPlan.events_only);
# an event window anchored at a date field reads the day through the events alone
EVENTS_ONLY = MIXED.replace(
    '"Old hands"      +10 when count lead where days since created_at > 30 >= 2',
    '"Old hands"      +10 when count lead where has webinar_attended within 14 days >= 2').replace(
    '"Quiet"   -20 when days since last event > 20',
    '"Quiet"   -20 when days since last event > 20\n  "Early"   +15 each email_open within 20 days of created_at max 30')

DOMAINS = ["acme.com", "globex.io", "gmail.com", "initech.co"] * 10 + [f"co{i}.com" for i in range(40)]
TITLES = ["VP Sales", "Analyst", "Chief of Staff", "Engineer", "Student", None]
EVENTS = [("form_submit", {"form": "demo"}), ("form_submit", {"form": "demo-request"}),
          ("form_submit", {"form": "contact-sales"}), ("web_visit", {"page": "/pricing"}), ("email_click", {}),
          ("webinar_attended", {"webinar": "w"}), ("email_open", {}), ("unsubscribe", {})]


def day_text(d: int) -> str:
    return dt.date.fromordinal(d).isoformat()


def gen_rows(seed: int, n: int) -> tuple[list[dict], str]:
    """n leads (JSON objects) over a few accounts and keyless leads, and outcomes over many days."""
    rnd = random.Random(seed)
    rows, out = [], ["lead_id,worked_at,converted"]
    for i in range(n):
        dom = rnd.choice(DOMAINS)
        obj = {"id": f"L{i}", "email": None if rnd.random() < 0.05 else f"u{i}@{dom}",
               "title": rnd.choice(TITLES), "company_size": rnd.choice([10, 600, None]),
               "created_at": day_text(AS_OF - rnd.randint(0, 90)), "opted_out": rnd.random() < 0.05}
        evs = []
        for _ in range(rnd.randint(0, 6)):
            t, attrs = rnd.choice(EVENTS[:-1] if rnd.random() < 0.9 else EVENTS)
            evs.append({"type": t, **attrs, "at": day_text(AS_OF - rnd.randint(0, 60))})
        obj["events"] = evs
        rows.append(obj)
        if rnd.random() < 0.6:
            out.append(f"L{i},{day_text(AS_OF - rnd.randint(0, 45))},{'true' if rnd.random() < 0.3 else 'false'}")
    return rows, "\n".join(out) + "\n"


def write_inputs(tmp: Path, rows: list[dict], outcomes: str) -> tuple[Path, Path]:
    leads = tmp / "leads.jsonl"
    leads.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    o = tmp / "o.csv"
    o.write_text(outcomes, encoding="utf-8")
    return leads, o


FIELDS = attrgetter(*Result.__slots__)


def both(engine, leads_fn, day_of):
    fast = [(lead.id, FIELDS(r), d) for lead, r, d in R.replay(engine, leads_fn, day_of)]
    slow = [(lead.id, FIELDS(r), d) for lead, r, d in R.replay_exhaustive(engine, leads_fn, day_of)]
    return fast, slow


def loaded(tmp: Path, text: str):
    """The rules as commands load them (generated engine), their schema, and the closure engine."""
    path = tmp / "r.rules"
    path.write_text(text, encoding="utf-8")
    rules = load_rules(str(path))
    return rules, schema_of(rules, None, False), [rules.engine, compile_checked(rules.checked)]


def day_of_by(outcomes: str):
    days = {}
    for line in outcomes.splitlines()[1:]:
        lid, worked, _ = line.split(",")
        if worked:
            days[lid] = date_ordinal(worked)
    return lambda lead: days.get(lead.id, AS_OF)


@pytest.mark.parametrize("rules", ["acme", "mixed"])
@pytest.mark.parametrize("seed", [1, 2])
def test_replay_equals_the_exhaustive_path(tmp_path, rules, seed):
    text = ACME.read_text(encoding="utf-8") if rules == "acme" else MIXED
    rows, outcomes = gen_rows(seed, 400)
    leads, _o = write_inputs(tmp_path, rows, outcomes)
    day_of = day_of_by(outcomes)
    _rules, schema, engs = loaded(tmp_path, text)
    for eng in engs:
        fast, slow = both(eng, lambda: LeadReader(str(leads), schema, on_bad_row="skip"), day_of)
        assert len(fast) == len(rows)
        assert fast == slow
        # the route depends on the account for some leads (and not for others)
        li = Result.__slots__.index("route_line")
        acct_lines = [r for _id, r, _d in fast if r[li] is not None and eng.accounts.route_lines[r[li]].account_band]
        assert 0 < len(acct_lines) < len(fast)


def calibrate_outputs(tmp: Path, rules: Path, leads: Path, outcomes: Path, tag: str, *extra) -> dict:
    """The JSON and text reports and the --scores-out files (JSONL and CSV) of one calibrate run."""
    got = {}
    for fmt in ("json", "text"):
        scores = tmp / f"{tag}.{fmt}.scores.{'jsonl' if fmt == 'json' else 'csv'}"
        r = CliRunner().invoke(cli.main, ["calibrate", str(rules), "--leads", str(leads), "--outcomes", str(outcomes),
                                          "--as-of", "2026-11-01", "--format", fmt, "--min-support", "2",
                                          "--scores-out", str(scores), *extra], catch_exceptions=False)
        assert r.exit_code == 0, r.stderr
        got[fmt] = r.stdout
        got[fmt + " scores"] = scores.read_bytes()
    return got


@pytest.mark.parametrize("rules,extra", [("acme", ()), ("mixed", ()), ("mixed", ("--as-of-field", "created_at"))])
def test_calibrate_output_is_byte_identical_to_the_exhaustive_path(tmp_path, monkeypatch, rules, extra):
    text = ACME.read_text(encoding="utf-8") if rules == "acme" else MIXED
    rows, outcomes = gen_rows(3, 500)
    leads, o = write_inputs(tmp_path, rows, outcomes)
    path = tmp_path / "r.rules"
    path.write_text(text, encoding="utf-8")
    fast = calibrate_outputs(tmp_path, path, leads, o, "fast", *extra)
    monkeypatch.setattr(cal_mod, "replay", R.replay_exhaustive)
    slow = calibrate_outputs(tmp_path, path, leads, o, "slow", *extra)
    assert fast.keys() == slow.keys()
    for k in fast:
        assert fast[k] == slow[k], k
    doc = json.loads(fast["json"])
    assert doc["inputs"]["leads"]["scored"] == len(rows)
    assert len(fast["json scores"].splitlines()) == len(rows)


_MIXED_ENGINES: dict = {}


def _mixed(tmp_path_factory, text):
    if text not in _MIXED_ENGINES:
        tmp = tmp_path_factory.mktemp("mixed")
        _rules, schema, engs = loaded(tmp, text)
        _MIXED_ENGINES[text] = (schema, engs)
    return _MIXED_ENGINES[text]


lead_st = st.fixed_dictionaries({
    "dom": st.sampled_from(["a.com", "b.com", "gmail.com", None]),
    "title": st.sampled_from(TITLES),
    "size": st.sampled_from([10, 600]),
    "created": st.integers(0, 60),
    "opted_out": st.booleans(),
    "events": st.lists(st.tuples(st.integers(0, len(EVENTS) - 1), st.integers(0, 40)), max_size=5),
    "worked": st.one_of(st.none(), st.integers(0, 40)),
})


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(lead_st, min_size=1, max_size=25), st.sampled_from([MIXED, EVENTS_ONLY]))
def test_replay_equals_the_exhaustive_path_on_any_leads(tmp_path_factory, specs, text):
    _schema, engs = _mixed(tmp_path_factory, text)
    leads = []
    for i, s in enumerate(specs):
        fields = {"title": s["title"], "company_size": s["size"], "created_at": AS_OF - s["created"],
                  "opted_out": s["opted_out"]}
        if s["dom"] is not None:
            fields["email"] = f"u{i}@{s['dom']}"
        evs = [Event(EVENTS[t][0], AS_OF - ago, dict(EVENTS[t][1]), day_text(AS_OF - ago)) for t, ago in s["events"]]
        leads.append(Lead(f"L{i}", {k: v for k, v in fields.items() if v is not None}, evs))
    days = {f"L{i}": AS_OF - s["worked"] for i, s in enumerate(specs) if s["worked"] is not None}

    def day_of(lead):
        return days.get(lead.id, AS_OF)
    for eng in engs:
        fast, slow = both(eng, lambda: iter(leads), day_of)
        assert fast == slow


def test_the_plan_of_acme():
    """acme's accounts: the decision maker is a field-only flag (counted once per lead); champion and
    committee read `engagement` (per day), with a field-only part that rules out personal addresses;
    `has` is settled at 1 and `+10 each … max 30` at 3 (4 with the margin)."""
    rules = load_rules(str(ACME))
    plan = R.FlagPlan(rules.engine, rules.engine.accounts)
    assert plan.disq_static is True
    assert plan.static == [True, False, False]
    assert [len(d) for d in plan.dead] == [0, 1, 1]
    assert [len(d) for d in plan.ruled_out] == [2, 1, 1] and plan.prune   # a personal address: never scored
    assert plan.sat == [1, 1, 4]
    assert plan.events_only is True      # no `days since FIELD`: before its first event a lead is the same daily


def test_the_plan_of_the_mixed_rules(tmp_path):
    """A disqualification by an event makes every flag dynamic; `each lead` without max and a count
    used in no comparison are never capped; `days since created_at` reads the day itself."""
    rules, _schema, _engs = loaded(tmp_path, MIXED)
    plan = R.FlagPlan(rules.engine, rules.engine.accounts)
    assert plan.disq_static is False and not any(plan.static)
    assert plan.sat == [1, 1, 4, R.INF, 4, 3]
    assert [len(d) for d in plan.dead] == [2, 1, 0, 0, 0, 0]
    assert plan.prune is False
    assert plan.events_only is False
    rules, _schema, _engs = loaded(tmp_path, EVENTS_ONLY)
    assert R.FlagPlan(rules.engine, rules.engine.accounts).events_only is True


def test_a_lead_whose_first_event_is_on_the_day_counts_that_day(tmp_path):
    """B asks for a demo on D, the day A is worked: as of D the account has its champion (the day of
    an event counts), as of the day before it has none; B itself is scored as of today."""
    _rules, _schema, engs = loaded(tmp_path, EVENTS_ONLY)
    D = AS_OF - 10
    a = Lead("A", {"email": "a@x.com", "title": "VP Sales", "company_size": 600})
    a2 = Lead("A2", {"email": "a2@x.com", "title": "Analyst"})
    b = Lead("B", {"email": "b@x.com", "title": "Analyst"}, [Event("form_submit", D, {"form": "demo"}, day_text(D))])
    days = {"A": D, "A2": D - 1}
    for eng in engs:
        fast, slow = both(eng, lambda: iter([a, a2, b]), lambda lead: days.get(lead.id, AS_OF))
        assert fast == slow
        acc = Result.__slots__.index("account_scores")
        got = {lid: r[acc]["buying"] for lid, r, _d in fast}
        assert got["A"] - got["A2"] == 40    # champion 30 + committee 10, on D and not the day before
