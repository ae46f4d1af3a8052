"""Reading a GGUF file's metadata header (the context length a local model was trained with).

Only the header is read, and only until the wanted keys are found, so this is fast even for
multi-gigabyte files and does not need llama.cpp.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, BinaryIO

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class GGUFError(ValueError):
    """The file is not a readable GGUF file."""


def read_metadata(path: Path, wanted: set[str] | None = None) -> dict[str, Any]:
    """Metadata key/values of a GGUF file; arrays are skipped. Stops early once ``wanted`` are found."""
    found: dict[str, Any] = {}
    with open(path, "rb") as handle:
        if handle.read(4) != b"GGUF":
            raise GGUFError(f"{path} is not a GGUF file")
        version = _unpack(handle, "<I")
        if version < 2:
            raise GGUFError(f"{path} uses GGUF version {version}, which is too old")
        _unpack(handle, "<Q")  # tensor count
        count = _unpack(handle, "<Q")
        for _ in range(count):
            key = _string(handle)
            value_type = _unpack(handle, "<I")
            value = _value(handle, value_type)
            if value_type != _ARRAY:
                found[key] = value
            if wanted and wanted <= found.keys():
                break
    return found


def context_length(path: Path) -> int | None:
    """The training context length the file declares (``<arch>.context_length``)."""
    metadata = read_metadata(path)
    architecture = metadata.get("general.architecture")
    value = metadata.get(f"{architecture}.context_length")
    return int(value) if isinstance(value, int) and value > 0 else None


def _unpack(handle: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = handle.read(size)
    if len(data) != size:
        raise GGUFError("the GGUF header ends too early")
    return struct.unpack(fmt, data)[0]


def _string(handle: BinaryIO) -> str:
    length = _unpack(handle, "<Q")
    return handle.read(length).decode("utf-8", errors="replace")


def _value(handle: BinaryIO, value_type: int) -> Any:
    if value_type in _SCALARS:
        return _unpack(handle, _SCALARS[value_type])
    if value_type == _STRING:
        return _string(handle)
    if value_type == _ARRAY:
        item_type = _unpack(handle, "<I")
        length = _unpack(handle, "<Q")
        if item_type in _SCALARS:
            handle.seek(struct.calcsize(_SCALARS[item_type]) * length, 1)
        else:
            for _ in range(length):
                _value(handle, item_type)
        return None
    raise GGUFError(f"unknown GGUF value type {value_type}")
