"""The repair history: a repository of its own, commits without any global git identity."""

import subprocess

from papercoder.repo import git


def test_history_in_a_new_or_existing_repository(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.gitconfig: the identity comes from papercoder
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    outer = tmp_path / "outer"
    repo = outer / "runs" / "repo"
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(outer)], check=True)
    (repo / "a.py").write_text("x = 1\n")
    (repo / ".papercoder").mkdir()
    (repo / ".papercoder" / "calls.sqlite").write_text("log")
    git.ensure_repository(repo)
    assert (repo / ".git").is_dir()  # its own, not the outer one
    assert git.log(repo) == ["papercoder: the code before debugging"]
    assert git.commit_all(repo, "nothing changed") is None
    (repo / "a.py").write_text("x = 2\n")
    commit = git.commit_all(repo, "papercoder debug: iteration 1")
    assert commit == git.head(repo) and git.log(repo)[0] == "papercoder debug: iteration 1"
    tracked = subprocess.run(["git", "-C", str(repo), "ls-files"], capture_output=True, text=True).stdout.split()
    assert tracked == ["a.py"]
    git.ensure_repository(repo)  # again: nothing new to commit, the exclusions are not repeated
    assert (repo / ".git/info/exclude").read_text().count(".papercoder/") == 1
    assert len(git.log(repo)) == 2
