"""`leadrules test --coverage`, `--fail-under` and `--watch`."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner

import cli

ROOT = Path(__file__).resolve().parent.parent
ACME = ROOT / "rulesets" / "acme.rules"

GAPS = '''ruleset "gaps" version 1
fields { title: text  company_size: number  email: text }
events { web_visit(page: text) }

disqualify "test lead" when email ends with "@example.com"
disqualify "no email" when email is missing

score profile "Fit" max 100 {
  "Seniority" first of {
    +40  when title contains word "VP"
    +20  when title contains word "Manager"
    +5   otherwise
  }
  "Enterprise"  +30  when company_size >= 1000
  "Visits"      +10  each web_visit max 30
}

grade profile {
  A when >= 60
  B when >= 30
  C otherwise
}

route {
  disqualified  -> suppress
  A             -> sales "hot"
  B             -> qualify "sdr"
  otherwise     -> nurture "later"
}

test "an enterprise VP" {
  as of 2026-11-01
  lead { email: "a@big.com", title: "VP Sales", company_size: 5000 }
  expect grade A
}

test "an enterprise nobody" {
  as of 2026-11-01
  lead { email: "b@big.com", title: "Intern", company_size: 2000 }
  expect grade B
}

test "a test address" {
  lead { email: "x@example.com" }
  expect disqualified "test lead"
}
'''


def run(*args):
    return CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)


def gaps(tmp_path) -> Path:
    p = tmp_path / "gaps.rules"
    p.write_text(GAPS)
    return p


def test_acme_is_fully_covered(tmp_path):
    r = run("test", ACME, "--coverage", "--as-of", "2026-11-01")
    assert r.exit_code == 0, r.output
    assert "coverage of " in r.output and ": 100.0% (" in r.output
    assert "every item is covered" in r.output
    out = tmp_path / "acme.json"
    assert run("test", ACME, "--as-of", "2026-11-01", "--coverage-format", "json", "--coverage-out", out).exit_code == 0
    j = json.loads(out.read_text())
    assert j["percent"] == 100.0 and j["covered"] == j["total"] > 50
    kinds = j["files"][0]["kinds"]
    assert kinds["criterion"]["covered"] == kinds["criterion"]["total"]
    assert kinds["route"] == {"covered": 7, "total": 7}


def test_gaps_are_named_precisely(tmp_path):
    p = gaps(tmp_path)
    r = run("test", p, "--coverage")
    assert r.exit_code == 0, r.output  # the tests pass; no gate was asked for
    out = r.output
    assert "not covered:" in out
    # fires in every scored test: never seen not firing
    assert 'criterion profile "Enterprise": fires in every test' in out
    assert 'criterion profile "Visits": never fires in a test' in out
    assert 'tier 2 of "Seniority" (+20 when title contains word "Manager"): no test' in out
    assert 'tier 1 of "Seniority"' not in out and 'tier 3 of "Seniority"' not in out
    assert "band profile C: no test's lead gets this band" in out
    assert 'route otherwise -> nurture "later": no test\'s lead is routed by this line' in out
    assert 'disqualify "no email": no test\'s lead is disqualified' in out
    assert 'disqualify "test lead"' not in out
    assert f"{p}:14:3" in out  # the Enterprise criterion's name, line 14 column 3


def test_coverage_json_counts_goals(tmp_path):
    p = gaps(tmp_path)
    out = tmp_path / "cov.json"
    r = run("test", p, "--coverage-format", "json", "--coverage-out", out)  # --coverage-out implies --coverage
    assert r.exit_code == 0, r.output
    j = json.loads(out.read_text())
    f = j["files"][0]
    # goals: 2 disqualify + Seniority fires + 3 tiers + Enterprise fires/not + Visits fires + 3 bands + 4 routes
    assert f["total"] == 2 + 1 + 3 + 2 + 1 + 3 + 4 == j["total"]
    missing = {(i["label"], tuple(i["missing"])) for i in f["items"] if not i["covered"]}
    assert missing == {
        ('criterion profile "Enterprise"', ("does not fire",)),
        ('criterion profile "Visits"', ("fires",)),
        ('tier 2 of "Seniority" (+20 when title contains word "Manager")', ("taken",)),
        ("band profile C", ("given",)),
        ('route otherwise -> nurture "later"', ("taken",)),
        ('disqualify "no email"', ("disqualifies",)),
    }
    assert f["covered"] == f["total"] - 6
    assert j["percent"] == int((f["total"] - 6) * 1000 / f["total"]) / 10  # 62.5
    ent = next(i for i in f["items"] if i["label"] == 'criterion profile "Enterprise"')
    assert ent["goals"]["fires"] == ["an enterprise VP", "an enterprise nobody"]
    assert f["kinds"]["route"] == {"covered": 3, "total": 4}
    assert [(u["label"], u["line"]) for u in f["uncovered"]][:2] == [('disqualify "no email"', 6),
                                                                       ('tier 2 of "Seniority" (+20 when title contains word "Manager")', 11)]
    assert "written to" in r.output


def test_fail_under_gates(tmp_path):
    p = gaps(tmp_path)
    r = run("test", p, "--fail-under", "60")
    assert r.exit_code == 0, r.output
    r = run("test", p, "--fail-under", "90")
    assert r.exit_code == 1
    assert "coverage 62.5% is under --fail-under 90%" in r.output
    assert run("test", ACME, "--as-of", "2026-11-01", "--fail-under", "100").exit_code == 0


def test_cobertura_xml(tmp_path):
    p = gaps(tmp_path)
    out = tmp_path / "coverage.xml"
    r = run("test", p, "--coverage", "--coverage-format", "cobertura", "--coverage-out", out)
    assert r.exit_code == 0, r.output
    root = ET.parse(out).getroot()
    assert root.tag == "coverage"
    cls = root.find("packages/package/classes/class")
    assert cls.get("filename") == str(p)
    lines = {int(l.get("number")): l for l in cls.find("lines")}
    assert lines[14].get("branch") == "true" and lines[14].get("condition-coverage") == "50% (1/2)"
    assert lines[15].get("hits") == "0"            # Visits never fires
    assert lines[11].get("hits") == "0"            # tier 2
    assert lines[10].get("hits") == "1"            # tier 1: one test
    assert lines[5].get("hits") == "1" and lines[6].get("hits") == "0"
    valid, covered = int(root.get("lines-valid")), int(root.get("lines-covered"))
    assert covered == sum(1 for l in lines.values() if l.get("hits") != "0") and valid == len(lines)
    assert float(root.get("line-rate")) == round(covered / valid, 4)
    assert root.get("branches-valid") == "2" and root.get("branches-covered") == "1"


def test_where_the_reports_go(tmp_path):
    p = gaps(tmp_path)
    # json tests: the coverage is part of the one JSON document
    r = CliRunner().invoke(cli.main, ["test", str(p), "--format", "json", "--coverage"])
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["passed"] == 3 and doc["coverage"]["percent"] == 62.5
    # a machine format of the coverage alone: stdout is that document, the test report goes to stderr
    r = CliRunner().invoke(cli.main, ["test", str(p), "--coverage-format", "cobertura"])
    assert r.exit_code == 0
    assert ET.fromstring(r.stdout).tag == "coverage" and r.stdout.startswith("<?xml")
    assert "3 passed, 0 failed" in r.stderr and "3 passed" not in r.stdout
    r = CliRunner().invoke(cli.main, ["test", str(p), "--coverage-format", "json"])
    assert json.loads(r.stdout)["total"] == 16
    # junit cannot carry it: a file is needed
    r = CliRunner().invoke(cli.main, ["test", str(p), "--format", "junit", "--coverage"])
    assert r.exit_code == 2 and "--coverage-out" in r.output
    out = tmp_path / "c.txt"
    r = run("test", p, "--format", "junit", "--coverage-out", out)
    assert ET.fromstring(r.stdout).tag == "testsuites"
    assert "not covered:" in out.read_text()


def test_accounts_coverage():
    from runtime.analysis.coverage import coverage
    from runtime.analysis.testing import run_tests
    from runtime.backends.load import load_rules
    import datetime as dt

    rules = load_rules(str(ACME))
    outs = run_tests(rules.engine, dt.date(2026, 11, 1))
    cov = coverage("acme", rules.engine, outs)
    acct = [i for i in cov.items if i.account]
    assert {i.label for i in acct} >= {'account criterion buying "Committee"', "account band buying hot",
                                       "account band buying cold"}
    hot = next(i for i in acct if i.label == "account band buying hot")
    assert "a keen VP at a small firm is a hot account on their own and goes to the account team" in hot.goals["given"]
    # the same run without the tests that make a hot account leaves that band and the abm route uncovered
    few = [o for o in outs if o.result.account_bands.get("buying") != "hot"]
    cov = coverage("acme", rules.engine, few)
    missing = {i.label for i in cov.items if not i.covered}
    assert "account band buying hot" in missing
    assert 'route account hot and A*, *1, *2 -> sales "abm"' in missing


# ---- watch mode --------------------------------------------------------------------------------

def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _read_until(proc, needle: str, timeout: float = 30) -> str:
    """Read the child's stdout until `needle` appears (os.read: no buffering surprises)."""
    buf = b""
    end = time.time() + timeout
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    while time.time() < end:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            chunk = None
        if chunk:
            buf += chunk
            if needle.encode() in buf:
                return buf.decode()
        elif chunk == b"":
            break
        else:
            time.sleep(0.05)
    raise AssertionError(f"{needle!r} not seen in {buf.decode()!r}")


def test_watch_reruns_the_changed_file(tmp_path):
    a, b = gaps(tmp_path), tmp_path / "other.rules"
    b.write_text(GAPS.replace('"gaps"', '"other"'))
    proc = subprocess.Popen([sys.executable, "-m", "cli", "test", str(a), str(b), "--watch", "--watch-interval",
                             "0.1", "--watch-limit", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env(), cwd=tmp_path)
    try:
        first = _read_until(proc, "(Ctrl-C to stop)")
        assert first.startswith("\x1b[2J\x1b[H")
        assert "6 passed, 0 failed · watching 2 files (Ctrl-C to stop)" in first
        time.sleep(0.2)
        a.write_text(GAPS.replace('expect grade B', 'expect grade A'))  # break one test in one file
        second = _read_until(proc, "(Ctrl-C to stop)")
        assert second.startswith("\x1b[2J\x1b[H")
        assert str(b) not in second  # only the changed file is run again
        summary = second.strip().splitlines()[-1]
        assert f"{a} · 2 passed, 1 failed · watching 2 files" in summary
        assert "FAIL  an enterprise nobody" in second
        assert proc.wait(timeout=30) == 1  # the limit: the last run's status
    finally:
        proc.kill()


def test_watch_stops_on_ctrl_c_and_survives_a_broken_file(tmp_path):
    a = gaps(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "cli", "test", str(a), "--watch", "--watch-interval", "0.1",
                             "--coverage"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), cwd=tmp_path)
    try:
        first = _read_until(proc, "(Ctrl-C to stop)")
        assert "coverage 62.5%" in first.strip().splitlines()[-1]
        time.sleep(0.2)
        a.write_text(GAPS.replace("score profile", "score profile profile"))
        second = _read_until(proc, "(Ctrl-C to stop)")
        assert "1 file does not compile" in second
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert b"stopped watching" in proc.stderr.read()
    finally:
        proc.kill()


def test_a_file_without_tests_covers_nothing(tmp_path):
    p = tmp_path / "bare.rules"
    p.write_text(GAPS.split('test "an enterprise VP"')[0])
    r = run("test", p, "--coverage", "--fail-under", "1")
    assert r.exit_code == 1
    assert "coverage of" in r.output and ": 0.0% (0 of 16 goals, 0 tests)" in r.output
    assert "never evaluated: no test's lead is scored" in r.output
