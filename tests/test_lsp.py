"""`leadrules lsp` end to end: a real server process over stdio, spoken to by tests/lsp_client.py."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from dsl.formatter import format_text
from tests.lsp_client import LspClient

ROOT = Path(__file__).resolve().parent.parent
ACME = ROOT / "rulesets" / "acme.rules"

# Line 7 (0-based 6) names an unknown field, after an emoji: UTF-16 columns differ from code points.
BROKEN = '''ruleset "demo" version 1
fields { title: text  company_size: number  email: text }
events { web_visit(page: text)  form_submit(form: text) }
list big_titles = ["VP", "Chief"]
score profile "Who" max 100 {
  "Senior"  +30  when title contains any word big_titles
  "Big"     +25  when compny_size >= 1000 and title = "🚀 x"
}
grade profile { A when >= 50  B otherwise }
route { A -> sales "hot"  otherwise -> nurture "later" }
test "a VP" { lead { title: "VP" } expect grade B }
'''
FIXED = BROKEN.replace("compny_size", "company_size")

UGLY = '''ruleset "demo" version 1
fields {   title: text
company_size: number }
score profile "Who" max 100 { "Big" +25 when company_size >= 1000 }
grade profile { A when >= 20  B otherwise }
route { otherwise -> nurture "later" }
test "big" { lead { company_size: 5000 } expect grade A }
'''


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture(scope="module")
def client():
    c = LspClient([sys.executable, "-m", "cli", "lsp"], env=_env(), cwd=ROOT)
    res = c.request("initialize", {"processId": os.getpid(), "rootUri": ROOT.as_uri(), "capabilities": {
        "textDocument": {"hover": {"contentFormat": ["markdown"]},
                         "completion": {"completionItemKind": {"valueSet": list(range(1, 26))}},
                         "documentSymbol": {"hierarchicalDocumentSymbolSupport": True,
                                            "symbolKind": {"valueSet": list(range(1, 27))}}},
        "workspace": {"codeLens": {"refreshSupport": True}}}})
    caps = res["capabilities"]
    assert caps["documentFormattingProvider"] and caps["hoverProvider"] and caps["definitionProvider"]
    assert caps["completionProvider"] and caps["documentSymbolProvider"] and caps["codeLensProvider"]
    assert {"leadrules.runTest", "leadrules.runTests"} <= set(caps["executeCommandProvider"]["commands"])
    assert res["serverInfo"]["name"] == "leadrules"
    c.notify("initialized", {})
    yield c
    c.close()


def _open(c, name: str, text: str, version: int = 1, lang: str = "leadrules") -> str:
    uri = (ROOT / "tests" / "lsp-virtual" / name).as_uri()  # never written: the server works from the text
    c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": lang, "version": version,
                                                       "text": text}})
    return uri


def _diags(c, uri: str, version: int) -> list[dict]:
    return c.wait_for("textDocument/publishDiagnostics",
                      lambda p: p["uri"] == uri and p.get("version") == version)["diagnostics"]


def test_unknown_field_diagnostic_then_fix(client):
    uri = _open(client, "broken.rules", BROKEN)
    diags = _diags(client, uri, 1)
    lr2 = [d for d in diags if d["code"].startswith("LR2")]
    assert len(lr2) == 1, diags
    d = lr2[0]
    assert d["code"] == "LR201" and d["source"] == "leadrules" and d["severity"] == 1
    line = BROKEN.splitlines()[6]
    col = line.index("compny_size")
    assert d["range"] == {"start": {"line": 6, "character": col}, "end": {"line": 6, "character": col + 11}}
    assert 'unknown field "compny_size"' in d["message"]
    assert 'hint: did you mean "company_size"?' in d["message"]
    assert d["data"]["hint"] == 'did you mean "company_size"?'

    # as you type: a change (here the whole text) gets new diagnostics for that version
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                             "contentChanges": [{"text": FIXED}]})
    assert [d for d in _diags(client, uri, 2) if d["severity"] == 1] == []


def test_incremental_change_and_utf16_columns(client):
    text = BROKEN.replace('title = "🚀 x"', 'title = "🚀 x" and zzz = 1')
    uri = _open(client, "utf16.rules", text)
    diags = [d for d in _diags(client, uri, 1) if d["code"] == "LR201"]
    line = text.splitlines()[6]
    cp = line.index("zzz")
    # the rocket is one code point but two UTF-16 units
    assert {"start": {"line": 6, "character": cp + 1}, "end": {"line": 6, "character": cp + 4}} in \
        [d["range"] for d in diags]
    # an incremental edit: rename compny_size where it stands
    col = line.index("compny_size")
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
        {"range": {"start": {"line": 6, "character": col}, "end": {"line": 6, "character": col + 11}},
         "text": "company_size"}]})
    after = [d for d in _diags(client, uri, 2) if d["code"] == "LR201"]
    assert len(after) == 1 and "zzz" in after[0]["message"]


def test_lint_warnings_come_too(client):
    text = FIXED.replace('list big_titles = ["VP", "Chief"]', 'list big_titles = ["VP", "Chief"]\nlist unused = ["x"]')
    uri = _open(client, "lint.rules", text)
    diags = _diags(client, uri, 1)
    assert any(d["code"] == "LR309" and d["severity"] == 2 and d["range"]["start"]["line"] == 4 for d in diags)


def test_formatting_returns_the_fmt_output(client):
    uri = _open(client, "ugly.rules", UGLY)
    _diags(client, uri, 1)
    edits = client.request("textDocument/formatting", {"textDocument": {"uri": uri},
                                                       "options": {"tabSize": 2, "insertSpaces": True}})
    assert len(edits) == 1
    e = edits[0]
    assert e["range"]["start"] == {"line": 0, "character": 0}
    assert e["range"]["end"] == {"line": len(UGLY.splitlines()), "character": 0}
    assert e["newText"] == format_text(UGLY) != UGLY
    # already formatted: no edits; does not parse: no edits either (the diagnostics say why)
    uri2 = _open(client, "fmt-ok.rules", format_text(UGLY))
    assert client.request("textDocument/formatting", {"textDocument": {"uri": uri2}, "options": {
        "tabSize": 2, "insertSpaces": True}}) == []
    uri3 = _open(client, "fmt-bad.rules", 'ruleset "x" version 1\nfields { a: text \n')
    assert client.request("textDocument/formatting", {"textDocument": {"uri": uri3}, "options": {
        "tabSize": 2, "insertSpaces": True}}) is None


def _pos(text: str, needle: str, offset: int = 1) -> dict:
    for i, line in enumerate(text.splitlines()):
        if needle in line:
            return {"line": i, "character": line.index(needle) + offset}
    raise AssertionError(needle)


def test_hover(client):
    text = ACME.read_text()
    uri = _open(client, "acme.rules", text)
    _diags(client, uri, 1)

    def hover(needle, offset=1):
        r = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": _pos(text, needle, offset)})
        return r and r["contents"]["value"]

    h = hover('"Pricing page"')
    assert '**criterion** "Pricing page"' in h and "engagement" in h
    assert "+10 for each `web_visit` event where `page contains \"/pricing\"`" in h
    assert "at most 30" in h and "3 events at full weight" in h
    assert "half-life 30 days" in h and "30 days old gives 5" in h
    h = hover('"Enterprise"')
    assert "+25 once, when `company_size >= 1000` holds" in h
    h = hover('"Seniority" first of')
    assert "first tier that holds" in h and "+5 otherwise" in h
    h = hover("company_size >= 1000", 3)
    assert h.startswith("**field** `company_size`: number")
    h = hover("industry in target_industries", len("industry in ") + 2)
    assert h.startswith("**list** `target_industries` (4 items)") and '"Software"' in h
    h = hover("each web_visit where page", len("each web_visit where ") + 1)
    assert h.startswith("**attribute** `page`: text") and "web_visit" in h
    assert hover("grade engagement {", 8).startswith("**dimension** `engagement`")
    r = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}})
    assert r is None  # a comment


def test_completion(client):
    text = FIXED + 'score more "More" max 10 {\n  "x" +1 each \n}\n'
    uri = _open(client, "complete.rules", text)
    _diags(client, uri, 1)
    lines = text.splitlines()

    def labels(line, character):
        r = client.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                       "position": {"line": line, "character": character}})
        return {i["label"]: i for i in r["items"]}

    ln = next(i for i, l in enumerate(lines) if l.endswith("each "))
    got = labels(ln, len(lines[ln]))
    assert set(got) == {"web_visit", "form_submit"} and got["web_visit"]["kind"] == 23  # Event
    # a new line in a criterion: fields, lists, events, dimensions, bands
    got = labels(6, len('  "Big"     +25  when c'))
    assert {"company_size", "title", "email", "big_titles", "web_visit", "profile", "A", "B"} <= set(got)
    assert got["company_size"]["kind"] == 5 and got["company_size"]["detail"] == "number"  # Field
    assert got["big_titles"]["kind"] == 21  # Constant
    # after `in`/`any word`: lists only
    got = labels(5, len('  "Senior"  +30  when title contains any word '))
    assert set(got) == {"big_titles"}
    # after `expect grade`: grades and bands
    t = lines.index('test "a VP" { lead { title: "VP" } expect grade B }')
    got = labels(t, len('test "a VP" { lead { title: "VP" } expect grade '))
    assert {"A", "B"} <= set(got) and got["A"]["kind"] == 20  # EnumMember
    # what may follow `expect`, and the criteria after `expect criterion`
    got = labels(t, len('test "a VP" { lead { title: "VP" } expect '))
    assert {"grade", "route", "criterion", "disqualified", "profile", "total"} <= set(got)
    t2 = len(lines)
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
        {"text": text + 'test "b" { lead { title: "x" } expect criterion "Se'}]})
    got = labels(t2, len('test "b" { lead { title: "x" } expect criterion "Se'))
    assert set(got) == {'"Senior"', '"Big"'} and got['"Big"']["detail"].startswith("profile: +25 when")


def test_completion_while_the_file_does_not_parse(client):
    uri = _open(client, "typing.rules", FIXED)
    _diags(client, uri, 1)
    half = FIXED.replace('grade profile {', 'score x "X" max 5 { "y" +1 when \ngrade profile {')
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                             "contentChanges": [{"text": half}]})
    assert any(d["code"].startswith("LR1") for d in _diags(client, uri, 2))
    ln = half.splitlines().index('score x "X" max 5 { "y" +1 when ')
    r = client.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                   "position": {"line": ln, "character": len(half.splitlines()[ln])}})
    assert "company_size" in {i["label"] for i in r["items"]}  # from the last version that parsed


def test_definition(client):
    uri = _open(client, "def.rules", FIXED)
    _diags(client, uri, 1)

    def where(pos):
        r = client.request("textDocument/definition", {"textDocument": {"uri": uri}, "position": pos})
        return r and (r["uri"], r["range"]["start"]["line"], r["range"]["start"]["character"])

    assert where(_pos(FIXED, "any word big_titles", len("any word ") + 2)) == (uri, 3, 0)  # the list line
    assert where(_pos(FIXED, "company_size >= 1000", 2)) == (uri, 1, FIXED.splitlines()[1].index("company_size"))
    assert where(_pos(FIXED, "title contains", 1)) == (uri, 1, FIXED.splitlines()[1].index("title"))
    assert where({"line": 0, "character": 2}) is None  # `ruleset` is a keyword


def test_document_symbols(client):
    text = ACME.read_text()
    uri = _open(client, "acme-symbols.rules", text)
    _diags(client, uri, 1)
    syms = client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    by = {(s["name"], s["kind"]): s for s in syms}
    prof = by[("profile", 5)]  # Class: a dimension
    assert [c["name"] for c in prof["children"]][:3] == ["Seniority", "Enterprise", "Mid-market"]
    assert all(c["kind"] == 6 for c in prof["children"])  # Method: a criterion
    assert prof["range"]["start"]["line"] == next(i for i, l in enumerate(text.splitlines())
                                                  if l.startswith("score profile"))
    tests = [s for s in syms if s["kind"] == 12]  # Function: tests and simulations
    assert "Mickey Mouse is never scored" in {s["name"] for s in tests}
    acc = by[("accounts", 3)]
    assert acc["children"][0]["name"] == "buying"


def test_code_lens_runs_a_test(client):
    text = FIXED + 'test "a wrong one" { lead { title: "VP" } expect grade A }\n'
    uri = _open(client, "lens.rules", text)
    _diags(client, uri, 1)
    lenses = client.request("textDocument/codeLens", {"textDocument": {"uri": uri}})
    assert lenses[0]["command"] == {"title": "▶ Run all 2 tests", "command": "leadrules.runTests", "arguments": [uri]}
    assert lenses[0]["range"]["start"]["line"] == 0
    lenses = lenses[1:]
    assert [l["command"]["arguments"] for l in lenses] == [[uri, "a VP"], [uri, "a wrong one"]]
    assert lenses[0]["range"]["start"]["line"] == text.splitlines().index('test "a VP" { lead { title: "VP" } expect grade B }')
    assert lenses[0]["command"]["command"] == "leadrules.runTest" and "Run test" in lenses[0]["command"]["title"]
    ok = client.request("workspace/executeCommand", {"command": "leadrules.runTest", "arguments": [uri, "a VP"]})
    assert ok["passed"] is True and ok["grade"] == "B" and ok["route"] == "nurture"
    msg = client.wait_for("window/showMessage", lambda p: "a VP" in p["message"])
    assert msg["type"] == 3 and msg["message"].startswith('PASS  test "a VP"')
    bad = client.request("workspace/executeCommand", {"command": "leadrules.runTest", "arguments": [uri, "a wrong one"]})
    assert bad["passed"] is False and bad["failures"] == ["expected grade A, got B"]
    msg = client.wait_for("window/showMessage", lambda p: "a wrong one" in p["message"])
    assert msg["type"] == 1 and "expected grade A, got B" in msg["message"]
    # no workspace/codeLens/refresh request: test clients (pytest-lsp) fail on server requests they do not
    # handle, and editors ask for lenses again on the next change anyway
    assert not any(r["method"] == "workspace/codeLens/refresh" for r in client.server_requests)
    titles = [l["command"]["title"] for l in client.request("textDocument/codeLens", {"textDocument": {"uri": uri}})]
    assert titles == ["▶ Run all 2 tests", "▶ Run test (last run: passed)", "▶ Run test (last run: FAILED)"]
    every = client.request("workspace/executeCommand", {"command": "leadrules.runTests", "arguments": [uri]})
    assert (every["passed"], every["failed"]) == (1, 1)
    assert [x["name"] for x in every["tests"]] == ["a VP", "a wrong one"]
    msg = client.wait_for("window/showMessage", lambda p: p["message"].startswith("1 passed, 1 failed"))
    assert '"a wrong one": expected grade A, got B' in msg["message"]


def test_a_test_in_a_file_with_errors_does_not_run(client):
    uri = _open(client, "err.rules", BROKEN)
    _diags(client, uri, 1)
    r = client.request("workspace/executeCommand", {"command": "leadrules.runTest", "arguments": [uri, "a VP"]})
    assert r["error"] is True and "LR201" in r["failures"][0]


def test_udev_and_firebase_files_are_left_alone(client):
    uri = _open(client, "99-usb.rules", 'ACTION=="add", SUBSYSTEM=="usb", MODE="0666"\n', lang="plaintext")
    assert _diags(client, uri, 1) == []
    uri = _open(client, "firestore.rules", "rules_version = '2';\nservice cloud.firestore {}\n", lang="plaintext")
    assert _diags(client, uri, 1) == []
    assert client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}}) == []


def test_a_plain_client_gets_plain_hover_and_flat_symbols():
    """A client that declares nothing gets what the protocol's defaults allow."""
    c = LspClient([sys.executable, "-m", "cli", "lsp", "--stdio"], env=_env(), cwd=ROOT)
    try:
        c.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        c.notify("initialized", {})
        uri = _open(c, "plain.rules", FIXED)
        _diags(c, uri, 1)
        h = c.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": _pos(FIXED, '"Big"')})
        assert h["contents"]["kind"] == "plaintext" and '"Big"' in h["contents"]["value"]
        syms = c.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
        assert all("location" in s and "children" not in s for s in syms)
        assert all(s["kind"] <= 18 for s in syms)  # File..Array: the kinds of the protocol's first version
        items = c.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": {"line": 6, "character": 2}})
        kinds = {i["label"]: i["kind"] for i in items["items"]}
        assert kinds["web_visit"] == 3 and kinds["big_titles"] == 6 and kinds["A"] == 13  # Function, Variable, Enum
        assert all(k <= 18 for k in kinds.values())
        assert {"name": "Big", "container": "profile"} in [{"name": s["name"], "container": s.get("containerName")}
                                                           for s in syms]
    finally:
        c.close()


def test_missing_pygls_is_one_line(tmp_path):
    import subprocess

    fake = tmp_path / "pygls"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('pygls is not installed here')\n")
    env = _env()
    env["PYTHONPATH"] = str(tmp_path) + os.pathsep + env["PYTHONPATH"]
    r = subprocess.run([sys.executable, "-m", "cli", "lsp"], capture_output=True, text=True, env=env, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "error: the language server needs pygls and lsprotocol: pip install 'leadrules[lsp]'"]
