"""Reports of `leadrules test`: text for people, json (documented in docs/cli.md), JUnit XML for CI."""
from __future__ import annotations

import json
import re
from functools import lru_cache

from runtime.analysis.testing import TestOutcome
from runtime.report.term import clean


@lru_cache(maxsize=1)
def _not_xml() -> re.Pattern:
    """Characters XML 1.0 cannot hold at all (even as &#...;): shown as \\xNN so the report stays valid
    XML. Compiled on first use (~4 ms), so `leadrules test` in text or json pays nothing for it."""
    return re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(s) -> str:
    return _not_xml().sub(lambda m: f"\\x{ord(m.group(0)):02x}", str(s))


def _counts(results) -> tuple[int, int]:
    outs = [o for _, os_ in results for o in os_]
    passed = sum(1 for o in outs if o.passed)
    return passed, len(outs) - passed


def as_text(results: list[tuple[str, list[TestOutcome]]], color: bool = False) -> str:
    green, red, dim, reset = ("\x1b[32m", "\x1b[31m", "\x1b[2m", "\x1b[0m") if color else ("", "", "", "")
    lines = []
    for f, outs in results:
        lines.append(clean(f))
        if not outs:
            lines.append("  (no tests)")
        for o in outs:
            if o.passed:
                lines.append(f"  {green}PASS{reset}  {clean(o.name)}")
            else:
                lines.append(f"  {red}FAIL{reset}  {clean(o.name)}  {dim}({clean(o.span.file)}:{o.span.line}){reset}")
                for msg in o.failures:
                    lines.append(f"        {clean(msg)}")
                r = o.result
                if r is not None:
                    got = f"grade {r.grade}" + (f", scores {_scores(r.scores)}" if r.scores else "")
                    route = (r.route or "no route") + (f' "{r.queue}"' if r.queue else "")
                    lines.append(clean(f"        got: {got}, route {route} (as of {o.as_of})"))
                lines.append(clean("        fired: " + (", ".join(o.fired) if o.fired else "nothing")))
    p, f = _counts(results)
    lines.append(f"{p} passed, {f} failed")
    return "\n".join(lines)


def _scores(s: dict) -> str:
    from dsl.printer import num

    return ", ".join(f"{k} {num(v)}" for k, v in s.items())


def as_json(results) -> str:
    tests = []
    for f, outs in results:
        for o in outs:
            r = o.result
            tests.append({
                "file": f, "name": o.name, "line": o.span.line, "passed": o.passed, "failures": o.failures,
                "as_of": o.as_of,
                "grade": r.grade if r else None, "route": r.route if r else None,
                "queue": r.queue if r else None, "disqualified": r.disqualified if r else None,
                "scores": r.scores if r else {}, "fired": o.fired,
            })
    p, f = _counts(results)
    return json.dumps({"version": 1, "passed": p, "failed": f, "tests": tests}, indent=2)


def as_junit(results) -> str:
    p, f = _counts(results)
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name="leadrules", tests=str(p + f), failures=str(f))
    for file, outs in results:
        suite = ET.SubElement(root, "testsuite", name=_x(file), tests=str(len(outs)),
                              failures=str(sum(1 for o in outs if not o.passed)))
        for o in outs:
            case = ET.SubElement(suite, "testcase", name=_x(o.name), classname=_x(file), file=_x(file),
                                 line=str(o.span.line))
            if not o.passed:
                fail = ET.SubElement(case, "failure", message=_x("; ".join(o.failures)))
                fail.text = _x("\n".join(o.failures + ["fired: " + (", ".join(o.fired) or "nothing")]))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
