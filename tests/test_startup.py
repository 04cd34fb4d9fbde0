"""Start-up (issue 15): what `lint`, `test` and `--help` import, and the user cache behind a fast start
(dsl/cache.py: the parser's tables, the syntax nodes' methods). Nothing here is timed — bench/run.py
--only startup measures; these tests fail when a heavy import creeps back in or when a bad cache
could change a result.
"""
from __future__ import annotations

import copy
import dataclasses
import inspect
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from dsl import cache
from dsl import nodes as n

ROOT = Path(__file__).resolve().parent.parent
ACME = str(ROOT / "rulesets" / "acme.rules")

# What none of `--help`, `lint` and `test` needs: the terminal UI, the SQL stack, the fast JSON and
# Arrow libraries, the server, the `regex` module lark would pull in (its `regex._main`: a refused
# `import regex` is listed by -X importtime too), the JUnit writer.
HEAVY = ("rich", "pydantic", "sqlglot", "duckdb", "msgspec", "orjson", "pyarrow", "numpy", "starlette",
         "uvicorn", "jinja2", "regex._main", "xml.etree", "sqlite3", "runtime.backends.sql",
         "runtime.backends.duckdb_engine", "runtime.io.readers")


def _env(tmp: Path, **extra) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), LEADRULES_CACHE_DIR=str(tmp / "cache"))
    env.pop("LEADRULES_NO_CACHE", None)
    env.update(extra)
    return env


def _imported(args: list[str], env: dict, via_m: bool = False) -> tuple[set[str], subprocess.CompletedProcess]:
    """The modules a `leadrules` run imports (python -X importtime), and the run itself."""
    cmd = [sys.executable, "-X", "importtime"] + (["-m", "cli"] if via_m else [str(ROOT / "cli.py")]) + args
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    mods = {line.rsplit("|", 1)[1].strip() for line in p.stderr.splitlines() if line.startswith("import time:")}
    return mods - {"imported package"}, p


def _heavy(mods: set[str]) -> list[str]:
    return sorted(m for m in mods if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("args", [["lint", ACME], ["test", ACME], ["--help"]], ids=["lint", "test", "help"])
def test_commands_start_without_heavy_imports(args, tmp_path):
    for via_m in (False, True):
        mods, p = _imported(args, _env(tmp_path), via_m)
        assert p.returncode == 0, p.stderr[-2000:]
        assert "lark" in mods or args == ["--help"]  # the run really was traced
        assert _heavy(mods) == [], f"{' '.join(args)} imports {_heavy(mods)}"


def test_help_imports_no_parser_and_no_command(tmp_path):
    mods, p = _imported(["--help"], _env(tmp_path))
    assert p.returncode == 0 and "lint" in _run_out(["--help"], tmp_path)
    assert "click" in mods
    assert not {m for m in mods if m == "lark" or m.startswith(("lark.", "dsl.", "runtime.commands."))}


def test_lint_imports_no_engine(tmp_path):
    mods, _ = _imported(["lint", ACME], _env(tmp_path))
    assert not {m for m in mods if m.startswith(("runtime.backends.closure", "runtime.backends.pygen",
                                                   "runtime.analysis", "runtime.core.plan"))}


def test_lark_imported_without_regex_and_regex_still_importable():
    """dsl.parser keeps lark from importing `regex`; a later `import regex` still works."""
    code = ("import sys, dsl.parser; assert 'regex' not in sys.modules, 'regex imported';"
            "import importlib.util; spec = importlib.util.find_spec('regex');"
            "print('absent' if spec is None else __import__('regex').__name__)")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() in ("regex", "absent")


# ---- the cache: a bad one never changes a result ----------------------------------------------------

BROKEN = 'ruleset "x" version 1\nfields {\n  size: number\n}\nscore fit "Fit" max 10 {\n  "big" +5 when size >\n}\n'


def _run_out(args, tmp, **env) -> str:
    p = subprocess.run([sys.executable, str(ROOT / "cli.py")] + args, cwd=ROOT, env=_env(tmp, **env),
                       capture_output=True, text=True, timeout=120)
    return f"exit {p.returncode}\n{p.stdout}\n{p.stderr}"


def _reference(tmp_path) -> tuple[str, str, str]:
    bad = tmp_path / "broken.rules"
    bad.write_text(BROKEN, encoding="utf-8")
    return (_run_out(["lint", ACME], tmp_path, LEADRULES_NO_CACHE="1"),
            _run_out(["test", ACME], tmp_path, LEADRULES_NO_CACHE="1"),
            _run_out(["lint", str(bad)], tmp_path, LEADRULES_NO_CACHE="1"))


def _same(tmp_path, ref, **env):
    bad = str(tmp_path / "broken.rules")
    assert _run_out(["lint", ACME], tmp_path, **env) == ref[0]
    assert _run_out(["test", ACME], tmp_path, **env) == ref[1]
    assert _run_out(["lint", bad], tmp_path, **env) == ref[2]


def test_cache_written_then_used_with_the_same_results(tmp_path):
    ref = _reference(tmp_path)
    assert "exit 1" in ref[2] and "broken.rules:7:1" in ref[2] and "hint: expected" in ref[2]  # (the parser's terminals)
    assert not (tmp_path / "cache").exists()  # LEADRULES_NO_CACHE=1 wrote nothing
    _same(tmp_path, ref)  # cold: builds and writes
    entries = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert any(e.startswith("parser-") for e in entries) and any(e.startswith("nodes-") for e in entries)
    assert not [e for e in entries if e.endswith(".tmp")]  # written whole, then renamed
    if hasattr(os, "getuid"):
        assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o700
        assert all((tmp_path / "cache" / e).stat().st_mode & 0o777 == 0o600 for e in entries)
    _same(tmp_path, ref)  # warm: loads


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped", "swapped", "valid-checksum-bad-body",
                                    "foreign-mode"])
def test_corrupt_cache_still_parses_correctly(tmp_path, damage):
    ref = _reference(tmp_path)
    _same(tmp_path, ref)
    d = tmp_path / "cache"
    entries = sorted(d.iterdir())
    parser = next(p for p in entries if p.name.startswith("parser-"))
    nodes = [p for p in entries if p.name.startswith("nodes-")]
    trees = [p for p in entries if p.name.startswith("tree-")]
    assert len(trees) == 1  # acme.rules (the broken file has no tree)
    for p in [parser] + nodes + trees:
        raw = p.read_bytes()
        if damage == "garbage":
            p.write_bytes(os.urandom(len(raw)))
        elif damage == "truncated":
            p.write_bytes(raw[: len(raw) // 2])
        elif damage == "flipped":
            i = len(raw) - 100
            p.write_bytes(raw[:i] + bytes([raw[i] ^ 0xFF]) + raw[i + 1:])
        elif damage == "swapped":  # another entry's (valid) bytes under this name
            other = nodes[0] if p == parser else parser
            p.write_bytes(other.read_bytes())
        elif damage == "valid-checksum-bad-body":  # what a future format or a bug could leave: loads must fail
            body = b"\x80\x05not a pickle nor marshal"
            name = p.name.encode()
            p.write_bytes(cache.MAGIC + name + b"\n" + cache._digest(body) + b"\n" + body)
        elif damage == "foreign-mode" and hasattr(os, "getuid"):
            body = pickle.dumps({"evil": True})
            p.write_bytes(cache.MAGIC + p.name.encode() + b"\n" + cache._digest(body) + b"\n" + body)
            p.chmod(0o666)  # writable by others: never loaded
    _same(tmp_path, ref)
    _same(tmp_path, ref)  # and the entries rewritten (or still refused) give the same again


def test_unwritable_cache_dir_still_parses_correctly(tmp_path):
    ref = _reference(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    where = str(blocker / "cache")  # cannot be created, even by root
    bad = str(tmp_path / "broken.rules")
    for _ in range(2):
        assert _run_out(["lint", ACME], tmp_path, LEADRULES_CACHE_DIR=where) == ref[0]
        assert _run_out(["test", ACME], tmp_path, LEADRULES_CACHE_DIR=where) == ref[1]
        assert _run_out(["lint", bad], tmp_path, LEADRULES_CACHE_DIR=where) == ref[2]


def test_cache_read_write_roundtrip_and_refusals(tmp_path, monkeypatch):
    monkeypatch.setenv("LEADRULES_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.delenv("LEADRULES_NO_CACHE", raising=False)
    assert cache.read("x-1") is None
    cache.write("x-1", b"payload\nwith lines")
    assert cache.read("x-1") == b"payload\nwith lines"
    assert cache.read("x-2") is None
    os.replace(tmp_path / "c" / "x-1", tmp_path / "c" / "x-2")
    assert cache.read("x-2") is None  # an entry is only read under the name it was written for
    monkeypatch.setenv("LEADRULES_NO_CACHE", "1")
    assert cache.cache_dir() is None
    cache.write("x-3", b"y")
    assert not (tmp_path / "c" / "x-3").exists()
    monkeypatch.delenv("LEADRULES_NO_CACHE")
    monkeypatch.delenv("LEADRULES_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform != "win32":
        assert cache.cache_dir() == str(tmp_path / "xdg" / "leadrules")
    assert cache.key("a", "bc") != cache.key("ab", "c")


# ---- the syntax nodes are the classes dataclass(frozen=True, slots=True) makes -------------------------


def _node_classes():
    return [c for c in vars(n).values()
            if isinstance(c, type) and c.__module__ == n.__name__ and dataclasses.is_dataclass(c)]


def _twin(cls):
    """The class `@dataclass(frozen=True, slots=True)` makes from the same fields."""
    specs = [(f.name, f.type, dataclasses.field(default=f.default, repr=f.repr, compare=f.compare, hash=f.hash))
             for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(cls.__name__, specs, frozen=True, slots=True, namespace={})


@pytest.mark.parametrize("cls", _node_classes(), ids=lambda c: c.__name__)
def test_node_class_is_its_dataclass_twin(cls):
    twin = _twin(cls)
    fs = dataclasses.fields(cls)
    assert [f.name for f in fs] == [f.name for f in dataclasses.fields(twin)]
    assert str(inspect.signature(cls)) == str(inspect.signature(twin))
    assert cls.__match_args__ == twin.__match_args__ and cls.__slots__ == twin.__slots__
    assert cls.__init__.__qualname__ == f"{cls.__name__}.__init__"
    args = [f"v{i}" for i in range(len(fs))]
    other = [f"w{i}" for i in range(len(fs))]
    a, t = cls(*args), twin(*args)
    assert repr(a) == repr(t) and hash(a) == hash(t)
    assert a == cls(*args) and not (a != cls(*args)) and a.__eq__(object()) is NotImplemented
    for i, f in enumerate(fs):  # changing one field: equal exactly when the twin says so
        changed = list(args)
        changed[i] = other[i]
        assert (a == cls(*changed)) == (t == twin(*changed)), f.name
        assert (hash(a) == hash(cls(*changed))) == (hash(t) == hash(twin(*changed))), f.name
    assert cls(**{f.name: v for f, v in zip(fs, args)}) == a
    for f in fs:
        with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot assign to field '{f.name}'"):
            setattr(a, f.name, 1)
        with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot delete field '{f.name}'"):
            delattr(a, f.name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.not_a_field = 1
    b = pickle.loads(pickle.dumps(a))
    assert b == a and repr(b) == repr(a) and type(b) is cls
    assert copy.deepcopy(a) == a and copy.copy(a) == a
    assert dataclasses.replace(a, **{fs[0].name: "z"}) == cls("z", *args[1:])
    assert dataclasses.asdict(cls(*args)) == dataclasses.asdict(twin(*args))
    with pytest.raises(TypeError) as e1:
        cls(*args, "one too many")
    with pytest.raises(TypeError) as e2:
        twin(*args, "one too many")
    assert str(e1.value) == str(e2.value)


def test_nodes_still_built_with_a_damaged_nodes_cache(tmp_path):
    env = _env(tmp_path)
    code = "import dsl.nodes as n; print(repr(n.Criterion('c', 'when', 5)), n.Span('f', 1, 2) == n.Span('f', 1, 2))"
    first = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    for p in (tmp_path / "cache").iterdir():
        p.write_bytes(p.read_bytes()[:-7] + b"garbage")
    again = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert (again.returncode, again.stdout, again.stderr) == (0, first.stdout, first.stderr)
    assert "Criterion(name='c', kind='when', points=5," in first.stdout


def test_tree_cache_never_gives_an_old_tree(tmp_path):
    """The same path with other text is parsed again: an edit shows at once, and undoing it too."""
    f = tmp_path / "r.rules"
    good = (ROOT / "rulesets" / "acme.rules").read_text(encoding="utf-8")
    assert "grade profile {" in good and "expect profile = 80\n" in good
    f.write_text(good, encoding="utf-8")
    clean, tested = _run_out(["lint", str(f)], tmp_path), _run_out(["test", str(f)], tmp_path)
    assert clean.startswith("exit 0") and tested.startswith("exit 0")
    assert [p.name.startswith("tree-") for p in (tmp_path / "cache").iterdir()].count(True) == 1
    assert _run_out(["lint", str(f)], tmp_path) == clean and _run_out(["test", str(f)], tmp_path) == tested
    for edit, cmd in (("grade profil {", "lint"), ("expect profile = 81\n", "test")):
        old = "grade profile {" if cmd == "lint" else "expect profile = 80\n"
        f.write_text(good.replace(old, edit, 1), encoding="utf-8")
        got = _run_out([cmd, str(f)], tmp_path)
        assert got.startswith("exit 1") and got == _run_out([cmd, str(f)], tmp_path, LEADRULES_NO_CACHE="1")
        assert got == _run_out([cmd, str(f)], tmp_path)
        f.write_text(good, encoding="utf-8")
        assert _run_out([cmd, str(f)], tmp_path) == (clean if cmd == "lint" else tested)


def test_cache_prune_keeps_the_newest(tmp_path, monkeypatch):
    monkeypatch.setenv("LEADRULES_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("LEADRULES_NO_CACHE", raising=False)
    for i in range(10):
        cache.write(f"tree-{i}", b"x")
        os.utime(tmp_path / f"tree-{i}", (1_000_000 + i, 1_000_000 + i))
    cache.write("parser-1", b"y")
    cache.prune("tree-", 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parser-1", "tree-7", "tree-8", "tree-9"]


# ---- the compiled SQL and the rules' hash in the cache (runtime/backends/querycache.py, plan.rules_sha256) ----

MODEL = str(ROOT / "bench" / "model.rules")
LEAD = ('{"id": "L1", "email": "ana@bigco.com", "first_name": "Ana", "last_name": "Li", "title": "VP Marketing", '
        '"company_size": 1200, "industry": "Software", "country": "US", "lead_source": "referral", '
        '"events": [{"type": "form_submit", "at": "2026-10-30T09:00:00Z", "form": "demo_request"}]}\n')


@pytest.mark.skipif(__import__("importlib").util.find_spec("duckdb") is None, reason="needs the sql extra")
def test_duckdb_engine_reuses_its_compiled_query_and_a_changed_file_is_compiled_again(tmp_path):
    leads = tmp_path / "leads.jsonl"
    leads.write_text("".join(LEAD.replace('"L1"', f'"L{i}"') for i in range(3)), encoding="utf-8")
    rules = tmp_path / "m.rules"
    rules.write_text(Path(MODEL).read_text(encoding="utf-8"), encoding="utf-8")
    args = ["score", str(rules), "--leads", str(leads), "--as-of", "2026-11-01", "--engine", "duckdb"]
    ref = _run_out(args, tmp_path, LEADRULES_NO_CACHE="1")
    assert ref.startswith("exit 0") and '"reasons": "' in ref
    out = ref.split("\n", 1)[1]
    mods, p = _imported(args, _env(tmp_path))  # cold: builds the query (sqlglot) and keeps it
    assert "sqlglot" in mods and p.returncode == 0 and out.startswith(p.stdout + "\n")
    mods, p = _imported(args, _env(tmp_path))  # warm: the kept query, no sqlglot
    assert "sqlglot" not in mods and p.returncode == 0 and out.startswith(p.stdout + "\n")
    assert _run_out(args, tmp_path) == ref
    entries = [e.name for e in (tmp_path / "cache").iterdir()]
    assert any(e.startswith("duckline-") for e in entries) and any(e.startswith("sha-") for e in entries)
    # a change of meaning is a new entry, never the old query
    rules.write_text(rules.read_text(encoding="utf-8").replace('+40 each form_submit where form = "demo_request"',
                                                               '+4 each form_submit where form = "demo_request"'), encoding="utf-8")
    changed = _run_out(args, tmp_path)
    assert changed != ref and changed == _run_out(args, tmp_path, LEADRULES_NO_CACHE="1")
    # damaged entries are misses: the same output again
    for e in (tmp_path / "cache").iterdir():
        if e.name.startswith(("duckline-", "sha-", "sqlok-")):
            e.write_bytes(os.urandom(64))
    assert _run_out(args, tmp_path) == changed
