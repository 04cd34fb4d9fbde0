"""Accounts: the `accounts by KEY { score … grade … }` block scored over each account's leads.

Every account criterion is about the account's leads that are not disqualified, through `has lead
where C`, `count lead where C` and `each lead where C`. Each distinct `C` is a per-lead yes/no, so a
lead contributes one flag per `C` and an account is fully described by how many of its leads raised
each flag: its *counts*. Account scoring is then a pure function of the counts (cached), and grouping
needs no more than the counts of the accounts still open.

`score_leads(engine, leads, asof)` is the one entry point for every command: without an accounts
block it is `engine.score` over the leads (no grouping, no overhead); with one it scores each lead,
groups by key, scores the account, routes each lead again (now `account BAND and …` lines can match)
and yields the leads in input order. Grouping is streamed when the input is grouped by key (memory
proportional to the largest account) and otherwise spilled to a temporary SQLite database (memory
bounded). docs/accounts.md has the details.
"""
from __future__ import annotations

import marshal
import operator
import os
import pickle
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from dsl import nodes as n
from dsl import printer

from runtime.backends.closure import Compiler, Engine, First, When, band_dims, score_dims
from runtime.core import kernel as K
from runtime.core.model import CritSpec, Lead, Result
from runtime.core.errors import InputError

HOLD = 5000              # leads held in memory as objects (unsorted input) before they are packed
PIECES_HOLD = 100_000    # the same for `score`'s pieces of JSON lines (AccountLines): ~0.5 KB each
SPILL_BYTES = 64 << 20   # packed leads held in memory before the spill goes to disk (SQLite)
MAX_TRACKED_KEYS = 2_000_000  # closed account keys remembered to prove the input is grouped
_EVAL_CACHE = 4096


class AccountOrderError(InputError):
    """Leads were said to be grouped by account key, but a key came back after another began (a file
    that changed between the check and the read): the command stops with exit 2."""


# ---- the compiled block -------------------------------------------------------------------------


@dataclass(slots=True)
class AccountScore:
    """One account, scored from its counts."""

    scores: dict[str, float]
    bands: dict[str, str]
    band_names: tuple           # the bands, as a tuple (route matching, caching)
    points: tuple               # per account criterion, after caps
    raw: tuple
    fired: tuple


class _AccountCompiler(Compiler):
    """Account-level conditions: a closure c(X, E) where X is the tuple of the account's counts."""

    def __init__(self, model: "AccountModel", base: Compiler):
        super().__init__(base.fields, base.events, base.lists)
        self.model = model

    def value(self, v, ev=None):
        if isinstance(v, n.Count) and v.filter.event == "lead":
            i = self.model.filter_index(v.filter)
            return lambda X, E: X[i]
        return super().value(v, ev)

    def vtype(self, v, ev):
        if isinstance(v, n.Count):
            return "number"
        return super().vtype(v, ev)

    def cond(self, c, ev=None):
        if isinstance(c, n.Has) and c.filter.event == "lead":
            i = self.model.filter_index(c.filter)
            return lambda X, E: X[i] > 0
        return super().cond(c, ev)


class _AWhen(When):
    """A `when` criterion at account level: the engine's, over the account's flag counts."""

    __slots__ = ("filters",)

    def __init__(self, spec, comp: _AccountCompiler, filters):
        super().__init__(spec, comp)
        self.filters = filters


class _AFirst(First):
    """A `first of` criterion at account level: the engine's, over the account's flag counts."""

    __slots__ = ("filters",)

    def __init__(self, spec, comp: _AccountCompiler, filters):
        super().__init__(spec, comp)
        self.filters = filters


class _AEach:
    """`+P each lead where C max M`: P for every lead with C (no decay: a lead has no age), capped."""

    __slots__ = ("spec", "points", "i", "cap", "filters")

    def __init__(self, spec, model: "AccountModel", filters):
        self.spec, self.filters = spec, filters
        self.points = spec.node.points
        self.i = model.filter_index(spec.node.filter)
        self.cap = spec.node.max

    def __call__(self, counts):
        k = counts[self.i]
        raw = self.points * k
        return K.cap(raw, self.points, self.cap), raw, k


def _lead_filters(node) -> list[n.EventFilter]:
    """The `has lead` / `count lead` / `each lead` filters in an account criterion, in order."""
    out: list[n.EventFilter] = []

    def walk(x):
        if isinstance(x, n.EventFilter):
            if x.event == "lead":
                out.append(x)
            return
        if isinstance(x, (tuple, list)):
            for i in x:
                walk(i)
            return
        if hasattr(x, "__dataclass_fields__"):
            for f in x.__dataclass_fields__:
                if f not in ("span", "name_span", "max_span", "pattern_span"):
                    walk(getattr(x, f))
    walk(node)
    return out


class AccountModel:
    """The compiled accounts block of an engine (closure engine or FastEngine alike)."""

    def __init__(self, engine: Engine, block: n.Accounts):
        checked = engine.checked
        self.engine = engine
        self.block = block
        key = block.key
        if isinstance(key, n.Call):
            self.key_field, self.key_domain = key.arg.name, True
        else:
            self.key_field, self.key_domain = key.name, False
        self.key_text = printer.value(key)
        self.lead_comp = Compiler(checked.fields, checked.events, checked.lists, dims=checked.dims)
        self._filters: dict[Any, int] = {}       # `where` node (None: every lead) -> index
        self.filter_nodes: list[n.EventFilter] = []
        self.filter_conds: list[Callable | None] = []
        comp = _AccountCompiler(self, self.lead_comp)
        self.criteria: list[CritSpec] = []
        self.dims: list[tuple[str, float, float, list]] = []
        self.labels: dict[str, str] = {}
        names: dict[str, int] = {}
        for sc in block.scores:
            for c in sc.criteria:
                names[c.name] = names.get(c.name, 0) + 1
        for sc in block.scores:
            self.labels[sc.dim] = sc.label
            objs = []
            for c in sc.criteria:
                key_name = c.name if names[c.name] == 1 else f"{sc.dim}.{c.name}"
                spec = CritSpec(len(self.criteria), sc.dim, c.name, key_name, c.kind, c, printer.criterion_rule(c))
                self.criteria.append(spec)
                flts = [self.filter_index(f) for f in _lead_filters(c)]
                if c.kind == "each":
                    objs.append(_AEach(spec, self, flts))
                elif c.kind == "when":
                    objs.append(_AWhen(spec, comp, flts))
                else:
                    objs.append(_AFirst(spec, comp, flts))
            self.dims.append((sc.dim, sc.max, sc.floor, objs))
        self.grade_blocks = [(g.dim, [(b.name, b.threshold) for b in g.bands]) for g in block.grades]
        self.nf = len(self.filter_conds)
        self.zeros = (0,) * self.nf
        self.ones = (1,) * self.nf
        self.needs_ctx = any(c is not None for c in self.filter_conds)
        route = checked.file.first(n.Route)
        self.route_lines = list(route.lines) if route else []
        self._route_cache: dict = {}
        self._eval_cache: dict = {}

    # -- per lead --
    def filter_index(self, f: n.EventFilter) -> int:
        i = self._filters.get(f.where)
        if i is None:
            i = self._filters[f.where] = len(self.filter_conds)
            self.filter_nodes.append(f)
            self.filter_conds.append(self.lead_comp.cond(f.where) if f.where is not None else None)
        return i

    def key_of(self, lead: Lead) -> str | None:
        return self.key_of_value(lead.fields.get(self.key_field))

    def key_of_value(self, v) -> str | None:
        """The account key from the key field's (coerced) value: trimmed, lower case, the part after
        the last `@` for `domain()`; None when missing (the lead is then its own account)."""
        v = K.norm(v)
        if v is None or not self.key_domain:
            return v
        return K.domain(v)

    def key_and_flags(self, lead: Lead, r: Result, asof: int) -> tuple:
        """(account key, flags) of a lead and its Result: the ones generated code carries on the
        Result (`Result.account`, `Result.flags`, pinned to key_of and flags by tests/test_fastpath.py;
        the carrier is cleared here), else key_of and flags computed by the closures."""
        fl = r.flags
        if fl is not None:
            r.flags = None
            return r.account, fl
        return self.key_of(lead), self.flags(lead, r, asof)

    def flags(self, lead: Lead, r: Result, asof: int) -> tuple:
        """One 0/1 per lead filter: does this lead count for it? All 0 for a disqualified lead."""
        if r.disqualified is not None:
            return self.zeros
        if not self.needs_ctx:
            return self.ones
        X = self.engine.context(lead, asof)
        X.dims = r.scores
        return tuple(1 if (c is None or c(X, None)) else 0 for c in self.filter_conds)

    # -- per account --
    def evaluate(self, counts: tuple) -> AccountScore:
        hit = self._eval_cache.get(counts)
        if hit is not None:
            return hit
        scores, points, raws, fired = score_dims(self.dims, counts)
        bands = band_dims(self.grade_blocks, scores)
        acct = AccountScore(scores, bands, tuple(bands.values()), tuple(points), tuple(raws), tuple(fired))
        if len(self._eval_cache) >= _EVAL_CACHE:
            self._eval_cache.clear()
        self._eval_cache[counts] = acct
        return acct

    def route(self, grade: str | None, disq: bool, bands: tuple):
        """The first route line that matches; an `account BAND and …` line needs that account band and
        never takes a disqualified lead."""
        key = (grade, disq, bands)
        hit = self._route_cache.get(key)
        if hit is None:
            hit = self._route_cache[key] = self.engine.plan.routes.outcome(grade, disq, bands)
        return hit

    def finish(self, r: Result, key: str | None, acct: AccountScore) -> Result:
        """The lead's result with its account's key, scores and bands, routed again."""
        r.account = key
        r.account_scores = acct.scores
        r.account_bands = acct.bands
        disq = r.disqualified is not None
        r.route, r.queue, r.sla, r.route_line = self.route(None if disq else r.grade, disq, acct.band_names)
        return r

    def alone(self, lead: Lead, r: Result, asof: int) -> Result:
        """A lead scored as an account of its own (tests, `explain --lead`)."""
        return self.finish(r, self.key_of(lead), self.evaluate(self.flags(lead, r, asof)))

    def is_account_line(self, r: Result) -> bool:
        li = r.route_line
        return li is not None and self.route_lines[li].account_band is not None


def account_model(engine) -> AccountModel | None:
    """The engine's compiled accounts block (built with the engine), or None without one."""
    return engine.accounts


# ---- statistics (for simulate) ------------------------------------------------------------------


@dataclass
class AccountStats:
    """Filled by `score_leads`: one count per account (a keyless lead is an account of one)."""

    accounts: int = 0
    keyless: int = 0
    largest: int = 0
    bands: dict[str, int] = field(default_factory=dict)      # band -> accounts
    fired: list[int] = field(default_factory=list)          # per account criterion: accounts it fired for

    def add(self, acct: AccountScore, size: int, keyless: bool = False) -> None:
        self.accounts += 1
        if not self.fired:
            self.fired = [0] * len(acct.fired)
        self.fired = [a + b for a, b in zip(self.fired, acct.fired)]
        if keyless:
            self.keyless += 1
        if size > self.largest:
            self.largest = size
        b = self.bands
        for name in acct.band_names:
            b[name] = b.get(name, 0) + 1


# ---- grouping -----------------------------------------------------------------------------------


class _KeySet:
    """Closed account keys, as 64-bit hashes (a collision only makes a grouped input look ungrouped,
    which is the safe side); past MAX_TRACKED_KEYS it stops remembering and answers 'unknown'."""

    __slots__ = ("seen", "full")

    def __init__(self):
        self.seen: set[int] = set()
        self.full = False

    @staticmethod
    def h(key: str) -> int:
        import hashlib

        return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")

    def add(self, key: str) -> None:
        if self.full:
            return
        self.seen.add(self.h(key))
        if len(self.seen) > MAX_TRACKED_KEYS:
            self.full = True
            self.seen = set()

    def __contains__(self, key: str) -> bool:
        return not self.full and self.h(key) in self.seen


def score_leads(engine, leads: Iterable[Lead], asof: int, *, grouped: bool | None = None,
                keep_leads: bool = True, stats: AccountStats | None = None, hold: int = HOLD,
                spill_dir: str | None = None, spill_bytes: int | None = None) -> Iterator[tuple[Lead | None, Result]]:
    """Every lead's (lead, Result), in input order. Without an accounts block: `engine.score` on each
    lead. With one: `grouped=True` streams account by account (the input must be grouped by key: a key
    that comes back raises AccountOrderError); otherwise the leads are held until the input ends: as
    objects up to `hold` leads, then packed in memory up to `spill_bytes` (SPILL_BYTES), then in a
    temporary SQLite database. Once packed the lead is only kept (pickled) when `keep_leads`; else
    None is yielded in its place."""
    model = account_model(engine)
    if model is None:
        score = engine.score
        for lead in leads:
            yield lead, score(lead, asof)
        return
    yield from group_rows(model, _rows(model, engine, leads, asof, keep_leads), grouped=bool(grouped), stats=stats,
                          hold=hold, spill_dir=spill_dir, spill_bytes=spill_bytes)


def _rows(model: AccountModel, engine, leads, asof, keep_leads: bool):
    """(lead, Result, account key, flags) per lead, scored here."""
    score, key_and_flags = engine.score, model.key_and_flags
    for lead in leads:
        r = score(lead, asof)
        yield (lead if keep_leads else None, r, *key_and_flags(lead, r, asof))


def group_rows(model: AccountModel, rows, *, grouped: bool, stats: AccountStats | None = None, hold: int = HOLD,
               spill_dir: str | None = None, spill_bytes: int | None = None,
               finish: Callable | None = None) -> Iterator[tuple[Lead | None, Result]]:
    """(lead, Result) in input order, each Result finished with its account, from rows of (lead or
    None, Result, account key, flags) in input order: streamed account by account when `grouped`,
    else held and spilled (see score_leads). The rows come from leads scored here (score_leads) or
    from generated Results that carry their key and flags (`Result.account`, `Result.flags`, scored
    in worker processes: account_results). `finish(r, key, account)` (default: model.finish) gives
    what is yielded in place of each Result: `score`'s JSON lines pass pieces of output lines instead
    of Results and finish them into text (AccountLines)."""
    if grouped:
        return _grouped(model, rows, stats, finish or model.finish)
    return _held(model, rows, stats, hold, spill_dir, spill_bytes, finish or model.finish)


def _grouped(model: AccountModel, rows, stats, finish) -> Iterator[tuple[Lead, Result]]:
    evaluate = model.evaluate
    nf = model.nf
    closed = _KeySet()
    cur: str | None = None
    counts = [0] * nf
    size = 0
    buf: list[tuple[Lead, Result, str | None]] = []

    def flush():
        acct = evaluate(tuple(counts))
        if stats is not None:
            stats.add(acct, size)
        for lead, r, k in buf:
            yield lead, (finish(r, k, acct) if k is not None else r)
        buf.clear()

    for lead, r, k, fl in rows:
        if k is None:  # its own account, complete now
            acct = evaluate(fl)
            r = finish(r, None, acct)
            if stats is not None:
                stats.add(acct, 1, keyless=True)
            if cur is None:
                yield lead, r
            else:
                buf.append((lead, r, None))
            continue
        if k != cur:
            if cur is not None:
                yield from flush()
                closed.add(cur)
            if k in closed:
                raise AccountOrderError(
                    f"lead {_id_of(r)!r}: account {k!r} appears again after other accounts; the leads are not "
                    f"grouped by {model.key_text}")
            cur = k
            counts = [0] * nf
            size = 0
        size += 1
        if nf:
            counts = [a + b for a, b in zip(counts, fl)]
        buf.append((lead, r, k))
    if cur is not None or buf:
        if cur is None:  # only keyless leads were pending
            for lead, r, _k in buf:
                yield lead, r
        else:
            yield from flush()


def _tally(counts: dict[str, list[int]], sizes: dict[str, int], k: str, fl) -> None:
    """Add one keyed lead's flags to its account's counts (and its size)."""
    c = counts.get(k)
    if c is None:
        counts[k] = list(fl)
        sizes[k] = 1
    else:
        for i, x in enumerate(fl):
            c[i] += x
        sizes[k] += 1


def _held(model: AccountModel, rows, stats, hold, spill_dir, spill_bytes=None, finish=None):
    """Unsorted input: everything is held until the input ends: the first `hold` leads as they are,
    the next ones packed (_pack), in memory up to `spill_bytes`, then in a temporary SQLite database
    that keeps, per lead, the packed result (and lead), its key and flags; the accounts' counts are
    one GROUP BY, and the leads come back in input order by a join (see _Spill)."""
    nf = model.nf
    finish = finish or model.finish
    mem: list[tuple[Lead | None, Result, str | None, tuple]] = []
    counts: dict[str, list[int]] = {}
    sizes: dict[str, int] = {}
    db = None
    it = iter(rows)
    for row in it:
        mem.append(row)
        k = row[2]
        if k is not None:
            _tally(counts, sizes, k, row[3])
        if len(mem) >= hold:
            db = _Spill(nf, spill_dir, spill_bytes)
            db.add_head(mem)
            mem = []
            counts.clear()
            sizes.clear()
            break
    if db is None:
        accts = {}
        for k, c in counts.items():
            a = accts[k] = model.evaluate(tuple(c))
            if stats is not None:
                stats.add(a, sizes[k])
        for lead, r, k, fl in mem:
            if k is None:
                a = model.evaluate(fl)
                if stats is not None:
                    stats.add(a, 1, keyless=True)
            else:
                a = accts[k]
            yield lead, finish(r, k, a)
        return
    try:
        batch = []
        for row in it:
            batch.append(row)
            if len(batch) >= 1000:
                db.add_many(batch)
                batch.clear()
        if batch:
            db.add_many(batch)
        yield from db.results(model, stats, finish)
    finally:
        db.close()


_RESULT_FIELDS = operator.attrgetter(*Result.__slots__)


def _pack(lead, r) -> bytes:
    """A held lead's Result (and the lead, when kept) as bytes: a Result alone is plain data (texts,
    numbers, dicts and tuples of them), written with marshal, about twice as fast as pickle both ways.
    A tuple (the pieces of an output line, runtime.io.writers.LineFormatter.account_piece) as it is."""
    if lead is None:
        if r.__class__ is tuple:
            return b"t" + marshal.dumps(r)
        return b"m" + marshal.dumps(_RESULT_FIELDS(r))
    return b"p" + pickle.dumps((lead, r), pickle.HIGHEST_PROTOCOL)


def _unpack(b: bytes):
    kind = b[:1]
    if kind == b"t":
        return None, marshal.loads(b[1:])
    if kind == b"m":
        return None, Result(*marshal.loads(b[1:]))
    return pickle.loads(b[1:])


def _id_of(r) -> str:
    """The lead id of a Result, or of the pieces of its output line (for an error message)."""
    if r.__class__ is tuple:
        import json

        head = r[0]
        return json.loads(head[len('{"id": '):head.index(', "scores": {')])
    return r.id


class _Spill:
    """The held leads of the unsorted path: the first ones as they are (`add_head`: only their key and
    flags go with the rest, for the counts), the others packed (_pack): in memory up to SPILL_BYTES,
    past that in a temporary SQLite database. Column names are ours (f0, f1 …); values are bound
    parameters, so no lead data ever becomes SQL text."""

    def __init__(self, nf: int, spill_dir: str | None, spill_bytes: int | None = None):
        self.nf, self.spill_dir = nf, spill_dir
        self.spill_bytes = SPILL_BYTES if spill_bytes is None else spill_bytes
        self.mem: list[tuple] = []  # (key, payload, *flags), in input order, until the database opens
        self.size = 0
        self.db = None
        self.path = None
        self.head: list[tuple] = []  # (lead, result) of the leads held as they are, in input order

    def _open(self) -> None:
        import sqlite3  # here: `test`, `explain` and sorted input never spill (start-up, issue 15)
        import tempfile

        fd, self.path = tempfile.mkstemp(prefix="leadrules-accounts-", suffix=".sqlite", dir=self.spill_dir)
        os.close(fd)
        nf = self.nf
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA cache_size=-16000")  # about 16 MB of page cache, whatever the data size
        cols = "".join(f", f{i} INTEGER" for i in range(nf))
        self.db.execute(f"CREATE TABLE leads (seq INTEGER PRIMARY KEY, key TEXT, payload BLOB{cols})")
        self.insert = (f"INSERT INTO leads (key, payload{''.join(f', f{i}' for i in range(nf))}) "
                       f"VALUES (?, ?{', ?' * nf})")
        self.db.executemany(self.insert, self.mem)
        self.mem = []

    def add_head(self, rows) -> None:
        """The first leads, before any is packed: kept as they are; their place (a row without a
        payload) and their key and flags join the packed ones."""
        self.head = [(lead, r) for lead, r, _k, _fl in rows]
        self.mem += [(k, None, *fl) for _lead, _r, k, fl in rows]

    def add_many(self, rows) -> None:
        packed = [(k, _pack(lead, r), *fl) for lead, r, k, fl in rows]
        if self.db is None:
            self.mem += packed
            self.size += sum(len(p[1]) for p in packed)
            if self.size > self.spill_bytes:
                self._open()
            return
        self.db.executemany(self.insert, packed)

    def results(self, model: AccountModel, stats: AccountStats | None, finish=None):
        finish = finish or model.finish
        if self.db is None:
            yield from self._results_in_memory(model, stats, finish)
            return
        nf = self.nf
        sums = "".join(f", SUM(f{i}) AS c{i}" for i in range(nf))
        db = self.db
        db.execute(f"CREATE TABLE accounts AS SELECT key, COUNT(*) AS size{sums} "
                   "FROM leads WHERE key IS NOT NULL GROUP BY key")
        db.execute("CREATE UNIQUE INDEX accounts_key ON accounts (key)")
        if stats is not None:
            for row in db.execute("SELECT * FROM accounts"):
                stats.add(model.evaluate(tuple(row[2:])), row[1])
        acols = "".join(f", a.c{i}" for i in range(nf))
        fcols = "".join(f", l.f{i}" for i in range(nf))
        q = (f"SELECT l.key, l.payload{fcols}{acols} FROM leads l LEFT JOIN accounts a ON a.key = l.key "
             "ORDER BY l.seq")
        head = iter(self.head)
        for row in db.execute(q):
            k = row[0]
            lead, r = _unpack(row[1]) if row[1] is not None else next(head)
            if k is None:
                acct = model.evaluate(tuple(row[2:2 + nf]))
                if stats is not None:
                    stats.add(acct, 1, keyless=True)
            else:
                acct = model.evaluate(tuple(row[2 + nf:]))
            yield lead, finish(r, k, acct)

    def _results_in_memory(self, model: AccountModel, stats: AccountStats | None, finish):
        """What the database's GROUP BY and join give, from the packed rows in memory: the same
        accounts (in order of first appearance, as _held's in-memory path) and the same leads."""
        counts: dict[str, list[int]] = {}
        sizes: dict[str, int] = {}
        for k, _payload, *fl in self.mem:
            if k is not None:
                _tally(counts, sizes, k, fl)
        accts = {}
        for k, c in counts.items():
            a = accts[k] = model.evaluate(tuple(c))
            if stats is not None:
                stats.add(a, sizes[k])
        mem, self.mem = self.mem, []
        head = iter(self.head)
        for k, payload, *fl in mem:
            lead, r = _unpack(payload) if payload is not None else next(head)
            if k is None:
                a = model.evaluate(tuple(fl))
                if stats is not None:
                    stats.add(a, 1, keyless=True)
            else:
                a = accts[k]
            yield lead, finish(r, k, a)

    def close(self) -> None:
        self.mem = []
        self.head = []
        if self.db is None:
            return
        try:
            self.db.close()
        finally:
            try:
                os.unlink(self.path)
            except OSError:
                pass


# ---- is the input grouped? ----------------------------------------------------------------------


def input_grouped(path: str, engine) -> bool:
    """Whether a leads file is grouped by account key (each key's leads together), read once for
    the key field alone. False when it cannot be read twice (stdin, a pipe) or is not grouped; the
    callers then hold and spill. Rows the reader would reject are passed over."""
    import stat

    from runtime.io import readers

    model = account_model(engine)
    if model is None or path == "-":
        return False
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        rows = readers.read_rows(path, path)
    except (OSError, readers.InputError):
        return False
    closed = _KeySet()
    cur = None
    from runtime.io.coerce import Bad, c_text

    # the key's column as the reader finds it (`from "..."`, case and spaces aside)
    fname = engine.checked.sources.get(model.key_field, model.key_field)
    get = readers.get_loose
    try:
        for _n, obj, _raw in rows:
            if obj.__class__ is not dict:
                continue
            v = get(obj, fname)
            if v is not None:
                try:
                    v = c_text(v)
                except Bad:
                    continue
            k = model.key_of_value(v)
            if k is None or k == cur:
                continue
            if cur is not None:
                closed.add(cur)
                if closed.full:
                    return False
            if k in closed:
                return False
            cur = k
    except readers.InputError:
        return False
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()
    return True


# ---- explain ------------------------------------------------------------------------------------


def explain_account(engine, lead: Lead, others: Iterable[Lead], asof: int) -> dict | None:
    """The account of `lead`: its key, its leads, each account criterion with the leads that made it
    fire, and the account's scores and bands. `others` are the other leads of the same file (the
    ones with the same key are taken); None when the file has no accounts block."""
    model = account_model(engine)
    if model is None:
        return None
    key = model.key_of(lead)
    members = [lead]
    if key is not None:
        members += [o for o in others if o is not lead and o.id != lead.id and model.key_of(o) == key]
    rows = []
    counts = [0] * model.nf
    for m in members:
        r = engine.score(m, asof)
        fl = model.flags(m, r, asof)
        counts = [a + b for a, b in zip(counts, fl)]
        rows.append((m, r, fl))
    acct = model.evaluate(tuple(counts))
    crits = []
    for spec, objs in _criteria_objs(model):
        i = spec.index
        uses = []
        for fi in objs.filters:
            if any(u["filter"] == fi for u in uses):
                continue
            f = model.filter_nodes[fi]
            uses.append({"filter": fi, "leads": f"lead where {printer.cond(f.where)}" if f.where is not None
                         else "lead",
                         "matching": [m.id for m, r, fl in rows if fl[fi]]})
        crits.append({"dimension": spec.dim, "name": spec.name, "rule": spec.text, "fired": acct.fired[i],
                      "raw_points": K.round2(acct.raw[i]), "points": K.round2(acct.points[i]),
                      "cap": spec.node.max, "capped": acct.raw[i] != acct.points[i],
                      "lead_conditions": [{"leads": u["leads"], "matching_leads": u["matching"]} for u in uses]})
    return {"_score": acct, "key": key, "by": model.key_text, "own_account": key is None,
            "leads": [{"id": m.id, "disqualified": r.disqualified, "grade": r.grade} for m, r, fl in rows],
            "criteria": crits, "scores": acct.scores, "bands": acct.bands,
            "dimensions": [{"dimension": d, "label": model.labels.get(d), "floor": fl, "max": mx,
                            "score": acct.scores[d], "band": acct.bands.get(d)} for d, mx, fl, _o in model.dims]}


def _criteria_objs(model: AccountModel):
    for _dim, _mx, _fl, objs in model.dims:
        for o in objs:
            yield o.spec, o


# ---- for the commands ---------------------------------------------------------------------------


class AccountResults:
    """A LeadReader's leads through `score_leads`: Results in input order, the reader's counters
    (`read`, `rejected`, …) and `account_stats`. Used by runtime/scoring.py for every command."""

    def __init__(self, rules, reader, asof: int, leads_path: str | None):
        self.reader, self.engine, self.asof = reader, rules.engine, asof
        self.grouped = input_grouped(leads_path, self.engine) if leads_path else False
        self.account_stats = AccountStats()

    def __iter__(self) -> Iterator[Result]:
        for _lead, r in score_leads(self.engine, self.reader, self.asof, grouped=self.grouped, keep_leads=False,
                                    stats=self.account_stats):
            yield r

    def __getattr__(self, name):
        return getattr(self.reader, name)


class GeneratedAccountResults:
    """Results of generated code that carry their account key and flags (scored in one process or in
    `--workers N`: runtime/backends/parallel.py in results mode) grouped by account here, in input
    order; the source's counters and `account_stats`, as AccountResults."""

    def __init__(self, rules, source, leads_path: str | None):
        self.source, self.model = source, account_model(rules.engine)
        self.grouped = input_grouped(leads_path, rules.engine) if leads_path else False
        self.account_stats = AccountStats()

    def __iter__(self) -> Iterator[Result]:
        rows = ((None, r, r.account, r.flags) for r in self.source)
        for _lead, r in group_rows(self.model, rows, grouped=self.grouped, stats=self.account_stats):
            r.flags = None
            yield r

    def __getattr__(self, name):
        return getattr(self.source, name)


class AccountLines:
    """`score`'s JSON lines with an accounts block, in chunks, from a ParallelScore in lean="pieces"
    mode (runtime/backends/parallel.py): each lead comes as the parts of its line its account does not
    change (LineFormatter.account_piece) or, where the writer takes its general path, as a Result;
    grouped by account here as GeneratedAccountResults groups Results, then finished into text. What
    is held per lead is a few texts instead of a Result: PIECES_HOLD of them as they are (about 50 MB;
    packing them cost a fifth of `score`'s time with accounts, bench/RESULTS.md), then packed. Byte for
    byte what ScoredWriter writes for GeneratedAccountResults (tests/test_account_lines.py). `scored`
    counts the lines; the source's counters and `account_stats` as AccountResults."""

    CHUNK = 2000

    def __init__(self, rules, source, leads_path: str | None, as_of):
        from runtime.io.writers import LineFormatter

        self.source, self.model = source, account_model(rules.engine)
        self.fmt = LineFormatter(rules.engine.plan, "jsonl", False, as_of)
        self.grouped = input_grouped(leads_path, rules.engine) if leads_path else False
        self.account_stats = AccountStats()
        self.scored = 0

    def __iter__(self) -> Iterator[str]:
        import io

        model, fmt = self.model, self.fmt
        route, line_of, write = model.route, fmt.account_line, fmt.write

        def rows():
            for batch in self.source:
                for x in batch:  # a piece is a row already
                    yield x if x.__class__ is tuple else (None, x, x.account, x.flags)

        def finish(x, k, acct):
            if x.__class__ is tuple:
                disq = x[2] is not None
                return line_of(x, k, acct, route(None if disq else x[1], disq, acct.band_names))
            r = model.finish(x, k, acct)
            r.flags = None
            buf = io.StringIO()
            write(buf, r)
            return buf.getvalue()

        lines: list[str] = []
        for _lead, text in group_rows(model, rows(), grouped=self.grouped, stats=self.account_stats,
                                      hold=PIECES_HOLD, spill_bytes=SPILL_BYTES, finish=finish):
            lines.append(text)
            if len(lines) >= self.CHUNK:
                self.scored += len(lines)
                yield "".join(lines)
                lines = []
        if lines:
            self.scored += len(lines)
            yield "".join(lines)

    def __getattr__(self, name):
        return getattr(self.source, name)


def account_results(rules, reader, asof: int, leads_path: str | None) -> AccountResults | None:
    """AccountResults when the rule file has an accounts block, else None (score leads as they come)."""
    if account_model(rules.engine) is None:
        return None
    return AccountResults(rules, reader, asof, leads_path)
