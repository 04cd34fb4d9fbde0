"""A per-user cache of what leadrules builds from its own source at start-up (the parser's tables, the
syntax-tree classes' methods), so that `lint`, `test` and an editor save skip rebuilding them.

Entries are named by a hash of everything they are built from (so a new grammar or version never reads
an old entry), carry a checksum of their bytes, are written atomically (a temporary file, then a rename)
and are read only from a directory and files the user owns. Anything wrong — no home directory, a
read-only disk, a corrupt or foreign file — is a miss: the caller builds the thing itself, silently and
correctly. `LEADRULES_CACHE_DIR` moves the cache, `LEADRULES_NO_CACHE=1` turns it off (docs/cli.md).
"""
from __future__ import annotations

import os
import sys

MAGIC = b"leadrules-cache 1\n"  # then the entry's name, a checksum of the bytes, the bytes


def cache_dir() -> str | None:
    """Where entries live, or None when the cache is off."""
    if os.environ.get("LEADRULES_NO_CACHE", "").strip() not in ("", "0"):
        return None
    where = os.environ.get("LEADRULES_CACHE_DIR", "").strip()
    if where:
        return where
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser(r"~\AppData\Local")
        return os.path.join(base, "leadrules", "Cache")
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    if not base or not os.path.isabs(base):
        home = os.path.expanduser("~")
        if home == "~":  # no home directory: no cache
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "leadrules")


def _digest(data: bytes) -> bytes:
    import hashlib

    return hashlib.blake2b(data, digest_size=16).hexdigest().encode("ascii")


def key(*parts: str | bytes) -> str:
    """A short hash of `parts`, for an entry's name."""
    import hashlib

    h = hashlib.blake2b(digest_size=12)
    for p in parts:
        b = p.encode("utf-8") if isinstance(p, str) else p
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def read(name: str) -> bytes | None:
    """The bytes stored under `name`, or None (no cache, no entry, or an entry that cannot be trusted)."""
    d = cache_dir()
    if d is None:
        return None
    try:
        with open(os.path.join(d, name), "rb") as fh:
            if hasattr(os, "getuid"):
                st = os.fstat(fh.fileno())
                # written by someone else, or writable by others: not ours to load (entries may be pickles)
                if st.st_uid != os.getuid() or st.st_mode & 0o022:
                    return None
            head = fh.readline()
            label = fh.readline()
            check = fh.readline().rstrip(b"\n")
            data = fh.read()
    except (OSError, ValueError):
        return None
    if head != MAGIC or label != name.encode("utf-8") + b"\n" or check != _digest(data):
        return None  # another format, an entry copied under the wrong name, damaged bytes
    return data


def write(name: str, data: bytes) -> None:
    """Store `data` under `name`, atomically; any failure leaves the cache as it was and is not reported."""
    d = cache_dir()
    if d is None:
        return
    tmp = os.path.join(d, f".{name}.{os.getpid()}.tmp")
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
        # a new file of our own (never through a link someone left there), readable by us only
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_BINARY", 0), 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(MAGIC + name.encode("utf-8") + b"\n" + _digest(data) + b"\n" + data)
        os.replace(tmp, os.path.join(d, name))
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def prune(prefix: str, keep: int) -> None:
    """Delete all but the `keep` most recently written entries whose names start with `prefix`."""
    d = cache_dir()
    if d is None:
        return
    try:
        with os.scandir(d) as it:
            found = [(e.stat().st_mtime, e.path) for e in it if e.name.startswith(prefix) and e.is_file()]
    except OSError:
        return
    if len(found) <= keep:
        return
    for _, path in sorted(found)[: len(found) - keep]:
        try:
            os.unlink(path)
        except OSError:
            pass


_FILES_KEYS: dict = {}


def code_key(*roots: str, extra: tuple = ()) -> str:
    """A hash of the source of leadrules' own code that an entry is built by: every .py and .lark
    file under `roots` (directories or files, relative to the project root), and `extra` (library
    versions): an edited module never reads an entry its older self wrote. Once per process."""
    k = (roots, extra)
    got = _FILES_KEYS.get(k)
    if got is None:
        base = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        parts: list = [repr(extra), sys.version]
        for r in roots:
            p = os.path.join(base, r)
            files = [p] if os.path.isfile(p) else sorted(
                os.path.join(p, f) for f in os.listdir(p) if f.endswith((".py", ".lark")))
            for f in files:
                with open(f, "rb") as fh:
                    parts += [os.path.relpath(f, base), fh.read()]
        got = _FILES_KEYS[k] = key(*parts)
    return got
