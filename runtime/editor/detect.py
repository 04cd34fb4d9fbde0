"""Is this text a leadrules file? `.rules` is also the extension of udev and Firebase security rules,
so the extension alone is not enough: a leadrules file's first statement (after a byte-order mark,
blank lines and `#` comments) is `ruleset "…"`. The pytest plugin, the language server and the VS Code
extension (editors/vscode/extension.js, the same rule in JavaScript) all decide with this test.
"""
from __future__ import annotations

import re
from pathlib import Path

_FIRST = re.compile(r'ruleset\s+"')
SNIFF_BYTES = 64 * 1024  # a file with more than this many bytes of comments first is not ours


def is_rules_text(text: str) -> bool:
    """True when the first statement of `text` is `ruleset "…"`."""
    text = text.lstrip("\ufeff")
    pos = 0
    for line in text.splitlines(keepends=True):
        s = line.strip()
        if s and not s.startswith("#"):
            # the name may follow on the next line: `ruleset` and its string are one statement
            return _FIRST.match(text, pos + len(line) - len(line.lstrip())) is not None
        pos += len(line)
    return False


def is_rules_file(path: str | Path) -> bool:
    """`is_rules_text` on the start of a file; False when it cannot be read or is not UTF-8."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(SNIFF_BYTES)
    except OSError:
        return False
    text = data.decode("utf-8", errors="replace")
    return is_rules_text(text)
