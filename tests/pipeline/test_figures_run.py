"""Figures through a real run over HTTP: a vision model gets them in planning's cached prefix and
in the requests of the files that name them, in its provider's format; a text-only model gets
none; a resumed run replays every request with images from the call log."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image
from tests.pipeline.run_answers import answer

from papercoder.llm.calllog import CallLog
from papercoder.run import run_paper
from papercoder.rundir.manifest import Manifest
from papercoder.testing.fake_anthropic import FakeAnthropicServer
from papercoder.testing.fake_http import PrefixCache
from papercoder.testing.fake_openai import FakeOpenAIServer

STAGES = ["plan", "analyze", "code"]


def _png(color: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture()
def paper(tmp_path):
    """A LaTeX paper with two figures; the model's logic design names Figure 2 for model.py."""
    folder = tmp_path / "paper"
    folder.mkdir()
    (folder / "arch.png").write_bytes(_png((200, 20, 20), (800, 400)))
    (folder / "curve.png").write_bytes(_png((20, 20, 200), (600, 600)))
    (folder / "main.tex").write_text(
        "\\documentclass{article}\\title{Prototype Classifiers}\\begin{document}\\maketitle\n"
        "\\begin{abstract}We classify by the nearest class prototype.\\end{abstract}\n"
        "\\section{Method}Each class is the mean of its embeddings; Figure 2 draws the network.\n"
        "\\begin{figure}\\includegraphics{curve}\\caption{Accuracy over training.}\\end{figure}\n"
        "\\begin{figure}\\includegraphics{arch}\\caption{The network: two layers of 64 units.}\\end{figure}\n"
        "\\section{Experiments}We train for 10 epochs with a learning rate of 0.1.\\end{document}\n"
    )
    return folder


def _text(content) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")


def _answer(messages: list[dict]) -> str:
    text = answer([{"role": m["role"], "content": _text(m.get("content", ""))} for m in messages])
    if '"logic_analysis"' in text:  # the logic design: model.py follows the paper's Figure 2
        logic = json.loads(text)
        for item in logic["logic_analysis"]:
            if item["path"] == "model.py":
                item["analysis"] += " The layers are as Figure 2 draws them."
        text = json.dumps(logic, indent=2)
    return text


def _openai_script(body):
    return _answer(body["messages"])


def _anthropic_script(body):
    """Anthropic merges a turn's messages into blocks: each text block stands for a message again."""
    messages = [{"role": "system", "content": "".join(b.get("text", "") for b in body.get("system") or [])}]
    for turn in body["messages"]:
        content = [{"type": "text", "text": turn["content"]}] if isinstance(turn["content"], str) else turn["content"]
        blocks = [b.get("text", "") for k, b in enumerate(content) if b.get("type") == "text"
                  and not (k + 1 < len(content) and content[k + 1].get("type") == "image")]  # not an image's label
        messages += [{"role": turn["role"], "content": text} for text in blocks]
    return _answer(messages)


def _openai_images(body) -> list[tuple[int, list[str]]]:
    """(message index, image URLs) of each message carrying images."""
    found = []
    for index, message in enumerate(body["messages"]):
        if isinstance(message["content"], list):
            urls = [p["image_url"]["url"] for p in message["content"] if p.get("type") == "image_url"]
            if urls:
                found.append((index, urls))
    return found


def _run(tmp_path, paper, server, model, **extra):
    return run_paper(str(paper), out_dir=tmp_path / "run", model=model, base_url=server.base_url, stages=STAGES,
                     show_progress=False, concurrency=2, context_window=128_000, **extra)


def test_openai_vision_model_gets_figures_in_planning_prefix_and_named_files(tmp_path, paper, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAIServer(_openai_script) as server:
        result = _run(tmp_path, paper, server, "openai:gpt-4.1")
    assert result.status == "done"
    run = tmp_path / "run"
    assert sorted(p.name for p in (run / "paper" / "figures").iterdir()) == ["figure-1.png", "figure-2.png", "figures.json"]
    assert "![Figure 2](paper/figures/figure-2.png)" in (run / "paper.md").read_text()
    bodies = [r.body for r in server.requests if r.path.endswith("/chat/completions")]
    expected = [f"data:image/png;base64,{base64.b64encode((run / 'paper' / 'figures' / n).read_bytes()).decode()}"
                for n in ("figure-1.png", "figure-2.png")]
    with_images = [b for b in bodies if _openai_images(b)]
    # planning: every figure, right after the system message (the paper), the same bytes in each of
    # the four conversation turns and the checklist request (which then lists what the figures state)
    conversation = [b for b in with_images if _openai_images(b)[0][0] == 1]
    assert len(conversation) == 5, [len(b["messages"]) for b in with_images]
    checklist = [b for b in conversation if b.get("response_format", {}).get("json_schema", {}).get("name") == "Checklist"
                 or "checklist of requirements" in _text(b["messages"][-1]["content"])]
    assert len(checklist) == 1 and "The figures above are part of the paper" in _text(checklist[0]["messages"][-1]["content"])
    assert all(_openai_images(b) == [(1, expected)] for b in conversation)
    assert conversation[0]["messages"][1]["content"][1]["text"].startswith("Figure 1: Accuracy over training.")
    # model.py's analysis (asked alone or in a group) and its code request: Figure 2 only, in their own part
    own = [b for b in with_images if b not in conversation]
    assert own and all(_openai_images(b) == [(len(b["messages"]) - 1, [expected[1]])] for b in own)
    assert any("model.py" in _text(b["messages"][-1]["content"]) and "Write" in _text(b["messages"][-1]["content"]) for b in own)
    # the call log stores digests, not megabytes of base64
    with CallLog(run / "calls.sqlite") as log:
        stored = [r.request for r in log.calls()]
    assert all("base64" not in json.dumps(r) for r in stored)
    assert any("sha256" in json.dumps(r) for r in stored)
    from papercoder.report import write_report

    page = write_report(run).read_text()  # each figure beside its caption, inlined (the page's policy allows data: only)
    assert page.count('<figure class="paperfig"><img alt="Figure') == 2 and "data:image/jpeg;base64," in page
    assert "Figure 2: The network: two layers of 64 units." in page
    log_text = (run / "run.log").read_text()
    assert "figures: 2 saved" in log_text and "the planning conversation: 2 sent (Figure 1, Figure 2)" in log_text

    # resumed from the start of planning: every request, images included, comes from the call log
    with FakeOpenAIServer(_openai_script) as again:
        rerun = _run(tmp_path, paper, again, "openai:gpt-4.1", resume=True)
        assert rerun.status == "done"
    assert [r for r in again.requests if r.path.endswith("/chat/completions")] == []


def test_resume_after_clearing_planning_replays_images_from_the_log(tmp_path, paper, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAIServer(_openai_script) as server:
        _run(tmp_path, paper, server, "openai:gpt-4o")
        first = len(server.requests)
    assert "plan" in Manifest.load(tmp_path / "run" / "manifest.json").stages_done
    from papercoder.run import run_stage

    with FakeOpenAIServer(_openai_script) as again:
        result = run_stage("plan", tmp_path / "run", model="openai:gpt-4o", base_url=again.base_url, show_progress=False,
                           context_window=128_000)
    assert result.status == "done" and first > 0
    assert [r for r in again.requests if r.path.endswith("/chat/completions")] == []


def test_text_only_model_gets_captions_and_no_images(tmp_path, paper, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAIServer(_openai_script) as server:
        result = _run(tmp_path, paper, server, "openai:o3-mini")
    assert result.status == "done"
    bodies = [r.body for r in server.requests if r.path.endswith("/chat/completions")]
    assert bodies and not any(_openai_images(b) for b in bodies)
    assert any("Figure 2: The network" in _text(b["messages"][0]["content"]) for b in bodies)
    assert "not sent: openai:o3-mini reads no images: not a model family known to read images" in (tmp_path / "run" / "run.log").read_text()


def test_max_figures_zero_sends_none(tmp_path, paper, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAIServer(_openai_script) as server:
        result = _run(tmp_path, paper, server, "openai:gpt-4.1", max_figures=0)
    assert result.status == "done"
    assert not any(_openai_images(r.body) for r in server.requests if r.path.endswith("/chat/completions"))
    assert "figures: 2 saved" in (tmp_path / "run" / "run.log").read_text()
    assert "(not sent: --max-figures 0; requests carry the captions)" in (tmp_path / "run" / "run.log").read_text()


def test_vision_false_in_the_config_file_sends_none(tmp_path, paper, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "papercoder.toml").write_text("vision = false\n")
    with FakeOpenAIServer(_openai_script) as server:
        result = _run(tmp_path, paper, server, "openai:gpt-4.1")
    assert result.status == "done"
    assert not any(_openai_images(r.body) for r in server.requests if r.path.endswith("/chat/completions"))
    assert "reads no images: vision = false in the config file" in (tmp_path / "run" / "run.log").read_text()


def test_max_figures_one_keeps_the_first_and_says_so(tmp_path, paper, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAIServer(_openai_script) as server:
        _run(tmp_path, paper, server, "openai:gpt-4.1", max_figures=1)
    planning = [_openai_images(r.body) for r in server.requests if r.path.endswith("/chat/completions") and _openai_images(r.body)]
    assert all(len(urls) == 1 for found in planning for _, urls in found)
    assert "the planning conversation: 1 of 2 figures sent (--max-figures 1" in (tmp_path / "run" / "run.log").read_text()


def test_anthropic_gets_image_blocks_with_a_cache_breakpoint_after_them(tmp_path, paper, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    with FakeAnthropicServer(_anthropic_script, prefix_cache=PrefixCache(minimum=1024)) as server:
        result = _run(tmp_path, paper, server, "anthropic:claude-sonnet-4-5")
    assert result.status == "done"
    bodies = [r.body for r in server.requests if r.path.endswith("/messages")]
    planning = [b for b in bodies if b["messages"][0]["content"][0].get("text", "").startswith("Below are 2 of the paper's figures")]
    assert len(planning) == 5  # the four conversation turns and the checklist
    own = [b for b in bodies if b not in planning and any(k.get("type") == "image" for t in b["messages"] for k in t["content"])]
    assert own and all(b["messages"][-1]["content"][-1]["type"] == "image" for b in own)  # a file's figures: in its own part
    for body in planning:
        blocks = body["messages"][0]["content"]
        kinds = [block["type"] for block in blocks]
        assert kinds[:5] == ["text", "text", "image", "text", "image"]  # the figures message: text, then label + image each
        assert blocks[2]["source"]["media_type"] == "image/png"
        assert blocks[4].get("cache_control") == {"type": "ephemeral"}  # every turn: a breakpoint right after the figures
    # the cache served the paper and the figures to the turns after the first (they run one after another)
    with CallLog(tmp_path / "run" / "calls.sqlite") as log:
        planning_calls = list(log.calls("planning"))
    assert sum(r.usage.cached_input_tokens > 0 for r in planning_calls) >= 3


def test_a_server_that_refuses_images_gets_captions_and_the_run_says_so(tmp_path, paper, monkeypatch):
    """A model its family says reads images, behind a server that does not: the refused request is
    sent again without images, no later request carries any, and the stage is degraded, not done."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    from papercoder.testing.fake_http import Reply

    def script(body):
        if _openai_images(body):
            return Reply(fault="bad_request", text="Invalid content type. image_url is only supported by certain models.")
        return _openai_script(body)

    with FakeOpenAIServer(script) as server:
        result = _run(tmp_path, paper, server, "openai:gpt-4o")
    bodies = [r.body for r in server.requests if r.path.endswith("/chat/completions")]
    assert sum(bool(_openai_images(b)) for b in bodies) == 1  # refused once, never sent again
    assert result.status == "degraded"
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert any("refused a request with images" in m for m in manifest["stages"]["plan"]["detail"]["fallbacks"])
