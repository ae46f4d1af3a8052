"""One real run of every stage with the embedded model (local:smollm2) on the example paper.

The model is tiny, so the quality of what it writes is not asserted: the run must finish and
leave a complete run directory. To keep the test within a couple of minutes on two cores, each
answer is cut at ``CAP`` tokens and handed on as if the model had stopped there; the handling
of truly truncated answers has its own tests with the scripted model.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json

import pytest
from tests.pipeline.run_fixtures import EXAMPLE_PAPER

from papercoder.llm.types import RawResponse, Request

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed"),
]

CAP = 96  # output tokens per call


class CappedProvider:
    """Wraps a provider: at most ``cap`` output tokens per call, reported as a normal stop."""

    def __init__(self, inner, cap: int):
        self.inner = inner
        self.cap = cap
        self.model = inner.model
        self.context_window = inner.context_window
        self.supports_json_schema = inner.supports_json_schema
        self.options = getattr(inner, "options", {})
        self.price_provider = getattr(inner, "price_provider", None)
        self.calls = 0

    async def generate(self, request: Request) -> RawResponse:
        self.calls += 1
        capped = dataclasses.replace(request, max_tokens=min(request.max_tokens or self.cap, self.cap))
        raw = await self.inner.generate(capped)
        if raw.finish_reason == "length":
            raw.finish_reason = "stop"
        return raw


def test_a_real_run_with_the_embedded_model_finishes(tmp_path):
    from papercoder.llm import open_model
    from papercoder.run import run_paper

    provider = CappedProvider(open_model("local:smollm2", quiet=True).provider, CAP)
    result = run_paper(
        str(EXAMPLE_PAPER),
        out_dir=tmp_path / "run",
        provider=provider,
        debug_iterations=1,
        verify_rounds=1,
        show_progress=False,
    )

    run = tmp_path / "run"
    manifest = json.loads((run / "manifest.json").read_text())
    # the tiny model's output is poor, so the run is usually degraded; it must say why
    assert result.status in ("done", "degraded") and manifest["status"] == result.status
    assert (result.status == "degraded") == bool(result.fallbacks)
    assert manifest["stages_done"] == ["plan", "analyze", "code", "debug", "verify"]
    assert (run / "verify" / "report.json").is_file() and result.verify_summary  # whatever its checklist was worth
    assert manifest["model"] == "local:smollm2"
    assert (run / "planning" / "tasks.json").is_file() and (run / "planning" / "config.yaml").is_file()
    tasks = json.loads((run / "planning" / "tasks.json").read_text())["task_list"]
    assert tasks and all((result.repo / path).is_file() for path in tasks)
    assert all((run / "analysis" / f"{path}.md").is_file() for path in tasks)
    assert (result.repo / "README.md").is_file() and (result.repo / "requirements.txt").is_file()
    assert result.debug_status  # whatever the tiny model achieved, the report says it
    assert provider.calls == result.total.calls - result.total.cached_calls
