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
from tests.redteam.common import ROOT, time_limit

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
