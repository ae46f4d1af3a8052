"""Errors a user can act on.

Anything raised as a :class:`PapercoderError` is printed by the CLI as one line on stderr
(``error: <message>``) with a non-zero exit and no traceback. The message must say what is
wrong and what to do about it. Anything else is a bug in papercoder and keeps its traceback.
"""

from __future__ import annotations


class PapercoderError(Exception):
    """A problem the user (or the model) caused and the user can fix; printed as one line."""

    exit_code: int = 2


class InputError(PapercoderError):
    """A bad input file, path, flag or argument."""


class ConfigError(PapercoderError):
    """Bad or missing configuration: a model string, a key, a config file."""
