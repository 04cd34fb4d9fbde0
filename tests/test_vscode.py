"""The VS Code extension folder: its JSON files, the TextMate grammar (run here with Python's `re`, an
approximation of the Oniguruma engine VS Code uses: the grammar sticks to syntax both share), and the
first-statement detection in JavaScript, which must agree with runtime/editor/detect.py."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from runtime.editor.detect import is_rules_text
from tests.doc_examples import ROOT, doc_files, repo_rule_files, rule_blocks

EXT = ROOT / "editors" / "vscode"


def load(name: str):
    return json.loads((EXT / name).read_text(encoding="utf-8"))


PKG = load("package.json")
GRAMMAR = load("syntaxes/leadrules.tmLanguage.json")

CASES = [
    'ruleset "a" version 1\n',
    '\ufeff# acme\n\n  # more\nruleset "a" version 1\n',
    'ruleset\n  "split" version 1\n',
    '   ruleset "indented" version 1',
    "rules_version = '2';\nservice cloud.firestore {\n}\n",
    '# udev\nACTION=="add", SUBSYSTEM=="usb", MODE="0666"\n',
    "",
    "# only comments\n",
    'fields { a: text }\nruleset "late" version 1\n',
    'rulesets "x"\n',
    'ruleset x\n',
    '\r\n# windows\r\nruleset "crlf" version 1\r\n',
]


def test_package_json():
    assert PKG["name"] == "leadrules" and PKG["main"] == "./extension.js"
    assert (EXT / "extension.js").is_file() and (EXT / "detect.js").is_file()
    assert "onLanguage:leadrules" in PKG["activationEvents"]
    assert "vscode-languageclient" in PKG["dependencies"] and PKG["engines"]["vscode"]
    (lang,) = PKG["contributes"]["languages"]
    assert lang["id"] == "leadrules" and ".rules" in lang["extensions"]
    first = re.compile(lang["firstLine"])
    assert first.search('ruleset "acme-b2b" version 4') and not first.search("rules_version = '2';")
    assert not first.search('ACTION=="add"')
    conf = load(lang["configuration"].removeprefix("./"))
    assert conf["comments"]["lineComment"] == "#"
    assert ["{", "}"] in conf["brackets"]
    for key in ("wordPattern",):
        re.compile(conf[key])
    for key in ("increaseIndentPattern", "decreaseIndentPattern"):
        re.compile(conf["indentationRules"][key])
    assert re.compile(conf["indentationRules"]["increaseIndentPattern"]).search('score p "P" max 10 {')
    gr, md = PKG["contributes"]["grammars"]
    assert gr["language"] == "leadrules" and gr["scopeName"] == GRAMMAR["scopeName"] == "source.leadrules"
    assert (EXT / gr["path"]).is_file()
    # ```leadrules and ```rules blocks in Markdown are highlighted with the same grammar
    inj = load(md["path"].removeprefix("./"))
    assert md["injectTo"] == ["text.html.markdown"] and inj["scopeName"] == md["scopeName"]
    assert md["embeddedLanguages"] == {"meta.embedded.block.leadrules": "leadrules"}
    fence = inj["repository"]["fenced-leadrules"]
    # Oniguruma's \G (where the last match ended) has no Python equivalent; at a line start it means ^
    begin = re.compile(fence["begin"].replace("\\G", "^"))
    assert begin.match("```leadrules") and begin.match("```rules") and begin.match("~~~ Rules {.x}")
    assert not begin.match("```python") and not begin.match("```rulesets")
    assert fence["patterns"][0]["patterns"] == [{"include": "source.leadrules"}]
    for rx in _every_regex(inj):
        # an `end` may refer back to the `begin`'s groups (\\2, \\3): TextMate fills them in, Python cannot
        re.compile(re.sub(r"\\[1-9]", ".*?", rx.replace("\\G", "^")))
    re.compile(fence["patterns"][0]["while"].replace("\\G", "^"))
    props = PKG["contributes"]["configuration"]["properties"]
    assert props["leadrules.server.command"]["default"] == "leadrules"
    assert props["leadrules.server.args"]["default"] == ["lsp"]


def test_extension_starts_the_language_server():
    js = (EXT / "extension.js").read_text()
    assert "config.get('server.command', 'leadrules')" in js and "config.get('server.args', ['lsp'])" in js
    assert "new LanguageClient(" in js and "language: 'leadrules'" in js
    assert "setTextDocumentLanguage" in js and "isLeadrulesText" in js
    assert "pip install 'leadrules[lsp]'" in js


def _node():
    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "node is needed to check the VS Code extension (.ci/run installs nodejs)"
    return node


def test_extension_js_parses():
    for f in ("extension.js", "detect.js"):
        r = subprocess.run([_node(), "--check", str(EXT / f)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr


def test_javascript_and_python_detection_agree():
    code = ("const {isLeadrulesText} = require(process.argv[1]);"
            "const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
            "console.log(JSON.stringify(cases.map(isLeadrulesText)));")
    files = [p.read_text(encoding="utf-8") for p in repo_rule_files()]
    cases = CASES + files
    r = subprocess.run([_node(), "-e", code, str(EXT / "detect.js")], input=json.dumps(cases), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    js = json.loads(r.stdout)
    py = [is_rules_text(c) for c in cases]
    assert js == py
    assert py[:4] == [True] * 4 and not any(py[4:len(CASES) - 1]) and py[len(CASES) - 1]


# ---- the TextMate grammar, approximated with Python's re ---------------------------------------

def _patterns(node, repo) -> list[dict]:
    out = []
    for p in node.get("patterns", []):
        if "include" in p:
            out.extend(_patterns(repo[p["include"].lstrip("#")], repo))
        else:
            out.append(p)
    return out


TOP = _patterns(GRAMMAR, GRAMMAR["repository"])


def _every_regex(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("match", "begin", "end", "firstLineMatch") and isinstance(v, str):
                yield v
            else:
                yield from _every_regex(v)
    elif isinstance(node, list):
        for v in node:
            yield from _every_regex(v)


def test_every_grammar_regex_compiles():
    regexes = list(_every_regex(GRAMMAR))
    assert len(regexes) > 25
    for rx in regexes:
        re.compile(rx)


def scopes(line: str) -> tuple[list[tuple[str, str]], str]:
    """(text, scope) pieces of one line, and the non-space text no rule matched."""
    compiled = [(p, re.compile(p.get("match") or p["begin"])) for p in TOP]
    pos, out, unmatched = 0, [], ""
    while pos < len(line):
        best = None
        for p, rx in compiled:
            m = rx.search(line, pos)
            if m and m.end() > m.start() and (best is None or m.start() < best[1].start()):
                best = (p, m)
        if best is None:
            unmatched += line[pos:]
            break
        p, m = best
        unmatched += line[pos:m.start()]
        if "begin" in p:
            end = re.compile(p["end"])
            inner = [re.compile(q["match"]) for q in p.get("patterns", [])]
            j = m.end()
            while j <= len(line):
                e = end.search(line, j)
                skip = [rx.match(line, j) for rx in inner]
                skip = next((s for s in skip if s and (e is None or s.start() < e.start() or
                                                       s.start() == e.start())), None)
                if skip is not None and skip.end() > j:
                    j = skip.end()
                    continue
                if e is not None and e.start() == j:
                    j = e.end()
                    break
                j += 1
            out.append((line[m.start():j], p["name"]))
            pos = max(j, m.end())
        else:
            caps = p.get("captures")
            if caps:
                for i in range(1, (m.lastindex or 0) + 1):
                    if m.group(i) is not None and str(i) in caps:
                        out.append((m.group(i), caps[str(i)]["name"]))
            else:
                out.append((m.group(), p["name"]))
            pos = m.end()
    return out, unmatched


SOURCES = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in repo_rule_files()] + \
    [(f"{p.relative_to(ROOT)}:{n}", t) for p in doc_files() for n, t in rule_blocks(p)]


@pytest.mark.parametrize("where,text", SOURCES, ids=[w for w, _ in SOURCES])
def test_grammar_scopes_every_character(where, text):
    for line in text.splitlines():
        _, rest = scopes(line)
        assert rest.strip() == "", (where, line, rest)


def test_grammar_scopes_mean_what_they_say():
    got = dict(scopes('score engagement "How \\"much\\"" max 100 { decay half-life 30 days  # why')[0])
    assert got["score"] == "keyword.other.section.leadrules"
    assert got["engagement"] == "entity.name.type.dimension.leadrules"
    assert got['"How \\"much\\""'] == "string.quoted.double.leadrules"
    assert got["100"] == "constant.numeric.leadrules" and got["half-life"] == "keyword.other.leadrules"
    assert got["# why"] == "comment.line.number-sign.leadrules" and got["days"] == "keyword.other.unit.leadrules"
    got = dict(scopes('  A1, A*, *1 -> sales "hot" within 1 hour')[0])
    assert got["A1"] == "variable.other.leadrules" and got["->"] == "keyword.operator.arrow.leadrules"
    assert got["*"] == "keyword.operator.wildcard.leadrules" and got["sales"] == "support.function.action.leadrules"
    got = dict(scopes('  "Seniority" +35 when lead_source = "x" and created_at >= 2026-01-01 or x in big')[0])
    assert got["+35"] == "constant.numeric.leadrules" and got["lead_source"] == "variable.other.leadrules"
    assert got["2026-01-01"] == "constant.other.date.leadrules" and got["and"] == "keyword.operator.word.leadrules"
    got = dict(scopes("  expect share of grade A* at most 15%")[0])
    assert got["15%"] == "constant.numeric.percentage.leadrules" and got["A"] == "variable.other.leadrules"
    got = dict(scopes("fields { interests: text list  `max`: number }")[0])
    assert got["interests"] == "variable.other.property.field.leadrules" and got["list"] == "storage.type.leadrules"


from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.test_formatter import rendered  # noqa: E402 - the formatter's generator of valid files


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rendered(accounts=True))
def test_grammar_scopes_generated_files(file):
    text, _ = file
    for line in text.splitlines():
        assert scopes(line)[1].strip() == "", line
