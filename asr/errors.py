"""Errors a user can act on.

Anything raised as an ``ASRError`` is bad input or a bad setting, not a bug: the command line prints its message
(which names the file and the problem) without a traceback and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path


class ASRError(Exception):
    """Base class of the user-facing errors of the toolkit."""


class InputError(ASRError):
    """A named input (file, manifest line, setting) is unusable; the message says which and why."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
