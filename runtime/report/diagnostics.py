"""Rendering diagnostics for people and machines: text (source line, caret, hint), json, and GitHub
workflow annotations. SARIF lives in runtime/sarif.py.
"""
from __future__ import annotations

import json

from dsl.diagnostics import Diagnostic

from runtime.report.term import clean


def _source_lines(sources: dict[str, str], file: str) -> list[str]:
    text = sources.get(file)
    # lines as the parser counts them: at "\n" only (str.splitlines also breaks at \x0c, \x1c, U+2028, ...)
    return [l.removesuffix("\r") for l in text.removeprefix("\ufeff").split("\n")] if text is not None else []


def text(diags: list[Diagnostic], sources: dict[str, str], color: bool = False) -> str:
    """`file:line:col: error LR203 unknown field "job_title"`, the line, a caret, `hint: ...`."""
    out = []
    for d in diags:
        sev = d.severity
        file, message = clean(d.file), clean(d.message)  # a rule file's text never reaches a terminal raw
        head = f"{file}:{d.line}:{d.col}: {sev} {d.code} {message}" if d.line else f"{file}: {sev} {d.code} {message}"
        if color:
            c = "\x1b[31m" if d.is_error else "\x1b[33m"
            head = f"\x1b[1m{file}:{d.line}:{d.col}:\x1b[0m {c}{sev}\x1b[0m \x1b[1m{d.code}\x1b[0m {message}"
        out.append(head)
        lines = _source_lines(sources, d.file)
        if d.line and 0 < d.line <= len(lines):
            src = clean(lines[d.line - 1].expandtabs(1))
            out.append(f"  {d.line:>4} | {src}")
            width = (d.end_col - d.col + 1) if d.end_line == d.line and d.end_col >= d.col else 1
            width = max(1, min(width, max(1, len(src) - d.col + 1)))
            out.append("       | " + " " * (d.col - 1) + "^" * width)
        if d.hint:
            out.append(f"  hint: {clean(d.hint)}")
    return "\n".join(out)


def summary(diags: list[Diagnostic], nfiles: int) -> str:
    e = sum(1 for d in diags if d.is_error)
    w = len(diags) - e
    files = f"{nfiles} file{'s' if nfiles != 1 else ''}"
    if not diags:
        return f"{files} checked: no problems"
    return f"{files} checked: {e} error{'s' if e != 1 else ''}, {w} warning{'s' if w != 1 else ''}"


def as_json(diags: list[Diagnostic], files: list[str]) -> str:
    errs = sum(1 for d in diags if d.is_error)
    doc = {
        "version": 1,
        "files": files,
        "errors": errs,
        "warnings": len(diags) - errs,
        "diagnostics": [d.model_dump() for d in diags],
    }
    return json.dumps(doc, indent=2)


def _gh_escape(s: str, prop: bool = False) -> str:
    s = s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        s = s.replace(":", "%3A").replace(",", "%2C")
    return s


def github(diags: list[Diagnostic]) -> str:
    """GitHub Actions workflow commands: `::error file=F,line=L,col=C,title=CODE::message`."""
    out = []
    for d in diags:
        level = "error" if d.is_error else "warning"
        props = [f"file={_gh_escape(d.file, True)}"]
        if d.line:
            props += [f"line={d.line}", f"col={d.col}"]
            if d.end_line:
                props += [f"endLine={d.end_line}", f"endColumn={d.end_col}"]
        props.append(f"title={_gh_escape(d.code + ' ' + d.slug, True)}")
        msg = d.message + (f"\n\nhint: {d.hint}" if d.hint else "")
        out.append(f"::{level} {','.join(props)}::{_gh_escape(msg)}")
    return "\n".join(out)
