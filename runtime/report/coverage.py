"""Reports of `leadrules test --coverage`: text for people, json (docs/cli.md), Cobertura XML for CI
(GitLab, Azure DevOps, Jenkins and codecov read it; each coverage item is a line, a `when` criterion's
fired / not-fired pair is a two-way branch)."""
from __future__ import annotations

import json
import os
import time
import xml.etree.ElementTree as ET
from collections import defaultdict

from runtime.analysis.coverage import FileCoverage, Item, percent, total_percent

KINDS = [("criterion", "criteria"), ("tier", "tiers"), ("band", "bands"), ("route", "route lines"),
         ("disqualify", "disqualify reasons")]


def _kind_counts(items: list[Item], kind: str) -> tuple[int, int]:
    goals = [tests for i in items if i.kind == kind for tests in i.goals.values()]
    return sum(1 for t in goals if t), len(goals)


def _why(item: Item) -> str:
    miss = item.missing()
    if item.kind == "criterion":
        if miss == ["does not fire"]:
            return "fires in every test: no test shows a scored lead without it"
        if "fires" in miss and len(miss) == 2:
            return "never evaluated: no test's lead is scored (none, or all disqualified)"
        return "never fires in a test"
    if item.kind == "tier":
        return "no test's lead takes this tier"
    if item.kind == "band":
        return "no test's lead gets this band"
    if item.kind == "route":
        return "no test's lead is routed by this line"
    return "no test's lead is disqualified for this reason"


def as_text(files: list[FileCoverage], color: bool = False) -> str:
    red, bold, reset = ("\x1b[31m", "\x1b[1m", "\x1b[0m") if color else ("", "", "")
    lines = []
    for f in files:
        lines.append(f"{bold}coverage of {f.file}: {f.percent:.1f}% ({f.covered} of {f.total} goals, "
                     f"{f.tests} test{'s' if f.tests != 1 else ''}){reset}")
        for kind, word in KINDS:
            c, t = _kind_counts(f.items, kind)
            if t:
                lines.append(f"  {word:<20} {c:>4}/{t:<4} {percent(c, t):5.1f}%")
        missing = [i for i in f.items if not i.covered]
        if missing:
            lines.append("  not covered:")
            for i in missing:
                lines.append(f"    {red}{f.file}:{i.line}:{i.col}{reset}  {i.label}: {_why(i)}")
        else:
            lines.append("  every item is covered")
    if len(files) > 1:
        cov, tot = sum(f.covered for f in files), sum(f.total for f in files)
        lines.append(f"{bold}total: {total_percent(files):.1f}% ({cov} of {tot} goals){reset}")
    return "\n".join(lines)


def as_dict(files: list[FileCoverage]) -> dict:
    out = []
    for f in files:
        kinds = {}
        for kind, word in KINDS:
            c, t = _kind_counts(f.items, kind)
            kinds[kind] = {"covered": c, "total": t}
        out.append({
            "file": f.file, "percent": f.percent, "covered": f.covered, "total": f.total, "tests": f.tests,
            "kinds": kinds,
            "items": [{"kind": i.kind, "label": i.label, "dim": i.dim, "account": i.account, "line": i.line,
                       "col": i.col, "covered": i.covered, "goals": i.goals, "missing": i.missing()}
                      for i in f.items],
            "uncovered": [{"kind": i.kind, "label": i.label, "line": i.line, "col": i.col, "missing": i.missing(),
                           "why": _why(i)} for i in f.items if not i.covered],
        })
    return {"version": 1, "percent": total_percent(files), "covered": sum(f.covered for f in files),
            "total": sum(f.total for f in files), "files": out}


def as_json(files: list[FileCoverage]) -> str:
    return json.dumps(as_dict(files), indent=2)


def _rate(c: int, t: int) -> str:
    return f"{(c / t if t else 1.0):.4f}"


def as_cobertura(files: list[FileCoverage]) -> str:
    """Cobertura 4 XML. A line holds the items that start on it; its hits are the fewest tests that
    reached any of their goals (0 when one goal is missed), and an item with two goals makes it a branch."""
    root = ET.Element("coverage", version="leadrules", timestamp=str(int(time.time() * 1000)))
    sources = ET.SubElement(root, "sources")
    ET.SubElement(sources, "source").text = "."
    packages = ET.SubElement(root, "packages")
    by_dir: dict[str, list[FileCoverage]] = defaultdict(list)
    for f in files:
        by_dir[os.path.dirname(f.file) or "."].append(f)
    all_lines = [0, 0, 0, 0]  # lines covered, valid, branches covered, valid

    for d, fs in by_dir.items():
        pkg = ET.SubElement(packages, "package", name=d.replace(os.sep, "."))
        classes = ET.SubElement(pkg, "classes")
        pl = [0, 0, 0, 0]
        for f in fs:
            cls = ET.SubElement(classes, "class", name=os.path.basename(f.file), filename=f.file)
            ET.SubElement(cls, "methods")
            xl = ET.SubElement(cls, "lines")
            per_line: dict[int, list[Item]] = defaultdict(list)
            for i in f.items:
                per_line[i.line].append(i)
            cl = [0, 0, 0, 0]
            for ln in sorted(per_line):
                its = per_line[ln]
                hits = min(len(tests) for i in its for tests in i.goals.values())
                attrs = {"number": str(ln), "hits": str(hits)}
                if any(len(i.goals) > 1 for i in its):
                    goals = [tests for i in its for tests in i.goals.values()]
                    bc, bt = sum(1 for t in goals if t), len(goals)
                    attrs.update(branch="true", **{"condition-coverage": f"{int(100 * bc / bt)}% ({bc}/{bt})"})
                    cl[2] += bc
                    cl[3] += bt
                else:
                    attrs["branch"] = "false"
                ET.SubElement(xl, "line", attrs)
                cl[0] += 1 if hits else 0
                cl[1] += 1
            cls.set("line-rate", _rate(cl[0], cl[1]))
            cls.set("branch-rate", _rate(cl[2], cl[3]))
            cls.set("complexity", "0")
            pl = [a + b for a, b in zip(pl, cl)]
        pkg.set("line-rate", _rate(pl[0], pl[1]))
        pkg.set("branch-rate", _rate(pl[2], pl[3]))
        pkg.set("complexity", "0")
        all_lines = [a + b for a, b in zip(all_lines, pl)]
    root.set("line-rate", _rate(all_lines[0], all_lines[1]))
    root.set("branch-rate", _rate(all_lines[2], all_lines[3]))
    root.set("lines-covered", str(all_lines[0]))
    root.set("lines-valid", str(all_lines[1]))
    root.set("branches-covered", str(all_lines[2]))
    root.set("branches-valid", str(all_lines[3]))
    root.set("complexity", "0")
    ET.indent(root)
    return ('<?xml version="1.0" ?>\n'
            '<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">\n'
            + ET.tostring(root, encoding="unicode") + "\n")
