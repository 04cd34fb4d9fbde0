"""Terminal output: rich where stdout is a TTY, plain ASCII text when piped (so a diff tool and a
person can both read it). Every report renders through `console()` and `table()`.
"""
from __future__ import annotations

import sys

from rich import box
from rich.console import Console
from rich.table import Table


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
    return Console(file=stream, force_terminal=tty, no_color=not tty, highlight=False, emoji=False,
                   soft_wrap=not tty, width=None if tty else 200)


def table(*columns: str, title: str | None = None, tty: bool | None = None, right: tuple[int, ...] = ()) -> Table:
    tty = is_tty() if tty is None else tty
    t = Table(title=title, box=box.ROUNDED if tty else box.ASCII2, show_edge=True, title_justify="left",
              header_style="bold" if tty else "", title_style="bold" if tty else "")
    for i, c in enumerate(columns):
        t.add_column(c, justify="right" if i in right else "left", overflow="fold")
    return t


def fmt_int(n: int) -> str:
    return f"{n:,}"
