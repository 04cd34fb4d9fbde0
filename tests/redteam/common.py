"""Shared pieces of the red-team suite: running a command in-process with a time limit, telling a
clean failure (a message, exit 2) from an internal error, and counting cases per category so the
session ends with a table of cases tried and failures (conftest.py prints it)."""
from __future__ import annotations

import os
import signal
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

from click.testing import CliRunner

from cli import main

ROOT = Path(__file__).resolve().parents[2]
ACME = ROOT / "rulesets" / "acme.rules"
LEADS = ROOT / "rulesets" / "samples" / "leads.jsonl"
OUTCOMES = ROOT / "rulesets" / "samples" / "outcomes.csv"

# LEADRULES_REDTEAM_SCALE multiplies the number of generated cases (bench/redteam.py runs it large).
SCALE = max(1, int(os.environ.get("LEADRULES_REDTEAM_SCALE", "1")))
CASE_SECONDS = 10  # a damaged file that takes longer than this is a hang, and a failure

# category -> [cases tried, failures]
COUNTS: dict[str, list[int]] = defaultdict(lambda: [0, 0])


class Hang(BaseException):
    """A case ran past its time limit (a BaseException, so no `except Exception` swallows it)."""


@contextmanager
def time_limit(seconds: float = CASE_SECONDS):
    """At most `seconds` of CPU time (a spinning parser), and six times that of wall time (a process
    stuck waiting): on a machine shared with other jobs, wall time alone would blame the neighbours."""
    def on_alarm(signum, frame):
        raise Hang()
    old = signal.signal(signal.SIGPROF, on_alarm), signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    signal.setitimer(signal.ITIMER_REAL, 6 * seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGPROF, old[0])
        signal.signal(signal.SIGALRM, old[1])


def cli(args, *, input=None, seconds: float = CASE_SECONDS, env=None):
    """Run `leadrules ARGS` in-process (fast) under a time limit; returns click's Result."""
    with time_limit(seconds):
        return CliRunner().invoke(main, [str(a) for a in args], input=input, env=env)


def problem(res) -> str | None:
    """Why a command's result is not acceptable: an internal error, a traceback or an exception that
    escaped, or an exit code other than 0, 1 and 2. None when it is fine."""
    out = res.output
    if "internal error" in out or "Traceback (most recent call last)" in out:
        line = next((l for l in out.splitlines() if "internal error" in l or "Error" in l), out[-200:])
        return f"internal error: {line.strip()[:200]}"
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        return f"exception escaped: {type(res.exception).__name__}: {res.exception}"
    if res.exit_code not in (0, 1, 2):
        return f"exit code {res.exit_code}"
    return None


def record(category: str, failed: bool) -> None:
    c = COUNTS[category]
    c[0] += 1
    c[1] += int(bool(failed))


class _Proc:
    def __init__(self, code, out, err):
        self.exit_code, self.stdout, self.stderr = code, out, err
        self.output, self.exception = out + err, None


def cli_process(args, *, seconds: float = 120, stdin=None):
    """Run `leadrules ARGS` in a process of its own: for --workers (forking a process that has loaded
    DuckDB's threads, as the in-process runner has, could deadlock; a real run starts fresh).
    Output goes through files, not pipes: a run is over when its main process exits."""
    import subprocess
    import sys
    import tempfile

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out, tempfile.TemporaryFile("w+", encoding="utf-8") as err:
        p = subprocess.run([sys.executable, "-m", "cli", *[str(a) for a in args]], stdout=out, stderr=err,
                           env=env, timeout=seconds, cwd=ROOT,
                           stdin=stdin if stdin is not None else subprocess.DEVNULL)
        out.seek(0)
        err.seek(0)
        return _Proc(p.returncode, out.read(), err.read())
