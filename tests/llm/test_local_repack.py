"""Whether the embedded model may repack its weights is decided once per machine, by a child
process that may crash: a crash there costs nothing, a crash in the run would cost the run."""

from __future__ import annotations

import subprocess

from papercoder.llm.providers import local_llama


def test_the_probe_runs_once_and_its_answer_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERCODER_CACHE", str(tmp_path))
    monkeypatch.delenv("PAPERCODER_LLAMA_REPACK", raising=False)
    calls = []

    def crashed(argv, **kwargs):
        calls.append(argv)
        return subprocess.CompletedProcess(argv, -11, b"", b"")  # a segfault

    monkeypatch.setattr(local_llama.subprocess, "run", crashed)
    assert local_llama.repacking_works(tmp_path / "m.gguf") is False
    assert local_llama.repacking_works(tmp_path / "m.gguf") is False
    assert len(calls) == 1 and list(tmp_path.glob("llama-repack-*.json"))


def test_the_environment_decides_without_a_probe(monkeypatch):
    monkeypatch.setattr(local_llama.subprocess, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError("probed")))
    monkeypatch.setenv("PAPERCODER_LLAMA_REPACK", "1")
    assert local_llama.repacking_works(__file__) is True  # type: ignore[arg-type]
    monkeypatch.setenv("PAPERCODER_LLAMA_REPACK", "0")
    assert local_llama.repacking_works(__file__) is False  # type: ignore[arg-type]
