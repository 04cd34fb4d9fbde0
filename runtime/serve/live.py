"""The rule files a running service scores with. Each version is loaded, compiled and its `test`
blocks run into an immutable `Ruleset`; a `Slot` holds the live one and replaces it in one
assignment when a changed file passes, so a request (which reads `slot.current` once) never sees a
half-loaded ruleset. A file that fails keeps the old version serving and the error on the slot.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dsl import nodes as n
from dsl.diagnostics import RuleError


class LoadError(Exception):
    """A rule file version that cannot serve: unreadable or does not compile (`code` 2), or one of
    its tests fails (`code` 1), as the exit codes of `leadrules test` say."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def rules_sha256(text: str, path: str = "<string>") -> str:
    """The rules' hash, as every scored record carries it (runtime/core/plan.py: one definition)."""
    from runtime.core.plan import rules_sha256 as meaning_sha256

    return meaning_sha256(text, path) or hashlib.sha256(text.encode("utf-8")).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Ruleset:
    """One loaded, tested version of a rule file; never changed after it is built."""

    path: str
    name: str
    version: Any
    rules: Any          # runtime.backends.load.LoadedRules
    engine: Any
    schema: Any         # runtime.core.model.Schema
    sha256: str         # rules_sha256 of the text
    text_sha: str       # SHA-256 of the bytes as read (to notice any change of the file)
    loaded_at: str
    tests: int

    def info(self) -> dict:
        # `ruleset` and `ruleset_version` as score records name them; `name` and `version` as the file does
        return {"name": self.name, "version": self.version, "ruleset": self.name, "ruleset_version": self.version,
                "rules_sha256": self.sha256, "loaded_at": self.loaded_at, "file": self.path, "tests": self.tests}


def _diagnostics_text(err: RuleError, path: str, text: str) -> str:
    from runtime.report import diagnostics as render

    diags = list(err.diagnostics)
    n_err = sum(1 for d in diags if d.is_error)
    body = render.text([d for d in diags if d.is_error][:5], {path: text, **{d.file: text for d in diags}})
    return f"{path}: does not compile ({n_err} error{'s' if n_err != 1 else ''})\n{body}"


def load_ruleset(path: str, *, id_field: str = "id", today: dt.date | None = None) -> Ruleset:
    """Read, compile and test one rule file; LoadError (with a message for people) when it cannot serve."""
    from runtime.analysis.testing import run_tests
    from runtime.backends.load import RulesInputError, load_rules, read_rules_text
    from runtime.core.model import Schema

    try:
        text, _p = read_rules_text(path)
    except RulesInputError as e:
        raise LoadError(str(e)) from None
    try:
        rules = load_rules(path)
    except RulesInputError as e:
        raise LoadError(str(e)) from None
    except RuleError as e:
        raise LoadError(_diagnostics_text(e, path, text)) from None
    # the file may have changed between the two reads: hash what was compiled
    text = rules.text
    day = today or dt.datetime.now(dt.timezone.utc).date()
    outcomes = run_tests(rules.engine, day)
    failed = [o for o in outcomes if not o.passed]
    if failed:
        lines = [f'  test "{o.name}" (line {o.span.line}): {"; ".join(o.failures)}' for o in failed[:5]]
        more = f"\n  ... and {len(failed) - 5} more" if len(failed) > 5 else ""
        raise LoadError(f"{path}: {len(failed)} of {len(outcomes)} tests fail\n" + "\n".join(lines) + more, 1)
    c = rules.checked
    head = c.file.first(n.Ruleset)
    name = head.name if head is not None else Path(path).stem
    version = head.version if head is not None else None
    schema = Schema(dict(c.fields), {k: dict(v) for k, v in c.events.items()}, id_field)
    return Ruleset(path=path, name=name, version=version, rules=rules, engine=rules.engine, schema=schema,
                   sha256=rules_sha256(text, path), text_sha=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                   loaded_at=_now(), tests=len(outcomes))


@dataclass
class Slot:
    """The live version of one rule file, and the last reload that failed (None once one succeeds)."""

    path: str
    current: Ruleset
    id_field: str = "id"
    error: dict | None = None
    log: Callable[[str], None] = print
    _failed_sha: str | None = field(default=None, repr=False)

    @classmethod
    def load(cls, path: str, *, id_field: str = "id", log: Callable[[str], None] = print) -> "Slot":
        return cls(path, load_ruleset(path, id_field=id_field), id_field, log=log)

    def check(self) -> bool:
        """Reload when the file's text changed; True when a new version went live."""
        try:
            data = Path(self.path).read_bytes()
        except OSError as e:
            key = f"unreadable:{e.strerror}"
            if key != self._failed_sha:
                self._fail(key, f"{self.path}: cannot read ({e.strerror}); still serving "
                                f"{self.current.name} {self.current.sha256[:12]}")
            return False
        sha = hashlib.sha256(data).hexdigest()
        if sha == self.current.text_sha:
            if self.error is not None and self._failed_sha is not None:
                # the file went back to the live version: nothing is wrong any more
                self.error, self._failed_sha = None, None
            return False
        if sha == self._failed_sha:
            return False  # the same broken text: already reported
        try:
            new = load_ruleset(self.path, id_field=self.id_field)
        except LoadError as e:
            self._fail(sha, str(e))
            return False
        except Exception as e:  # a bug while loading must not take the service down
            self._fail(sha, f"{self.path}: internal error while loading: {type(e).__name__}: {e}")
            return False
        old = self.current
        self.current = new  # one reference assignment: requests see the old or the new, whole
        self.error, self._failed_sha = None, None
        self.log(f"reloaded {self.path}: {new.name} version {new.version} rules_sha256 {new.sha256} "
                 f"(was {old.sha256[:12]}), {new.tests} tests pass")
        return True

    def _fail(self, key: str, message: str) -> None:
        self._failed_sha = key
        self.error = {"at": _now(), "file": self.path, "message": message,
                      "serving_rules_sha256": self.current.sha256}
        self.log(f"reload of {self.path} failed; still serving {self.current.name} "
                 f"{self.current.sha256[:12]}:\n{message}")


class Watcher:
    """Polls every slot's file every `interval` seconds in a daemon thread."""

    def __init__(self, slots: list[Slot], interval: float = 1.0):
        self.slots, self.interval = slots, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="leadrules-reload", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for s in self.slots:
                s.check()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
