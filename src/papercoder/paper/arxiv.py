"""Fetch an arXiv paper: its LaTeX source when there is one, else its PDF, into a cache folder.

``arxiv:2504.17192``, ``2504.17192v5``, ``hep-th/9901001`` and arxiv.org abs/pdf URLs are
understood. The server is ``$PAPERCODER_ARXIV_URL`` (default https://arxiv.org), so tests can
serve fixtures from 127.0.0.1; downloads are cached under ``$PAPERCODER_CACHE``,
``$XDG_CACHE_HOME/papercoder`` or ``~/.cache/papercoder``, and never fetched twice.
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from papercoder.config import cache_dir
from papercoder.errors import InputError

DEFAULT_BASE_URL = "https://arxiv.org"
MAX_DOWNLOAD = 200 * 1024 * 1024
_NEW_ID = r"\d{4}\.\d{4,5}(?:v\d+)?"
_OLD_ID = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?"
_ID = re.compile(rf"^(?:{_NEW_ID}|{_OLD_ID})$")


def parse_arxiv_id(source: str) -> str | None:
    """The arXiv identifier named by ``source``, or None when it names no arXiv paper."""
    text = source.strip()
    if text.lower().startswith("arxiv:"):
        candidate = text[len("arxiv:") :].strip()
        return candidate if _ID.match(candidate) else None
    if re.match(rf"^{_NEW_ID}$", text):
        return text
    if re.match(r"^(?:www\.|export\.)?arxiv\.org/", text, re.IGNORECASE):
        text = "https://" + text
    if re.match(r"^https?://", text):
        url = urlparse(text)
        if "arxiv" not in url.netloc:
            return None
        match = re.match(r"^/(?:abs|pdf|e-print|src)/(.+?)(?:\.pdf)?/?$", url.path)
        if match and _ID.match(match.group(1)):
            return match.group(1)
    return None


def base_url() -> str:
    return (os.environ.get("PAPERCODER_ARXIV_URL") or DEFAULT_BASE_URL).rstrip("/")


def _get(url: str, arxiv_id: str) -> bytes | None:
    """The body of ``url``; None on 404; an InputError when the server cannot be reached."""
    from papercoder import __version__

    request = urllib.request.Request(url, headers={"User-Agent": f"papercoder/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            data = response.read(MAX_DOWNLOAD + 1)
    except urllib.error.HTTPError as exc:
        if exc.code in (403, 404, 410):
            return None
        raise InputError(f"arXiv answered HTTP {exc.code} for {arxiv_id} ({url}); try again later.")
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(
            f"cannot reach {base_url()} to download arXiv {arxiv_id} ({reason}); "
            "check the network, or download the paper and pass its file."
        )
    if len(data) > MAX_DOWNLOAD:
        raise InputError(f"arXiv {arxiv_id} is larger than {MAX_DOWNLOAD // (1024 * 1024)} MB; download it yourself.")
    return data


def _suffix(data: bytes) -> str:
    if data.startswith(b"%PDF"):
        return ".pdf"
    if data.startswith((b"\x1f\x8b", b"PK\x03\x04")) or data[257:262] == b"ustar":
        return ".src"
    return ".tex"


def fetch_arxiv(arxiv_id: str) -> Path:
    """Download (or find in the cache) the source or PDF of ``arxiv_id``; return its path."""
    folder = cache_dir() / "arxiv"
    stem = arxiv_id.replace("/", "_")
    for suffix in (".src", ".tex", ".pdf"):
        cached = folder / f"{stem}{suffix}"
        if cached.is_file() and cached.stat().st_size > 0:
            return cached
    base = base_url()
    data = _get(f"{base}/e-print/{arxiv_id}", arxiv_id)
    if not data:
        data = _get(f"{base}/pdf/{arxiv_id}", arxiv_id)
    if not data:
        raise InputError(f"arXiv has no paper {arxiv_id} (neither source nor PDF); check the identifier.")
    target = folder / f"{stem}{_suffix(data)}"
    partial = target.with_name(target.name + ".part")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(data)
        partial.replace(target)
    except OSError as exc:
        raise InputError(
            f"cannot write the download cache {folder} ({exc.strerror or exc}); "
            "set PAPERCODER_CACHE to a writable folder."
        )
    return target
