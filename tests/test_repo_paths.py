"""Model-proposed paths never escape the repository."""

import os

import pytest

from papercoder.repo.paths import UnsafePathError, resolve_inside, safe_relpath, write_inside


@pytest.mark.parametrize(
    "name,expected",
    [("model.py", "model.py"), ("./src/model.py", "src/model.py"), ("src\\data.py", "src/data.py"), ("`main.py`", "main.py")],
)
def test_safe_names(name, expected):
    assert safe_relpath(name) == expected


@pytest.mark.parametrize("name", ["", "/etc/passwd", "../../x.py", "a/../../b.py", "C:/x.py", "~/x.py", ".", "a\x00b"])
def test_unsafe_names(name):
    with pytest.raises(UnsafePathError):
        safe_relpath(name)


def test_symlink_escape(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    os.symlink(tmp_path, root / "link")
    with pytest.raises(UnsafePathError):
        resolve_inside(root, "link/evil.py")


def test_write_inside(tmp_path):
    path = write_inside(tmp_path, "pkg/mod.py", "x = 1\n")
    assert path.read_text() == "x = 1\n"
    assert not list(tmp_path.glob("pkg/.*tmp*"))
