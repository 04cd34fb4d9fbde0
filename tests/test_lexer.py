"""The Pygments lexer: no error token on any rule file or docs example; registered as `leadrules`."""
from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest
from pygments.token import Comment, Error, Keyword, Literal, Name, Number, String

from runtime.editor.pygments_lexer import LeadrulesLexer
from tests.doc_examples import ROOT, doc_files, repo_rule_files, rule_blocks

EXAMPLES = [(f"{p.relative_to(ROOT)}:{line}", text) for p in doc_files() for line, text in rule_blocks(p)]


def errors(text: str):
    return [(t, v) for t, v in LeadrulesLexer().get_tokens(text) if t in Error]


def test_there_is_something_to_lex():
    assert len(repo_rule_files()) >= 3
    assert len(EXAMPLES) >= 30  # docs/reference.md alone has dozens


@pytest.mark.parametrize("path", repo_rule_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_rule_file_lexes_without_errors(path):
    text = path.read_text(encoding="utf-8")
    assert errors(text) == []
    toks = LeadrulesLexer(stripnl=False).get_tokens(text)
    assert "".join(v for _, v in toks) == text + ("" if text.endswith("\n") else "\n")


@pytest.mark.parametrize("where,text", EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_every_docs_example_lexes_without_errors(where, text):
    assert errors(text) == [], where


def test_tokens_mean_what_they_say():
    toks = [(t, v) for t, v in LeadrulesLexer().get_tokens(
        'score engagement "How" max 100 { decay half-life 30 days\n'
        '  "Clicks" +3 each email_click where lead_source = "x" within 2 weeks max 15 }  # note\n'
        'test "t" { as of 2026-11-01  lead { interests: ["a"] }  expect grade A*  expect engagement >= 12.5 }\n'
        'simulation "s" { expect share of route sales between 5% and 25% }\n'
        'fields { interests: text list  `max`: number }\n') if not v.isspace()]
    d = {}
    for t, v in toks:
        d.setdefault(v, t)
    assert d["score"] in Keyword.Declaration and d["engagement"] in Name.Class
    assert d["half-life"] in Keyword and d["days"] in Keyword and d["weeks"] in Keyword
    assert d['"Clicks"'] in String and d["+3"] in Number and d["12.5"] in Number and d["5%"] in Number
    assert d["lead_source"] in Name  # `lead` inside a name is not the keyword
    assert d["2026-11-01"] in Literal.Date and d["# note"] in Comment
    assert d["sales"] in Name.Builtin and d["`max`"] in Name.Attribute
    assert d["list"] in Keyword.Type and d["*"] not in Error


def test_analyse_text_tells_udev_and_firebase_apart():
    assert LeadrulesLexer.analyse_text('# ours\nruleset "x" version 1\n') == 1.0
    assert LeadrulesLexer.analyse_text("rules_version = '2';\nservice cloud.firestore {}\n") == 0.0
    assert LeadrulesLexer.analyse_text('ACTION=="add", SUBSYSTEM=="usb"\n') == 0.0


def test_entry_point_is_declared_and_pygments_finds_it(tmp_path):
    """The entry point in pyproject.toml, installed as package metadata, is what Pygments finds by name."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    eps = meta["project"]["entry-points"]["pygments.lexers"]
    assert eps == {"leadrules": "runtime.editor.pygments_lexer:LeadrulesLexer"}
    # the same metadata a `pip install` writes, on a path of its own, so the check does not depend on
    # which checkout the package was installed from
    dist = tmp_path / "leadrules_probe-0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: leadrules-probe\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text("[pygments.lexers]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    code = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
            "from pygments.lexers import get_lexer_by_name, get_lexer_for_filename\n"
            "from pygments import highlight\nfrom pygments.formatters import HtmlFormatter\n"
            "lx = get_lexer_by_name('leadrules'); print(type(lx).__module__, type(lx).__name__)\n"
            "print(type(get_lexer_for_filename('acme.rules', 'ruleset \"a\" version 1')).__name__)\n"
            "print('kd' in highlight('ruleset \"a\" version 1', lx, HtmlFormatter()))\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path), str(ROOT)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["runtime.editor.pygments_lexer", "LeadrulesLexer", "LeadrulesLexer", "True"]


from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.test_formatter import rendered  # noqa: E402 - the formatter's generator of valid files


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rendered(accounts=True))
def test_generated_files_lex_without_errors(file):
    """Any file the parser accepts, laid out at random with comments of any text, lexes cleanly and
    losslessly."""
    text, _ = file
    assert errors(text) == []
    toks = LeadrulesLexer(stripnl=False).get_tokens(text)
    assert "".join(v for _, v in toks) == text + ("" if text.endswith("\n") else "\n")
