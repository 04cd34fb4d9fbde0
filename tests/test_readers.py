"""runtime/io/readers.py: formats, coercion to declared types, events files, bad rows, counts."""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
import sys

import pytest

from runtime.core.model import BadRow, Schema
from runtime.io.readers import BadRowsError, InputError, LeadReader, coerce, day_ordinal, lead_from_object

SCHEMA = Schema(
    fields={"email": "text", "title": "text", "company_size": "number", "created_at": "date",
            "opted_out": "bool", "interests": "text list"},
    events={"email_open": {}, "web_visit": {"page": "text"}, "form_submit": {"form": "text"},
            "purchase": {"amount": "number", "paid": "bool"}},
)


def d(s: str) -> int:
    return dt.date.fromisoformat(s).toordinal()


def write_jsonl(path, rows) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def write_csv(path, header, rows) -> str:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def read_all(path, **kw):
    r = LeadReader(str(path), kw.pop("schema", SCHEMA), **kw)
    leads = list(r)
    return r, leads


LEAD1 = {"id": "L1", "email": "ana@bigco.com", "title": " VP Sales ", "company_size": "1200",
         "created_at": "2026-10-01", "opted_out": "no", "interests": ["crm", "ai", None, " "],
         "undeclared": {"x": 1},
         "events": [{"type": "form_submit", "at": "2026-10-30T10:00:00Z", "form": "demo", "junk": 1},
                    {"type": "email_open", "at": "2026-10-02"},
                    {"type": "purchase", "at": "2026-10-31T23:30:00-02:00", "amount": "12.5", "paid": 1}]}
LEAD2 = {"id": 7, "company_size": 12.5, "created_at": "2026-10-31T23:30:00-02:00", "opted_out": True,
         "interests": "a; b ;;c", "title": "", "email": None}


# ---- formats ------------------------------------------------------------------------------------


def test_jsonl_coerces_declared_fields_and_events(tmp_path):
    p = write_jsonl(tmp_path / "leads.jsonl", [LEAD1, "", "   ", LEAD2])
    r, leads = read_all(p)
    assert (r.read, r.rejected, r.bad_rows) == (2, 0, [])
    a, b = leads
    assert a.id == "L1" and a.line == 1 and not a.numbered
    assert a.fields == {"email": "ana@bigco.com", "title": " VP Sales ", "company_size": 1200,
                        "created_at": d("2026-10-01"), "opted_out": False, "interests": ("crm", "ai")}
    assert [(e.type, e.day, e.attrs, e.at) for e in a.events] == [
        ("form_submit", d("2026-10-30"), {"form": "demo"}, "2026-10-30T10:00:00Z"),
        ("email_open", d("2026-10-02"), {}, "2026-10-02"),
        ("purchase", d("2026-11-01"), {"amount": 12.5, "paid": True}, "2026-10-31T23:30:00-02:00"),
    ]
    # blank lines are skipped and not counted, but line numbers are the file's
    assert b.id == "7" and b.line == 4
    assert b.fields == {"email": None, "title": None, "company_size": 12.5, "created_at": d("2026-11-01"),
                        "opted_out": True, "interests": ("a", "b", "c")}
    assert b.events == []


def test_ndjson_suffix_and_case(tmp_path):
    p = write_jsonl(tmp_path / "LEADS.NDJSON", [{"id": "x"}])
    assert [l.id for l in read_all(p)[1]] == ["x"]


def test_csv_with_text_list_and_empty_cells(tmp_path):
    p = write_csv(tmp_path / "leads.csv", ["id", "email", "company_size", "created_at", "opted_out", "interests", "other"],
                  [["L1", "a@b.com", " 7 ", "2026-10-01", "Yes", "crm; ai ;", "zzz"],
                   ["", "", "", "", "", "", ""],
                   ["L3", "c@d.com", "12.5", "2026-10-31T23:30:00-02:00", "0", "solo", "q"]])
    r, leads = read_all(p)
    assert (r.read, r.rejected) == (3, 0)
    a, b, c = leads
    assert a.fields == {"email": "a@b.com", "title": None, "company_size": 7, "created_at": d("2026-10-01"),
                        "opted_out": True, "interests": ("crm", "ai")}
    # numbered by its line in the file (the header is line 1)
    assert b.id == "3" and b.numbered and all(v is None for v in b.fields.values())
    assert c.fields["company_size"] == 12.5 and c.fields["created_at"] == d("2026-11-01")
    assert c.fields["interests"] == ("solo",) and c.fields["opted_out"] is False
    assert [l.line for l in leads] == [2, 3, 4]  # CSV: the file's lines, the header is line 1


def test_csv_wrong_number_of_cells_is_a_bad_row(tmp_path):
    p = tmp_path / "leads.csv"
    p.write_text("id,email\nL1,a@b.com\nL2,x@y.com,extra\n\nL3,z@z.com\n", encoding="utf-8")
    rej = io.StringIO()
    r, leads = read_all(p, on_bad_row="skip", rejects=rej)
    assert [l.id for l in leads] == ["L1", "L3"] and (r.read, r.rejected) == (3, 1)
    row = json.loads(rej.getvalue())
    assert row == {"source": str(p), "line": 3, "reason": "row has 3 cells, the header has 2",  # the file's line
                   "row": "L2,x@y.com,extra"}


def test_gzip_jsonl_and_csv(tmp_path):
    pj = tmp_path / "leads.jsonl.gz"
    with gzip.open(pj, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(LEAD1) + "\n" + json.dumps(LEAD2) + "\n")
    pc = tmp_path / "leads.CSV.GZ"
    with gzip.open(pc, "wt", encoding="utf-8", newline="") as fh:
        fh.write("id,company_size,interests\nL1,5,a;b\n")
    _, lj = read_all(pj)
    assert [l.id for l in lj] == ["L1", "7"] and len(lj[0].events) == 3
    _, lc = read_all(pc)
    assert lc[0].id == "L1" and lc[0].fields["company_size"] == 5 and lc[0].fields["interests"] == ("a", "b")


def test_stdin_is_jsonl(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(LEAD1) + "\n\n" + '{"company_size": 3}\n'))
    r, leads = read_all("-")
    assert [l.id for l in leads] == ["L1", "3"] and leads[1].numbered and r.read == 2


def test_stdin_bad_row_source(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"id": "a"}\n{nope\n'))
    with pytest.raises(BadRowsError) as e:
        read_all("-")
    # the real line and column of the file
    assert str(e.value) == "<stdin>:2:2: line is not valid JSON: Expecting property name enclosed in double quotes at column 2"


def test_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    ev_t = pa.list_(pa.struct([("type", pa.string()), ("at", pa.string()), ("page", pa.string()),
                               ("form", pa.string())]))
    t = pa.table({
        "id": pa.array(["L1", None, "L3"]),
        "company_size": pa.array([10, None, 2000], pa.int64()),
        "created_at": pa.array([dt.date(2026, 10, 1), None, dt.date(2026, 1, 2)], pa.date32()),
        "opted_out": pa.array([True, None, False]),
        "interests": pa.array([["a", "b"], None, []], pa.list_(pa.string())),
        "ignored": pa.array([1, 2, 3]),
        "events": pa.array([[{"type": "web_visit", "at": "2026-10-31T23:30:00-02:00", "page": "/pricing", "form": None}],
                            None, []], ev_t),
    })
    p = tmp_path / "leads.parquet"
    pq.write_table(t, p)
    r, leads = read_all(p)
    assert (r.read, r.rejected) == (3, 0)
    a, b, c = leads
    assert a.fields == {"email": None, "title": None, "company_size": 10, "created_at": d("2026-10-01"),
                        "opted_out": True, "interests": ("a", "b")}
    assert [(e.type, e.day, e.attrs) for e in a.events] == [("web_visit", d("2026-11-01"), {"page": "/pricing"})]
    assert b.id == "2" and b.numbered and b.events == []  # Parquet: numbered by its row
    assert c.fields["interests"] == () and c.fields["company_size"] == 2000

    # a Parquet events file with a timestamp column
    et = pa.table({"lead_id": ["L3", "L3", "nobody"],
                   "type": ["form_submit", "email_open", "email_open"],
                   "at": pa.array([dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-2))),
                                   dt.datetime(2026, 10, 2, 8, 0), dt.datetime(2026, 10, 2)], pa.timestamp("us", tz="UTC")),
                   "form": ["demo", None, None]})
    pe = tmp_path / "events.parquet"
    pq.write_table(et, pe)
    r, leads = read_all(p, events_path=str(pe))
    assert [(e.type, e.day, e.attrs) for e in leads[2].events] == [
        ("form_submit", d("2026-11-01"), {"form": "demo"}), ("email_open", d("2026-10-02"), {})]
    assert (r.orphan_events, r.orphan_lead_ids) == (1, ["nobody"])


def test_parquet_without_pyarrow_is_an_input_error(tmp_path, monkeypatch):
    p = tmp_path / "leads.parquet"
    p.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # import fails
    with pytest.raises(InputError, match=r"pip install 'leadrules\[parquet\]'"):
        LeadReader(str(p), SCHEMA)


# ---- events files -------------------------------------------------------------------------------


def test_events_file_jsonl_join_and_orphans(tmp_path):
    leads = write_jsonl(tmp_path / "leads.jsonl", [
        {"id": "L1", "events": [{"type": "email_open", "at": "2026-10-01"}]},
        {"id": "L2"},
        {"company_size": 5},                 # numbered "3": never joined to events
    ])
    events = write_jsonl(tmp_path / "events.jsonl", [
        {"lead_id": "L1", "type": "web_visit", "at": "2026-10-05T12:00:00Z", "page": "/"},
        {"lead_id": "L2", "type": "form_submit", "at": "2026-10-06", "form": "demo"},
        {"lead_id": "L1", "type": "purchase", "at": "2026-10-07", "amount": 3},
        {"lead_id": "3", "type": "email_open", "at": "2026-10-08"},
        {"lead_id": 99, "type": "email_open", "at": "2026-10-08"},
        {"lead_id": "L9", "type": "email_open", "at": "2026-10-09"},
    ])
    r, out = read_all(leads, events_path=events)
    assert [[e.type for e in l.events] for l in out] == [
        ["email_open", "web_visit", "purchase"], ["form_submit"], []]
    assert out[0].events[2].attrs == {"amount": 3}
    assert (r.read, r.rejected, r.events_read, r.bad_events) == (3, 0, 6, 0)
    assert r.orphan_events == 3 and r.orphan_lead_ids == ["3", "99", "L9"]


def test_events_file_csv_join(tmp_path):
    leads = write_csv(tmp_path / "leads.csv", ["id", "email"], [["L1", "a@b.com"], ["L2", "c@d.com"]])
    events = write_csv(tmp_path / "events.csv", ["lead_id", "type", "at", "page", "form", "amount"], [
        ["L2", "web_visit", "2026-10-31T23:30:00-02:00", "/pricing", "", ""],
        ["L1", "purchase", "2026-10-01T00:00:00", "", "", "99.5"],
        ["L2", "form_submit", "2026-10-02", "", " ", ""],
        ["L7", "email_open", "2026-10-02", "", "", ""],
    ])
    r, out = read_all(leads, events_path=events)
    assert [(e.type, e.day, e.attrs) for e in out[0].events] == [("purchase", d("2026-10-01"), {"amount": 99.5})]
    assert [(e.type, e.day, e.attrs) for e in out[1].events] == [
        ("web_visit", d("2026-11-01"), {"page": "/pricing"}), ("form_submit", d("2026-10-02"), {})]
    assert (r.orphan_events, r.orphan_lead_ids) == (1, ["L7"])


def test_events_csv_without_lead_id_column(tmp_path):
    leads = write_jsonl(tmp_path / "leads.jsonl", [{"id": "L1"}])
    events = write_csv(tmp_path / "events.csv", ["id", "type", "at"], [["L1", "email_open", "2026-10-01"]])
    with pytest.raises(InputError, match="no 'lead_id' column"):
        read_all(leads, events_path=events)


def test_bad_events_in_events_file(tmp_path):
    leads = write_jsonl(tmp_path / "leads.jsonl", [{"id": "L1"}, {"id": "L2"}])
    events = write_jsonl(tmp_path / "events.jsonl", [
        {"lead_id": "L1", "type": "email_open", "at": "2026-10-01"},
        {"lead_id": "L1", "type": True, "at": "2026-10-01"},
        {"lead_id": "L2", "type": "email_open", "at": "yesterday"},
        {"type": "email_open", "at": "2026-10-01"},
        {"lead_id": "L2", "type": "web_visit", "at": "2026-10-03"},
        {"lead_id": "L2", "type": "chat_started", "at": "2026-10-03"},  # undeclared: ignored, counted
    ])
    with pytest.raises(BadRowsError) as e:
        read_all(leads, events_path=events)
    assert [(b.source, b.line) for b in e.value.bad_rows] == [(events, 2), (events, 3), (events, 4)]
    assert str(e.value).splitlines()[0].startswith(f'{events}:2:27: "type": true is not an event type')

    rej = io.StringIO()
    r, out = read_all(leads, events_path=events, on_bad_row="skip", rejects=rej)
    assert [[e.type for e in l.events] for l in out] == [["email_open"], ["web_visit"]]  # leads keep good events
    assert (r.read, r.rejected, r.bad_events, r.events_read) == (2, 0, 3, 6)
    assert r.ignored_events == {"chat_started": 1}
    rows = [json.loads(l) for l in rej.getvalue().splitlines()]
    assert [(x["source"], x["line"]) for x in rows] == [(events, 2), (events, 3), (events, 4)]
    assert 'is not a date or timestamp' in rows[1]["reason"] and rows[2]["reason"] == '"lead_id" is missing'
    assert json.loads(rows[0]["row"])["type"] is True


# ---- bad rows -----------------------------------------------------------------------------------

GOOD = '{"id": "ok", "company_size": 5}'
GOOD2 = '{"id": "ok2", "company_size": 5}'
BAD_CASES = {
    "number": ('{"id": "b", "company_size": "lots"}', 'field "company_size": "lots" is not a number'),
    "date": ('{"id": "b", "created_at": "2026-13-45"}',
             'field "created_at": "2026-13-45" is not a date (expected YYYY-MM-DD'),
    "json": ('{"id": "b", ', "line is not valid JSON: "),
    "event_type": ('{"id": "b", "events": [{"type": "email_open", "at": "2026-10-01"}, {"type": true, "at": "2026-10-01"}]}',
                   'event 2: "type": true is not an event type'),
    "not_object": ('[1, 2, 3]', "line is not a JSON object"),
    "event_at": ('{"id": "b", "events": [{"type": "email_open", "at": "2026-10-01T25:00:00Z"}]}',
                 'event 1: email_open: "at": "2026-10-01T25:00:00Z" is not a date or timestamp'),
    "event_at_missing": ('{"id": "b", "events": [{"type": "email_open"}]}', 'event 1: email_open: "at" is missing'),
    "event_attr": ('{"id": "b", "events": [{"type": "purchase", "at": "2026-10-01", "amount": "much"}]}',
                   'event 1: purchase: attribute "amount": "much" is not a number'),
    "bool": ('{"id": "b", "opted_out": "maybe"}', 'field "opted_out": "maybe" is not a bool'),
    "text": ('{"id": "b", "title": {"a": 1}}', 'field "title": {"a": 1} is not a text'),
    "text_list": ('{"id": "b", "interests": [["x"]]}', 'field "interests": [["x"]] is not a text list'),
    "number_bool": ('{"id": "b", "company_size": true}', 'field "company_size": true is not a number'),
    "number_nan": ('{"id": "b", "company_size": "NaN"}', 'field "company_size": "NaN" is not a number'),
    "id": ('{"id": [1], "company_size": 1}', 'field "id": [1] is not a text'),
    "events_not_list": ('{"id": "b", "events": {"type": "email_open"}}', '"events": {"type": "email_open"} is not a list'),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_row_fail_mode(tmp_path, case):
    bad, reason = BAD_CASES[case]
    p = write_jsonl(tmp_path / "leads.jsonl", [GOOD, bad, GOOD2, bad])
    r = LeadReader(p, SCHEMA)
    got = []
    with pytest.raises(BadRowsError) as e:
        for lead in r:
            got.append(lead.id)
    assert got == ["ok"]  # stops yielding at the first bad row, keeps scanning for more
    assert [b.line for b in e.value.bad_rows] == [2, 4]
    assert all(b.source == p and b.raw == bad for b in e.value.bad_rows)
    msg = str(e.value).splitlines()
    # line and (JSON Lines) the column of the value at fault
    assert re.match(re.escape(p) + r":2:\d+: " + re.escape(reason), msg[0]) and msg[1].startswith(f"{p}:4:")
    assert (r.read, r.rejected) == (4, 2)


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_row_skip_mode(tmp_path, case):
    bad, reason = BAD_CASES[case]
    p = write_jsonl(tmp_path / "leads.jsonl", [GOOD, bad, "", GOOD2])
    rej = io.StringIO()
    r, leads = read_all(p, on_bad_row="skip", rejects=rej)
    assert [l.line for l in leads] == [1, 4]
    assert (r.read, r.rejected) == (3, 1) and len(leads) + r.rejected == r.read
    (row,) = [json.loads(l) for l in rej.getvalue().splitlines()]
    assert row["source"] == p and row["line"] == 2 and row["reason"].startswith(reason) and row["row"] == bad
    assert [(b.line, b.raw) for b in r.bad_rows] == [(2, bad)]


def test_fail_mode_stops_after_ten_bad_rows(tmp_path):
    p = write_jsonl(tmp_path / "leads.jsonl", ['{"company_size": "x"}'] * 25)
    r = LeadReader(p, SCHEMA)
    with pytest.raises(BadRowsError) as e:
        list(r)
    assert [b.line for b in e.value.bad_rows] == list(range(1, 11)) and r.read == 10
    assert "there may be more" in str(e.value)


def test_skip_mode_without_rejects_keeps_first_100(tmp_path):
    p = write_jsonl(tmp_path / "leads.jsonl", ['{"company_size": "x"}'] * 150 + [GOOD])
    r, leads = read_all(p, on_bad_row="skip")
    assert len(leads) == 1 and r.rejected == 150 and len(r.bad_rows) == 100 and r.read == 151


# ---- ids, dates, values -------------------------------------------------------------------------


def test_ids_numbered_by_line_when_missing(tmp_path):
    p = write_jsonl(tmp_path / "leads.jsonl", ['{"id": "a"}', "", '{"id": null}', '{"id": "  "}', '{"id": 12}',
                                              '{"id": 3.0}', '{"email": "x@y"}'])
    _, leads = read_all(p)
    assert [(l.id, l.numbered, l.line) for l in leads] == [
        ("a", False, 1), ("3", True, 3), ("4", True, 4), ("12", False, 5), ("3", False, 6), ("7", True, 7)]


def test_custom_id_field(tmp_path):
    p = write_jsonl(tmp_path / "leads.jsonl", [{"lead_key": "K1", "id": "no"}])
    _, leads = read_all(p, schema=Schema(SCHEMA.fields, SCHEMA.events, id_field="lead_key"))
    assert leads[0].id == "K1"


def test_utc_dates():
    assert day_ordinal("2026-10-31T23:30:00-02:00") == d("2026-11-01")
    assert day_ordinal("2026-11-01T01:30:00+02:00") == d("2026-10-31")
    assert day_ordinal("2026-10-31T23:30:00") == d("2026-10-31")  # no offset: UTC
    assert day_ordinal("2026-10-31T23:30:00.123456Z") == d("2026-10-31")
    assert day_ordinal("2026-10-31 23:30") == d("2026-10-31")
    assert day_ordinal(" 2026-10-31 ") == d("2026-10-31")
    assert day_ordinal(dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-2)))) == d("2026-11-01")
    for bad in ("2026-13-45", "20261031", "31/10/2026", "2026-10-31T", "", "2026-W44-1"):
        with pytest.raises(ValueError):
            day_ordinal(bad)


def test_coerce_values():
    assert coerce(12, "text") == "12" and coerce(12.0, "text") == "12" and coerce(12.5, "text") == "12.5"
    assert coerce(True, "text") == "true" and coerce(" x ", "text") == " x " and coerce("  ", "text") is None
    assert coerce("1200", "number") == 1200 and type(coerce("1200", "number")) is int
    assert coerce(" 7 ", "number") == 7 and coerce("12.5", "number") == 12.5 and coerce("-3", "number") == -3
    assert coerce("1e3", "number") == 1000.0 and coerce("", "number") is None and coerce(None, "number") is None
    for bad in ("lots", "NaN", "inf", "1_000", "1,200", True, [1]):
        with pytest.raises(ValueError, match="is not a number"):
            coerce(bad, "number")
    with pytest.raises(ValueError, match="is not a number"):
        coerce(float("nan"), "number")
    for s, b in (("TRUE", True), ("no", False), ("Yes", True), ("0", False), (1, True), (0, False), (False, False)):
        assert coerce(s, "bool") is b
    for bad in (2, "y", 1.0):
        with pytest.raises(ValueError, match="is not a bool"):
            coerce(bad, "bool")
    assert coerce("a;b; ;c ", "text list") == ("a", "b", "c") and coerce(["x", 1, 2.5, True], "text list") == (
        "x", "1", "2.5", "true")
    assert coerce(" ", "text list") is None and coerce([], "text list") == ()
    with pytest.raises(ValueError, match="is not a text list"):
        coerce({"a": 1}, "text list")
    assert coerce("2026-10-01", "date") == d("2026-10-01") and coerce(dt.date(2026, 1, 1), "date") == d("2026-01-01")
    with pytest.raises(ValueError, match=r'"2026-13-45" is not a date \(expected YYYY-MM-DD'):
        coerce("2026-13-45", "date")


def test_lead_from_object():
    lead = lead_from_object(LEAD1, SCHEMA)
    assert lead.id == "L1" and lead.fields["company_size"] == 1200 and len(lead.events) == 3
    assert lead_from_object({}, SCHEMA).numbered
    with pytest.raises(BadRowsError, match='field "company_size": "lots" is not a number'):
        lead_from_object({"company_size": "lots"}, SCHEMA)


def test_no_declared_events_ignores_events(tmp_path):
    p = write_jsonl(tmp_path / "leads.jsonl", [{"id": "a", "events": [{"type": "whatever"}]}])
    _, leads = read_all(p, schema=Schema({"email": "text"}, {}))
    assert leads[0].events == []


def test_bad_rows_error_message():
    e = BadRowsError([BadRow(3, "bad thing", "{}", "f.jsonl"), BadRow(9, "worse", "{}", "f.jsonl")])
    assert str(e) == "f.jsonl:3: bad thing\nf.jsonl:9: worse" and len(e.bad_rows) == 2


# ---- files that cannot be read ------------------------------------------------------------------


def test_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        LeadReader(str(tmp_path / "nope.jsonl"), SCHEMA)
    (tmp_path / "leads.xlsx").write_text("x")
    with pytest.raises(InputError, match="unknown file type"):
        LeadReader(str(tmp_path / "leads.xlsx"), SCHEMA)
    with pytest.raises(InputError, match="is a directory"):
        LeadReader(str(tmp_path), SCHEMA)
    ok = write_jsonl(tmp_path / "ok.jsonl", [GOOD])
    with pytest.raises(InputError, match="events.jsonl: no such file"):
        LeadReader(ok, SCHEMA, events_path=str(tmp_path / "events.jsonl"))
    gz = tmp_path / "leads.jsonl.gz"
    gz.write_text('{"id": "a"}\n')
    with pytest.raises(InputError, match="not a gzip file"):
        list(LeadReader(str(gz), SCHEMA))
    latin = tmp_path / "latin.csv"
    latin.write_bytes("id,title\nL1,Direcci\xf3n\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        list(LeadReader(str(latin), SCHEMA))
    bad_pq = tmp_path / "leads.parquet"
    bad_pq.write_text("not parquet")
    pytest.importorskip("pyarrow.parquet")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        list(LeadReader(str(bad_pq), SCHEMA))


def test_csv_bom_and_header_spaces(tmp_path):
    p = tmp_path / "leads.csv"
    p.write_bytes("\ufeffid , company_size\nL1,5\n".encode("utf-8"))
    _, leads = read_all(p)
    assert leads[0].id == "L1" and leads[0].fields["company_size"] == 5


def test_csv_events_column_as_json(tmp_path):
    ev = json.dumps([{"type": "web_visit", "at": "2026-10-01", "page": "/"}])
    p = write_csv(tmp_path / "leads.csv", ["id", "events"], [["L1", ev], ["L2", ""], ["L3", "web_visit"]])
    rej = io.StringIO()
    r, leads = read_all(p, on_bad_row="skip", rejects=rej)
    assert [(l.id, [e.type for e in l.events]) for l in leads] == [("L1", ["web_visit"]), ("L2", [])]
    assert json.loads(rej.getvalue())["reason"] == '"events": "web_visit" is not a list of events'
