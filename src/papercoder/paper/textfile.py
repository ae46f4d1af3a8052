"""Decode a text file the way papers arrive: UTF-8 mostly, latin-1 sometimes, junk now and then."""

from __future__ import annotations

from pathlib import Path

from papercoder.errors import InputError

_CONTROL = {c for c in range(32)} - {9, 10, 12, 13}


def looks_binary(data: bytes) -> bool:
    """True when the bytes are not text: NUL bytes, or many control characters."""
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b in _CONTROL)
    return bool(sample) and controls > 0.05 * len(sample)


def decode_text(data: bytes, name: str, warnings: list[str]) -> str:
    """UTF-8 (BOM allowed), else latin-1 with a warning appended to ``warnings``."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        warnings.append(f"{name} is not valid UTF-8; read it as latin-1, so some characters may be wrong")
        return data.decode("latin-1")


def read_text_file(path: Path, warnings: list[str], *, what: str = "text") -> str:
    """The decoded text of ``path``; an InputError for empty or binary files."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}; check the path and its permissions.")
    if not data.strip():
        raise InputError(f"{path} is empty; give a file that contains the paper.")
    if looks_binary(data):
        raise InputError(f"{path} does not look like a {what} file (it contains binary data); check the file.")
    return decode_text(data, str(path), warnings)
