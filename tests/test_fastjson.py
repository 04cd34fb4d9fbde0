"""The fast JSON parser (msgspec, the `fast` extra) is pinned to the standard-library fallback: the same
value or the same error for any text, and the same leads, bad rows (line, column, reason), counters and
output bytes for any leads file (docs/input.md's contract, hostile rows included)."""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.backends import scoring
from runtime.backends.load import load_rules
from runtime.io import fastjson

pytest.importorskip("msgspec")

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 11, 1)

RULES = """ruleset "fj" version 1

fields {
  title: text
  size: number
  created: date
  vip: bool
  tags: text list
}

events {
  web_visit(page: text)
  form_submit(form: text, amount: number)
}

score fit "Fit" max 100 {
  "VP"      +20  when title contains word "vp"
  "Big"     +30  when size >= 100
  "Tagged"  +10  when tags contains "a"
  "Recent"  +10  when created >= 2026-01-01
  "VIP"     +5   when vip = true
}

score engagement "Engagement" max 100 {
  "Visits"  +5   each web_visit  max 20
  "Form"    +20  when has form_submit where amount > 10
}

grade fit {
  A when >= 50
  B otherwise
}
"""


def outcome(loads, text):
    try:
        return ("ok", repr(loads(text)))  # repr: 1 and 1.0, -0.0, nan and key order all count
    except RecursionError:
        return ("recursion",)
    except ValueError as e:
        return ("error", type(e).__name__, str(e))


@pytest.fixture
def both():
    """Run a function under each parser; the parser is put back afterwards."""
    def run(fn):
        got = {}
        for p in ("msgspec", "json"):
            fastjson.use(p)
            got[p] = fn()
        return got["msgspec"], got["json"]
    yield run
    fastjson.use("auto")


EDGE = ['{"a":1,"b":2,"a":3}', '{"x":1e400}', '{"x":-1e400}', '{"x":-0.0}', '{"x":-0}', '{"x":123456789012345678901234567890}',
        '{"x":-9223372036854775809}', '{"x":18446744073709551616}', '{"x":NaN}', '{"x":Infinity}', '{"x":"\\ud800"}',
        '{"x":"\\udc00\\ud800"}', '{"a":"\t"}', '\ufeff{"a":1}', '{"a":1}\ufeff', ' {"a":1} \r\n', '{"a":1}\x0c',
        '\xa0{"a":1}', '{"a":1', '{"a":01}', '{"a":1.}', '{"a":.5}', '{"a":1e5}', '{"a":2.2250738585072011e-308}',
        '{"a":5e-324}', '{"a":1.7976931348623159e308}', '{"a":"\\u0000"}', '{"a":"\u2028"}', '[1,2]', '"s"', '',
        '   ', 'null', '{"a":true,"b":false,"c":null}', '{"a":tru}', '{"a":[1,2,]}', '{"a":1,}', '{1:2}',
        "{'a':1}", '{"a":1}{"b":2}', '{"é":"ü","😀":"\\ud83d\\ude00"}']
EDGE += ['{"a":' + "[" * n + "]" * n + "}" for n in (900, 990, 993, 994, 995, 996, 1000, 1100)]
EDGE += ['{"a":' * n + "1" + "}" * n for n in (990, 995, 996, 997, 998, 1000)]


@pytest.mark.parametrize("text", EDGE)
def test_edge_texts_parse_alike(text):
    assert outcome(fastjson._fast_loads, text) == outcome(json.loads, text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10 ** 30), max_value=10 ** 30)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=4), kids, max_size=4), max_leaves=12)
fragments = st.sampled_from(['{', '}', '[', ']', ',', ':', '"', '\\', '"a"', '1', '-', '.', 'e', '0', 'NaN',
                             'true', 'null', ' ', '\t', '\ufeff', '\\u', 'd800', '1e999', '99999999999999999999'])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values.map(lambda v: json.dumps(v, ensure_ascii=False)),
                 json_values.map(json.dumps),
                 st.lists(fragments, max_size=20).map("".join),
                 st.text(max_size=30)))
def test_any_text_parses_alike(text):
    assert outcome(fastjson._fast_loads, text) == outcome(json.loads, text)


# ---- whole files: the input contract holds identically ------------------------------------------


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    p = tmp_path_factory.mktemp("fj") / "fj.rules"
    p.write_text(RULES, encoding="utf-8")
    return load_rules(str(p))


def read_all(rules, path, **kw):
    rej = io.StringIO()
    src = scoring.results(rules, str(path), as_of=AS_OF, on_bad_row="skip", rejects=rej, **kw)
    got = [(r.id, r.grade, r.scores, r.points) for r in src]
    return got, rej.getvalue(), (src.read, src.rejected, dict(src.ignored_events))


good = st.fixed_dictionaries({
    "id": st.sampled_from(["L1", "L2", "L3", "l1", " L1", 7, 10 ** 20, None]),
    "title": st.sampled_from(["VP Sales", "", None, 3, "vp", "\u2028vp"]),
    "size": st.sampled_from([150, "150", 1e400, 10 ** 25, -0.0, "lots", True, None, 99.5]),
    "created": st.sampled_from(["2026-02-01", "2026-02-30", 20260201, None, "2026-02-01T10:00:00Z"]),
    "vip": st.sampled_from([True, "yes", 1, "maybe", None]),
    "tags": st.sampled_from(["a;b", ["a"], [], "", None, [1, 2]]),
    "events": st.lists(st.fixed_dictionaries({
        "type": st.sampled_from(["web_visit", "form_submit", "other", "", 5]),
        "at": st.sampled_from(["2026-10-01", "2026-10-01T09:00:00Z", "nope", None, 1e400]),
        "page": st.sampled_from(["/p", None, 3]),
        "amount": st.sampled_from([20, "20", 10 ** 30, "x", None])}), max_size=3),
})
line = st.one_of(
    good.map(lambda d: json.dumps(d, ensure_ascii=False)),
    good.map(lambda d: json.dumps(d).replace("1e+400", "Infinity").replace("Infinity", "NaN")),
    st.sampled_from(["", "   ", "not json", "[1]", '"s"', "null", '{"id": "L9", "size": NaN}', '{"id":"L8"',
                     '{"id": "L7", "title": "\\ud800"}', '{"id": "L6", "size": 123456789012345678901234567890}',
                     "\ufeff" + '{"id": "L5"}', '{"id": "L4", "id": "L44"}', '{"ID": "L3", "Size": 200}']))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(lines=st.lists(line, min_size=1, max_size=12), bom=st.booleans(), crlf=st.booleans())
def test_hostile_files_read_alike(rules, both, tmp_path, lines, bom, crlf):
    text = ("\r\n" if crlf else "\n").join(lines) + "\n"
    path = tmp_path / "leads.jsonl"
    path.write_bytes((("\ufeff" if bom else "") + text).encode("utf-8"))
    fast, std = both(lambda: read_all(rules, path))
    assert fast == std


def test_workers_and_duckdb_read_alike(rules, both, tmp_path):
    lines = [json.dumps({"id": f"L{i}", "title": "VP" if i % 3 else None, "size": 10 ** 25 if i == 5 else i * 10,
                         "events": [{"type": "web_visit", "at": "2026-10-01", "page": "/"}] * (i % 4)})
             for i in range(1, 40)]
    lines[7] = '{"id": "L8", "size": NaN}'
    lines[9] = '{"id": "L1"}'  # a duplicate
    lines[11] = "not json"
    lines[13] = '{"id": "L14", "size": 1e400}'
    path = tmp_path / "leads.jsonl"
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    for kw in (dict(workers=2, engine="python"), dict(engine="duckdb")):
        fast, std = both(lambda kw=kw: read_all(rules, path, **kw))
        assert fast == std
        assert fast[2][1] == 4  # the duplicate, "not json", NaN and 1e400 (not finite numbers)
    assert std[0], "some leads were scored"


def test_cli_output_bytes_alike_and_version_says_which(tmp_path):
    """`leadrules score` writes the same bytes (output and rejects) with msgspec and with LEADRULES_JSON=json,
    and `leadrules --version` names the parser."""
    rules = ROOT / "rulesets" / "acme.rules"
    leads = tmp_path / "l.jsonl"
    leads.write_text("\n".join([
        json.dumps({"id": "A1", "email": "a@b.com", "title": "VP Marketing", "company_size": 500,
                    "events": [{"type": "pricing_page_view", "at": "2026-10-30T10:00:00Z"}]}),
        '{"id": "A2", "company_size": NaN}', '{"id": "A3", "company_size": 1e999}', "nope", '{"id": "A1"}',
        json.dumps({"id": "A4", "company_size": 10 ** 22})]) + "\n", encoding="utf-8")
    outs = {}
    for mode in ("auto", "json"):
        env = dict(os.environ, LEADRULES_JSON=mode)
        out, rej = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
        p = subprocess.run([sys.executable, str(ROOT / "cli.py"), "score", str(rules), "--leads", str(leads), "-o", str(out),
                            "--on-bad-row", "skip", "--rejects", str(rej), "--as-of", "2026-11-01"],
                           cwd=ROOT, env=env, capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        v = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--version"], cwd=ROOT, env=env,
                           capture_output=True, text=True)
        outs[mode] = (out.read_bytes(), rej.read_bytes(), p.stderr, v.stdout)
    assert outs["auto"][:3] == outs["json"][:3]
    assert outs["auto"][1].count(b"\n") == 4  # NaN, 1e999 (not finite), nope, the duplicate
    assert "JSON reader: msgspec" in outs["auto"][3]
    assert "JSON reader: json (standard library" in outs["json"][3]
