"""arXiv: identifiers, download of source or PDF from a local server, the cache, no network."""

from __future__ import annotations

import io
import socket
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from papercoder.errors import InputError
from papercoder.paper.arxiv import cache_dir, parse_arxiv_id
from papercoder.paper.readers import read_paper

from .conftest import TWO_COLUMN_PAGES
from .pdfbuilder import build_pdf


@pytest.mark.parametrize(
    "source, expected",
    [
        ("arxiv:2504.17192", "2504.17192"),
        ("arXiv:2504.17192v5", "2504.17192v5"),
        ("2504.17192v5", "2504.17192v5"),
        ("https://arxiv.org/abs/2504.17192", "2504.17192"),
        ("https://arxiv.org/pdf/2504.17192v2.pdf", "2504.17192v2"),
        ("http://export.arxiv.org/abs/hep-th/9901001", "hep-th/9901001"),
        ("arxiv:hep-th/9901001v1", "hep-th/9901001v1"),
        ("arxiv.org/abs/2504.17192v1", "2504.17192v1"),
        ("paper.pdf", None),
        ("https://example.com/abs/2504.17192", None),
        ("2504.17", None),
    ],
)
def test_identifiers(source, expected):
    assert parse_arxiv_id(source) == expected


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("PAPERCODER_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "papercoder"
    monkeypatch.setenv("PAPERCODER_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def arxiv_server(monkeypatch, tmp_path):
    """A fake arxiv.org on 127.0.0.1: ``routes`` maps paths to bodies; ``hits`` lists requests."""
    routes: dict[str, bytes] = {}
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            hits.append(self.path)
            body = routes.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("PAPERCODER_ARXIV_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("PAPERCODER_CACHE", str(tmp_path / "cache"))
    yield routes, hits
    server.shutdown()
    server.server_close()


def test_source_downloaded_read_and_cached(arxiv_server, tmp_path):
    routes, hits = arxiv_server
    routes["/e-print/2504.17192v5"] = tar_gz(
        {"ms.tex": b"\\documentclass{article}\\title{From arXiv}\\begin{document}\\section{One}Hi.\\end{document}"}
    )
    paper = read_paper("arxiv:2504.17192v5")
    assert paper.title == "From arXiv" and paper.source == "arxiv:2504.17192v5"
    assert paper.sections[0].heading == "1 One"
    assert (tmp_path / "cache" / "arxiv" / "2504.17192v5.src").is_file()
    read_paper("https://arxiv.org/abs/2504.17192v5")
    assert hits == ["/e-print/2504.17192v5"]  # the second read came from the cache


def test_pdf_fetched_when_there_is_no_source(arxiv_server, tmp_path):
    routes, hits = arxiv_server
    routes["/pdf/2501.00001"] = build_pdf(tmp_path / "p.pdf", TWO_COLUMN_PAGES).read_bytes()
    paper = read_paper("2501.00001")
    assert paper.source_format == "pdf" and paper.sections[0].heading == "1 Introduction"
    assert hits == ["/e-print/2501.00001", "/pdf/2501.00001"]


def test_unknown_paper_is_an_input_error(arxiv_server):
    with pytest.raises(InputError, match="no paper 2501.99999"):
        read_paper("arxiv:2501.99999")


def test_no_network_is_a_clear_error(monkeypatch, tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("PAPERCODER_ARXIV_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("PAPERCODER_CACHE", str(tmp_path / "cache"))
    with pytest.raises(InputError, match="cannot reach"):
        read_paper("arxiv:2504.17192")


def test_unwritable_cache_is_a_clear_error(arxiv_server, monkeypatch, tmp_path):
    routes, _ = arxiv_server
    routes["/e-print/2504.00003"] = b"%PDF-1.4 tiny"
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("PAPERCODER_CACHE", str(blocker))
    with pytest.raises(InputError, match="cannot write the download cache"):
        read_paper("arxiv:2504.00003")
