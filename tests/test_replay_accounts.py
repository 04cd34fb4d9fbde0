"""runtime/backends/replay.py with an accounts block scores a lead once per day its account is needed at
only when it must: pinned to the plain way (every keyed lead scored as of every day of its account)
on generated leads and days, with filters that do and do not depend on the day, a disqualify rule
that does, and a criterion that counts days since a date field (a lead without events changes too)."""
from __future__ import annotations

import datetime as dt

from hypothesis import given, settings, strategies as st

from runtime.backends.load import load_rules
from runtime.backends.replay import replay
from runtime.core.model import Event, Lead

RULES = '''ruleset "r" version 1
fields {
  email: text
  title: text
  size: number
  created: date
}
events {
  demo
  visit(page: text)
}
list personal = ["gmail.com", "yahoo.com"]
%s
score fit "Fit" max 100 {
  "VP" +40 when title contains word "vp"
  "Big" +30 when size >= 100
}
score engagement "Engagement" max 100 {
  "Demo" +60 each demo within 30 days max 60
  "Visits" +10 each visit within 20 days max 40
  %s
}
grade fit {
  A when >= 60
  B when >= 30
  C otherwise
}
grade engagement {
  1 when >= 50
  2 otherwise
}
accounts by domain(email) {
  score buying "Buying group" max 100 {
    "Decision maker" +40 when has lead where title contains word "vp" and domain(email) not in personal
    "Champion"       +30 when has lead where engagement >= 50 and domain(email) not in personal
    "Committee"      +10 each lead where size >= 10 and engagement >= 10 max 30
    "Anyone"         +5  when has lead
  }
  grade buying {
    hot  when >= 70
    cold otherwise
  }
}
route {
  disqualified -> suppress
  account hot and *1 -> sales "abm"
  A* -> sales "a"
  otherwise -> nurture "n"
}
'''

DQ_STATIC = 'disqualify "test" when email ends with "@test.com"'
NEW = '"New" +50 when days since created < 20'  # a lead without events changes from day to day too
DQ_DYNAMIC = 'disqualify "cold" when has visit where page = "/unsubscribe" within 10 days'

BASE = dt.date(2026, 10, 1).toordinal()
domains = st.sampled_from(["acme.com", "gmail.com", "initech.co", "test.com", "yahoo.com"])
events = st.lists(st.tuples(st.sampled_from(["demo", "visit"]), st.integers(0, 60),
                            st.sampled_from(["/pricing", "/unsubscribe", "/"])), max_size=4)
leads = st.lists(st.tuples(domains, st.sampled_from(["VP Sales", "Analyst"]), st.sampled_from([None, 5, 50, 500]),
                           events, st.integers(0, 60)), min_size=1, max_size=25)


def _plain(engine, ls, day_of):
    """Every keyed lead scored as of every day its account is needed at (replay before the shortcut)."""
    model = engine.accounts
    need: dict = {}
    for lead in ls:
        k = model.key_of(lead)
        if k is not None:
            need.setdefault(k, set()).add(day_of(lead))
    counts: dict = {}
    for lead in ls:
        k = model.key_of(lead)
        for d in need.get(k, ()) if k is not None else ():
            fl = model.key_and_flags(lead, engine.score(lead, d), d)[1]
            c = counts.setdefault((k, d), [0] * model.nf)
            for i, x in enumerate(fl):
                c[i] += x
    out = []
    for lead in ls:
        d = day_of(lead)
        r = engine.score(lead, d)
        k, fl = model.key_and_flags(lead, r, d)
        c = counts.get((k, d)) if k is not None else None
        out.append(model.finish(r, k, model.evaluate(tuple(c) if c is not None else fl)))
    return out


def _key(r):
    return (r.id, r.grade, r.route, r.queue, r.account, r.account_scores, r.account_bands, r.scores)


@settings(max_examples=60, deadline=None)
@given(rows=leads, dq=st.sampled_from([DQ_STATIC, DQ_DYNAMIC]), extra=st.sampled_from(["", NEW]))
def test_replay_with_the_shortcut_is_the_plain_replay(tmp_path_factory, rows, dq, extra):
    path = tmp_path_factory.mktemp("r") / "r.rules"
    path.write_text(RULES % (dq, extra), encoding="utf-8")
    engine = load_rules(str(path)).engine
    ls = [Lead(f"L{i}", {"email": f"p{i}@{dom}", "title": title, "size": size, "created": BASE + 10 * (i % 5)},
               [Event(t, BASE + at, {"page": page} if t == "visit" else {}, "") for t, at, page in evs], i + 1)
          for i, (dom, title, size, evs, _day) in enumerate(rows)]
    days = {lead.id: BASE + row[4] for lead, row in zip(ls, rows)}

    def day_of(lead):
        return days[lead.id]

    got = [r for _lead, r, _d in replay(engine, lambda: iter(ls), day_of)]
    assert [_key(r) for r in got] == [_key(r) for r in _plain(engine, ls, day_of)]

