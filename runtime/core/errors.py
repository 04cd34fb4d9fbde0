"""Errors every layer may raise and the exit codes they map to (cli.py does the mapping).

`Failure` is "could not run": the message goes to stderr and the command exits with its code (2 unless
said otherwise). A user's mistake is always one of these, never a traceback.
"""
from __future__ import annotations

EXIT_OK, EXIT_FAIL, EXIT_ERROR = 0, 1, 2


class Failure(Exception):
    """Could not run: print the message to stderr and exit `code` (2 by default)."""

    def __init__(self, message: str, code: int = EXIT_ERROR):
        super().__init__(message)
        self.code = code


class InputError(Exception):
    """A leads (or events, outcomes, accounts) file that cannot be read at all; the message names the
    file and what to do. Defined here, not in runtime/io/readers.py (which re-exports it), so that a
    module can raise or subclass it without importing the readers (`test` starts faster)."""
