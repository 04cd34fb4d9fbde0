"""`--workers N` in the calling process (as a test runner or `leadrules serve` would run it): a run
that stops early or is interrupted ends, and never leaves a worker or the parent waiting for ever."""
from __future__ import annotations

import datetime as dt
import json
import signal

from click.testing import CliRunner

from cli import main
from runtime.backends.load import load_rules
from runtime.backends.parallel import score_parallel
from tests.redteam.common import ACME, ROOT, time_limit

MODEL = ROOT / "bench" / "model.rules"  # no accounts block: --workers 2 uses two processes
ASOF = dt.date(2026, 11, 1).toordinal()


def _leads(path, n: int) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"L{i}", "email": f"p{i}@co{i % 50}.com", "title": "VP Marketing",
                                 "company_size": 300, "events": [{"type": "email_open", "at": "2026-10-01"}]}) + "\n")


def test_a_parallel_run_abandoned_early_ends(tmp_path):
    """The caller stops after the first batch while the workers are ahead (an error, the bad-row limit):
    the pool shuts down instead of waiting for ever on its queue lock."""
    path = tmp_path / "leads.jsonl"
    _leads(path, 12_000)
    rules = load_rules(str(MODEL))
    for _ in range(3):
        with time_limit(20):
            ps = score_parallel(rules, str(path), as_of_ordinal=ASOF, workers=2, batch=300)
            it = iter(ps)
            first = next(it)
            it.close()
        assert first.count("\n") == 300


def test_workers_in_process_do_not_inherit_the_sigterm_handler(tmp_path):
    """`score --workers 2` in-process, several times: same output as one process, exit 0, and the
    command's SIGTERM handler is back in place afterwards (workers die on SIGTERM by default)."""
    path = tmp_path / "leads.jsonl"
    _leads(path, 5_000)
    before = signal.getsignal(signal.SIGTERM)
    outs = []
    for workers in (1, 2, 2, 2):
        out = tmp_path / f"out{workers}.jsonl"
        with time_limit(30):
            res = CliRunner().invoke(main, ["score", str(MODEL), "--leads", str(path), "--as-of", "2026-11-01",
                                            "--workers", str(workers), "-o", str(out)])
        assert res.exit_code == 0, res.output
        outs.append(out.read_bytes())
    assert len(set(outs)) == 1
    assert signal.getsignal(signal.SIGTERM) == before


def _account_leads(path, n: int, grouped: bool) -> None:
    rows = []
    for i in range(n):
        co = (i * 7) % 40
        rows.append({"id": f"L{i}", "email": f"p{i}@co{co}.com", "first_name": "A", "last_name": f"B{i}",
                     "title": ["VP Sales", "Engineer", "Director IT"][i % 3], "company_size": 300 + co,
                     "events": [{"type": "form_submit", "at": "2026-10-30", "form": "demo-request"}] * (i % 3)})
    if grouped:
        rows.sort(key=lambda r: r["email"].split("@")[1])
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)


def test_accounts_with_workers_use_the_workers_and_write_the_same_bytes(tmp_path):
    """An accounts block with --workers 2: the leads are scored in two processes and grouped by account
    here; the output is byte for byte the one-process output and the reference path's (the closure
    engine through accounts.score_leads), on unsorted input (held and spilled past 5,000 leads) and on
    input grouped by account (streamed)."""
    from runtime.backends.accounts import GeneratedAccountResults, score_leads
    from runtime.backends.closure import compile_checked
    from runtime.backends.scoring import results
    from runtime.commands.options import schema_of
    from runtime.io.readers import LeadReader
    from runtime.io.writers import ScoredWriter

    rules = load_rules(str(ACME))
    for grouped in (False, True):
        path = tmp_path / f"leads{grouped}.jsonl"
        _account_leads(path, 6_000, grouped)
        rs = results(rules, str(path), as_of=dt.date(2026, 11, 1), workers=2)
        assert isinstance(rs, GeneratedAccountResults) and rs.source.ps.workers == 2 and rs.grouped == grouped
        ref = compile_checked(rules.checked)
        want_path = tmp_path / "ref.jsonl"
        w = ScoredWriter(ref, str(want_path), explain=True, as_of=dt.date(2026, 11, 1))
        for _lead, r in score_leads(ref, LeadReader(str(path), schema_of(rules)), ASOF):
            w.write(r)
        w.close()
        outs = []
        for workers in ("1", "2"):
            out = tmp_path / f"out{workers}.jsonl"
            with time_limit(60):
                res = CliRunner().invoke(main, ["score", str(ACME), "--leads", str(path), "--as-of", "2026-11-01",
                                                "--workers", workers, "--explain", "-o", str(out)])
            assert res.exit_code == 0, res.output
            assert "one process" not in res.output
            outs.append(out.read_bytes())
        assert outs[0] == outs[1] == want_path.read_bytes()
