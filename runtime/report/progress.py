"""A progress display on stderr for long runs, only when stderr is a terminal (never in CI logs)."""
from __future__ import annotations

import sys
from contextlib import contextmanager


@contextmanager
def progress(items, what: str = "leads"):
    if not sys.stderr.isatty():
        yield items
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    cols = (SpinnerColumn(), TextColumn(f"{what}: {{task.completed:,}} leads"), TimeElapsedColumn())
    with Progress(*cols, console=Console(file=sys.stderr), transient=True) as bar:
        task = bar.add_task(what, total=None)

        def gen():
            n = 0
            for x in items:
                yield x
                n += 1
                if n % 2048 == 0:
                    bar.update(task, completed=n)
        yield gen()
