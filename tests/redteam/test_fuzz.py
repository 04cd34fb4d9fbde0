"""Rule-file mutation fuzzing: the bundled example damaged in seeded ways (tests/redteam/corpus.py), run
through every command that reads a rule file. Each run must end in a result or a message with exit
1 or 2 — never an internal error, a traceback or more than CASE_SECONDS — and every syntax
diagnostic must carry a hint. LEADRULES_REDTEAM_SCALE=N runs N times as many cases (bench/redteam.py).
"""
from __future__ import annotations

import json

import pytest

from dsl.checker import check_text
from tests.redteam.common import ACME, LEADS, OUTCOMES, SCALE, Hang, cli, problem, record
from tests.redteam.corpus import MUTATORS, mutations

SEED = 14
PER_MUTATOR = 3 * SCALE
LEAD = json.dumps({"id": "x", "email": "ana@bigco.com", "title": "VP Marketing", "company_size": 5000,
                   "events": [{"type": "form_submit", "form": "demo-request", "at": "2026-10-30"}]})


def _commands(p, small_leads, small_outcomes, heavy: bool):
    yield "lint", ["lint", p]
    yield "lint-json", ["lint", "--format", "sarif", p]
    yield "test", ["test", p, "--as-of", "2026-11-01"]
    yield "fmt", ["fmt", "--check", p]
    yield "fmt-diff", ["fmt", "--diff", p]
    yield "compile-python", ["compile", p, "--target", "python", "--as-of", "2026-11-01"]
    yield "compile-sql", ["compile", p, "--target", "sql", "--dialect", "postgres", "--as-of", "2026-11-01"]
    yield "explain", ["explain", p, "--lead", LEAD, "--as-of", "2026-11-01"]
    if heavy:
        yield "score", ["score", p, "--leads", small_leads, "--as-of", "2026-11-01"]
        yield "score-duckdb", ["score", p, "--leads", small_leads, "--as-of", "2026-11-01", "--engine", "duckdb"]
        yield "simulate", ["simulate", p, "--leads", small_leads, "--as-of", "2026-11-01"]
        yield "diff", ["diff", ACME, p, "--leads", small_leads, "--as-of", "2026-11-01"]
        yield "calibrate", ["calibrate", p, "--leads", small_leads, "--outcomes", small_outcomes, "--as-of",
                            "2026-11-01"]
        yield "sample", ["sample", p, "-n", "5"]


@pytest.fixture(scope="module")
def small_inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    lines = LEADS.read_text(encoding="utf-8").splitlines()[:40]
    (d / "leads.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ids = {json.loads(l)["id"] for l in lines}
    out = [l for i, l in enumerate(OUTCOMES.read_text().splitlines()) if i == 0 or l.split(",")[0] in ids]
    (d / "outcomes.csv").write_text("\n".join(out) + "\n")
    return d / "leads.jsonl", d / "outcomes.csv"


CASES = list(mutations(SEED, PER_MUTATOR * len(MUTATORS)))


@pytest.mark.parametrize("kind", list(MUTATORS))
def test_mutated_rule_files(kind, small_inputs, tmp_path):
    small_leads, small_outcomes = small_inputs
    failures = []
    mine = [(i, data) for i, (k, data) in enumerate(CASES) if k == kind]
    for j, (i, data) in enumerate(mine):
        p = tmp_path / f"m{i}.rules"
        p.write_bytes(data)
        # every syntax diagnostic has a hint
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            missing = [d.message for d in check_text(text, "m.rules").diagnostics if not d.hint]
            record("fuzz: diagnostics with a hint", missing)
            if missing:
                failures.append((i, "no hint", missing[0]))
        for name, args in _commands(p, small_leads, small_outcomes, heavy=(j % 3 == 0)):
            try:
                res = cli(args)
                why = problem(res)
            except Hang:
                why = "ran longer than the time limit"
            record(f"fuzz: {name}", why)
            if why:
                failures.append((i, name, why))
    assert not failures, failures[:5]
