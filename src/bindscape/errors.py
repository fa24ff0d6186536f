"""User-facing errors.

Every error a user can cause (bad file, bad option, bad config) is a `BindscapeError`. The CLI prints
``error: <message>`` and, when set, ``hint: <hint>``, then exits with status 2. Tracebacks only appear
with ``--debug``. This module is shared by every layer (it imports nothing from bindscape).
"""

from __future__ import annotations


class BindscapeError(Exception):
    """Base class for errors meant for users. `hint` says what to do about it."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:  # one line, plus hint on the same line for logs
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


class InputError(BindscapeError):
    """A user's input file is missing, unreadable or malformed."""


class ChromosomeError(InputError):
    """Chromosome names or coordinates that do not fit the genome."""


class ConfigError(BindscapeError):
    """An invalid option or configuration value."""


class NotEnoughDataError(BindscapeError):
    """A request could not be satisfied in full (e.g. too few negatives); says how many were found."""
