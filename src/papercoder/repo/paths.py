"""Paths proposed by a model are data: validate them before anything touches the disk."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from papercoder.errors import PapercoderError


class UnsafePathError(PapercoderError):
    """A model proposed a path that is absolute, climbs out with '..', or is otherwise unsafe."""


_DRIVE = re.compile(r"^[A-Za-z]:")


def safe_relpath(name: str) -> str:
    """Normalise a model-proposed file name to a safe POSIX relative path, or raise.

    Accepts ``src/model.py`` and ``./model.py``; rejects absolute paths, drive letters,
    ``..`` components, empty names, NUL bytes and names that are only dots.
    """
    raw = (name or "").strip().strip("`'\"").replace("\\", "/")
    if not raw or "\x00" in raw:
        raise UnsafePathError(f"unsafe file name {name!r}: it is empty or contains a NUL byte")
    if raw.startswith("/") or raw.startswith("~") or _DRIVE.match(raw):
        raise UnsafePathError(f"unsafe file name {name!r}: absolute paths are not allowed")
    parts = [p for p in PurePosixPath(raw).parts if p not in ("", ".")]
    if not parts:
        raise UnsafePathError(f"unsafe file name {name!r}: it names no file")
    if any(p == ".." for p in parts):
        raise UnsafePathError(f"unsafe file name {name!r}: '..' is not allowed")
    return "/".join(parts)


def resolve_inside(root: Path, name: str) -> Path:
    """The path of ``name`` under ``root``, guaranteed (after resolving links) to stay inside it."""
    rel = safe_relpath(name)
    root_resolved = root.resolve()
    target = (root_resolved / rel).resolve()
    if target != root_resolved and root_resolved not in target.parents:
        raise UnsafePathError(f"unsafe file name {name!r}: it resolves outside {root}")
    return target


def write_inside(root: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``name`` under ``root`` atomically (temp file, then rename)."""
    return write_atomic(resolve_inside(root, name), text)


def write_atomic(target: Path, text: str) -> Path:
    """Write ``text`` to ``target`` through a temporary file and a rename: a reader never sees
    half a file, and a failed write leaves the old one (and no temporary file) behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8", errors="replace")  # a lone surrogate must not lose the file
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
