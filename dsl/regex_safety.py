"""Refusing `matches` patterns that take exponential (or high polynomial) time on a long value.

Python's `re` backtracks: `(a+)+$` over 40 "a"s and a "b" runs for hours. The checker asks
`catastrophic(pattern)` and refuses such a pattern (LR212) with the reason and a rewrite, so scoring
always stays linear in the value's length (docs/language.md, "Patterns"). Three shapes are refused:

- a repeat inside a repeat, where nothing mandatory in the outer one tells the iterations apart:
  `(a+)+`, `(a*)*`, `(.*x)+`, `(\\w+\\s?)+` (but `(\\w+\\.)+` is fine: every iteration ends at a ".");
- an alternation under a repeat whose branches can start with the same character: `(a|aa)*`,
  `(\\w|\\d)+`;
- two unbounded repeats side by side that can match the same characters: `\\d+\\d+`, `.*.*`.

The analysis reads Python's own parse of the pattern, so it sees exactly what `re` will run. It is
conservative: a pattern it refuses may be rewritten without the nesting, one it accepts is linear.
"""
from __future__ import annotations

try:  # Python 3.11+
    import re._constants as C  # type: ignore[import-not-found]
    import re._parser as P  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse as P  # type: ignore[no-redef]

# The characters the analysis reasons about: ASCII and a few beyond. Two pieces "overlap" when some
# character of this alphabet matches both (case-insensitively, as `matches` runs).
_ALPHABET = [chr(i) for i in range(32, 127)] + ["\t", "\n", "é", "ß", "Ж", "中", "٣", "\u00a0"]
_REPEATS = {C.MAX_REPEAT, C.MIN_REPEAT} | ({C.POSSESSIVE_REPEAT} if hasattr(C, "POSSESSIVE_REPEAT") else set())
_BIG = 16  # a repeat with a larger (or no) upper bound counts as unbounded


def _category(cat, ch: str) -> bool:
    name = str(cat)
    neg = "NOT_" in name
    if "DIGIT" in name:
        r = ch.isdigit()
    elif "SPACE" in name:
        r = ch.isspace()
    elif "WORD" in name:
        r = ch.isalnum() or ch == "_"
    elif "LINEBREAK" in name:
        r = ch == "\n"
    else:
        r = True
    return r != neg


def _in_set(items, ch: str) -> bool:
    neg = False
    hit = False
    for op, av in items:
        if op is C.NEGATE:
            neg = True
        elif op is C.LITERAL:
            hit = hit or chr(av).lower() == ch.lower()
        elif op is C.RANGE:
            lo, hi = av
            hit = hit or any(lo <= ord(x) <= hi for x in {ch, ch.lower(), ch.upper()} if len(x) == 1)
        elif op is C.CATEGORY:
            hit = hit or _category(av, ch)
    return hit != neg


def _chars(op, av) -> set[str]:
    """The characters of the alphabet one single-character item matches."""
    if op is C.LITERAL:
        return {chr(av).lower()}
    if op is C.NOT_LITERAL:
        return {c.lower() for c in _ALPHABET if c.lower() != chr(av).lower()}
    if op is C.ANY:
        return {c.lower() for c in _ALPHABET if c != "\n"} | {"\n"}
    if op is C.IN:
        return {c.lower() for c in _ALPHABET if _in_set(av, c)}
    if op is C.CATEGORY:
        return {c.lower() for c in _ALPHABET if _category(av, c)}
    return set()


def _nullable(seq) -> bool:
    return all(_item_nullable(op, av) for op, av in seq)


def _item_nullable(op, av) -> bool:
    if op in _REPEATS:
        return av[0] == 0 or _nullable(av[2])
    if op is C.SUBPATTERN:
        return _nullable(av[-1])
    if op is C.BRANCH:
        return any(_nullable(b) for b in av[1])
    if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
        return True
    if op is C.GROUPREF:
        return True
    return False


def _first(seq) -> set[str]:
    """Characters that can start a match of the sequence."""
    out: set[str] = set()
    for op, av in seq:
        out |= _item_first(op, av)
        if not _item_nullable(op, av):
            break
    return out


def _item_first(op, av) -> set[str]:
    if op in _REPEATS:
        return _first(av[2])
    if op is C.SUBPATTERN:
        return _first(av[-1])
    if op is C.BRANCH:
        return set().union(*(_first(b) for b in av[1]))
    if op in (C.AT, C.ASSERT, C.ASSERT_NOT, C.GROUPREF):
        return set()
    return _chars(op, av)


def _all_chars(seq) -> set[str]:
    """Every character any part of the sequence can match."""
    out: set[str] = set()
    for op, av in seq:
        if op in _REPEATS:
            out |= _all_chars(av[2])
        elif op is C.SUBPATTERN:
            out |= _all_chars(av[-1])
        elif op is C.BRANCH:
            for b in av[1]:
                out |= _all_chars(b)
        else:
            out |= _chars(op, av)
    return out


def _unbounded(av) -> bool:
    return av[1] is C.MAXREPEAT or av[1] > _BIG


def _flatten(seq):
    """Top-level items with groups opened (a group is its content)."""
    for op, av in seq:
        if op is C.SUBPATTERN:
            yield from _flatten(av[-1])
        else:
            yield op, av


def _variable(op, av) -> bool:
    """An item that can match texts of different lengths: a repeat with a range, or an alternation."""
    return (op in _REPEATS and av[0] != av[1]) or op is C.BRANCH


def _nested_repeat(body) -> str | None:
    """Inside an unbounded repeat: can one text be split into iterations in more than one way? That is
    so when a variable-length piece of the body can match the body's first character, unless a
    mandatory single character that the piece cannot match fences each iteration off."""
    items = list(_flatten(body))
    first = _first(body)
    for i, (op, av) in enumerate(items):
        if not _variable(op, av):
            continue
        inner = _all_chars(av[2]) if op in _REPEATS else set().union(*(_all_chars(b) for b in av[1]))
        if not (inner & first) and not (op in _REPEATS and _unbounded(av)):
            continue
        fenced = any(j != i and not _item_nullable(o, a) and not _variable(o, a) and o not in _REPEATS
                     and _chars(o, a) and not (_chars(o, a) & inner)
                     for j, (o, a) in enumerate(items))
        if not fenced:
            return "a repeat inside a repeat"
    return None


def _overlapping_branches(body) -> bool:
    for op, av in _flatten(body):
        if op is C.BRANCH:
            firsts = [_first(b) for b in av[1]]
            for i in range(len(firsts)):
                for j in range(i + 1, len(firsts)):
                    if firsts[i] & firsts[j]:
                        return True
    return False


def _walk(seq) -> str | None:
    items = list(seq)
    prev = None
    for op, av in items:
        if op in _REPEATS:
            if _unbounded(av):
                if _nested_repeat(av[2]):
                    return "a repeat inside a repeat (like `(a+)+`) can try exponentially many ways to match"
                if _overlapping_branches(av[2]):
                    return ("alternatives under a repeat that can start with the same character (like `(a|aa)*`) "
                            "can try exponentially many ways to match")
                if prev is not None and _all_chars(prev[2]) & _all_chars(av[2]) and not _nullable(av[2]):
                    return ("two repeats side by side that match the same characters (like `\\d+\\d+` or `.*.*`) "
                            "try every way of splitting the text between them")
                prev = av
            else:
                prev = None
            r = _walk(av[2])
            if r:
                return r
            continue
        prev = None if op not in (C.SUBPATTERN,) else prev
        if op is C.SUBPATTERN:
            r = _walk(av[-1])
        elif op is C.BRANCH:
            r = next((x for x in (_walk(b) for b in av[1]) if x), None)
        elif op in (C.ASSERT, C.ASSERT_NOT):
            r = _walk(av[1])
        else:
            r = None
        if r:
            return r
    return None


def catastrophic(pattern: str) -> str | None:
    """Why `pattern` may take exponential time on some value, or None when it is linear enough.
    A pattern that does not compile returns None (the checker reports that separately)."""
    try:
        tree = P.parse(pattern, 0)
    except Exception:  # re.error, RecursionError on absurd nesting: compile reports it
        return None
    try:
        return _walk(tree)
    except RecursionError:
        return "the pattern is nested too deeply to check"
