"""pytest plugin: a plain `pytest` run collects the `test` blocks of `.rules` files as test items.

Registered through the `pytest11` entry point. Each `test "NAME" { … }` becomes an item named after
it; a file that does not compile becomes one failing item that shows the diagnostics. Set
`leadrules_as_of = YYYY-MM-DD` in the pytest ini options for tests without their own `as of`.
Only leadrules files are collected: a `.rules` file whose first statement is not `ruleset "…"` (udev,
Firebase) is left alone. Turn the plugin off with `-p no:leadrules` or `leadrules_collect = false`.
"""
from __future__ import annotations

import datetime as dt

import pytest


def pytest_addoption(parser):
    parser.addini("leadrules_as_of", "as-of date for rule-file tests without `as of` (default: today, UTC)",
                  default="")
    parser.addini("leadrules_collect", "collect test blocks from .rules files", type="bool", default=True)


def pytest_collect_file(parent, file_path):
    if file_path.suffix == ".rules" and parent.config.getini("leadrules_collect"):
        from runtime.editor.detect import is_rules_file

        if is_rules_file(file_path):
            return RulesFile.from_parent(parent, path=file_path)
    return None


class RuleFileError(Exception):
    pass


class RulesFile(pytest.File):
    def collect(self):
        from dsl.diagnostics import RuleError
        from runtime.backends.load import load_rules

        try:
            rules = load_rules(str(self.path))
        except RuleError as e:
            yield CompileItem.from_parent(self, name="compile", diagnostics=e.diagnostics, source=self.path.read_text("utf-8"))
            return
        from dsl import nodes as n

        asof_text = self.config.getini("leadrules_as_of")
        default = dt.date.fromisoformat(asof_text) if asof_text else dt.datetime.now(dt.timezone.utc).date()
        for t in rules.checked.file.of(n.Test):
            yield RuleTestItem.from_parent(self, name=t.name, test=t, engine=rules.engine, default_asof=default)


class CompileItem(pytest.Item):
    def __init__(self, *, diagnostics, source, **kw):
        super().__init__(**kw)
        self.diagnostics = diagnostics
        self.source = source

    def runtest(self):
        raise RuleFileError()

    def repr_failure(self, excinfo):
        from runtime.report import diagnostics as render

        return "rule file does not compile:\n" + render.text(self.diagnostics, {str(self.path): self.source,
                                                                                self.diagnostics[0].file: self.source})

    def reportinfo(self):
        return self.path, 0, f"{self.path.name}: compile"


class RuleTestFailed(Exception):
    pass


class RuleTestItem(pytest.Item):
    def __init__(self, *, test, engine, default_asof, **kw):
        super().__init__(**kw)
        self.test = test
        self.engine = engine
        self.default_asof = default_asof
        self.outcome = None

    def runtest(self):
        from runtime.analysis.testing import run_test

        self.outcome = run_test(self.test, self.engine, self.default_asof)
        if not self.outcome.passed:
            raise RuleTestFailed()

    def repr_failure(self, excinfo):
        if not isinstance(excinfo.value, RuleTestFailed) or self.outcome is None:
            return super().repr_failure(excinfo)
        o = self.outcome
        lines = [f'test "{o.name}" failed ({o.span.file}:{o.span.line}, as of {o.as_of}):']
        lines += [f"  {m}" for m in o.failures]
        r = o.result
        if r is not None:
            lines.append(f"  got: grade {r.grade}, route {r.route}" + (f' "{r.queue}"' if r.queue else "")
                         + (f", scores {r.scores}" if r.scores else ""))
        lines.append("  fired: " + (", ".join(o.fired) or "nothing"))
        return "\n".join(lines)

    def reportinfo(self):
        return self.path, self.test.span.line - 1, f"{self.path.name}: {self.test.name}"
