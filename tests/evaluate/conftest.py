"""Fixtures of the evaluation tests."""

from pathlib import Path

import pytest
from tests.evaluate.evalkit import SMALL_REPO, make_repo


@pytest.fixture
def small_repo(tmp_path) -> Path:
    return make_repo(tmp_path / "repo", SMALL_REPO)
