"""ReDoS: the classic catastrophic patterns in `matches` are refused by the checker (LR212); the
patterns it accepts — look-alikes of the refused ones included — score long adversarial values within
a CPU time limit per case on the python engine and DuckDB."""
from __future__ import annotations

import json

import pytest

from dsl.lint import lint_text
from tests.redteam.common import Hang, cli, problem, record
from tests.redteam.test_regressions import CATASTROPHIC, HEADER, TEST

ACCEPTED = [r"^vp\b", r"@(gmail|yahoo)\.com$", r"(\w+\.)+com$", r"^[a-z]+\d+$", r".*foo.*", r"(ab+c)+$",
            r"^\+?[0-9 ]{7,}$", r"chief|head of|vp", r"^(mr|mrs|ms)\.? ", r"[^@]+@[^@]+$", r"(a?b)+$", r"(ab?)+$",
            r"\b(vp|vice president)\b", r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$", r"(a|b)*c", r"a+b+c+$"]
# Long values (far beyond any real lead field) built to make a backtracking engine work hardest. A
# refused pattern takes hours on 40 characters; the accepted ones stay within the limit here. (Python's
# `re.search` is still quadratic for some of them — a leading repeat retried at every position — which
# shows only on values of hundreds of thousands of characters; docs/language.md says so.)
VALUES = ["a" * 8_000 + "!", "ab" * 4_000 + "!", "a." * 4_000 + "!", " " * 8_000 + "x", "x@" * 4_000]


def q(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_refused(pattern):
    ds = [d for d in lint_text(HEADER + f'disqualify "x" when email matches "{q(pattern)}"\n' + TEST, "t.rules")
          if d.code == "LR212"]
    record("redos: catastrophic pattern refused", not ds)
    assert ds


@pytest.mark.parametrize("pattern", ACCEPTED)
def test_accepted_patterns_stay_linear(pattern, tmp_path):
    text = (HEADER + f'score p "P" max 100 {{ "m" 10 when title matches "{q(pattern)}" }}\n'
            'grade p { A when >= 10  B otherwise }\n' + TEST)
    assert not [d for d in lint_text(text, "t.rules") if d.is_error], pattern
    rules = tmp_path / "r.rules"
    rules.write_text(text, encoding="utf-8")
    leads = tmp_path / "l.jsonl"
    leads.write_text("".join(json.dumps({"id": str(i), "title": v}) + "\n" for i, v in enumerate(VALUES)))
    for engine in ("python", "duckdb"):
        try:
            res = cli(["score", rules, "--leads", leads, "--engine", engine], seconds=10)
            why = problem(res) or (None if res.exit_code == 0 else res.output[-300:])
        except Hang:
            why = "scoring took more than 10 s of CPU"
        record(f"redos: accepted pattern scores fast ({engine})", why)
        assert why is None, (pattern, engine, why)
