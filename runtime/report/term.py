"""Terminal output: rich where stdout is a TTY, plain ASCII text when piped (so a diff tool and a
person can both read it). Every report renders through `console()` and `table()`, which treat every
string as plain text: rich markup in a lead or rule value (`[/]`, `[link]`) is printed as typed, and
control characters (an ANSI escape in a lead's name) are shown as `\x1b`, never sent raw (`clean`).
"""
from __future__ import annotations

import re
import sys

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides that reorder
# what a reader sees ("Trojan Source"): shown escaped, as Python writes them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]")


def _show(m: re.Match) -> str:
    c = ord(m.group(0))
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def clean(s: str) -> str:
    """`s` safe to print on a terminal: control characters (and lone surrogates) as visible escapes."""
    s = str(s)
    return _CONTROL.sub(_show, s) if _CONTROL.search(s) else s


def plain(s) -> Text:
    """A user's value as rich text that is never read as markup."""
    if isinstance(s, Text):
        return s if not _CONTROL.search(s.plain) else Text(clean(s.plain), style=s.style)
    return Text(clean(s))


def _safe(obj):
    if isinstance(obj, (str, Text)):
        return plain(obj)
    if isinstance(obj, Group):
        return Group(*(_safe(r) for r in obj.renderables))
    return obj


class SafeConsole(Console):
    """A Console whose strings are plain text (see the module docstring)."""

    def print(self, *objects, **kw):
        if kw.get("markup") is not True:
            objects = tuple(_safe(o) for o in objects)
        super().print(*objects, **kw)


class SafeTable(Table):
    """A Table whose cells, title and caption are plain text."""

    def add_row(self, *cells, **kw):
        super().add_row(*(plain(c) if isinstance(c, (str, Text)) else c for c in cells), **kw)

    def __setattr__(self, name, value):
        if name in ("title", "caption") and isinstance(value, str):
            value = plain(value)
        super().__setattr__(name, value)


def is_tty(stream=None) -> bool:
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def console(stream=None) -> Console:
    stream = stream or sys.stdout
    tty = is_tty(stream)
    # When piped: no colour, no wrapping at 80 columns, no emoji or markup surprises.
    return SafeConsole(file=stream, force_terminal=tty, no_color=not tty, highlight=False, emoji=False,
                   soft_wrap=not tty, width=None if tty else 200)


def table(*columns: str, title: str | None = None, tty: bool | None = None, right: tuple[int, ...] = ()) -> Table:
    tty = is_tty() if tty is None else tty
    t = SafeTable(title=title, box=box.ROUNDED if tty else box.ASCII2, show_edge=True, title_justify="left",
              header_style="bold" if tty else "", title_style="bold" if tty else "")
    for i, c in enumerate(columns):
        t.add_column(c, justify="right" if i in right else "left", overflow="fold")
    return t


def fmt_int(n: int) -> str:
    return f"{n:,}"
