"""Output files that are whole or absent: `open_output(path)` writes a temporary file in the same
directory and renames it over `path` only when the command succeeds (`close()`); a failure, Ctrl-C or
SIGTERM (`discard()`) leaves the previous file untouched and no half-written one. Two runs writing one
file each rename a complete file: the last one wins, never a mix.

A path that exists and is not a regular file (/dev/stdout, /dev/full, a named pipe) is written in
place. Every problem (a missing directory, a directory given as the file, no space left) is a
`Failure`: a one-line message and exit 2, never a traceback.
"""
from __future__ import annotations

import gzip
import io
import os
import tempfile
from pathlib import Path

from runtime.core.errors import EXIT_ERROR, Failure


def _fail(path: str, what: str) -> Failure:
    return Failure(f"{path}: {what}", EXIT_ERROR)


def check_writable(path: str) -> bool:
    """Raise a Failure unless `path` can be written; True when it is a special file written in place."""
    p = Path(path)
    if p.is_dir():
        raise _fail(path, "is a directory; give the name of a file to write")
    if p.exists() and not p.is_file():
        return True
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise _fail(path, f"cannot write: the directory {parent} does not exist")
    if not parent.is_dir():
        raise _fail(path, f"cannot write: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _fail(path, f"cannot write in {parent} (permission denied)")
    return False


class OutputFile:
    """A text file written atomically (see the module docstring). `write`, `flush`, `close`,
    `discard`; usable as a context manager (an exception discards)."""

    def __init__(self, path: str, *, gz: bool | None = None, encoding: str = "utf-8", binary: bool = False):
        self.path = str(path)
        self.direct = check_writable(self.path)
        gz = self.path.lower().endswith(".gz") if gz is None else gz
        self.tmp: str | None = None
        try:
            if self.direct:
                raw = open(self.path, "wb")
            else:
                p = Path(self.path)
                fd, self.tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=str(p.parent or "."))
                raw = os.fdopen(fd, "wb")
        except OSError as e:
            raise _fail(self.path, f"cannot write ({e.strerror or e})") from None
        inner = gzip.GzipFile(fileobj=raw, mode="wb") if gz else raw
        self._raw = raw
        self.fh = inner if binary else io.TextIOWrapper(inner, encoding=encoding, newline="")
        self.done = False

    # -- file protocol --
    def write(self, s) -> int:
        try:
            return self.fh.write(s)
        except OSError as e:
            self.discard()
            raise _fail(self.path, f"cannot write ({e.strerror or e})") from None

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self.fh.flush()
        except OSError as e:
            self.discard()
            raise _fail(self.path, f"cannot write ({e.strerror or e})") from None

    @property
    def closed(self) -> bool:
        return self.done

    def close(self) -> None:
        """Finish the file and put it in place."""
        if self.done:
            return
        try:
            self.fh.close()
            if self._raw is not self.fh and not self._raw.closed:
                self._raw.close()
        except OSError as e:
            self.discard()
            raise _fail(self.path, f"cannot write ({e.strerror or e})") from None
        self.done = True
        if self.tmp is not None:
            try:
                try:  # an existing file keeps its permissions (as open(path, "w") keeps them)
                    mode = os.stat(self.path).st_mode & 0o7777
                except OSError:  # a new one gets what open() would give it, not mkstemp's 0600
                    mask = os.umask(0)
                    os.umask(mask)
                    mode = 0o666 & ~mask
                os.chmod(self.tmp, mode)
                os.replace(self.tmp, self.path)
            except OSError as e:
                self._remove()
                raise _fail(self.path, f"cannot write ({e.strerror or e})") from None

    def discard(self) -> None:
        """Give up: remove the temporary file; the destination is left as it was."""
        if self.done:
            return
        self.done = True
        try:
            self.fh.close()
        except (OSError, ValueError):
            pass
        try:
            self._raw.close()
        except (OSError, ValueError):
            pass
        self._remove()

    def _remove(self) -> None:
        if self.tmp is not None:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.discard()
        return False


def open_output(path: str, *, gz: bool | None = None, binary: bool = False) -> OutputFile:
    """`path` to write, whole or absent (see the module docstring); `binary`: write bytes (a chart)."""
    return OutputFile(path, gz=gz, binary=binary)
