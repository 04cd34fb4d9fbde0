"""The compiled SQL on real engines beyond DuckDB: the postgres dialect on a throwaway PostgreSQL
server (started here, on loopback, in a temporary directory) and the spark dialect on a local PySpark
session. Both must agree with the Python engine lead for lead on the acme sample (and on the
language example with hand-made leads).

They skip when the server binaries or the Python drivers are missing, with the reason; CI sets
LEADRULES_REQUIRE_ENGINES=1 so that a missing engine fails instead of skipping.
"""
from __future__ import annotations

import datetime as dt
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from runtime.backends import sql as sqlgen
from runtime.core.model import Event, Lead

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 11, 1)
REQUIRE = os.environ.get("LEADRULES_REQUIRE_ENGINES") == "1"

SQL_TYPE = {
    "postgres": {"text": "text", "number": "double precision", "date": "date", "bool": "boolean", "text list": "text[]"},
}


def unavailable(reason: str):
    if REQUIRE:
        pytest.fail(f"LEADRULES_REQUIRE_ENGINES=1 but {reason}")
    pytest.skip(reason)


# ---- the data: rule files and their leads -------------------------------------------------------


def _load(rules_path: Path, leads_path: Path | None):
    from runtime.commands.options import schema_of
    from runtime.backends.load import load_rules

    rules = load_rules(str(rules_path))
    if leads_path is None:
        return rules, _hand_leads()
    if callable(leads_path):
        return rules, leads_path()
    from runtime.io.readers import LeadReader

    return rules, list(LeadReader(str(leads_path), schema_of(rules)))


def _hand_leads() -> list[Lead]:
    """A few hand-made leads and a seeded random few hundred over the language example's fields."""
    import random

    a = AS_OF.toordinal()
    rng = random.Random(7)
    texts = ["VP Sales", "vice  president", "Head of Growth", "Manager", "svp", "", "  ", None, " Chief ",
             "Product-Manager", "it's", "back\\slash", "Ünïcode VP"]
    emails = ["a@gmail.com", "b@ EXAMPLE.com", "c@example.com", "x@rivalsoft.com", "noat", None, "a@b@yahoo.com",
              "ceo@bigco.com "]
    events = ["email_open", "email_click", "web_visit", "form_submit", "webinar_attended", "content_download",
              "unsubscribe"]
    rand = []
    for i in range(400):
        evs = []
        for _ in range(rng.randint(0, 8)):
            et = rng.choice(events)
            attrs = {}
            if et == "web_visit" and rng.random() < 0.9:
                attrs["page"] = rng.choice(["/pricing", "/PRICING/x", " /pricing", "/home", "/careers"])
            if et == "form_submit":
                attrs["form"] = rng.choice(["demo-request", "Demo-Request ", "x"])
            evs.append(Event(et, a - rng.randint(-5, 200), attrs))
        f = {"title": rng.choice(texts), "company_size": rng.choice([None, 5, 200, 999, 1000, 5000.5]),
             "industry": rng.choice(["Software", " software ", "x", None, "Healthcare"]),
             "email": rng.choice(emails), "last_name": rng.choice(["Mouse", "mouse ", "Smith", None]),
             "interests": rng.choice([None, (), ("abm",), (" ABM", "ops")])}
        rand.append(Lead(f"R{i}", {k: v for k, v in f.items() if v is not None}, evs))
    return rand + [
        Lead("a", {"email": "ana@bigco.com", "title": "VP Marketing", "company_size": 5000, "industry": "Software",
                   "interests": ("ABM ", "ops")},
             [Event("form_submit", a - 2, {"form": "demo-request"}), Event("webinar_attended", a - 31, {"webinar": "w"})]),
        Lead("b", {"first_name": "Mickey", "last_name": "Mouse", "email": "mm@disney.com"}),
        Lead("c", {"email": "x@rivalsoft.com"}),
        Lead("d", {"email": "  Bob@Gmail.COM ", "title": "Product-Manager, Head  of Growth", "company_size": 200},
             [Event("email_click", a - 100, {}), Event("unsubscribe", a - 3, {}), Event("web_visit", a - 1, {"page": "/Pricing/x"})]),
        Lead("e", {"industry": " software ", "created_at": a - 400, "opted_out": True},
             [Event("web_visit", a + 2, {"page": "/pricing"}), Event("web_visit", a - 61, {"page": "/pricing"})]),
    ]


def _data_leads() -> list[Lead]:
    """Seeded leads for tests/data/data_language.rules: dates around the as-of date (some after it),
    visits with and without seconds, demo requests and calls near the lead's creation."""
    import random

    a = AS_OF.toordinal()
    rng = random.Random(13)
    out = []
    for i in range(300):
        created = None if rng.random() < 0.2 else a - rng.randint(-5, 90)
        base = created if created is not None else a - 30
        evs = []
        for _ in range(rng.randint(0, 8)):
            et = rng.choice(["web_visit", "web_visit", "form_submit", "call"])
            attrs = {}
            if et == "web_visit":
                attrs["page"] = rng.choice(["/pricing", "/PRICING/x", "/home", None])
                if rng.random() < 0.8:
                    attrs["seconds"] = rng.choice([0, 5, 30, 120.5, 600, 3000])
            elif et == "form_submit":
                attrs["form"] = rng.choice(["demo-request", " Demo-Request", "contact"])
            evs.append(Event(et, base + rng.randint(-3, 40), {k: v for k, v in attrs.items() if v is not None}))
        f = {"created_at": created, "company_size": rng.choice([None, 10, 500])}
        out.append(Lead(f"D{i}", {k: v for k, v in f.items() if v is not None}, evs))
    return out


CASES = {
    "acme": (ROOT / "rulesets" / "acme.rules", ROOT / "rulesets" / "samples" / "leads.jsonl"),
    "language-example": (ROOT / "tests" / "data" / "language_example.rules", None),
    # the language example with `reset on form_submit where form = "x"` in engagement (docs/language.md)
    "reset": (ROOT / "tests" / "data" / "reset_example.rules", None),
    "data-language": (ROOT / "tests" / "data" / "data_language.rules", _data_leads),
}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    rules_path, leads_path = CASES[request.param]
    if not rules_path.exists() or (isinstance(leads_path, Path) and not leads_path.exists()):
        pytest.skip(f"{rules_path.relative_to(ROOT)} and its sample are not in the repository")
    rules, leads = _load(rules_path, leads_path)
    asof = AS_OF.toordinal()
    expected = {}
    for r in _python_results(rules, leads, asof):
        expected[r.id] = _row_of_result(rules, r)
    if len(expected) != len(leads):
        pytest.skip("lead ids are not unique in the sample; rows cannot be matched by id")
    return rules, leads, expected


def _python_results(rules, leads, asof):
    """The Python engine's results, accounts grouped (runtime/backends/accounts.py) when the file has them."""
    from dsl import nodes as n

    if rules.checked.file.first(n.Accounts) is None:
        return [rules.engine.score(lead, asof) for lead in leads]
    from runtime.backends.accounts import score_leads

    return [r for _lead, r in score_leads(rules.engine, leads, asof, grouped=False)]


def _row_of_result(rules, r) -> tuple:
    """The row of the compiled query (score's CSV columns) the Python result says."""
    from dsl import nodes as n

    dims = [d[0] for d in rules.engine.dims]
    graded = [g[0] for g in rules.engine.grade_blocks]
    out = [r.id]
    for d in dims:
        out.append(r.scores.get(d))
        if d in graded:
            out.append(r.bands.get(d))
    out += [r.grade, r.route, r.queue, r.sla, r.disqualified]
    acc = rules.checked.file.first(n.Accounts)
    if acc is not None:
        out.append(r.account)
        graded_acc = {g.dim for g in acc.grades}
        for sc in acc.scores:
            out.append(r.account_scores.get(sc.dim))
            if sc.dim in graded_acc:
                out.append(r.account_bands.get(sc.dim))
    # reasons and provenance (docs/output.md), as the writers compute them
    from runtime.io.writers import Columns

    cols = Columns(rules.engine.plan, AS_OF)
    prov = cols.provenance
    out += [cols.reasons(r), prov["ruleset"], float(prov["ruleset_version"]), prov["rules_sha256"], prov["as_of"]]
    return tuple(out)


def _compare(expected: dict, rows: list[tuple]):
    got = {}
    for row in rows:
        row = tuple(float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and x is not None
                    and not isinstance(x, str) else x for x in row)
        got[row[0]] = row
    assert set(got) == set(expected)
    diffs = [(k, expected[k], got[k]) for k in expected if expected[k] != got[k]]
    assert not diffs, f"{len(diffs)} leads differ, e.g. {diffs[:3]}"


def _columns(checked):
    fields = dict(checked.fields)
    attrs: dict[str, str] = {}
    for at in checked.events.values():
        for a, t in at.items():
            attrs.setdefault(a, t)
    return fields, attrs


def _py(v, t):
    if v is None:
        return None
    if t == "date":
        return dt.date.fromordinal(v)
    if t == "number":
        return float(v)
    if t == "text list":
        return list(v)
    return v


def _event_rows(leads, attrs, events_decl):
    for lead in leads:
        for e in lead.events:
            at = dt.datetime.combine(dt.date.fromordinal(e.day), dt.time(12))
            yield [lead.id, e.type, at] + [_py(e.attrs.get(a), t) if a in events_decl.get(e.type, {}) else None
                                           for a, t in attrs.items()]


# ---- PostgreSQL ---------------------------------------------------------------------------------


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    w = shutil.which("pg_ctl")
    return Path(w).parent if w and shutil.which("initdb") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pg():
    """A PostgreSQL server of our own: initdb in a temporary directory, loopback only, trust auth."""
    try:
        import psycopg
    except ImportError:
        unavailable("psycopg is not installed (pip install 'psycopg[binary]')")
    bindir = _pg_bin()
    if bindir is None:
        unavailable("PostgreSQL server binaries (initdb, pg_ctl) not found; apt-get install postgresql")
    run_as = {}
    if os.geteuid() == 0:
        # initdb and postgres refuse to run as root: run them as an ordinary account (the package's
        # `postgres`, else `nobody`), in a directory it owns under /tmp (root's TMPDIR may be closed)
        import pwd

        pw = None
        for name in ("postgres", "nobody"):
            try:
                pw = pwd.getpwnam(name)
                break
            except KeyError:
                continue
        if pw is None:
            unavailable("running as root and there is no 'postgres' or 'nobody' user to run the server as")
        base = tempfile.mkdtemp(prefix="leadrules-pg-", dir="/tmp")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        run_as = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    else:
        base = tempfile.mkdtemp(prefix="leadrules-pg-")
    data, log = os.path.join(base, "data"), os.path.join(base, "server.log")
    port = _free_port()
    env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
    init = [str(bindir / "initdb"), "-D", data, "-A", "trust", "-U", "leadrules", "-E", "UTF8",
            "--lc-ctype=C.UTF-8", "--lc-collate=C"]
    proc = subprocess.run(init, capture_output=True, text=True, env=env, cwd=base, **run_as)
    if proc.returncode != 0:  # no C.UTF-8 locale: the server's default
        proc = subprocess.run(init[:7] + ["-E", "UTF8"], capture_output=True, text=True, env=env, cwd=base, **run_as)
    if proc.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"initdb failed: {proc.stderr[-500:]}")
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    proc = subprocess.run([str(bindir / "pg_ctl"), "-D", data, "-o", opts, "-l", log, "-w", "-t", "60", "start"],
                          capture_output=True, text=True, env=env, cwd=base, **run_as)
    if proc.returncode != 0:
        tail = Path(log).read_text()[-800:] if os.path.exists(log) else proc.stderr
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {tail}")
    try:
        conn = None
        for _ in range(50):
            try:
                conn = psycopg.connect(host="127.0.0.1", port=port, user="leadrules", dbname="postgres", autocommit=True)
                break
            except psycopg.OperationalError:
                time.sleep(0.1)
        assert conn is not None, "cannot connect to the test server"
        yield conn
        conn.close()
    finally:
        subprocess.run([str(bindir / "pg_ctl"), "-D", data, "-m", "immediate", "stop"], capture_output=True,
                       env=env, cwd=base, **run_as)
        shutil.rmtree(base, ignore_errors=True)


def _pg_load(conn, checked, leads):
    fields, attrs = _columns(checked)
    T = SQL_TYPE["postgres"]
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS leads; DROP TABLE IF EXISTS events")
        fcols = "".join(f', "{f}" {T[t]}' for f, t in fields.items() if f != "id")
        cur.execute(f'CREATE TABLE leads (id text{fcols})')
        acols = "".join(f', "{a}" {T[t]}' for a, t in attrs.items())
        cur.execute(f'CREATE TABLE events (lead_id text, type text, at timestamp{acols})')
        names = [f for f in fields if f != "id"]
        with cur.copy("COPY leads (id" + "".join(f', "{f}"' for f in names) + ") FROM STDIN") as cp:
            for lead in leads:
                cp.write_row([lead.id] + [_py(lead.fields.get(f), fields[f]) for f in names])
        with cur.copy("COPY events (lead_id, type, at" + "".join(f', "{a}"' for a in attrs) + ") FROM STDIN") as cp:
            for row in _event_rows(leads, attrs, {k: dict(v) for k, v in checked.events.items()}):
                cp.write_row(row)


def test_postgres_dialect_agrees_with_python(pg, case):
    rules, leads, expected = case
    _pg_load(pg, rules.checked, leads)
    sql = sqlgen.to_sql(rules.checked, "postgres", AS_OF)
    with pg.cursor() as cur:
        cur.execute(sql)
        rows = cur.fetchall()
    _compare(expected, rows)


def test_postgres_current_date_query_runs(pg, case):
    rules, leads, _expected = case
    _pg_load(pg, rules.checked, leads[:50])
    with pg.cursor() as cur:
        cur.execute(sqlgen.to_sql(rules.checked, "postgres", None))
        assert len(cur.fetchall()) == min(50, len(leads))


# ---- Spark --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spark():
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        unavailable("pyspark is not installed (pip install pyspark; it needs Java 17+)")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        unavailable("Java is not installed (PySpark needs a JVM)")
    session = (SparkSession.builder.master("local[2]").appName("leadrules-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.shuffle.partitions", "2").config("spark.driver.memory", "1g").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _spark_load(spark, checked, leads):
    from pyspark.sql import types as T

    fields, attrs = _columns(checked)
    st = {"text": T.StringType(), "number": T.DoubleType(), "date": T.DateType(), "bool": T.BooleanType(),
          "text list": T.ArrayType(T.StringType())}
    names = [f for f in fields if f != "id"]
    lschema = T.StructType([T.StructField("id", T.StringType())] + [T.StructField(f, st[fields[f]]) for f in names])
    rows = [[lead.id] + [_py(lead.fields.get(f), fields[f]) for f in names] for lead in leads]
    spark.createDataFrame(rows, lschema).createOrReplaceTempView("leads")
    eschema = T.StructType([T.StructField("lead_id", T.StringType()), T.StructField("type", T.StringType()),
                            T.StructField("at", T.TimestampNTZType())] + [T.StructField(a, st[t]) for a, t in attrs.items()])
    erows = list(_event_rows(leads, attrs, {k: dict(v) for k, v in checked.events.items()}))
    spark.createDataFrame(erows, eschema).createOrReplaceTempView("events")


def test_spark_dialect_agrees_with_python(spark, case):
    rules, leads, expected = case
    _spark_load(spark, rules.checked, leads)
    sql = sqlgen.to_sql(rules.checked, "spark", AS_OF)
    rows = [tuple(r) for r in spark.sql(sql).collect()]
    _compare(expected, rows)
