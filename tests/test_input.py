"""The input contract (docs/input.md, runtime/io/coerce.py, runtime/io/readers.py) on every engine.

Every way of scoring a file -- the python engine in one process, `--workers 2`, `--engine duckdb` --
reads it through the one reader, so the same file gives the same scored ids, the same rejected rows
with the same reasons and lines, and the same counters. Pinned here: the reproductions of issue 11
and 12 (a short CSV row, odd values, a .tsv file, lines that are not JSON objects, `;` files,
header case, a header that fits nothing, duplicate ids, undeclared event types, physical lines),
columns by their real names (`from "Job Title"`), and a hypothesis property that feeds odd values
to all three and asserts they agree.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cli
from runtime.backends import scoring
from runtime.backends.load import load_rules
from runtime.io.readers import BadRowsError, InputError

AS_OF = dt.date(2026, 11, 1)
ENGINES = {"python": dict(engine="python"), "workers": dict(engine="python", workers=2),
           "duckdb": dict(engine="duckdb")}

RULES = """ruleset "in" version 1

fields {
  email: text
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
  decay half-life 30 days
  "Visits"  +5   each web_visit  max 20
  "Form"    +20  when has form_submit where amount > 10
}

grade fit {
  A when >= 50
  B otherwise
}

route {
  A -> sales "ae" within 1 day
  otherwise -> nurture "track"
}
"""


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    p = tmp_path_factory.mktemp("rules") / "in.rules"
    p.write_text(RULES, encoding="utf-8")
    return load_rules(str(p))


def run(rules, path, *, events=None, **kw):
    """(scored ids, rejected [(line, column, reason)], counters) of one engine under --on-bad-row skip."""
    rej = io.StringIO()
    opts = dict(kw)
    src = scoring.results(rules, str(path), as_of=AS_OF, events_path=events, on_bad_row="skip", rejects=rej,
                          **opts)
    results = list(src)
    rows = [json.loads(x) for x in rej.getvalue().splitlines()]
    counters = dict(read=src.read, rejected=src.rejected, bad_events=src.bad_events,
                    ignored=dict(getattr(src, "ignored_events", {})),
                    missing=list(getattr(src, "missing_columns", [])), unused=list(getattr(src, "unused_columns", [])))
    assert counters["read"] == len(results) + counters["rejected"]
    return ([(r.id, r.grade, r.scores) for r in results],
            [(x["line"], x.get("column"), x["reason"], x["row"]) for x in rows], counters)


def agree(rules, path, **kw):
    """Every engine's outcome, asserted equal; returns it."""
    got = {name: run(rules, path, **opts, **kw) for name, opts in ENGINES.items()}
    assert got["python"] == got["workers"] == got["duckdb"]
    return got["python"]


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def invoke(*args):
    return CliRunner().invoke(cli.main, [str(a) for a in args])


# ---- issue 11's reproductions -------------------------------------------------------------------


def test_short_csv_row_is_rejected_on_every_engine(rules, tmp_path):
    p = write(tmp_path / "leads.csv", "id,email,title,size\nL1,ann@bigco.com,VP Sales,500\n"
                                      "L2,bob@bigco.com,Manager\nL3,cy@bigco.com,VP,20\n")
    ids, rejected, c = agree(rules, p)
    assert [i for i, _g, _s in ids] == ["L1", "L3"]  # not renumbered, not all disqualified
    assert rejected == [(3, None, "row has 3 cells, the header has 4", "L2,bob@bigco.com,Manager")]
    assert (c["read"], c["rejected"]) == (3, 1)
    for name, opts in ENGINES.items():  # and under --on-bad-row fail: exit 2 naming the line, on every engine
        extra = ["--engine", "duckdb"] if opts["engine"] == "duckdb" else ["--workers", "2"] if "workers" in opts else []
        res = invoke("score", rules.spec, "--leads", p, "--as-of", "2026-11-01", *extra)
        assert res.exit_code == 2, (name, res.output)
        assert f"{p}:3: row has 3 cells" in res.output


@pytest.mark.parametrize("column, value, reason", [
    ("tags", "a;b", None),                                       # a text list written as one text
    ("size", "1_000", 'field "size": "1_000" is not a number'),
    ("size", "1,000", 'field "size": "1,000" is not a number'),
    ("size", " 1 000 ", 'field "size": " 1 000 " is not a number'),
    ("size", "inf", 'field "size": "inf" is not a number'),
    ("size", "nan", 'field "size": "nan" is not a number'),
    ("created", "inf", 'field "created": "inf" is not a date'),
    ("created", "infinity", 'field "created": "infinity" is not a date'),
    ("created", "10000-01-01", 'field "created": "10000-01-01" is not a date'),
    ("created", "9999-12-31T23:59:59-12:00", 'field "created": "9999-12-31T23:59:59-12:00" is not a date'),
    ("vip", "maybe", 'field "vip": "maybe" is not a bool'),
])
def test_odd_values_agree(rules, tmp_path, column, value, reason):
    for kind in ("jsonl", "csv"):
        row = {"id": "L2", "email": "b@x.com", column: value}
        if kind == "jsonl":
            p = write(tmp_path / "l.jsonl", json.dumps({"id": "L1", "email": "a@x.com"}) + "\n" + json.dumps(row) + "\n")
        else:
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(["id", "email", "title", "size", "created", "vip", "tags"])
            w.writerow(["L1", "a@x.com", "", "", "", "", ""])
            w.writerow([row.get(k, "") for k in ["id", "email", "title", "size", "created", "vip", "tags"]])
            p = write(tmp_path / "l.csv", buf.getvalue())
        ids, rejected, _c = agree(rules, p)
        if reason is None:
            assert [i for i, _g, _s in ids] == ["L1", "L2"] and not rejected
        else:
            assert [i for i, _g, _s in ids] == ["L1"]
            ((line, _col, why, _raw),) = rejected
            assert line == (2 if kind == "jsonl" else 3) and why.startswith(reason), why


def test_text_list_a_semicolon_b_is_two_items(rules, tmp_path):
    p = write(tmp_path / "l.jsonl", json.dumps({"id": "L1", "tags": "a;b"}) + "\n")
    ids, _rej, _c = agree(rules, p)
    assert ids[0][2]["fit"] == 10  # "Tagged" fired on the item "a"


def test_lines_that_are_not_json_objects(rules, tmp_path):
    p = write(tmp_path / "l.jsonl", '{"id": "L1"}\nnot json\n[1,2,3]\n\n  "text"\n{"id": "L2", "size": }\n{"id": "L3"}\n')
    ids, rejected, c = agree(rules, p)
    assert [i for i, _g, _s in ids] == ["L1", "L3"]
    assert [(line, col) for line, col, _r, _raw in rejected] == [(2, 1), (3, 1), (5, 3), (6, 22)]
    assert rejected[1][2] == "line is not a JSON object (it is a list)" and rejected[1][3] == "[1,2,3]"
    assert (c["read"], c["rejected"]) == (6, 4)  # the blank line is not read


def test_tsv_file(rules, tmp_path):
    p = write(tmp_path / "l.tsv", "id\temail\ttitle\tsize\nL1\ta@x.com\tVP Sales\t500\nL2\tb@x.com\t\t7\n")
    ids, rejected, _c = agree(rules, p)
    assert [(i, g) for i, g, _s in ids] == [("L1", "A"), ("L2", "B")] and not rejected


# ---- headers and delimiters ---------------------------------------------------------------------


@pytest.mark.parametrize("sep", [";", "\t", "|", ","])
def test_delimiter_found_and_header_case_ignored(rules, tmp_path, sep):
    text = sep.join(["ID", " Email ", "TITLE", "Size"]) + "\n" + sep.join(["L1", "a@x.com", "VP Sales", "500"]) + "\n"
    p = write(tmp_path / "l.csv", text)
    ids, rejected, c = agree(rules, p)
    assert ids == [("L1", "A", {"fit": 50.0, "engagement": 0.0})] and not rejected
    assert set(c["missing"]) == {"created", "vip", "tags"} and c["unused"] == []


def test_delimiter_can_be_forced(rules, tmp_path):
    p = write(tmp_path / "l.csv", "id;email;title\nL1;a,b@x.com;VP\n")  # one `,` and two `;`: found as `;`
    assert agree(rules, p)[0][0][0] == "L1"
    for opts in ENGINES.values():  # forced to `,`: the header fits nothing
        with pytest.raises(InputError, match="no column for any field"):
            run(rules, p, delimiter=",", **opts)
    res = invoke("score", rules.spec, "--leads", p, "--delimiter", "tab")
    assert res.exit_code == 2 and "'id;email;title'" in res.output


def test_header_matching_nothing_exits_2_naming_columns(rules, tmp_path):
    p = write(tmp_path / "l.csv", "Record,Mail,Job\nL1,a@x.com,VP\n")
    for extra in ([], ["--engine", "duckdb"], ["--workers", "2"]):
        res = invoke("score", rules.spec, "--leads", p, *extra)
        assert res.exit_code == 2 and "Traceback" not in res.output
        assert "'Record', 'Mail', 'Job'" in res.output and "email" in res.output and "'Mail' ~ email" in res.output


def test_missing_and_unused_columns_reported_once(rules, tmp_path):
    p = write(tmp_path / "l.csv", "id,email,Notes\nL1,a@x.com,hi\nL2,b@x.com,yo\n")
    for extra in ([], ["--engine", "duckdb"], ["--workers", "2"]):
        res = invoke("score", rules.spec, "--leads", p, "--as-of", "2026-11-01", *extra)
        assert res.exit_code == 0, res.output
        err = res.stderr
        assert err.count("note: no column for title, size, created, vip, tags") == 1
        assert err.count("note: columns not used by the rule file: 'Notes'") == 1
    res = invoke("simulate", rules.spec, "--leads", p, "--as-of", "2026-11-01", "--format", "json")
    cols = json.loads(res.stdout)["runs"][0]["columns"]
    assert cols == {"missing": ["title", "size", "created", "vip", "tags"], "unused": ["Notes"]}
    text = invoke("simulate", rules.spec, "--leads", p, "--as-of", "2026-11-01").stdout
    assert "columns not used: Notes" in text


# ---- columns by their real names ------------------------------------------------------------------

HUBSPOT_RULES = """ruleset "hs" version 1

fields {
  id from "Record ID"
  title: text from "Job Title"
  employees: number from "Number of Employees"
  stage: text from "Lifecycle Stage"
  created: date from "Create Date"
  email: text
}

events {
  lead_id from "Contact ID"
  type from "Activity"
  at from "Timestamp"
  form_submit from "Form Submission" (form: text from "Form Name")
  page_view from "Page View" (page: text from "Page URL")
}

score fit "Fit" max 100 {
  "VP"       +40  when title contains word "vp"
  "Big"      +30  when employees >= 200
  "Demo"     +30  when has form_submit where form = "Demo"
  "Pricing"  +10  when has page_view where page contains "pricing"
}

grade fit {
  A when >= 70
  B otherwise
}
"""


@pytest.fixture(scope="module")
def hubspot(tmp_path_factory):
    d = tmp_path_factory.mktemp("hs")
    p = d / "hs.rules"
    p.write_text(HUBSPOT_RULES, encoding="utf-8")
    leads = write(d / "contacts.csv", "Record ID,First Name,Email,Job Title,Number of Employees,Lifecycle Stage,"
                                      "Create Date\n101,Ann,ann@big.com,VP Marketing,500,lead,2026-10-01 09:30\n"
                                      "102,Bo,bo@small.com,Engineer,12,subscriber,2026-09-30T23:00:00-02:00\n")
    events = write(d / "activity.csv", "Contact ID,Activity,Timestamp,Form Name,Page URL\n"
                                       "101,Form Submission,2026-10-20T10:00:00Z,Demo,\n"
                                       "102,Page View,2026-10-21,,/pricing\n"
                                       "102,Chat Started,2026-10-21,,\n")
    return load_rules(str(p)), leads, events


def test_hubspot_export_read_by_from_columns(hubspot):
    rules, leads, events = hubspot
    ids, rejected, c = agree(rules, leads, events=events)
    assert ids == [("101", "A", {"fit": 100.0}), ("102", "B", {"fit": 10.0})] and not rejected
    assert c["unused"] == ["First Name"] and c["missing"] == [] and c["ignored"] == {"Chat Started": 1}
    # embedded events use the same names
    emb = leads.with_name("embedded.jsonl")
    write(emb, json.dumps({"Record ID": 7, "Job Title": "VP", "events": [
        {"Activity": "Form Submission", "Timestamp": "2026-10-20", "Form Name": "Demo"}]}) + "\n")
    ids, rejected, _c = agree(rules, emb)
    assert ids == [("7", "A", {"fit": 70.0})]


def test_embedded_event_keys_match_exactly(rules, tmp_path):
    # keys of an embedded event are JSON structure, not columns: "Page" is not `page`, on every engine
    p = write(tmp_path / "l.jsonl", json.dumps({"id": "L1", "events": [
        {"type": "web_visit", "at": "2026-10-30", "Page": "/pricing"},
        {"type": "web_visit", "AT": "2026-10-30"}]}) + "\n")
    ids, rejected, _c = agree(rules, p)
    assert ids == [] and rejected[0][2] == 'event 2: web_visit: "at" is missing'


def test_without_from_the_field_name_is_the_column(rules, tmp_path):
    p = write(tmp_path / "l.jsonl", json.dumps({"ID": "L1", "Title": "VP", " SIZE ": 500}) + "\n")
    ids, _r, _c = agree(rules, p)
    assert ids == [("L1", "A", {"fit": 50.0, "engagement": 0.0})]


def test_from_syntax_fmt_round_trips_and_is_idempotent():
    from dsl.formatter import format_text
    from dsl.parser import parse

    messy = HUBSPOT_RULES.replace('  id from "Record ID"', '  id   from   "Record ID"   # the HubSpot key').replace(
        'form_submit from "Form Submission" (form: text from "Form Name")',
        'form_submit from "Form Submission"(form:text from "Form Name",)')
    once = format_text(messy, "x.rules")
    assert format_text(once, "x.rules") == once
    assert parse(once, "x.rules") == parse(HUBSPOT_RULES, "x.rules")
    assert '  id from "Record ID"  # the HubSpot key' in once
    assert '  form_submit from "Form Submission" (form: text from "Form Name")' in once


def test_from_mistakes_are_reported_with_position_and_hint():
    from dsl.checker import check_text
    from dsl.lint import lint_text

    bad = 'ruleset "x" version 1\nfields {\n  title from "Job Title"\n  id from ""\n  email: text from "Email"\n}\n' \
          'events {\n  a from "Same"\n  b from "Same"\n  type from "T"\n  type from "U"\n}\n'
    ds = check_text(bad, "x.rules").diagnostics
    assert [(d.line, d.col) for d in ds if d.code == "LR215"] == [(3, 3), (4, 3), (9, 3), (11, 3)]
    assert all(d.hint for d in ds if d.code == "LR215")
    assert any("a field needs a type" in d.message and 'title: text from "Job Title"' in d.hint for d in ds)
    warn = [d for d in lint_text(bad, "x.rules") if d.code == "LR319"]
    assert [(d.line, d.message) for d in warn] == [(5, 'field "email" is read from column "Email", which it '
                                                       'matches anyway')]


# ---- duplicates and stray events ------------------------------------------------------------------


def test_duplicate_ids_are_bad_rows_across_worker_batches(rules, tmp_path):
    rows = [json.dumps({"id": f"L{i}", "title": "VP"}) for i in range(1, 4501)]
    rows.insert(4200, json.dumps({"id": "L5", "title": "again"}))  # another worker's batch (2,000 leads each)
    rows.insert(3, json.dumps({"id": "L2"}))
    p = write(tmp_path / "l.jsonl", "\n".join(rows) + "\n")
    ids, rejected, c = agree(rules, p)
    assert len(ids) == 4500 and c["rejected"] == 2
    assert [(line, col, why) for line, col, why, _raw in rejected] == [
        (4, 8, 'duplicate id "L2", first seen on line 2'), (4202, 8, 'duplicate id "L5", first seen on line 6')]
    # --rejects gets them, --on-bad-row fail stops on them
    rej = tmp_path / "rej.jsonl"
    res = invoke("score", rules.spec, "--leads", p, "--workers", "2", "--on-bad-row", "skip", "--rejects", rej,
                 "-o", tmp_path / "out.jsonl")
    assert res.exit_code == 0 and len(rej.read_text().splitlines()) == 2
    res = invoke("score", rules.spec, "--leads", p, "--engine", "duckdb")
    assert res.exit_code == 2 and 'duplicate id "L2", first seen on line 2' in res.output


def test_undeclared_event_types_ignored_and_counted_or_strict(rules, tmp_path):
    p = write(tmp_path / "l.jsonl", json.dumps({"id": "L1", "events": [
        {"type": "web_visit", "at": "2026-10-30", "page": "/"}, {"type": "chat_started", "at": "2026-10-30"},
        {"type": "chat_started", "at": "2026-10-31"}]}) + "\n" + json.dumps({"id": "L2", "events": [
            {"type": "meeting", "at": "2026-10-30"}]}) + "\n")
    ids, rejected, c = agree(rules, p)
    assert [i for i, _g, _s in ids] == ["L1", "L2"] and not rejected
    assert c["ignored"] == {"chat_started": 2, "meeting": 1}
    ids, rejected, c = agree(rules, p, strict_events=True)
    assert ids == [] and [r[2] for r in rejected] == [
        'event 2: undeclared event type "chat_started" (declared: web_visit, form_submit; without --strict-events '
        'it would be ignored)', 'event 1: undeclared event type "meeting" (declared: web_visit, form_submit; '
        'without --strict-events it would be ignored)']
    res = invoke("score", rules.spec, "--leads", p, "--as-of", "2026-11-01")
    assert res.exit_code == 0 and "ignored 3 events of types the rule file does not declare (chat_started 2, " \
                                  "meeting 1)" in res.stderr
    res = invoke("score", rules.spec, "--leads", p, "--strict-events", "--workers", "2")
    assert res.exit_code == 2 and "undeclared event type" in res.output


def test_calibrate_counts_a_duplicated_lead_once(tmp_path):
    root = Path(__file__).parents[1]
    acme = root / "rulesets" / "acme.rules"
    leads = write(tmp_path / "l.jsonl", "".join(json.dumps(x) + "\n" for x in [
        {"id": "L1", "email": "a@big.com", "title": "VP Sales", "company_size": 5000},
        {"id": "L2", "email": "b@big.com", "title": "VP Sales", "company_size": 5000},
        {"id": "L1", "email": "a@big.com", "title": "VP Sales", "company_size": 5000}]))
    outcomes = write(tmp_path / "o.csv", "lead_id,worked_at,converted\nL1,2026-10-01,true\nL2,2026-10-01,false\n"
                                         "L1,2026-10-02,true\n")
    res = invoke("calibrate", acme, "--leads", leads, "--outcomes", outcomes, "--format", "json",
                 "--on-bad-row", "skip")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["inputs"]["leads"]["scored"] == 2 and doc["inputs"]["leads"]["rejected"] == 1
    o = doc["inputs"]["outcomes"]
    assert o["duplicates"] == 1
    total = sum(g["worked"] for g in doc["by_grade"])
    conv = sum(g["converted"] for g in doc["by_grade"])
    assert (total, conv) == (2, 1)


# ---- real positions -------------------------------------------------------------------------------


def test_physical_lines_with_quoted_newlines_and_json_columns(rules, tmp_path):
    p = write(tmp_path / "l.csv", 'id,email,title,size\nL1,a@x.com,"VP\nof\nSales",5\n\nL2,b@x.com,VP,lots\n')
    _ids, rejected, _c = agree(rules, p)
    assert rejected == [(6, None, 'field "size": "lots" is not a number', "L2,b@x.com,VP,lots")]
    j = write(tmp_path / "l.jsonl", '{"id": "L1"}\n\n{"id": "L2",   "size":  "lots"}\n')
    _ids, rejected, _c = agree(rules, j)
    assert rejected[0][:3] == (3, 25, 'field "size": "lots" is not a number')
    res = invoke("score", rules.spec, "--leads", j)
    assert res.exit_code == 2 and f"{j}:3:25: field \"size\"" in res.output


# ---- the property: odd values, every engine agrees ------------------------------------------------

ODD = st.sampled_from([
    "", " ", "a;b", "a; ;b", ";", "1_000", "1,000", "1 000", " 7 ", "+5", "-0", ".5", "5.", "1e3", "1e999", "inf",
    "-inf", "nan", "NaN", "Infinity", "true", "FALSE", "yes", "0", "1", "2", "2026-10-01", "2026-13-01",
    "2026-10-01T10:00:00Z", "2026-10-01T23:30:00-02:00", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+01:00",
    "10000-01-01", "\ufeffx", "VP", "vp of x", "é", '"', "a\nb", "null", "[1]", "{}",
])
JSON_ODD = st.one_of(ODD, st.integers(-10**20, 10**20), st.sampled_from([10**400, -10**400, 2**63, 2**53 + 1]), st.floats(allow_nan=True, allow_infinity=True),
                     st.booleans(), st.none(), st.lists(st.one_of(ODD, st.integers(0, 9)), max_size=3),
                     st.just({"a": 1}))
COLS = ["id", "email", "title", "size", "created", "vip", "tags"]
STAMPS = st.sampled_from(["2026-10-30", "2026-10-30T10:00:00Z", "2026-10-31T23:30:00-05:00", "9999-12-31T23:59:59-12:00",
                          "0001-01-01T00:30:00+01:00", "yesterday", "", None, 5, "2026-02-30"])


@st.composite
def csv_file(draw):
    rows = [",".join(COLS)]
    for i in range(draw(st.integers(5, 25))):
        cells = [draw(st.sampled_from([f"L{i}", f"L{i % 3}", ""]))] + [draw(ODD) for _ in COLS[1:]]
        cells = cells[: draw(st.sampled_from([len(cells)] * 6 + [3, 8]))]  # some short, some long rows
        if len(cells) < len(COLS) + 1 and draw(st.integers(0, 9)) == 0:
            cells += ["extra"]
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(cells)
        rows.append(buf.getvalue())
    bom = "\ufeff" if draw(st.booleans()) else ""
    return bom + "\n".join(rows) + "\n"


@st.composite
def jsonl_file(draw):
    lines = []
    for i in range(draw(st.integers(5, 25))):
        shape = draw(st.integers(0, 12))
        if shape == 0:
            lines.append(draw(st.sampled_from(["not json", "[1,2,3]", '"x"', "", "{", "\ufeff{\"id\": \"B\"}", "null"])))
            continue
        o = {"id": draw(st.sampled_from([f"L{i}", f"L{i % 3}", None, 7, ""]))}
        for c in COLS[1:]:
            if draw(st.booleans()):
                o[c] = draw(JSON_ODD)
        if draw(st.booleans()):
            o["events"] = [{"type": draw(st.sampled_from(["web_visit", "form_submit", "chat", "", None, " web_visit"])),
                            "at": draw(STAMPS),
                            draw(st.sampled_from(["page", "Page"])): draw(st.sampled_from(["/pricing", 3, None])),
                            "amount": draw(st.sampled_from([20, "15", "x", None]))}
                           for _ in range(draw(st.integers(0, 3)))]
        lines.append(json.dumps(o, ensure_ascii=False))
    return "\n".join(lines) + "\n"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_every_engine_agrees_on_odd_input(rules, tmp_path, data):
    kind = data.draw(st.sampled_from(["csv", "jsonl"]))
    text = data.draw(csv_file() if kind == "csv" else jsonl_file())
    p = write(tmp_path / f"odd.{kind}", text)
    try:
        agree(rules, p)
    except InputError:  # a header that fits nothing: refused by every engine alike
        for opts in ENGINES.values():
            with pytest.raises(InputError):
                run(rules, p, **opts)


# ---- docs/input.md: every snippet checks, every recipe reads its export unchanged -----------------

DOC = Path(__file__).parents[1] / "docs" / "input.md"


def _doc_blocks():
    import re

    return re.findall(r"```(rules|csv[^\n]*)\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_docs_input_rule_snippets_check_clean():
    from dsl.checker import check_text

    snippets = [body for info, body in _doc_blocks() if info == "rules"]
    assert len(snippets) >= 6
    for body in snippets:
        errors = [d for d in check_text(body, "docs/input.md").diagnostics if d.is_error]
        assert not errors, (body, errors)


def test_docs_input_recipes_read_their_exports_unchanged(tmp_path):
    from runtime.io.readers import LeadReader, schema_for

    rules = None
    checked = 0
    for k, (info, body) in enumerate(_doc_blocks()):
        if info == "rules":
            p = tmp_path / f"r{k}.rules"
            p.write_text(body, encoding="utf-8")
            rules = load_rules(str(p))
            continue
        words = info.split()
        if len(words) == 1:  # a leads export: every engine reads every row, every declared column found
            leads = write(tmp_path / f"export{k}.csv", body)
            ids, rejected, c = agree(rules, leads)
            assert not rejected and c["missing"] == [] and len(ids) == body.count("\n") - 1, (info, c)
        else:  # an events export, given as --events (its file name from the block: tracks, pages ...)
            events = write(tmp_path / f"{words[2] if len(words) > 2 else 'activity'}.csv", body)
            schema = schema_for(rules.checked)
            lids = sorted({line.split(",")[1] for line in body.splitlines()[1:]})
            leads = write(tmp_path / f"leads{k}.jsonl", "".join(json.dumps({schema.id_field: x}) + "\n" for x in lids))
            r = LeadReader(str(leads), schema, events_path=str(events))
            got = list(r)
            assert r.bad_events == 0 and r.ignored_events == {} and r.orphan_events == 0, info
            assert sum(len(lead.events) for lead in got) == body.count("\n") - 1, info
        checked += 1
    assert checked == 5


# ---- the second example: rulesets/hubspot.rules over its HubSpot-style export ---------------------

ROOT = Path(__file__).parents[1]
HUBSPOT = ROOT / "rulesets" / "hubspot.rules"
HUBSPOT_CSV = ROOT / "rulesets" / "samples" / "hubspot_contacts.csv"


def test_hubspot_example_scores_alike_on_every_engine_and_delimiter(tmp_path):
    import subprocess
    import sys

    rules = load_rules(str(HUBSPOT))
    ids, rejected, c = agree(rules, HUBSPOT_CSV)
    assert len(ids) == 500 and not rejected and c["missing"] == []
    assert c["unused"] == ["First Name", "Last Name", "Phone Number", "Contact owner"]
    assert {g for _i, g, _s in ids} == {"A", "B", "C", "disqualified"}
    # the same export saved by Excel with `;` reads the same
    semi = tmp_path / "contacts.csv"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_hubspot.py"), "--delimiter", ";", "--out", str(semi)],
                   check=True, capture_output=True)
    assert semi.read_text(encoding="utf-8").splitlines()[0].startswith("Record ID;First Name;")
    assert agree(rules, semi) == (ids, rejected, c)


def test_compiled_sql_reads_the_columns_by_their_real_names():
    duckdb = pytest.importorskip("duckdb")
    from runtime.backends.sql import to_sql

    rules = load_rules(str(HUBSPOT))
    sql = to_sql(rules.checked, "duckdb", AS_OF, source_columns=True)
    assert '"Job Title"' in sql and '"Record ID"' in sql and '"title"' not in sql.replace('"f_title"', "")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # the export loaded into a warehouse table as it is, its date column typed DATE
    con.execute(f"""CREATE TABLE leads AS SELECT * REPLACE (CAST("Create Date" AS DATE) AS "Create Date")
                    FROM read_csv('{HUBSPOT_CSV}', header = true)""")
    got = {r[0]: r[1:] for r in con.execute(f"SELECT id, grade, route FROM ({sql})").fetchall()}
    want = {i: g for i, g, _s in run(rules, HUBSPOT_CSV)[0]}
    assert {k: v[0] for k, v in got.items()} == want


def test_compiled_sql_reads_event_columns_and_type_names(hubspot):
    duckdb = pytest.importorskip("duckdb")
    from runtime.backends.sql import to_sql

    rules, leads, events = hubspot
    sql = to_sql(rules.checked, "duckdb", AS_OF, source_columns=True)
    assert "'Form Submission'" in sql and '"Contact ID"' in sql and '"Form Name"' in sql
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"""CREATE TABLE leads AS SELECT * REPLACE (CAST("Number of Employees" AS DOUBLE) AS "Number of Employees",
                    CAST(CAST("Create Date" AS TIMESTAMPTZ) AS DATE) AS "Create Date")
                    FROM read_csv('{leads}', header = true, all_varchar = true)""")
    con.execute(f"""CREATE TABLE events AS SELECT * REPLACE (CAST(CAST("Timestamp" AS TIMESTAMPTZ) AS TIMESTAMP) AS "Timestamp")
                    FROM read_csv('{events}', header = true, all_varchar = true)""")
    got = con.execute(f"SELECT id, grade, fit_score FROM ({sql}) ORDER BY id").fetchall()
    assert got == [("101", "A", 100.0), ("102", "B", 10.0)]


def test_sample_writes_the_columns_the_rule_file_reads(tmp_path):
    out = tmp_path / "s.jsonl"
    res = invoke("sample", HUBSPOT, "-n", "50", "--seed", "3", "-o", out)
    assert res.exit_code == 0, res.output
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert "Record ID" in first and "title" not in first
    rules = load_rules(str(HUBSPOT))
    ids, rejected, _c = agree(rules, out)
    assert len(ids) == 50 and not rejected and all(not i.isdigit() for i, _g, _s in ids)


def test_events_file_undeclared_types_counted_or_strict(rules, tmp_path):
    leads = write(tmp_path / "l.csv", "id,email\nL1,a@x.com\nL2,b@x.com\n")
    events = write(tmp_path / "e.csv", "lead_id,type,at,page\nL1,web_visit,2026-10-30,/pricing\n"
                                       "L1,chat_started,2026-10-30,\nL2,Web_Visit,2026-10-30,/\n")
    ids, rejected, c = agree(rules, leads, events=events)
    assert [i for i, _g, _s in ids] == ["L1", "L2"] and not rejected
    assert c["ignored"] == {"chat_started": 1, "Web_Visit": 1} and c["bad_events"] == 0
    ids, rejected, c = agree(rules, leads, events=events, strict_events=True)
    assert len(ids) == 2 and c["bad_events"] == 2 and c["ignored"] == {}
    assert [(line, why.split(" (")[0]) for line, _col, why, _raw in rejected] == [
        (3, 'undeclared event type "chat_started"'), (4, 'undeclared event type "Web_Visit"')]
