"""LaTeX source archives: read like arXiv ships them, extracted safely or refused."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from papercoder.errors import InputError
from papercoder.paper.archive import extract_archive
from papercoder.paper.readers import read_paper

MAIN = b"\\documentclass{article}\\title{Packed}\\begin{document}\\input{body}\\end{document}"
BODY = b"\\section{Inside}Text from the archive."


def make_tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as archive:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return path


def test_tar_gz_source_is_read(tmp_path):
    path = make_tar(tmp_path / "2504.00001.tar.gz", [("main.tex", MAIN), ("body.tex", BODY)])
    paper = read_paper(str(path))
    assert paper.title == "Packed" and paper.source_format == "latex"
    assert paper.sections[0].heading == "1 Inside" and paper.source == str(path)


def test_zip_source_is_read(tmp_path):
    path = tmp_path / "source.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("paper/main.tex", MAIN)
        archive.writestr("paper/body.tex", BODY)
    assert read_paper(str(path)).sections[0].heading == "1 Inside"


def test_gzipped_single_tex_is_read(tmp_path):
    path = tmp_path / "2504.00002.gz"
    path.write_bytes(gzip.compress(MAIN.replace(b"\\input{body}", BODY)))
    assert read_paper(str(path)).sections[0].heading == "1 Inside"


def test_archive_without_main_tex_is_an_input_error(tmp_path):
    path = make_tar(tmp_path / "src.tgz", [("body.tex", BODY)])
    with pytest.raises(InputError, match="no main .tex"):
        read_paper(str(path))


@pytest.mark.parametrize(
    "name, message",
    [("/tmp/evil.tex", "absolute path"), ("../evil.tex", "outside"), ("a/../../evil.tex", "outside")],
)
def test_unsafe_member_names_refused(tmp_path, name, message):
    path = make_tar(tmp_path / "bad.tar.gz", [("main.tex", MAIN), (name, b"x")])
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(InputError, match=message):
        extract_archive(path, dest)
    assert not (tmp_path / "evil.tex").exists() and not list(dest.iterdir())


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_links_refused(tmp_path, kind):
    link = tarfile.TarInfo("main.tex")
    link.type = kind
    link.linkname = "/etc/passwd"
    path = make_tar(tmp_path / "link.tar.gz", [link])
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(InputError, match="link"):
        extract_archive(path, dest)


def test_zip_unsafe_name_refused(tmp_path):
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("../../escape.tex", b"x")
    with pytest.raises(InputError, match="outside"):
        extract_archive(path, tmp_path)


def test_archive_past_size_cap_refused(tmp_path):
    path = make_tar(tmp_path / "big.tar.gz", [("main.tex", MAIN), ("data.bin", b"0" * 200_000)])
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(InputError, match="expands past"):
        extract_archive(path, dest, max_bytes=100_000)


def test_gzip_bomb_stopped_while_writing(tmp_path):
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(b"%" * 300_000))
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(InputError, match="expands past"):
        extract_archive(path, dest, max_bytes=100_000)


def test_damaged_compressed_data_is_an_input_error(tmp_path):
    path = make_tar(tmp_path / "damaged.tar.gz", [("main.tex", MAIN), ("body.tex", BODY * 2000)])
    data = bytearray(path.read_bytes())
    data[40:60] = b"\xff" * 20  # zlib reports "invalid bit length repeat"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="not a readable"):
        read_paper(str(path))
