"""Loading rule files: from a path or a `REV:PATH` git revision, through parse and check, to an
engine. Git is called with an argument list, never through a shell.

The engine is `runtime.backends.pygen.compile_fast`'s: generated Python for the hot path (`score`, and
`score_obj` on JSON objects), with everything else (`explain`, `criteria`, `route_for`, ...) from the
closure engine it extends; a file the generator does not cover gets the closure engine itself.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dsl.checker import Checked, check
from dsl.diagnostics import RuleError
from dsl.parser import parse

if TYPE_CHECKING:  # the engine is imported when a file is compiled, not when `lint` reads one
    from runtime.backends.closure import Engine


class RulesInputError(Exception):
    """A rule file that cannot be read at all (missing, unreadable, bad git revision)."""


@dataclass
class LoadedRules:
    spec: str           # as given on the command line
    display: str        # name used in messages
    path: Path | None   # on-disk path (None for REV:PATH)
    text: str
    checked: Checked
    engine: Engine | None  # None when the file has errors

    @property
    def base_dir(self) -> Path:
        """Where relative paths in the file (simulation leads) are resolved."""
        if self.path is not None:
            return self.path.parent
        _, p = split_rev(self.spec)
        return (Path.cwd() / p).parent


_REV_RE = re.compile(r"^(?P<rev>[^:]+):(?P<path>.+)$")


def split_rev(spec: str) -> tuple[str | None, str]:
    if os.path.exists(spec):
        return None, spec
    m = _REV_RE.match(spec)
    if m and not re.match(r"^[A-Za-z]:[\\/]", spec):  # not a Windows drive letter
        return m.group("rev"), m.group("path")
    return None, spec


def read_rules_text(spec: str) -> tuple[str, Path | None]:
    rev, path = split_rev(spec)
    if rev is None:
        p = Path(path)
        if not p.exists():
            raise RulesInputError(f"{spec}: no such rule file")
        if p.is_dir():
            raise RulesInputError(f"{spec}: is a directory, not a rule file")
        try:
            return p.read_bytes().decode("utf-8"), p
        except UnicodeDecodeError as e:
            raise RulesInputError(f"{spec}: not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8")
        except OSError as e:
            raise RulesInputError(f"{spec}: cannot read ({e.strerror})")
    # git show REV:PATH, with PATH relative to the current directory as git understands `./`
    rel = path if path.startswith("/") else "./" + path if not path.startswith("./") else path
    import subprocess  # here: reading a file from disk (lint, test) never needs it

    try:
        proc = subprocess.run(["git", "show", f"{rev}:{rel}"], capture_output=True, timeout=60)
    except FileNotFoundError:
        raise RulesInputError(f"{spec}: git is not installed, so a revision cannot be read")
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = err[-1] if err else "git show failed"
        raise RulesInputError(f"{spec}: cannot read {path} at revision {rev}: {reason.removeprefix('fatal: ')}")
    try:
        return proc.stdout.decode("utf-8"), None
    except UnicodeDecodeError:
        raise RulesInputError(f"{spec}: not UTF-8 text at revision {rev}")


def load_rules(spec: str, *, require_ok: bool = True) -> LoadedRules:
    """Read, parse, check and compile. Raises RulesInputError, or RuleError when the file has errors
    and `require_ok`."""
    text, path = read_rules_text(spec)
    try:
        rf = parse(text, spec, cached=True)  # the tree is kept for the next command on the same text
    except RuleError:
        if require_ok:
            raise
        from dsl.checker import check_text

        return LoadedRules(spec, spec, path, text, check_text(text, spec), None)
    checked = check(rf)
    if not checked.ok:
        if require_ok:
            raise RuleError(checked.diagnostics)
        return LoadedRules(spec, spec, path, text, checked, None)
    from runtime.backends.pygen import compile_fast
    from runtime.core.plan import lower

    return LoadedRules(spec, spec, path, text, checked, compile_fast(checked, lower(checked, text)))
