"""Shared helpers for the tests: build an engine from rule text, leads and events from plain data."""
from __future__ import annotations

import datetime as dt

from dsl.checker import check
from dsl.parser import parse
from runtime.backends.closure import compile_checked
from runtime.core.kernel import date_ordinal
from runtime.core.model import Event, Lead

AS_OF = date_ordinal("2026-11-01")

HEADER = """ruleset "t" version 1
fields {
  email: text
  first_name: text
  last_name: text
  title: text
  company_size: number
  industry: text
  created_at: date
  opted_out: bool
  interests: text list
}
events {
  email_open
  email_click
  web_visit(page: text)
  form_submit(form: text)
  webinar_attended(webinar: text)
  unsubscribe
}
"""


def engine(text: str, *, header: bool = False):
    rf = parse((HEADER if header else "") + text, "t.rules")
    checked = check(rf)
    errors = [d for d in checked.diagnostics if d.is_error]
    assert not errors, errors
    return compile_checked(checked)


def ev(type_: str, days_ago: int = 0, asof: int = AS_OF, **attrs) -> Event:
    return Event(type_, asof - days_ago, attrs, dt.date.fromordinal(asof - days_ago).isoformat())


def lead(id_: str = "L1", events=(), **fields) -> Lead:
    f = {}
    for k, v in fields.items():
        if isinstance(v, dt.date):
            v = v.toordinal()
        if isinstance(v, list):
            v = tuple(v)
        f[k] = v
    return Lead(id_, f, list(events))
