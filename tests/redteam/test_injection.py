"""Injection, checked by effect: payloads that would run Python or SQL (quotes, backslashes, triple
quotes, `__import__`, braces, U+2028, `--`, `/*`, `$$`) put in every string position of a rule file
and in lead values. Each engine must (1) never run them — a marker file that a successful injection
would create never appears — and (2) treat them as the text they are: a lead whose title *is* the
payload gets the criterion that compares the title with it, on the Python engine, the generated
Python, DuckDB and PostgreSQL. A payload with NUL is refused by the checker (LR104)."""
from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path

import pytest

from dsl.checker import check
from dsl.lint import lint_text
from dsl.parser import parse
from tests.redteam.common import cli, cli_process, problem, record

try:  # a throwaway PostgreSQL server, as the SQL tests start it
    from tests.test_pg_spark import pg  # noqa: F401  (a pytest fixture)
except Exception:  # pragma: no cover
    pg = None

MARK_DIR = Path(tempfile.mkdtemp(prefix="leadrules-redteam-", dir="/tmp"))
os.chmod(MARK_DIR, 0o777)  # so that any process (the PostgreSQL server's user too) could create it
MARK = MARK_DIR / "PWNED"


def payloads() -> list[str]:
    m = str(MARK)
    py = f"__import__('os').system('touch {m}')"
    return [
        f'"; {py}; "', f"'; {py}; '", f'""" + {py} + """', f"''' + {py} + '''", f"\\\"); {py}  #",
        f"{{{py}}}", "{0.__class__}", "%s%s%(x)s", f"\\\\'; {py}; '", f"\u2028{py}\u2028", f"\u2029{py}",
        f"'); COPY (SELECT 1) TO '{m}'; --", f"'; COPY (SELECT 1) TO '{m}'; /*", f"$$; COPY (SELECT 1) TO '{m}'; $$",
        f"E'\\\\'; COPY (SELECT 1) TO '{m}'; --", f"`; touch {m}; `", f"$(touch {m})", "' OR '1'='1",
        "\\", "\\\\", '"', "'", "--", "/*", "*/", "$$", "${x}", "@{x}", "\\u0000", "\\x00", "é\u200b\u202e",
    ]


def q(s: str) -> str:
    """As written inside a rule file's double quotes."""
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def rule_file(p: str) -> str:
    x = q(p)
    return f'''ruleset "{x}" version 1
owners "{x}"
fields {{
  email: text
  title: text
  company: text
}}
list odd = ["{x}", "plain"]
disqualify "{x}" when email = "{x}"
score profile "{x}" max 100 {{
  "{x}" 10 when title = "{x}"
  "in list" 10 when company in odd
  "contains" 10 when title contains "{x}" and title starts with "{x}" and title ends with "{x}"
}}
grade profile {{ A when >= 30  B when >= 10  C otherwise }}
route {{
  A -> sales "{x}" within 1 hour
  otherwise -> nurture "{x}"
}}
test "{x}" {{
  lead {{ title: "{x}", company: "{x}", email: "a@b.c" }}
  expect profile = 30
  expect route sales "{x}"
}}
'''


def _lead(p: str) -> dict:
    return {"id": p, "title": p, "company": p, "email": "a@b.c"}


@pytest.mark.parametrize("i", range(len(payloads())))
def test_payload_is_text_everywhere(i, tmp_path):
    p = payloads()[i]
    text = rule_file(p)
    rules = tmp_path / "inj.rules"
    rules.write_text(text, encoding="utf-8")
    leads = tmp_path / "l.jsonl"
    leads.write_text(json.dumps(_lead(p)) + "\n" + json.dumps({"id": "other", "title": "x"}) + "\n", encoding="utf-8")
    fails = []

    def run(name, args, check=None, codes=(0,)):
        res = cli_process(args) if "--workers" in args else cli(args, seconds=60)
        why = problem(res) or (None if res.exit_code in codes else f"exit {res.exit_code}: {res.output[-300:]}")
        if why is None and check is not None:
            why = check(res)
        why = why or (f"{MARK} was created" if MARK.exists() else None)
        record(f"injection: {name}", why)
        if why:
            fails.append((name, why))

    def grades(res):
        got = {json.loads(l)["id"]: (json.loads(l)["grade"], json.loads(l)["queue"]) for l in res.stdout.split("\n") if l}
        return None if got.get(p) == ("A", p) and got.get("other") == ("C", p) else f"wrong results {got}"

    run("lint", ["lint", "--strict", rules], lambda r: None)
    run("test", ["test", rules])
    run("fmt", ["fmt", "--diff", rules], codes=(0, 1))  # 1: not in the canonical layout, which is fine
    run("explain", ["explain", rules, "--lead", json.dumps(_lead(p))], lambda r: None if "A" in r.stdout else "no grade")
    for engine in ("python", "duckdb"):
        run(f"score-{engine}", ["score", rules, "--leads", leads, "--engine", engine], grades)
    if i % 3 == 0:  # the slower paths on a third of the payloads
        run("simulate", ["simulate", rules, "--leads", leads, "--format", "markdown"])
        run("score-workers", ["score", rules, "--leads", leads, "--workers", "2"], grades)
    # the generated Python, as a module of its own
    out = tmp_path / "gen.py"
    run("compile-python", ["compile", rules, "--target", "python", "-o", out, "--as-of", "2026-11-01"])
    ns: dict = {}
    exec(compile(out.read_text(encoding="utf-8"), str(out), "exec"), ns)
    from runtime.core.model import Lead

    r = ns["score"](Lead(p, {"title": p, "company": p, "email": "a@b.c"}, []), dt.date(2026, 11, 1).toordinal())
    why = None if (r.grade, r.queue) == ("A", p) else f"generated Python: {r.grade} {r.queue}"
    record("injection: generated-python", why or (f"{MARK} was created" if MARK.exists() else None))
    if why:
        fails.append(("generated-python", why))
    assert not MARK.exists() and not fails, fails


@pytest.mark.parametrize("where", ["string", "name"])
def test_nul_is_refused(where):
    text = rule_file("a\x00b") if where == "string" else rule_file("x").replace("email", "em\x00ail", 1)
    ds = lint_text(text, "t.rules")
    ok = any(d.code in ("LR104", "LR102") and d.is_error and d.hint for d in ds)
    record("injection: NUL refused", not ok)
    assert ok


def test_postgres_runs_the_payloads_as_text(pg):  # noqa: F811
    from runtime.backends import sql as sqlgen
    from runtime.core.model import Lead
    from tests.test_pg_spark import _pg_load

    fails = []
    for p in payloads():
        checked = check(parse(rule_file(p)))
        leads = [Lead(p, {"title": p, "company": p, "email": "a@b.c"}, []), Lead("other", {"title": "x"}, [])]
        _pg_load(pg, checked, leads)
        with pg.cursor() as cur:
            cur.execute(sqlgen.to_sql(checked, "postgres", dt.date(2026, 11, 1)))
            cols = [c.name for c in cur.description]
            rows = {r[cols.index("id")]: (r[cols.index("grade")], r[cols.index("queue")]) for r in cur.fetchall()}
        why = None if rows.get(p) == ("A", p) and rows.get("other") == ("C", p) else f"{p!r}: {rows}"
        why = why or (f"{MARK} was created" if MARK.exists() else None)
        record("injection: postgres", why)
        if why:
            fails.append(why)
    assert not fails, fails[:3]
