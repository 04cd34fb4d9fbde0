"""Accounts (docs/language.md "Accounts"): checker errors, each construct, keyless and disqualified leads,
`account BAND and` routes, input order, the grouped and the spilled paths, memory, and the commands."""
from __future__ import annotations

import csv

import json
import random
import tracemalloc

import pytest
from click.testing import CliRunner

from cli import main
from dsl.checker import check_text
from runtime.backends.pygen import FastEngine, compile_fast
from runtime.backends.accounts import (AccountOrderError, AccountStats, account_model, explain_account, input_grouped,
                              score_leads)
from runtime.backends.closure import compile_checked

from tests.helpers import AS_OF, HEADER, ev, lead

BASE = HEADER + """
disqualify "test lead" when email ends with "@example.com"
score profile "Who" max 100 {
  "Senior" +50 when title contains any word ["VP", "Chief"]
  "Big" +30 when company_size >= 1000
}
score engagement "Interest" max 100 {
  "Demo" +40 each form_submit where form = "demo" max 40
  "Visits" +10 each web_visit max 30
}
grade profile { A when >= 50  B otherwise }
grade engagement { 1 when >= 40  2 otherwise }
"""

ACCOUNTS = """
accounts by domain(email) {
  score buying "Buying group" max 100 {
    "Decision maker" +40 when has lead where title contains any word ["VP", "Chief"]
    "Champion" +30 when has lead where engagement >= 40 and has form_submit
    "Committee" +10 each lead where profile >= 30 or has web_visit max 30
    "Wide" +20 when count lead >= 3 and not has lead where industry = "Education"
  }
  grade buying {
    hot when >= 70
    warm when >= 40
    cold otherwise
  }
}
"""

ROUTE = """
route {
  disqualified -> suppress
  A1 -> sales "hot"
  account hot and A*, *1 -> sales "abm" within 4 hours
  account warm and A2 -> qualify "abm-sdr"
  otherwise -> nurture "track"
}
"""

TEXT = BASE + ACCOUNTS + ROUTE


def build(text=TEXT, fast=False):
    c = check_text(text, "t.rules")
    assert c.ok, [d.message for d in c.errors]
    return compile_fast(c) if fast else compile_checked(c)


def codes(text):
    return [(d.code, d.line) for d in check_text(text, "t.rules").diagnostics if d.is_error]


def run(engine, leads, **kw):
    return [r for _l, r in score_leads(engine, leads, AS_OF, **kw)]


# ---- the checker --------------------------------------------------------------------------------


def acc_block(criteria, key="domain(email)", grade=True, extra=""):
    g = "grade buying { hot when >= 70  cold otherwise }" if grade else ""
    return f'\naccounts by {key} {{\n  score buying "B" max 100 {{\n{criteria}\n{extra}  }}\n  {g}\n}}\n'


def line_of(text, needle):
    return next(i for i, l in enumerate(text.splitlines(), 1) if needle in l)


@pytest.mark.parametrize("crit", [
    '"x" +5 when title contains "VP"',                 # a bare field at account level
    '"x" +5 when has form_submit',                     # a lead's event at account level
    '"x" +5 when count web_visit > 2',
    '"x" +5 when days since last event < 10',
    '"x" +5 when days since created_at < 10',
    '"x" +5 when count event types > 2',
    '"x" +5 each web_visit max 10',                    # `each EVENT` counts one lead's events
    '"x" +5 when has lead where count lead > 1',       # leads inside `lead where`
    '"x" +5 when engagement > 3',                      # a lead dimension outside `lead where`
])
def test_names_not_available_at_account_level(crit):
    text = "\n" + BASE + acc_block(crit)
    diags = [d for d in check_text(text, "t.rules").diagnostics if d.is_error]
    assert [d.code for d in diags] == ["LR214"], diags
    d = diags[0]
    assert d.line == line_of(text, '"x" +5') and d.col > 5
    assert "lead" in (d.hint or "")


def test_lead_where_sees_fields_events_attributes_and_lead_dimensions():
    crit = ('"x" +5 when has lead where title contains "VP" and engagement >= 10 and profile > 0\n'
            '"y" +5 when count lead where has web_visit where page contains "/pricing" within 30 days >= 2\n'
            '"z" +5 each lead where days since last event < 30 and count event types >= 2 max 10')
    assert codes(BASE + acc_block(crit)) == []


def test_unknown_name_inside_lead_where_is_an_unknown_field():
    text = BASE + acc_block('"x" +5 when has lead where enagagement > 3')
    d = [d for d in check_text(text, "t.rules").diagnostics if d.is_error]
    assert [x.code for x in d] == ["LR201"] and "engagement" in d[0].hint


def test_lead_dimension_type_is_a_number():
    assert [c for c, _ in codes(BASE + acc_block('"x" +5 when has lead where engagement contains "a"'))] == ["LR205"]


def test_account_key_must_be_a_text_field_or_its_domain():
    assert codes(BASE + acc_block('"x" +5 when has lead', key="title")) == []
    assert [c for c, _ in codes(BASE + acc_block('"x" +5 when has lead', key="company_size"))] == ["LR205"]
    assert [c for c, _ in codes(BASE + acc_block('"x" +5 when has lead', key="lower(email)"))] == ["LR214"]
    assert [c for c, _ in codes(BASE + acc_block('"x" +5 when has lead', key="nosuch"))] == ["LR201"]


def test_accounts_without_grade_is_an_error():
    text = "\n" + BASE + acc_block('"x" +5 when has lead', grade=False)
    d = [d for d in check_text(text, "t.rules").diagnostics if d.is_error]
    assert [x.code for x in d] == ["LR209"] and d[0].line == line_of(text, "accounts by")


def test_account_dimension_may_not_reuse_a_lead_dimension_name():
    text = BASE + '\naccounts by domain(email) {\n  score engagement "B" max 100 { "x" +5 when has lead }\n' \
                  '  grade engagement { hot when >= 5  cold otherwise }\n}\n'
    assert ("LR208", line_of(text, 'score engagement "B"')) in codes(text)


def test_account_dimension_has_no_decay():
    text = BASE + acc_block('"x" +5 when has lead', extra="").replace('max 100 {\n', 'max 100 {\n decay half-life 30 days\n', 1)
    assert [c for c, _ in codes(text)] == ["LR214"]


def test_unknown_account_band_in_route_and_test():
    text = "\n" + BASE + acc_block('"x" +5 when has lead') + \
        'route {\n  account hto and A* -> sales "abm"\n  otherwise -> nurture "x"\n}\n' \
        'test "t" {\n  lead { email: "a@b.com" }\n  expect account warm\n}\n'
    diags = [d for d in check_text(text, "t.rules").diagnostics if d.is_error]
    got = {(d.code, d.line) for d in diags}
    assert got == {("LR211", line_of(text, "account hto")), ("LR401", line_of(text, "expect account warm"))}
    assert any('did you mean "hot"' in (d.hint or "") for d in diags)


def test_two_account_grades_may_not_share_a_band_name():
    text = BASE + """
accounts by domain(email) {
  score a "A" max 10 { "x" +5 when has lead }
  score b "B" max 10 { "y" +5 when count lead > 1 }
  grade a { hot when >= 5  cold otherwise }
  grade b { hot when >= 5  cool otherwise }
}
"""
    assert [c for c, _ in codes(text)] == ["LR208"]


def test_expect_on_an_account_dimension_is_known():
    text = TEXT + 'test "t" {\n  lead { email: "a@b.com" }\n  expect buying >= 0\n  expect bying = 1\n}\n'
    assert [c for c, _ in codes(text)] == ["LR211"]


# ---- each construct -----------------------------------------------------------------------------


def acme_people():
    return [
        lead("vp", email="pat@acme.com", title="VP Sales", company_size=5000),
        lead("an", [ev("form_submit", 1, form="demo")], email="an@acme.com", title="Analyst"),
        lead("ot", email="x@other.com", title="Analyst"),
        lead("ed", [ev("web_visit", 2, page="/")], email="ed@acme.com", title="Intern", industry="Education"),
    ]


def test_has_count_each_and_combined_conditions():
    e = build()
    res = {r.id: r for r in run(e, acme_people())}
    acme = res["vp"].account_scores
    # decision maker 40 + champion 30 + committee 3 x 10 (vp profile 80, an by nothing? no: an has no visit and
    # profile 0; ed visited) -> vp, ed = 20; "Wide" needs 3 leads and no Education lead -> no
    assert acme == {"buying": 90.0} and res["vp"].account_bands == {"buying": "hot"}
    assert res["an"].account_scores is acme or res["an"].account_scores == acme
    assert res["ot"].account_scores == {"buying": 0.0} and res["ot"].account_bands == {"buying": "cold"}
    m = account_model(e)
    d = explain_account(e, acme_people()[0], acme_people(), AS_OF)
    crit = {c["name"]: c for c in d["criteria"]}
    assert crit["Decision maker"]["lead_conditions"][0]["matching_leads"] == ["vp"]
    assert crit["Champion"]["lead_conditions"][0]["matching_leads"] == ["an"]
    assert sorted(crit["Committee"]["lead_conditions"][0]["matching_leads"]) == ["ed", "vp"]
    assert crit["Committee"]["points"] == 20 and not crit["Wide"]["fired"]
    assert [x["id"] for x in d["leads"]] == ["vp", "an", "ed"]
    assert m.key_text == "domain(email)"


def test_each_lead_is_capped_and_count_lead_counts():
    e = build()
    leads = [lead(f"L{i}", email=f"p{i}@big.com", title="Chief of Staff") for i in range(5)]
    r = run(e, leads)[0]
    # decision maker 40, committee 5 x 10 capped at 30, wide (5 leads, no Education) 20 = 90
    assert r.account_scores == {"buying": 90.0}


def test_first_of_and_clamp_and_rounding():
    text = BASE + """
accounts by domain(email) {
  score buying "B" max 50 floor 5 {
    "Tier" first of {
      +60 when count lead >= 3
      +12.345 when count lead = 2
      +1 otherwise
    }
    "Minus" -3 when not has lead where profile >= 50
  }
  grade buying { hot when >= 40  mid when >= 9.35  cold otherwise }
}
"""
    e = build(text)
    three = run(e, [lead(str(i), email=f"a{i}@x.com") for i in range(3)])
    assert three[0].account_scores == {"buying": 50.0}          # 60 - 3 clamped to max 50
    two = run(e, [lead(str(i), email=f"a{i}@x.com") for i in range(2)])
    assert two[0].account_scores == {"buying": 9.35}            # 12.345 - 3 = 9.345 -> 9.35 (half up)
    assert two[0].account_bands == {"buying": "mid"}            # bands compare the rounded value
    one = run(e, [lead("1", email="a@x.com")])
    assert one[0].account_scores == {"buying": 5.0}             # 1 - 3 clamped to the floor 5
    assert one[0].account_bands == {"buying": "cold"}


# ---- keys, disqualified leads, routes -----------------------------------------------------------


def test_a_lead_without_a_key_is_its_own_account():
    e = build()
    leads = [lead("a", email="vp-no-at-sign", title="VP"), lead("b", title="VP"),
             lead("c", email="c@acme.com", title="VP")]
    res = run(e, leads)
    assert [r.account for r in res] == [None, None, "acme.com"]
    assert res[0].account_scores == {"buying": 50.0}  # 40 + its own committee 10: not b's, not c's
    rec = res[1].record()
    assert rec["account"] is None and rec["account_bands"] == {"buying": "warm"}


def test_key_is_trimmed_lower_case_domain():
    e = build()
    res = run(e, [lead("a", email=" Pat@ACME.com ", title="VP"), lead("b", email="jo@acme.COM")])
    assert res[0].account == res[1].account == "acme.com"


def test_disqualified_leads_do_not_count_but_carry_the_account():
    e = build()
    leads = [lead("fake", [ev("form_submit", 0, form="demo")], email="boss@example.com", title="VP"),
             lead("real", email="x@example.com", title="Analyst")]
    res = {r.id: r for r in run(e, leads)}
    assert res["fake"].disqualified == "test lead"
    assert res["fake"].account == "example.com" and res["fake"].account_scores == res["real"].account_scores
    assert res["real"].account_scores == {"buying": 0.0}  # the VP and the demo are not counted
    assert res["fake"].route == "suppress"


def test_account_route_lines_need_the_band_and_never_take_a_disqualified_lead():
    text = BASE + ACCOUNTS + """
route {
  account cold and otherwise -> sales "never-for-disqualified"
  disqualified -> suppress
  otherwise -> nurture "track"
}
"""
    e = build(text)
    res = {r.id: r for r in run(e, [lead("d", email="a@example.com"), lead("n", email="b@other.com")])}
    assert (res["d"].route, res["d"].queue) == ("suppress", None)
    assert (res["n"].route, res["n"].queue) == ("sales", "never-for-disqualified")


def test_routes_with_account_bands():
    e = build()
    res = {r.id: r for r in run(e, acme_people())}
    # vp: A2 in a hot account -> the account line; an: B1 in a hot account -> *1; ot: B2 cold -> otherwise
    assert (res["vp"].route, res["vp"].queue, res["vp"].sla) == ("sales", "abm", "4 hours")
    assert (res["an"].route, res["an"].queue) == ("sales", "abm")
    assert (res["ot"].route, res["ot"].queue) == ("nurture", "track")
    assert account_model(e).is_account_line(res["vp"]) and not account_model(e).is_account_line(res["ot"])
    # the same VP alone: 40 + 10 = warm -> `account warm and A2`
    alone = run(e, [lead("vp", email="pat@solo.com", title="VP Sales", company_size=5000)])[0]
    assert alone.account_bands == {"buying": "warm"} and (alone.route, alone.queue) == ("qualify", "abm-sdr")


def test_without_accounts_block_nothing_changes():
    e = build(BASE + ROUTE.replace("  account hot and A*, *1 -> sales \"abm\" within 4 hours\n", "")
              .replace("  account warm and A2 -> qualify \"abm-sdr\"\n", ""))
    assert account_model(e) is None
    leads = acme_people()
    out = run(e, leads)
    assert [r.record() for r in out] == [e.score(l, AS_OF).record() for l in leads]
    assert "account" not in out[0].record()


# ---- grouping: order, spill, memory -------------------------------------------------------------


def random_leads(n, n_accounts, seed=1, sort=False):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a = rng.randrange(n_accounts)
        kind = rng.random()
        evs = [ev("form_submit", rng.randrange(30), form="demo")] if kind < 0.2 else \
            [ev("web_visit", rng.randrange(30), page="/")] if kind < 0.5 else []
        email = f"p{i}@co{a}.com" if rng.random() > 0.05 else ("nobody" if kind < 0.5 else f"p{i}@example.com")
        title = rng.choice(["VP Sales", "Analyst", "Chief of Staff", "Intern"])
        out.append(lead(f"L{i}", evs, email=email, title=title, company_size=rng.choice([10, 5000]),
                        industry=rng.choice(["Software", "Education"])))
    if sort:
        out.sort(key=lambda l: l.fields["email"].rsplit("@", 1)[-1])
    return out


def reference(engine, leads):
    """Account scores the slow, obvious way: every account from all of its leads at once."""
    m = account_model(engine)
    base = {l.id: engine.score(l, AS_OF) for l in leads}
    groups = {}
    for l in leads:
        groups.setdefault(m.key_of(l) or ("", l.id), []).append(l)
    out = {}
    for k, members in groups.items():
        counts = [0] * m.nf
        for l in members:
            counts = [a + b for a, b in zip(counts, m.flags(l, base[l.id], AS_OF))]
        acct = m.evaluate(tuple(counts))
        for l in members:
            out[l.id] = acct.scores
    return out


def test_input_order_is_kept_and_unsorted_spill_equals_sorted_grouped():
    e = build()
    leads = random_leads(600, 40, seed=3)
    ref = reference(e, leads)
    held = run(e, leads)                                     # in memory
    packed = run(e, leads, hold=50)                          # packed in memory
    spilled = run(e, leads, hold=50, spill_bytes=2000)       # then in a temporary SQLite file
    assert [r.id for r in held] == [l.id for l in leads] == [r.id for r in spilled] == [r.id for r in packed]
    assert [r.record() for r in held] == [r.record() for r in spilled] == [r.record() for r in packed]
    st_p, st_s = AccountStats(), AccountStats()
    run(e, leads, hold=50, stats=st_p)
    run(e, leads, hold=50, spill_bytes=2000, stats=st_s)
    assert (st_p.accounts, st_p.keyless, st_p.largest, st_p.bands) == \
        (st_s.accounts, st_s.keyless, st_s.largest, st_s.bands)
    assert all(r.account_scores == ref[r.id] for r in held)
    srt = sorted(leads, key=lambda l: account_model(e).key_of(l) or "")
    grouped = run(e, srt, grouped=True)
    assert [r.id for r in grouped] == [l.id for l in srt]
    by_id = {r.id: r.record() for r in held}
    assert all(r.record() == by_id[r.id] for r in grouped)


def test_grouped_input_that_is_not_grouped_is_an_error():
    e = build()
    leads = [lead("a", email="a@x.com"), lead("b", email="b@y.com"), lead("c", email="c@x.com")]
    with pytest.raises(AccountOrderError, match="not grouped by domain"):
        run(e, leads, grouped=True)


def test_stats_count_accounts_and_keyless_leads():
    e = build()
    st = AccountStats()
    run(e, [lead("a", email="a@x.com"), lead("b", email="b@x.com"), lead("c"), lead("d", email="d@y.com")],
        stats=st)
    assert (st.accounts, st.keyless, st.largest) == (3, 1, 2)
    assert sum(st.bands.values()) == 3


def test_fast_engine_scores_accounts_like_the_closure_engine():
    slow, fast = build(), build(fast=True)
    assert isinstance(fast, FastEngine)
    leads = random_leads(300, 20, seed=5)
    assert [r.record() for r in run(fast, leads)] == [r.record() for r in run(slow, leads)]


def _stream(n, per_account, consumed):
    for i in range(n):
        consumed[0] += 1
        yield lead(f"L{i}", email=f"p{i}@co{i // per_account}.com", title="VP" if i % 3 == 0 else "Analyst")


def test_grouped_path_streams_with_memory_of_one_account():
    e = build()
    consumed = [0]
    it = score_leads(e, _stream(10**9, 4, consumed), AS_OF, grouped=True)
    first = next(it)
    assert first[1].id == "L0" and consumed[0] <= 5   # out before the input ends: one account read
    tracemalloc.start()
    try:
        for _ in range(20000):
            next(it)
        _cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, peak   # far less than 20,000 held results


def test_spill_path_memory_is_bounded(tmp_path):
    e = build()
    n = 20000
    tracemalloc.start()
    try:
        it = score_leads(e, _stream(n, 4, [0]), AS_OF, grouped=False, hold=500, keep_leads=False,
                         spill_dir=str(tmp_path), spill_bytes=500_000)
        next(it)
        assert len(list(tmp_path.iterdir())) == 1  # past spill_bytes: the SQLite file
        count = 1
        for _l, r in it:
            count += 1
        _cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n
    assert peak < 8_000_000, peak
    assert list(tmp_path.iterdir()) == []   # the spill file is gone


def test_input_grouped_detects_sorted_files(tmp_path):
    e = build()
    rows = [{"id": "1", "email": "a@x.com"}, {"id": "2", "email": "b@X.com "}, {"id": "3", "email": "nokey"},
            {"id": "4", "email": "c@y.com"}]
    p = tmp_path / "sorted.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert input_grouped(str(p), e) is True
    q = tmp_path / "unsorted.jsonl"
    q.write_text("\n".join(json.dumps(r) for r in rows + [{"id": "5", "email": "z@x.com"}]) + "\n")
    assert input_grouped(str(q), e) is False
    c = tmp_path / "sorted.csv"
    c.write_text("id,email\n1,a@x.com\n2,b@x.com\n3,c@y.com\n")
    assert input_grouped(str(c), e) is True
    assert input_grouped("-", e) is False


# ---- tests in rule files ------------------------------------------------------------------------


def test_expect_account_in_a_test_block():
    from runtime.analysis.testing import run_tests
    import datetime as dt

    text = TEXT + """
test "alone, a keen VP is a hot account" {
  as of 2026-11-01
  lead { email: "pat@acme.com", title: "VP Sales", company_size: 5000 }
  event form_submit { form: "demo" } 1 day ago
  expect account hot
  expect buying = 80
  expect route sales "hot"
}
test "wrong on purpose" {
  lead { email: "pat@acme.com", title: "Analyst" }
  expect account hot
  expect buying >= 50
}
"""
    outs = run_tests(build(text), dt.date(2026, 11, 1))
    assert outs[0].passed, outs[0].failures
    assert not outs[1].passed
    assert outs[1].failures == ["expected account hot, got account buying cold (0)",
                                "expected account buying >= 50, got 0"]


# ---- the commands -------------------------------------------------------------------------------


def write_files(tmp_path, leads):
    rules = tmp_path / "acc.rules"
    rules.write_text(TEXT + """
simulation "s" {
  leads "leads.jsonl"
  as of 2026-11-01
  expect share of account hot at most 60%
  expect share of account cold at least 90%
}
""")
    with (tmp_path / "leads.jsonl").open("w") as f:
        for l in leads:
            f.write(json.dumps(l) + "\n")
    return rules


CLI_LEADS = [
    {"id": "1", "email": "pat@acme.com", "title": "VP Sales", "company_size": 5000},
    {"id": "2", "email": "x@other.com", "title": "Analyst"},
    {"id": "3", "email": "an@acme.com", "title": "Analyst", "events": [{"type": "form_submit", "form": "demo",
                                                                         "at": "2026-10-31"}]},
    {"id": "4", "title": "VP"},
]


def test_cli_score_jsonl_and_csv(tmp_path):
    rules = write_files(tmp_path, CLI_LEADS)
    res = CliRunner().invoke(main, ["score", str(rules), "--leads", str(tmp_path / "leads.jsonl"),
                                    "--as-of", "2026-11-01"])
    assert res.exit_code == 0, res.output
    recs = [json.loads(l) for l in res.stdout.splitlines()]
    assert [r["id"] for r in recs] == ["1", "2", "3", "4"]
    assert recs[0]["account"] == "acme.com" and recs[0]["account_bands"] == {"buying": "hot"}
    assert recs[0]["account_scores"] == recs[2]["account_scores"] == {"buying": 80.0}  # 40 + 30 + 10
    assert recs[3]["account"] is None and recs[3]["account_scores"] == {"buying": 50.0}
    assert (recs[0]["route"], recs[0]["queue"]) == ("sales", "abm")
    out = tmp_path / "o.csv"
    res = CliRunner().invoke(main, ["score", str(rules), "--leads", str(tmp_path / "leads.jsonl"),
                                    "--as-of", "2026-11-01", "-o", str(out), "--workers", "2"])
    assert res.exit_code == 0, res.output
    lines = out.read_text().splitlines()
    assert "disqualified,account,account_buying_score,account_buying_band,reasons," in lines[0]
    cells = [next(csv.reader([ln])) for ln in lines]
    at = cells[0].index("account")
    assert cells[1][at:at + 3] == ["acme.com", "80.0", "hot"] and cells[4][at:at + 3] == ["", "50.0", "warm"]


def test_cli_simulate_reports_accounts_and_checks_account_guardrails(tmp_path):
    rules = write_files(tmp_path, CLI_LEADS)
    res = CliRunner().invoke(main, ["simulate", str(rules), "--format", "json"])
    assert res.exit_code == 1, res.output  # `cold at least 90%` breaks
    doc = json.loads(res.stdout)
    acc = doc["runs"][0]["accounts"]
    assert acc["accounts"] == 3 and acc["leads_on_their_own"] == 1 and acc["by"] == "domain(email)"
    bands = {b["band"]: b for b in acc["dimensions"][0]["bands"]}
    assert (bands["hot"]["accounts"], bands["hot"]["leads"]) == (1, 2)
    assert acc["routed_by_account_line"] == 3  # 1 (A2, hot), 3 (B1, hot), 4 (A2, warm: on its own)
    g = doc["runs"][0]["guardrails"]
    assert [x["passed"] for x in g] == [True, False] and g[0]["count"] == 2
    text = CliRunner().invoke(main, ["simulate", str(rules)])
    assert "Account grades: buying" in text.output and "3 leads routed by an account line" in text.output


def test_cli_explain_shows_the_account_and_the_leads_that_made_it(tmp_path):
    rules = write_files(tmp_path, CLI_LEADS)
    res = CliRunner().invoke(main, ["explain", str(rules), "--leads", str(tmp_path / "leads.jsonl"), "--id", "3",
                                    "--as-of", "2026-11-01", "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    a = d["account"]
    assert a["key"] == "acme.com" and [x["id"] for x in a["leads"]] == ["3", "1"]
    crit = {c["name"]: c for c in a["criteria"]}
    assert crit["Decision maker"]["lead_conditions"][0]["matching_leads"] == ["1"]
    assert crit["Champion"]["lead_conditions"][0]["matching_leads"] == ["3"]
    assert d["route"] == "sales" and d["queue"] == "abm" and a["routed_by_account_line"]
    res = CliRunner().invoke(main, ["explain", str(rules), "--leads", str(tmp_path / "leads.jsonl"), "--id", "3",
                                    "--as-of", "2026-11-01"])
    assert "Account: acme.com" in res.output and "Champion" in res.output
    res = CliRunner().invoke(main, ["explain", str(rules), "--lead", '{"email": "a@b.com", "title": "VP"}',
                                    "--as-of", "2026-11-01", "--format", "json"])
    assert json.loads(res.stdout)["account"]["leads"] == [{"id": "1", "disqualified": None, "grade": "A2"}] or \
        len(json.loads(res.stdout)["account"]["leads"]) == 1


def test_acme_example_has_accounts_and_its_tests_pass():
    res = CliRunner().invoke(main, ["test", "rulesets/acme.rules"])
    assert res.exit_code == 0, res.output
    c = check_text(open("rulesets/acme.rules").read(), "rulesets/acme.rules")
    assert c.account_bands == {"buying": ["hot", "warm", "cold"]}
