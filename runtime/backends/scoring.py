"""How a command's leads get scored: `--engine python|duckdb` and `--workers N`, shared by `score`,
`simulate` and `diff`. Every way gives the same results in input order and the same counters as
runtime.io.readers.LeadReader (`read`, `rejected`, `bad_rows`, `bad_events`, `events_read`,
`orphan_events`, `orphan_lead_ids`):

- python, JSONL or CSV leads without `--events`: runtime/backends/parallel.py, the generated scorer on each
  JSON object (runtime/backends/pygen.py `score_obj`), in this process or in N worker processes;
- python, otherwise (Parquet, `--events`): runtime.io.readers.LeadReader and the engine, one process;
- duckdb: runtime/backends/duckdb_engine.py, the compiled query over the files (N = DuckDB's threads).
"""
from __future__ import annotations

import datetime as dt
from typing import Iterator

from runtime.core.errors import Failure

def say_limits(rules, engine: str, note) -> None:
    """With the python engine, tell `note(text)` (once per command) when the generated fast path
    does not take the file: the closure engine scores it, with the same results, more slowly."""
    lim = rules.engine.limits
    if engine == "python" and lim:
        more = f" (and {len(lim) - 1} more)" if len(lim) > 1 else ""
        note(f"note: {lim[0].text(rules.display)}{more}; scoring with the closure engine (same results, slower)")


def check_engine(rules, engine: str, leads_path: str | None = None, events_path: str | None = None) -> None:
    """Fail early (exit 2, before any output) when the engine cannot score this file or input, with
    the reason (runtime.backends.capability)."""
    if engine != "duckdb":
        return
    try:
        import duckdb  # noqa: F401
    except ImportError:
        raise Failure("--engine duckdb needs DuckDB: pip install 'leadrules[sql]' (or use --engine python)")
    from runtime.backends.capability import sql_limits

    lim = sql_limits(rules.checked)
    if lim:
        raise Failure(f"--engine duckdb cannot score this file: {lim[0].text(rules.display)} "
                      "(use --engine python)")
    if leads_path == "-":
        raise Failure("--engine duckdb reads files, not stdin: give the leads file's path (or use --engine python)")
    from runtime.io.readers import check_file, kind_of

    for p in (leads_path, events_path):
        if p is not None:
            check_file(p)
            kind_of(p)


class _ReaderResults:
    """LeadReader and the engine, one process: Results, and the reader's counters."""

    def __init__(self, rules, reader, asof: int):
        self.reader, self.engine, self.asof = reader, rules.engine, asof

    def __iter__(self) -> Iterator:
        score, asof = self.engine.score, self.asof
        for lead in self.reader:
            yield score(lead, asof)

    def __getattr__(self, name):
        return getattr(self.reader, name)


class _ReplayResults:
    """Each lead as of its own day (`--as-of-field`): runtime/backends/replay.py, one process. With an
    accounts block the leads file is read twice (so it must be a file)."""

    def __init__(self, rules, reader, day_of, rescan):
        self.reader, self.engine, self.day_of, self.rescan = reader, rules.engine, day_of, rescan

    def __iter__(self) -> Iterator:
        for r, _day in self.with_days():
            yield r

    def with_days(self) -> Iterator:
        """(Result, the ordinal day it was scored as of) per lead."""
        from runtime.backends.replay import replay

        for _lead, r, day in replay(self.engine, lambda: self.reader, self.day_of, self.rescan):
            yield r, day

    def __getattr__(self, name):
        return getattr(self.reader, name)


def check_day_of(rules, engine: str, leads_path: str | None, events_path: str | None, day_of) -> None:
    """`--as-of-field` scores lead by lead with the python engine: refuse the duckdb engine up front
    (exit 2), and with an accounts block a leads file that cannot be read twice."""
    if day_of is None:
        return
    if engine == "duckdb":
        raise Failure("--as-of-field scores each lead as of its own date, which the duckdb engine cannot do yet: "
                      "use --engine python")
    from runtime.backends.replay import account_model_of

    if account_model_of(rules.engine) is not None:
        import os

        for p in (leads_path, events_path):
            if p is not None and (p == "-" or not os.path.isfile(p)):
                raise Failure(f"--as-of-field with an accounts block reads the leads twice (each account "
                              f"as of each lead's date); {p} cannot be read again: give a file path")


class _ParallelResults:
    """runtime/backends/parallel.py in results mode, flattened to one Result at a time."""

    def __init__(self, ps):
        self.ps = ps

    def __iter__(self) -> Iterator:
        for batch in self.ps:
            yield from batch

    def __getattr__(self, name):
        return getattr(self.ps, name)


def results(rules, leads_path: str, *, as_of: dt.date, engine: str = "python", workers: int | None = None,
            events_path: str | None = None, on_bad_row: str = "fail", rejects=None, id_field: str | None = None,
            criteria: bool = True, note=None, day_of=None, delimiter: str | None = None, strict_events: bool = False):
    """An iterable of `Result`s in input order with LeadReader's counters. `criteria=False` lets the
    duckdb engine leave out the per-criterion points (faster; `score` without `--explain`).
    `note(text)` is told when --workers cannot be honoured (an events file, Parquet). `day_of(lead)`
    (`--as-of-field`): score each lead as of that day instead, in one process (see check_day_of)."""
    from runtime.core.kernel import date_ordinal

    from runtime.io.readers import LeadReader, schema_for

    asof = date_ordinal(as_of.isoformat())
    if day_of is not None:
        check_day_of(rules, engine, leads_path, events_path, day_of)
        if note is not None:
            note("note: --as-of-field: each lead is scored as of its own date, lead by lead in one process "
                 "(not the fast path" + (f"; --workers {workers} not used" if (workers or 1) > 1 else "") + ")")
        schema = schema_for(rules.checked, id_field, strict_events=strict_events)
        reader = LeadReader(leads_path, schema, events_path=events_path, on_bad_row=on_bad_row, rejects=rejects,
                            delimiter=delimiter)
        rescan = lambda: LeadReader(leads_path, schema, events_path=events_path, on_bad_row="skip",  # noqa: E731
                                    delimiter=delimiter)
        return _ReplayResults(rules, reader, day_of, rescan)
    schema = schema_for(rules.checked, id_field, strict_events=strict_events)
    if engine == "duckdb":
        from runtime.backends.duckdb_engine import DuckScore

        return DuckScore(rules, leads_path, events_path, as_of, schema, on_bad_row=on_bad_row, rejects=rejects,
                         threads=workers, criteria=criteria, delimiter=delimiter)
    ps = _parallel(rules, leads_path, asof, workers, "results", False, events_path, on_bad_row, rejects, schema,
                   note, delimiter, lean=not criteria)
    if ps is not None:
        from runtime.backends.accounts import GeneratedAccountResults, account_model

        if account_model(rules.engine) is not None:  # grouped by account here, scored by the workers
            return GeneratedAccountResults(rules, _ParallelResults(ps), leads_path)
        return _ParallelResults(ps)
    reader = LeadReader(leads_path, schema, events_path=events_path, on_bad_row=on_bad_row, rejects=rejects,
                        delimiter=delimiter)
    from runtime.backends.accounts import account_results

    # an accounts block groups the leads by account before they come out (runtime/backends/accounts.py)
    return account_results(rules, reader, asof, leads_path) or _ReaderResults(rules, reader, asof)


def _parallel(rules, leads_path, asof, workers, fmt, explain, events_path, on_bad_row, rejects, schema, note,
              delimiter=None, lean=False):
    """A ParallelScore when the input can take that path (and the engine has the generated scorer),
    else None."""
    from runtime.backends.parallel import ParallelUnsupported, score_parallel

    n = workers or 1
    from runtime.backends.accounts import account_model

    if account_model(rules.engine) is not None:
        # generated Results carry their account key and flags: scored in N processes, grouped by
        # account by the caller (accounts.GeneratedAccountResults); else one process scores the leads
        if fmt != "results":
            return None  # account columns are written from the grouped Results
        if not rules.engine.account_flags:
            if n > 1 and note is not None:
                note(f"note: --workers {n}: the accounts block scores each account from all its leads; "
                     "scoring in one process")
            return None
    if n == 1 and rules.engine.score_obj is None:
        return None  # the closure engine: the reader path is as fast
    try:
        return score_parallel(rules, leads_path, as_of_ordinal=asof, workers=n, fmt=fmt, explain=explain,
                              schema=schema, events_path=events_path, on_bad_row=on_bad_row, rejects=rejects,
                              delimiter=delimiter, lean=lean)
    except ParallelUnsupported as e:
        if n > 1 and note is not None:
            note(f"note: --workers {n}: {e}; scoring in one process")
        return None


class _TextOf:
    """Results as output text, a batch of lines at a time, with the source's counters and `scored`."""

    def __init__(self, src, engine, fmt: str, explain: bool, as_of: dt.date, batch: int = 2000):
        from runtime.io.writers import LineFormatter

        self.src, self.fmt, self.batch = src, LineFormatter(engine.plan, fmt, explain, as_of), batch
        self.scored = 0

    def __iter__(self) -> Iterator[str]:
        import io

        write = self.fmt.write
        out, k = io.StringIO(), 0
        for r in self.src:
            write(out, r)
            k += 1
            if k == self.batch:
                self.scored += k
                yield out.getvalue()
                out, k = io.StringIO(), 0
        if k:
            self.scored += k
            yield out.getvalue()

    def __getattr__(self, name):
        return getattr(self.src, name)


class _DuckText:
    """The duckdb engine's JSON lines as DuckDB writes them (DuckScore.text), with its counters."""

    def __init__(self, src, engine, as_of: dt.date):
        from runtime.io.writers import LineFormatter

        self.src, self.fmt = src, LineFormatter(engine.plan, "jsonl", False, as_of)

    def __iter__(self) -> Iterator[str]:
        return self.src.text(self.fmt)

    def __getattr__(self, name):
        return getattr(self.src, name)


def text_chunks(rules, leads_path: str, *, as_of: dt.date, fmt: str, explain: bool, workers: int | None = None,
                events_path: str | None = None, on_bad_row: str = "fail", rejects=None, id_field: str | None = None,
                note=None, engine: str = "python", day_of=None, delimiter: str | None = None,
                strict_events: bool = False):
    """`score`'s output as text chunks (JSONL or CSV lines, no CSV header): straight from the python
    engine's fast path, or the duckdb engine's results formatted a batch at a time; None when the
    input does not take that path (then score `results`)."""
    from runtime.core.kernel import date_ordinal

    if day_of is not None:
        return None  # each lead at its own date: `results` scores them one by one
    if engine == "duckdb":
        from runtime.backends.accounts import account_model

        if account_model(rules.engine) is not None:
            return None  # account columns: runtime/io/writers.py's writer
        if fmt == "jsonl" and not explain:
            return _DuckText(results(rules, leads_path, as_of=as_of, engine="duckdb", workers=workers,
                                     events_path=events_path, on_bad_row=on_bad_row, rejects=rejects,
                                     id_field=id_field, criteria=False, delimiter=delimiter,
                                     strict_events=strict_events), rules.engine, as_of)
        return _TextOf(results(rules, leads_path, as_of=as_of, engine="duckdb", workers=workers,
                               events_path=events_path, on_bad_row=on_bad_row, rejects=rejects, id_field=id_field,
                               criteria=explain, delimiter=delimiter, strict_events=strict_events),
                       rules.engine, fmt, explain, as_of)

    from runtime.io.readers import schema_for

    from runtime.backends.accounts import AccountLines, account_model

    if account_model(rules.engine) is not None:
        if fmt != "jsonl" or explain or not rules.engine.account_flags:
            return None  # account columns: runtime/io/writers.py's writer, from `results`
        # the leads as pieces of their lines, grouped by account and finished into text here
        ps = _parallel(rules, leads_path, date_ordinal(as_of.isoformat()), workers, "results", False, events_path,
                       on_bad_row, rejects, schema_for(rules.checked, id_field, strict_events=strict_events), None,
                       delimiter, lean="pieces")
        return AccountLines(rules, ps, leads_path, as_of) if ps is not None else None
    # no note here: when this gives None, the caller goes on to `results`, which says why
    return _parallel(rules, leads_path, date_ordinal(as_of.isoformat()), workers, fmt, explain, events_path,
                     on_bad_row, rejects, schema_for(rules.checked, id_field, strict_events=strict_events), None,
                     delimiter)


def chunk_progress(chunks, what: str = "scoring"):
    """Text chunks with a progress display on stderr (a terminal only) that counts leads read."""
    import sys

    if not sys.stderr.isatty():
        yield from chunks
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    cols = (SpinnerColumn(), TextColumn(f"{what}: {{task.completed:,}} leads"), TimeElapsedColumn())
    with Progress(*cols, console=Console(file=sys.stderr), transient=True) as bar:
        task = bar.add_task(what, total=None)
        for chunk in chunks:
            yield chunk
            bar.update(task, completed=chunks.read)


class DuckPairs:
    """`diff --engine duckdb`: (OLD's Result, NEW's Result) for every lead, in input order, from one
    DuckDB run per version over the same file, lined up by row number. A row that one version
    rejects (its declared types differ) is left out and counted as rejected. Counters as LeadReader's
    (`read`, `rejected`, `bad_rows`, `bad_events`, `orphan_events`, `events_read`), from NEW's run."""

    def __init__(self, old, new, leads_path: str, *, as_of: dt.date, events_path: str | None = None,
                 on_bad_row: str = "fail", rejects=None, id_field: str | None = None, workers: int | None = None,
                 delimiter: str | None = None, strict_events: bool = False):
        from runtime.backends.duckdb_engine import DuckScore
        from runtime.io.readers import schema_for

        kw = dict(on_bad_row=on_bad_row, threads=workers, criteria=True, with_rows=True, delimiter=delimiter)
        so = schema_for(old.checked, id_field, strict_events=strict_events)
        sn = schema_for(new.checked, id_field, strict_events=strict_events)
        self.old = DuckScore(old, leads_path, events_path, as_of, so, rejects=None, **kw)
        self.new = DuckScore(new, leads_path, events_path, as_of, sn, rejects=rejects, **kw)
        self.unmatched = 0

    def __iter__(self):
        go, gn = iter(self.old), iter(self.new)
        a, b = next(go, None), next(gn, None)
        while a is not None and b is not None:
            if a[0] == b[0]:
                yield a[1], b[1]
                a, b = next(go, None), next(gn, None)
            elif a[0] < b[0]:
                self.unmatched += 1
                a = next(go, None)
            else:
                self.unmatched += 1
                b = next(gn, None)
        for _rest in (go if a is not None else ()):
            self.unmatched += 1
        for _rest in (gn if b is not None else ()):
            self.unmatched += 1
        self.unmatched += (a is not None) + (b is not None)

    @property
    def rejected(self) -> int:
        return self.new.rejected + self.unmatched

    def __getattr__(self, name):
        return getattr(self.new, name)
