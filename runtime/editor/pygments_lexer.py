"""A Pygments lexer for leadrules files, registered as `leadrules` (alias `rules`) through the
`pygments.lexers` entry point: ```` ```leadrules ```` blocks in Markdown (MkDocs, Sphinx) and
`pygmentize -l leadrules` highlight rule files. It imports only Pygments.

Keywords are contextual in the language (a field may be called `lead_source`), so the lexer colours a
word as a keyword only when it is the whole word; anything else that looks like a name is a name.
"""
from __future__ import annotations

import re

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Literal, Name, Number, Operator, Punctuation, String, Whitespace

__all__ = ["LeadrulesLexer"]

_NAME = r"(?:[^\W\d]\w*|`[^\W\d]\w*`)"

SECTIONS = ("ruleset", "owners", "fields", "events", "list", "disqualify", "score", "grade", "accounts", "route",
            "test", "simulation")
KEYWORDS = ("version", "when", "max", "floor", "decay", "first", "of", "each", "where", "within", "no", "otherwise",
            "by", "account", "and", "or", "not", "in", "contains", "any", "all", "word", "starts", "ends", "with",
            "matches", "between", "is", "missing", "present", "has", "count", "event", "types", "days", "since",
            "last", "as", "lead", "leads", "at", "ago", "expect", "criterion", "fires", "does", "fire",
            "disqualified", "share", "most", "least", "from", "new", "per", "reset", "on")
UNITS = ("day", "days", "week", "weeks", "hour", "hours")
TYPES = ("text", "number", "date", "bool")
ACTIONS = ("sales", "qualify", "nurture", "suppress")
FUNCTIONS = ("domain", "lower", "length")


class LeadrulesLexer(RegexLexer):
    """Lexer for leadrules rule files (lead scoring as code)."""

    name = "leadrules"
    aliases = ["leadrules", "rules"]
    filenames = ["*.rules"]
    mimetypes = ["text/x-leadrules"]
    url = "https://github.com/leadrules/leadrules"
    flags = re.MULTILINE | re.UNICODE

    tokens = {
        "root": [
            (r"[\s\ufeff]+", Whitespace),
            (r"#.*?$", Comment.Single),
            (r'"(?:[^"\\\n]|\\.)*"', String.Double),
            # a date (and time) before a number: 2026-11-01, 2026-10-31T23:30:00-02:00
            (r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
             r"(?!\w)", Literal.Date),
            (r"[0-9]+(?:\.[0-9]+)?%", Number),
            (r"[+-]?[0-9]+(?:\.[0-9]+)?(?![^\W\d])", Number),
            (r"half-life\b", Keyword),
            # declarations: the name they introduce
            (r"(score|grade)(\s+)(" + _NAME + ")", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (r"(list)(\s+)(" + _NAME + r")(\s*)(=)",
             bygroups(Keyword.Declaration, Whitespace, Name.Constant, Whitespace, Operator)),
            (r"(" + _NAME + r")(\s*)(:)(?=\s*(?:text|number|date|bool)\b)",
             bygroups(Name.Attribute, Whitespace, Punctuation)),
            (r"(text)(\s+)(list)\b", bygroups(Keyword.Type, Whitespace, Keyword.Type)),
            (words(SECTIONS, suffix=r"\b"), Keyword.Declaration),
            (words(("true", "false", "null"), suffix=r"\b"), Keyword.Constant),
            (words(TYPES, suffix=r"\b"), Keyword.Type),
            (words(ACTIONS, suffix=r"\b"), Name.Builtin),
            (words(FUNCTIONS, suffix=r"\b(?=\s*\()"), Name.Function),
            (words(UNITS, suffix=r"\b"), Keyword),
            (words(KEYWORDS, suffix=r"\b"), Keyword),
            (r"->|!=|<=|>=|=|<|>", Operator),
            (r"\*", Operator),  # a wildcard in a grade pattern: A*, *1
            (r"[{}\[\](),:]", Punctuation),
            (_NAME, Name),
            (r"\w+", Name),  # a band such as 1A, or a name starting with a digit in a grade pattern
        ],
    }

    def analyse_text(text):  # noqa: N805 - Pygments calls it as a plain function
        """Certain for a file whose first statement is `ruleset "…"`; udev and Firebase `.rules` are not ours."""
        from runtime.editor.detect import is_rules_text

        return 1.0 if is_rules_text(text[:65536]) else 0.0

