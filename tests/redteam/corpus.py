"""Seeded generators of damaged rule files for the red-team suite (tests/redteam/).

`mutations(seed, n)` yields `(kind, bytes)` pairs: the bundled example rule file damaged in one of the
ways a user, an editor or a bad copy-paste damages a file (token and line deletion, duplication, swaps,
truncation, random bytes, invalid UTF-8, a BOM, CRLF, NUL, huge numbers, deep nesting, very long lines).
The same seed gives the same files, so a failure can be replayed.
"""
from __future__ import annotations

import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE = (ROOT / "rulesets" / "acme.rules").read_text(encoding="utf-8")

# Words, quoted texts, numbers and single punctuation: what a user's edit adds or removes.
_TOKEN_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`\n]*`|\d{4}-\d\d-\d\d|[A-Za-z_][A-Za-z0-9_-]*|\d+(?:\.\d+)?%?|->|[<>!=]=|\S')

HUGE = ["1e400", "9" * 400, "-" + "9" * 60, "99999999999999999999", "0." + "0" * 300 + "1", "1" * 5000,
        "1.7976931348623157e309", "18446744073709551617"]


def _tokens(text: str) -> list[re.Match]:
    return list(_TOKEN_RE.finditer(text))


def _tok_delete(rng, text):
    t = rng.choice(_tokens(text))
    return text[:t.start()] + text[t.end():]


def _tok_duplicate(rng, text):
    t = rng.choice(_tokens(text))
    return text[:t.end()] + " " + t.group(0) + text[t.end():]


def _tok_swap(rng, text):
    toks = _tokens(text)
    i = rng.randrange(len(toks) - 1)
    a, b = toks[i], toks[i + 1]
    return text[:a.start()] + b.group(0) + text[a.end():b.start()] + a.group(0) + text[b.end():]


def _tok_replace(rng, text):
    """One token replaced by another token of the file (a keyword where a name goes, ...)."""
    toks = _tokens(text)
    t, u = rng.choice(toks), rng.choice(toks)
    return text[:t.start()] + u.group(0) + text[t.end():]


def _line_delete(rng, text):
    lines = text.split("\n")
    del lines[rng.randrange(len(lines))]
    return "\n".join(lines)


def _line_duplicate(rng, text):
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    lines.insert(i, lines[i])
    return "\n".join(lines)


def _line_swap(rng, text):
    lines = text.split("\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def _truncate(rng, text):
    return text[:rng.randrange(len(text))]


def _random_bytes(rng, text):
    b = bytearray(text.encode("utf-8"))
    for _ in range(rng.randint(1, 8)):
        b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def _invalid_utf8(rng, text):
    b = text.encode("utf-8")
    i = rng.randrange(len(b))
    return b[:i] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"]) + b[i:]


def _bom(rng, text):
    return "\ufeff" + text


def _crlf(rng, text):
    return text.replace("\n", "\r\n")


def _nul(rng, text):
    # a NUL inside a quoted text, or anywhere
    toks = [t for t in _tokens(text) if t.group(0).startswith('"')] if rng.random() < 0.5 else []
    if toks:
        t = rng.choice(toks)
        return text[:t.start() + 1] + "\x00" + text[t.start() + 1:]
    i = rng.randrange(len(text))
    return text[:i] + "\x00" + text[i:]


def _huge_number(rng, text):
    nums = [t for t in _tokens(text) if re.fullmatch(r"\d+(\.\d+)?", t.group(0))]
    t = rng.choice(nums)
    return text[:t.start()] + rng.choice(HUGE) + text[t.end():]


def _deep_nesting(rng, text):
    depth = rng.choice([200, 500, 1000, 3000])
    kind = rng.choice(["not", "paren", "andor"])
    if kind == "not":
        cond = "not " * depth + "opted_out = true"
    elif kind == "paren":
        cond = "(" * depth + "opted_out = true" + ")" * depth
    else:
        cond = " and ".join(["opted_out = true"] * depth)
    return text.replace('disqualify "opted out" when', f'disqualify "deep" when {cond}\ndisqualify "opted out" when', 1)


def _long_line(rng, text):
    n = rng.choice([10_000, 100_000, 500_000])
    kind = rng.choice(["comment", "string", "name", "list"])
    if kind == "comment":
        ins = "# " + "x" * n
    elif kind == "string":
        ins = 'list long_list = ["' + "y" * n + '"]'
    elif kind == "name":
        ins = "list " + "z" * n + ' = ["a"]'
    else:
        ins = "list many = [" + ", ".join(f'"v{i}"' for i in range(n // 8)) + "]"
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    lines.insert(i, ins)
    return "\n".join(lines)


def _duration(rng, text):
    """Durations too large or malformed: `99999999999 days`, `1e400 weeks`, `-5 days`, `0.5 hours`."""
    m = list(re.finditer(r"(\d+) (days?|weeks?|hours?)", text))
    t = rng.choice(m)
    amount = rng.choice(["9" * 30, "99999999999", "-5", "0", "0.5", "1e400", "3.7"])
    return text[:t.start(1)] + amount + text[t.end(1):]


MUTATORS = {
    "token-delete": _tok_delete, "token-duplicate": _tok_duplicate, "token-swap": _tok_swap,
    "token-replace": _tok_replace, "line-delete": _line_delete, "line-duplicate": _line_duplicate,
    "line-swap": _line_swap, "truncate": _truncate, "random-bytes": _random_bytes,
    "invalid-utf8": _invalid_utf8, "bom": _bom, "crlf": _crlf, "nul": _nul, "huge-number": _huge_number,
    "deep-nesting": _deep_nesting, "long-line": _long_line, "duration": _duration,
}


def mutations(seed: int, n: int, base: str = BASE):
    """`n` damaged files, round-robin over the mutators, each with its own seeded choice."""
    kinds = list(MUTATORS)
    for i in range(n):
        kind = kinds[i % len(kinds)]
        rng = random.Random(f"{seed}:{i}:{kind}")
        out = MUTATORS[kind](rng, base)
        # a second mutation on a third of the cases: damage rarely comes alone
        if rng.random() < 0.33:
            k2 = rng.choice(kinds[:9])
            text = out if isinstance(out, str) else out.decode("utf-8", "surrogateescape")
            try:
                out = MUTATORS[k2](rng, text)
            except (ValueError, IndexError):
                pass
        yield kind, out if isinstance(out, bytes) else out.encode("utf-8", "surrogateescape")
