"""The events of a separate events file (`--events`), by lead id, without holding a big file in memory.

Events are kept in memory up to `SPILL_EVENTS`; past that, every batch is spilled to a temporary
SQLite file (stdlib `sqlite3`, deleted when the store is closed) as one row per (lead id, batch) and
read back one lead at a time: peak memory stays flat however large the events file (bench/run.py
measures 1M leads + 13M events against 100k). Either way a lead gets the same events in file order,
and orphans (events whose lead id no lead had) are counted the same (tests/test_eventstore.py).
"""
from __future__ import annotations

import itertools
import os
import pickle
import sqlite3
import tempfile

from runtime.core.model import Event

SPILL_EVENTS = 200_000   # events held in memory before the store spills to disk
_ATTACH_BATCH = 5000


class EventStore:
    """`add(lead_id, event)` in file order, then `finish()`, then `take(lead_id)` for each lead (the same
    list again for an id taken before), then `orphans(limit)`; `close()` removes the spill file."""

    def __init__(self, spill_at: int | None = None):
        self.spill_at = SPILL_EVENTS if spill_at is None else max(1, int(spill_at))
        self.mem: dict[str, list[Event]] = {}
        self.n_mem = 0
        self.db: sqlite3.Connection | None = None
        self.path: str | None = None
        self.batch = 0
        self.taken: dict[str, list[Event]] = {}  # in-memory mode: what each lead got
        self._attach: list[tuple[str]] = []
        self.shared: dict = {}

    @property
    def spilled(self) -> bool:
        return self.db is not None

    def add(self, lid: str, ev: Event) -> None:
        lst = self.mem.get(lid)
        if lst is None:
            self.mem[lid] = [ev]
        else:
            lst.append(ev)
        self.n_mem += 1
        if self.n_mem >= self.spill_at:
            self._spill()

    def _open(self) -> None:
        fd, self.path = tempfile.mkstemp(prefix="leadrules-events-", suffix=".sqlite")
        os.close(fd)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -16000", "temp_store = FILE"):
            db.execute(f"PRAGMA {pragma}")
        db.execute("CREATE TABLE ev (lid TEXT NOT NULL, batch INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL)")
        db.execute("CREATE TABLE att (lid TEXT PRIMARY KEY) WITHOUT ROWID")
        self.db = db

    def _spill(self) -> None:
        if not self.mem:
            return
        if self.db is None:
            self._open()
        b, dumps = self.batch, pickle.dumps
        self.db.execute("BEGIN")
        self.db.executemany("INSERT INTO ev VALUES (?, ?, ?, ?)",
                            ((lid, b, len(evs), dumps(evs, pickle.HIGHEST_PROTOCOL)) for lid, evs in self.mem.items()))
        self.db.execute("COMMIT")
        self.batch += 1
        self.mem = {}
        self.n_mem = 0
        self.shared.clear()

    def finish(self) -> None:
        """All events added: index the spill file (if any)."""
        if self.db is not None:
            self._spill()
            self.db.execute("CREATE INDEX ev_lid ON ev (lid, batch)")

    def take(self, lid: str) -> list[Event] | None:
        """The events of lead `lid` in file order (None when it has none)."""
        if self.db is None:
            evs = self.mem.pop(lid, None)
            if evs is not None:
                self.taken[lid] = evs
                return evs
            return self.taken.get(lid)
        rows = self.db.execute("SELECT data FROM ev WHERE lid = ? ORDER BY batch", (lid,)).fetchall()
        if not rows:
            return None
        self._attach.append((lid,))
        if len(self._attach) >= _ATTACH_BATCH:
            self._flush_attached()
        if len(rows) == 1:
            return pickle.loads(rows[0][0])
        out: list[Event] = []
        for (data,) in rows:
            out.extend(pickle.loads(data))
        return out

    def _flush_attached(self) -> None:
        if self._attach and self.db is not None:
            self.db.executemany("INSERT OR IGNORE INTO att VALUES (?)", self._attach)
        self._attach = []

    def orphans(self, limit: int) -> tuple[int, list[str]]:
        """(events whose lead id no lead took, the first `limit` such ids in file order)."""
        if self.db is None:
            return sum(len(v) for v in self.mem.values()), list(itertools.islice(self.mem, limit))
        self._flush_attached()
        q = "FROM ev WHERE lid NOT IN (SELECT lid FROM att)"
        n = self.db.execute(f"SELECT COALESCE(SUM(n), 0) {q}").fetchone()[0]
        ids = [r[0] for r in self.db.execute(f"SELECT lid {q} GROUP BY lid ORDER BY MIN(rowid) LIMIT ?", (limit,))]
        return int(n), ids

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
        if self.path is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            self.path = None
        self.mem, self.taken = {}, {}

