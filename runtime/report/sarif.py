"""SARIF 2.1.0 for `leadrules lint --format sarif`: findings as a code-scanning upload understands them.

One run; its tool lists every code of dsl.diagnostics.CODES as a rule (id, slug, what it means, its
default level), and each finding is a result pointing at the rule file by a URI relative to the
current directory (`%SRCROOT%`, the repository root in CI). SARIF columns are 1-based like ours, but
a region's end column is the one *after* it, so an inclusive span end becomes `end_col + 1`.
tests/test_lint.py validates the output against the OASIS schema (tests/data/sarif-schema-2.1.0.json).
"""
from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from dsl.diagnostics import CODES, ERROR, Diagnostic

SCHEMA_URI = "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json"

# What each code means, in a sentence or two: the rules' help in SARIF, and the first paragraph of each
# code's section in docs/lint.md (a test keeps the two the same).
RULE_HELP: dict[str, str] = {
    "LR101": "The text does not follow the grammar: a word or symbol stands where another was expected.",
    "LR102": "A character the language does not use outside strings and comments, such as `$` or a curly quote.",
    "LR103": "The file ends in the middle of a construct: a block without its closing `}`, a line cut short.",
    "LR104": "A value that cannot be read: a date that does not exist, or a version that is not a whole number.",
    "LR201": "A name in a condition, or in `days since`, that is not a declared field.",
    "LR202": "An event type that the `events` section does not declare.",
    "LR203": "Inside `where`, a name that is neither an attribute of that event nor a field; in a test, an "
             "attribute the event does not have.",
    "LR204": "A list name (`x in NAME`) that no `list` line declares.",
    "LR205": "Values of different kinds tested together (a number compared with text, a text test on a number), "
             "or a value out of its range (`between 10 and 5`, a negative window, hours where days are counted).",
    "LR206": "Two criteria of one dimension have the same name; tests and reports name criteria, so each needs "
             "its own.",
    "LR207": "A `grade` block for a dimension that no `score` block declares.",
    "LR208": "A field, event, attribute, list, dimension, band, disqualify reason or simulation is declared twice.",
    "LR209": "A required section is missing: the `ruleset` line, the `fields` section, or an accounts block's "
             "`grade`.",
    "LR210": "A section a file has only once (`ruleset`, `owners`, `fields`, `events`, `accounts`, `route`) "
             "appears twice.",
    "LR211": "A test expects the score of a dimension that does not exist, or a route line names an account band "
             "that does not exist.",
    "LR212": "The pattern of `matches` is not a valid regular expression, or could take exponential time on a long value (a repeat inside a repeat, like `(a+)+`).",
    "LR213": "`has lead`, `count lead` or `each lead` outside an `accounts` block, or `within` on leads.",
    "LR214": "Something an account does not have: events, fields or a decay of its own (it is the group of its "
             "leads), or an account key that is not a field or `domain(field)`.",
    "LR215": "A `from \"Column\"` that cannot work: a field without a type, an empty column, a column given twice.",
    "LR301": "A band after `otherwise` can never be given: `otherwise` takes every lead that is left.",
    "LR302": "Bands are tried top-down, so their thresholds must go from the highest to the lowest.",
    "LR303": "`max` on a `when` or `first of` criterion: these give their points once, so a cap means nothing.",
    "LR304": "A route pattern (or a simulation's grade pattern) that matches none of the grades a lead can get.",
    "LR305": "The route block has no `otherwise` line, so some leads would get no route.",
    "LR306": "A band whose threshold is above what the dimension's positive points can add up to: no lead can "
             "reach it.",
    "LR307": "A criterion that can give more points than its dimension's max: the excess is always cut off.",
    "LR308": "A route line whose every grade is taken by earlier lines (the first match wins): it is never used.",
    "LR309": "A list that no condition uses.",
    "LR310": "A grade block without an `otherwise` band, so some leads would get no band.",
    "LR311": "A dimension whose max is not above its floor.",
    "LR312": "Two grade blocks for one dimension.",
    "LR313": "A `first of` tier or a route line after `otherwise`: it can never be used.",
    "LR314": "A criterion, tier or disqualify reason whose condition can never hold (`count email_click < 0`, "
             "`company_size > 1000 and company_size < 500`, `x = \"\"`), or a part of a condition that never "
             "matters.",
    "LR315": "A disqualify reason that can never win: every lead it matches is already disqualified by an earlier "
             "reason, and the first matching reason wins.",
    "LR316": "An `each` criterion whose `within` window reaches so far back that, with the dimension's decay, an "
             "event at its end counts less than 5% of its points.",
    "LR317": "An `each` criterion without `max` whose events do not decay: its points grow with every event, so "
             "it alone can fill (or empty) its dimension. The same holds for `+P per count EVENT …` (a count is not "
             "decayed) and, even in a decaying dimension, for `+P per ATTR each EVENT` (decay does not bound one event "
             "with a large value).",
    "LR319": "A `from \"Column\"` that names the column the field would be read from anyway.",
    "LR320": "A `reset on` line in a dimension whose criteria count no events, so the reset voids nothing.",
    "LR318": "A `first of` tier that can never apply: an earlier tier holds for every lead it would match.",
    "LR401": "A test expects a grade (or an account band) that no lead can get.",
    "LR402": "A test expects a route that no route line gives; in a simulation block this is a warning.",
    "LR403": "A test expects a criterion to fire (or not) that does not exist.",
    "LR404": "A test expects a disqualify reason that does not exist, or expects a disqualified lead from a file "
             "that disqualifies nothing.",
    "LR405": "The ruleset has no `test` blocks, so nothing says what it should do.",
    "LR406": "The sections are not in the order docs/language.md lists them; `leadrules fmt` puts them in order.",
    "LR407": "A test's lead has a key that is not a field, or a value that does not fit the field's type.",
    "LR408": "Two tests have the same name.",
    "LR409": "`no decay` on a criterion whose dimension has no decay: there is nothing to turn off.",
    "LR410": "A `# leadrules: ignore` comment that silences nothing: no such finding on its line, a code that "
             "does not exist, or an error (errors cannot be silenced).",
}

_AREA = {"1": "syntax", "2": "names-and-types", "3": "logic", "4": "tests-and-style"}


def _tool_version() -> str:
    try:
        from importlib.metadata import version

        return version("leadrules")
    except Exception:  # not installed (running from a checkout)
        return "0.0.0"


def artifact_uri(file: str) -> tuple[str, bool]:
    """(uri, relative?) for a diagnostic's file: relative to the current directory when it lies inside
    it, else an absolute file URI. `REV:PATH` (a file at a git revision) points at PATH."""
    from runtime.backends.load import split_rev

    _, path = split_rev(file)
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.resolve().relative_to(Path.cwd().resolve())
        except ValueError:
            return p.resolve().as_uri(), False
    parts = [x for x in PurePosixPath(p.as_posix()).parts if x != "."]
    return quote("/".join(parts) or path, safe="/"), True


def _rule(code: str) -> dict:
    slug, severity = CODES[code]
    meaning = RULE_HELP.get(code, slug.replace("-", " "))
    silence = ("Errors cannot be silenced." if severity == ERROR else
               f"Silence it on one line with `# leadrules: ignore {code}`.")
    return {
        "id": code,
        "name": slug,
        "shortDescription": {"text": slug.replace("-", " ")},
        "fullDescription": {"text": meaning},
        "help": {"text": f"{meaning} {silence} Examples: docs/lint.md, {code} {slug}.",
                 "markdown": f"**{code} {slug}** ({severity}): {meaning}\n\n{silence} "
                             f"Bad and good examples: `docs/lint.md`, section *{code} {slug}*."},
        "defaultConfiguration": {"level": "error" if severity == ERROR else "warning"},
        "properties": {"tags": ["leadrules", _AREA.get(code[2], "other")]},
    }


def to_dict(diags: list[Diagnostic], sources: dict[str, str] | None = None) -> dict:
    sources = sources or {}
    codes = list(CODES)
    index = {c: i for i, c in enumerate(codes)}
    results = []
    for d in diags:
        uri, relative = artifact_uri(d.file)
        loc: dict = {"artifactLocation": {"uri": uri, **({"uriBaseId": "%SRCROOT%"} if relative else {})}}
        if d.line > 0:
            start_col = max(d.col, 1)
            end_line = max(d.end_line or d.line, d.line)
            end_col = max(d.end_col or start_col, 1) + 1
            if end_line == d.line and end_col <= start_col:
                end_col = start_col + 1
            region = {"startLine": d.line, "startColumn": start_col, "endLine": end_line, "endColumn": end_col}
            lines = (sources.get(d.file) or "").splitlines()
            if 0 < d.line <= len(lines):
                region["snippet"] = {"text": lines[d.line - 1]}
            loc["region"] = region
        text = d.message + (f"\nhint: {d.hint}" if d.hint else "")
        result = {
            "ruleId": d.code,
            "level": "error" if d.is_error else "warning",
            "message": {"text": text},
            "locations": [{"physicalLocation": loc}],
        }
        if d.code in index:
            result["ruleIndex"] = index[d.code]
        results.append(result)
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "leadrules",
                "version": _tool_version(),
                "rules": [_rule(c) for c in codes],
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


def to_sarif(diags: list[Diagnostic], sources: dict[str, str] | None = None) -> str:
    """The SARIF log as JSON text."""
    return json.dumps(to_dict(diags, sources), indent=2, ensure_ascii=False)


