"""Safe extraction of paper archives (.tar.gz, .tgz, .tar, .zip, a gzipped single file).

An archive from the internet is untrusted: a member may be named ``/etc/passwd`` or
``../../x``, be a link pointing anywhere, or expand to gigabytes. Every member is checked
before anything is written, only regular files and folders are written, always below the
destination, and bytes are counted as they are written so that a lying header cannot get past
the size cap. Any violation rejects the whole archive.
"""

from __future__ import annotations

import gzip
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from papercoder.errors import InputError

MAX_BYTES = 300 * 1024 * 1024  # expanded size cap; arXiv sources are far smaller
MAX_MEMBERS = 10_000
_CHUNK = 1 << 16


def archive_kind(path: Path) -> str | None:
    """"zip", "tar", "gzip" (tar.gz or a gzipped file) or None, judged by the first bytes."""
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError:
        return None
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return None


def _safe_relative(name: str, archive: Path) -> PurePosixPath | None:
    """The member's path below the destination; None for the archive's root entry."""
    cleaned = name.replace("\\", "/")
    if cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        raise InputError(f"{archive} has a member with an absolute path ({name}); refusing to extract it.")
    parts = [p for p in cleaned.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InputError(f"{archive} has a member that points outside the archive ({name}); refusing to extract it.")
    return PurePosixPath(*parts) if parts else None


class _Budget:
    def __init__(self, archive: Path, max_bytes: int) -> None:
        self.archive = archive
        self.left = max_bytes
        self.max_bytes = max_bytes

    def spend(self, amount: int) -> None:
        self.left -= amount
        if self.left < 0:
            raise InputError(
                f"{self.archive} expands past {self.max_bytes // (1024 * 1024)} MB; "
                "refusing to extract it (is it really a paper's source?)."
            )


def _copy(source, target: Path, budget: _Budget) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        while True:
            chunk = source.read(_CHUNK)
            if not chunk:
                break
            budget.spend(len(chunk))
            out.write(chunk)


def _extract_tar(path: Path, dest: Path, budget: _Budget, max_members: int) -> None:
    try:
        with tarfile.open(path, "r:*") as archive:
            members = archive.getmembers()
            if len(members) > max_members:
                raise InputError(f"{path} has more than {max_members} members; refusing to extract it.")
            for member in members:
                _safe_relative(member.name, path)
                if member.issym() or member.islnk():
                    raise InputError(f"{path} contains a link ({member.name}); refusing to extract it.")
                if not (member.isfile() or member.isdir()):
                    raise InputError(f"{path} contains a special file ({member.name}); refusing to extract it.")
            budget.spend(sum(m.size for m in members if m.isfile()))
            budget.left = budget.max_bytes  # declared sizes passed; now count the real bytes
            for member in members:
                relative = _safe_relative(member.name, path)
                if relative is None:
                    continue
                target = dest.joinpath(*relative.parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                source = archive.extractfile(member)
                if source is not None:
                    with source:
                        _copy(source, target, budget)
    except InputError:
        raise
    except Exception as exc:  # tarfile, gzip and zlib each have their own ways of saying "damaged"
        raise InputError(f"{path} is not a readable archive ({exc}); re-download it.")


def _extract_zip(path: Path, dest: Path, budget: _Budget, max_members: int) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > max_members:
                raise InputError(f"{path} has more than {max_members} members; refusing to extract it.")
            for info in infos:
                _safe_relative(info.filename, path)
                mode = (info.external_attr >> 16) & 0o170000
                if mode == 0o120000:
                    raise InputError(f"{path} contains a link ({info.filename}); refusing to extract it.")
            budget.spend(sum(info.file_size for info in infos))
            budget.left = budget.max_bytes
            for info in infos:
                relative = _safe_relative(info.filename, path)
                if relative is None:
                    continue
                target = dest.joinpath(*relative.parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                with archive.open(info) as source:
                    _copy(source, target, budget)
    except InputError:
        raise
    except Exception as exc:  # damaged data, an encrypted member, an unknown compression method
        raise InputError(f"{path} is not a readable zip archive ({exc}); re-download it.")


def _extract_gzip_file(path: Path, dest: Path, budget: _Budget) -> None:
    """A gzipped single file (arXiv ships one-file sources this way): a .tex, or a PDF."""
    try:
        with gzip.open(path, "rb") as source:
            head = source.read(5)
            name = "paper.pdf" if head.startswith(b"%PDF") else "paper.tex"
            target = dest / name
            budget.spend(len(head))
            with target.open("wb") as out:
                out.write(head)
                while True:
                    chunk = source.read(_CHUNK)
                    if not chunk:
                        break
                    budget.spend(len(chunk))
                    out.write(chunk)
    except InputError:
        raise
    except Exception as exc:  # gzip.BadGzipFile, EOFError, zlib.error
        raise InputError(f"{path} is not a readable gzip file ({exc}); re-download it.")


def extract_archive(path: Path, dest: Path, *, max_bytes: int = MAX_BYTES, max_members: int = MAX_MEMBERS) -> None:
    """Extract ``path`` into the existing folder ``dest``, or raise InputError if it is unsafe."""
    kind = archive_kind(path)
    budget = _Budget(path, max_bytes)
    if kind == "zip":
        _extract_zip(path, dest, budget, max_members)
    elif kind == "tar":
        _extract_tar(path, dest, budget, max_members)
    elif kind == "gzip":
        if _is_tar_gz(path):
            _extract_tar(path, dest, budget, max_members)
        else:
            _extract_gzip_file(path, dest, budget)
    else:
        raise InputError(f"{path} is not a .tar.gz, .tar or .zip archive; check the file.")


def _is_tar_gz(path: Path) -> bool:
    try:
        with gzip.open(path, "rb") as source:
            head = source.read(512)
    except Exception:  # damaged: let the extraction say so
        return False
    return len(head) >= 262 and head[257:262] == b"ustar"

