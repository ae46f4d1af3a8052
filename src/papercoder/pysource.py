"""Parsing Python source, safe to call from many threads at once.

CPython 3.10 and 3.11 keep the AST converter's recursion depth in state shared by all threads, so
two ``ast.parse`` calls running at the same time can fail with "SystemError: AST constructor
recursion depth mismatch" (seen with ``bench -j 2``: two runs checking their repositories). One
lock around every parse costs nothing measurable: a parse takes milliseconds.
"""

from __future__ import annotations

import ast
import threading

_lock = threading.Lock()


def parse(source: str, filename: str = "<unknown>", **kwargs: object) -> ast.Module:
    """``ast.parse``, one thread at a time."""
    with _lock:
        return ast.parse(source, filename=filename, **kwargs)  # type: ignore[arg-type]
