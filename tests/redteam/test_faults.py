"""Faults around a run: SIGINT and SIGTERM in the middle of a long score leave no half-written `-o`
file (and no temporary file); a closed stdout and a full disk (/dev/full) are exit 2 with a message;
two runs writing one file leave one complete output, never a mix. Real processes, real signals."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.redteam.common import ACME, LEADS, ROOT, cli, problem, record

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _cmd(*args):
    return [sys.executable, "-m", "cli", *[str(a) for a in args]]


@pytest.fixture(scope="module")
def many_leads(tmp_path_factory):
    """Enough leads that scoring takes a few seconds: the sample, repeated, ids made unique."""
    import json

    d = tmp_path_factory.mktemp("faults")
    p = d / "many.jsonl"
    lines = LEADS.read_text(encoding="utf-8").splitlines()
    with open(p, "w", encoding="utf-8") as fh:
        for k in range(20):
            for line in lines:
                o = json.loads(line)
                o["id"] = f"{o['id']}-{k}"
                fh.write(json.dumps(o) + "\n")
    return p


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("out", ["out.jsonl", "out.csv"])
def test_interrupted_run_leaves_no_half_written_output(sig, out, many_leads, tmp_path):
    target = tmp_path / out
    target.write_text("the previous results\n")
    proc = subprocess.Popen(_cmd("score", ACME, "--leads", many_leads, "-o", target), env=ENV, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wait until the run is writing (its temporary file exists), then interrupt it
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.startswith(f".{out}.") for p in tmp_path.iterdir()):
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    why = None
    if proc.returncode not in (130, 143, -sig):
        why = f"exit {proc.returncode}: {err[-300:]}"
    elif target.read_text() != "the previous results\n":
        why = "the output file was changed by an interrupted run"
    elif [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]:
        why = f"temporary files left: {[p.name for p in tmp_path.iterdir()]}"
    elif "Traceback" in err or "internal error" in err:
        why = err[-300:]
    record("faults: interrupted run", why)
    assert why is None, why


def test_closed_stdout():
    r = subprocess.run(_cmd("score", ACME, "--leads", LEADS), env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=300, pass_fds=(), close_fds=True,
                       preexec_fn=lambda: os.close(1))
    why = None if r.returncode == 2 and "standard output is closed" in r.stderr else f"{r.returncode}: {r.stderr[-300:]}"
    record("faults: closed stdout", why)
    assert why is None, why


@pytest.mark.parametrize("how", ["stdout", "-o"])
@pytest.mark.parametrize("cmd", ["score", "compile", "sample", "simulate"])
def test_full_disk(cmd, how):
    args = {"score": ["score", ACME, "--leads", LEADS], "compile": ["compile", ACME, "--target", "sql"],
            "sample": ["sample", ACME, "-n", "2000"], "simulate": ["simulate", ACME, "--format", "json"]}[cmd]
    if how == "-o":
        args = args + ["-o", "/dev/full"]
        r = subprocess.run(_cmd(*args), env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=300)
    else:
        with open("/dev/full", "w") as full:
            r = subprocess.run(_cmd(*args), env=ENV, cwd=ROOT, stdout=full, stderr=subprocess.PIPE, text=True,
                               timeout=300)
    why = None
    said = "No space left on device" in r.stderr or (cmd == "sample" and "JSON Lines" in r.stderr)  # (its suffix rule)
    if r.returncode != 2 or not said or "Traceback" in r.stderr:
        why = f"exit {r.returncode}: {r.stderr[-300:]}"
    record("faults: full disk", why)
    assert why is None, why


def test_two_runs_writing_one_file(tmp_path):
    """Each run renames a complete file into place: the result is one run's output, whole."""
    target = tmp_path / "out.jsonl"
    procs = [subprocess.Popen(_cmd("score", ACME, "--leads", LEADS, "-o", target, "--as-of", day), env=ENV, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for day in ("2026-11-01", "2026-12-01")]
    for p in procs:
        p.communicate(timeout=300)
    singles = []
    for day in ("2026-11-01", "2026-12-01"):
        one = tmp_path / f"one-{day}.jsonl"
        res = cli(["score", ACME, "--leads", LEADS, "-o", one, "--as-of", day], seconds=120)
        assert problem(res) is None
        singles.append(one.read_text())
    got = target.read_text()
    why = None if got in singles and all(p.returncode == 0 for p in procs) else "the file is a mix of two runs"
    record("faults: two runs, one file", why)
    assert why is None
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_forked_worker_dies_on_sigterm_even_when_stuck():
    """A worker forked while a command runs (--workers, the DuckDB engine's readers) gets the default
    SIGTERM: the pool ends its workers with SIGTERM, and a worker stuck in C code (here: blocked on a
    lock, as on one another thread of the parent held at fork) never runs a Python handler. With the
    CLI's handler inherited, the run waited for such a worker for ever (the 10 MB hostile-row hang)."""
    import cli as climod

    old = climod._on_sigterm()
    assert old is not None  # pytest runs in the main thread
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mutex = ctypes.create_string_buffer(64)  # all zero: PTHREAD_MUTEX_INITIALIZER (a normal mutex)
        pid = os.fork()
        if pid == 0:  # the child: locks the mutex twice, stuck in C (a futex wait that signals do not end)
            try:
                libc.pthread_mutex_lock(mutex)
                libc.pthread_mutex_lock(mutex)
            finally:
                os._exit(3)
        assert getattr(signal.getsignal(signal.SIGTERM), "leadrules", False)  # the parent's handler is back
        time.sleep(0.3)
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 10
        while time.time() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("a forked worker ignored SIGTERM")
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, old)


def test_every_output_file_goes_through_open_output():
    """Output files are whole or absent: runtime/ writes them only through runtime/io/files.py's
    open_output (a temporary file renamed into place), never with a plain open(..., "w") or
    Path.write_text. Appending to a log (serve's decisions) is the one exception."""
    import re

    plain = re.compile(r"""\bopen\([^)]*["'][wx]b?t?\+?["']|\.write_(text|bytes)\(|\.savefig\(\s*path""")
    found = []
    for p in (ROOT / "runtime").rglob("*.py"):
        if p.name == "files.py" and p.parent.name == "io":
            continue
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if plain.search(line) and "os.devnull" not in line:
                found.append(f"{p.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not found, found


def test_fmt_keeps_the_rule_files_permissions(tmp_path):
    p = tmp_path / "a.rules"
    p.write_text(ACME.read_text(encoding="utf-8").replace("\n", "\n\n", 3), encoding="utf-8")
    os.chmod(p, 0o640)
    res = cli(["fmt", p])
    assert res.exit_code == 0, res.output
    assert p.read_text(encoding="utf-8") != "" and (os.stat(p).st_mode & 0o777) == 0o640
    assert [q.name for q in tmp_path.iterdir()] == ["a.rules"]



@pytest.mark.parametrize("command", ["score", "simulate", "diff", "calibrate"])
def test_a_run_that_fails_early_leaves_no_rejects_file(command, tmp_path):
    """--rejects is opened before the input: a failure right after (here: an events file that does not
    exist) leaves neither a rejects file nor its temporary file (runtime/commands/options.py's
    rejects_output, one helper for every command)."""
    args = {"score": ["score", ACME, "--leads", LEADS, "-o", tmp_path / "out.jsonl"],
            "simulate": ["simulate", ACME, "--leads", LEADS],
            "diff": ["diff", ACME, ACME, "--leads", LEADS],
            "calibrate": ["calibrate", ACME, "--leads", LEADS, "--outcomes", ROOT / "rulesets" / "samples" / "outcomes.csv"]}
    res = cli([*args[command], "--events", tmp_path / "missing.jsonl", "--on-bad-row", "skip",
               "--rejects", tmp_path / "r.jsonl"], seconds=60)
    assert problem(res) is None and res.exit_code == 2 and "missing.jsonl: no such file" in res.output, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [], sorted(p.name for p in tmp_path.iterdir())
