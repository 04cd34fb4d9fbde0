"""`score`'s JSON lines with an accounts block (runtime.backends.accounts.AccountLines): each lead held
as the pieces of its line its account does not change (LineFormatter.account_piece), finished into
text once its account is scored. Pinned byte for byte to the general path (grouped Results written by
LineFormatter.write), on sorted and unsorted input, in memory, packed and spilled to SQLite, with one
and two processes, and with leads the writer takes its general path for mixed in (the reader lets no lone surrogate
through, so the test declines pieces itself); no id, a numeric id, no account key, disqualified."""
from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.backends import accounts, scoring
from runtime.backends.load import load_rules
from runtime.io.writers import LineFormatter

ROOT = Path(__file__).resolve().parent.parent
ACME = str(ROOT / "rulesets" / "acme.rules")
AS_OF = dt.date(2026, 11, 1)


@pytest.fixture(scope="module")
def rules():
    return load_rules(ACME)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """400 acme leads (`leadrules sample`, several per account, unsorted) and a few awkward ones."""
    d = tmp_path_factory.mktemp("lines")
    path = d / "leads.jsonl"
    subprocess.run([sys.executable, str(ROOT / "cli.py"), "sample", ACME, "-n", "400", "--seed", "5", "-o", str(path),
                    "--as-of", AS_OF.isoformat()], check=True, capture_output=True, cwd=ROOT)
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    odd = [
        {"id": 12345, "email": "x@bigco.com", "title": "VP Sales", "first_name": "A", "last_name": "B"},
        {"email": "noid@bigco.com", "title": "CEO", "first_name": "No", "last_name": "Id"},
        {"id": "L-nokey", "title": "Director", "first_name": "No", "last_name": "Key"},
        {"id": "L-dq", "email": "t@bigco.com", "first_name": "T", "last_name": "Mouse"},
        {"id": "L-\u00e9l\u00e8ve", "email": "e@bigco.com", "title": "Head of Growth", "first_name": "E",
         "last_name": "L"},
    ]
    rows[150:150] = odd
    text = "".join(json.dumps(r) + "\n" for r in rows)
    unsorted = d / "unsorted.jsonl"
    unsorted.write_text(text, encoding="utf-8")
    key = lambda r: (r.get("email") or "").rpartition("@")[2]  # noqa: E731 - the account key: domain(email)
    grouped = d / "grouped.jsonl"
    grouped.write_text("".join(json.dumps(r) + "\n" for r in sorted(rows, key=key)), encoding="utf-8")
    return unsorted, grouped


def general(rules, path, workers=None) -> str:
    """The lines as the writer writes grouped Results (the path `score --changed-since` takes)."""
    fmt = LineFormatter(rules.engine.plan, "jsonl", False, AS_OF)
    out = io.StringIO()
    for r in scoring.results(rules, str(path), as_of=AS_OF, workers=workers, criteria=False):
        fmt.write(out, r)
    return out.getvalue()


def fast(rules, path, workers=None):
    chunks = scoring.text_chunks(rules, str(path), as_of=AS_OF, fmt="jsonl", explain=False, workers=workers)
    assert isinstance(chunks, accounts.AccountLines)
    return "".join(chunks), chunks


@pytest.mark.parametrize("which", ["unsorted", "grouped"])
@pytest.mark.parametrize("workers", [None, 2])
@pytest.mark.parametrize("hold,spill", [(accounts.PIECES_HOLD, accounts.SPILL_BYTES), (50, 1 << 30), (50, 20_000)])
def test_account_lines_are_the_written_results(rules, sample, which, workers, hold, spill, monkeypatch):
    monkeypatch.setattr(accounts, "PIECES_HOLD", hold)
    monkeypatch.setattr(accounts, "SPILL_BYTES", spill)
    path = sample[0] if which == "unsorted" else sample[1]
    text, chunks = fast(rules, path, workers)
    want = general(rules, path, workers)
    assert text == want
    lines = text.splitlines()
    assert chunks.scored == len(lines) == 405 and chunks.read == 405
    assert chunks.grouped == (which == "grouped")
    # the awkward leads are there, each as the general path writes it
    by_id = {json.loads(x)["id"]: json.loads(x) for x in lines}
    assert by_id["L-nokey"]["account"] is None and by_id["L-dq"]["grade"] == "disqualified"
    noid = next(i for i, x in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if "noid@" in x)
    assert "12345" in by_id and "L-\u00e9l\u00e8ve" in by_id and str(noid) in by_id  # (no id: its line)
    # accounts of several leads were scored together
    assert max(sum(1 for v in by_id.values() if v["account"] == k) for k in {v["account"] for v in by_id.values()}) > 1


@pytest.mark.parametrize("workers", [None, 2])
def test_results_among_the_pieces(rules, sample, workers, monkeypatch):
    """Where `account_piece` declines (the writer's general path: --explain-like cases, a lone
    surrogate), the lead travels as a Result among the pieces and is finished and written as before."""
    real = LineFormatter.account_piece
    declined = []

    def every_third(self, r):
        if r.id.endswith(("0", "3", "6", "9")) or r.numbered:
            declined.append(r.id)
            return None
        return real(self, r)

    monkeypatch.setattr(LineFormatter, "account_piece", every_third)
    monkeypatch.setattr(accounts, "PIECES_HOLD", 30)
    monkeypatch.setattr(accounts, "SPILL_BYTES", 5_000)
    text, _ = fast(rules, sample[0], workers)
    assert text == general(rules, sample[0], workers)
    assert workers == 2 or len(declined) > 100


def test_spilled_to_sqlite_is_the_same(rules, sample, monkeypatch):
    """Packed pieces past SPILL_BYTES go to the temporary database and come back in input order."""
    monkeypatch.setattr(accounts, "PIECES_HOLD", 10)
    monkeypatch.setattr(accounts, "SPILL_BYTES", 1000)
    opened = []
    real = accounts._Spill._open

    def spy(self):
        opened.append(True)
        return real(self)

    monkeypatch.setattr(accounts._Spill, "_open", spy)
    text, _ = fast(rules, sample[0])
    assert opened and text == general(rules, sample[0])


def test_score_cli_writes_the_account_lines(rules, sample, tmp_path):
    out = tmp_path / "o.jsonl"
    r = subprocess.run([sys.executable, str(ROOT / "cli.py"), "score", ACME, "--leads", str(sample[0]), "-o", str(out),
                        "--as-of", AS_OF.isoformat(), "--workers", "2"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "scored 405" in r.stderr
    assert out.read_text(encoding="utf-8") == general(rules, sample[0])


def test_an_account_that_comes_back_in_grouped_input_names_the_lead(rules, sample, tmp_path, monkeypatch):
    """Said grouped but not (the file changed between the check and the read): the error names the
    lead by its id, read back from the pieces of its line."""
    monkeypatch.setattr(accounts, "input_grouped", lambda path, engine: True)
    with pytest.raises(accounts.AccountOrderError, match=r"lead '[^']+': account '[^']+' appears again"):
        fast(rules, sample[0])
