"""Analysis and coding: repairs, continuations, concurrency, repeatable requests, the window."""

import ast
import re

import pytest

from papercoder.llm import LLM, ContextLengthError, FakeReply, ScriptedProvider
from tests.pipeline.stage_fixtures import FILES, MAIN_PY, MODEL_PY, PAPER, PaperModel, fenced, make_run, request_key


def planned(tmp_path, model=None, **kw):
    run = make_run(tmp_path / "run", model, **kw)
    run.stage("planning")
    run.stage("analysis")
    return run


def test_syntax_error_gets_one_repair_turn(tmp_path):
    broken = MODEL_PY.replace("def step(self, x, y):", "def step(self, x, y)")
    model = PaperModel({"code:model.py": fenced(broken), "syntax_repair:model.py": fenced(MODEL_PY)})
    run = planned(tmp_path, model)
    run.stage("coding")
    assert (run.paths.repo / "model.py").read_text() == MODEL_PY
    repair = next(c["request"] for c in run.provider.calls if "does not parse" in c["request"].messages[-1]["content"])
    assert "line 12" in repair.messages[-1]["content"]
    assert repair.messages[-2] == {"role": "assistant", "content": fenced(broken)}
    assert any("repaired a syntax error" in n for n in run.notes)


def test_truncated_answer_is_continued_and_joined(tmp_path):
    line_start = MAIN_PY.index("    points = make_data")
    first = "```python\n" + MAIN_PY[: line_start + 12]
    rest = "```python\n" + MAIN_PY[line_start:] + "```\n"  # restarts the cut line, reopens the fence
    model = PaperModel({"code:main.py": FakeReply(first, finish_reason="length"), "continue:main.py": rest})
    run = planned(tmp_path, model)
    run.stage("coding")
    code = (run.paths.repo / "main.py").read_text()
    assert code == MAIN_PY
    ast.parse(code)
    follow_up = next(c["request"] for c in run.provider.calls if "cut off" in c["request"].messages[-1]["content"])
    assert follow_up.messages[-2] == {"role": "assistant", "content": first}
    assert any("continued once" in n for n in run.notes)


def test_truncated_twice_keeps_the_partial_file_and_says_so(tmp_path):
    model = PaperModel({
        "code:main.py": FakeReply("```python\nimport os\n", finish_reason="length"),
        "continue:main.py": FakeReply("print(os.name)\nif os", finish_reason="length"),
        "syntax_repair:main.py": FakeReply("```python\nimport os\nprint(os.name)\n", finish_reason="length"),
    })
    run = planned(tmp_path, model)
    run.stage("coding")  # nothing written is lost: the debugging stage gets the partial file
    assert (run.paths.repo / "model.py").read_text() == MODEL_PY
    main = (run.paths.repo / "main.py").read_text()
    assert main.startswith("import os\nprint(os.name)")
    assert any("main.py: INCOMPLETE" in n and "output limit" in n for n in run.notes)


def overlapping(calls, kinds):
    spans = [(c["start"], c["end"]) for c in calls if any(k in c["request"].messages[-1]["content"] for k in kinds)]
    assert len(spans) == len(kinds)
    return max(s for s, _ in spans) < min(e for _, e in spans)


def test_all_analyses_and_then_all_files_run_concurrently(tmp_path):
    run = make_run(tmp_path / "run", PaperModel(delay=0.15), analysis_group=1)
    run.all()
    calls = run.provider.calls
    assert overlapping(calls, ["implementation analysis of `data.py`", "implementation analysis of `model.py`",
                               "implementation analysis of `main.py`"])
    assert overlapping(calls, ["Write the complete file `data.py`", "Write the complete file `model.py`",
                               "Write the complete file `main.py`"])  # one wave: main.py waits for no one


def test_grouped_analyses_run_concurrently_too(tmp_path):
    run = make_run(tmp_path / "run", PaperModel(delay=0.15), analysis_group=2)
    run.all()
    assert overlapping(run.provider.calls, ["each of these 2 files, ", "implementation analysis of `main.py`"])


def test_without_a_skeleton_files_are_written_in_dependency_layers(tmp_path):
    run = make_run(tmp_path / "run", PaperModel(delay=0.15))
    run.stage("planning")
    run.paths.interfaces.unlink()  # a run planned before skeletons existed
    run.stage("analysis")
    run.stage("coding")
    calls = run.provider.calls
    assert overlapping(calls, ["Write the complete file `data.py`", "Write the complete file `model.py`"])
    main = next(c for c in calls if "Write the complete file `main.py`" in c["request"].messages[-1]["content"])
    first_layer_end = max(c["end"] for c in calls if "Write the complete file `model.py`" in c["request"].messages[-1]["content"])
    assert main["start"] >= first_layer_end
    assert any("no interface skeleton" in n for n in run.notes)


def test_sequential_coding_shows_each_file_the_full_code_of_all_earlier_ones(tmp_path):
    run = make_run(tmp_path / "run", PaperModel(delay=0.05), coding="sequential")
    run.all()
    calls = [c for c in run.provider.calls if "Write the complete file" in c["request"].messages[-1]["content"]]
    assert [re.search(r"Write the complete file `([^`]+)`", c["request"].messages[-1]["content"]).group(1) for c in calls] == FILES
    for a, b in zip(calls, calls[1:]):
        assert b["start"] >= a["end"]
    last = calls[-1]["request"].messages[-1]["content"]
    assert "Code of data.py (written earlier)" in last and "Code of model.py (written earlier)" in last
    assert "rng.uniform" in last  # the code itself, not its interface
    assert "Code of" not in calls[0]["request"].messages[-1]["content"]


def test_concurrency_limit_is_respected(tmp_path):
    run = make_run(tmp_path / "run", PaperModel(delay=0.05), concurrency=1)
    run.stage("planning")
    run.stage("analysis")
    analyses = [c for c in run.provider.calls if "implementation analysis" in c["request"].messages[-1]["content"]]
    for a, b in zip(analyses, analyses[1:]):
        assert b["start"] >= a["end"]


def test_crash_mid_coding_then_rerun_repeats_the_same_requests(tmp_path):
    crash = PaperModel({"code:main.py": FakeReply(error=RuntimeError("killed"))})
    run = planned(tmp_path, crash, concurrency=2)
    with pytest.raises(RuntimeError):
        run.stage("coding")
    before = {request_key(c["request"]) for c in run.provider.calls}

    again = make_run(tmp_path / "run", concurrency=2)  # same run directory, a fresh model
    again.stage("coding")
    coding = [request_key(c["request"]) for c in again.provider.calls]
    assert len(coding) == 3
    # the two files of the first layer: byte-identical requests, so the call log can answer them
    assert sum(key in before for key in coding) == 3  # main.py's request was sent before it failed too
    assert (again.paths.repo / "main.py").read_text() == MAIN_PY


def test_small_window_cuts_context_deterministically_and_notes_it(tmp_path):
    long_paper = PAPER + "\n## Appendix\n\n" + ("More detail about the experiments. " * 380)
    long_analysis = "## Analysis\n" + "A detailed step of the analysis. " * 300
    runs = []
    for name in ("a", "b"):
        run = make_run(tmp_path / name, PaperModel({"analysis": long_analysis}), window=8192, paper=long_paper)
        run.all()
        runs.append(run)
        for call in run.provider.calls:
            request = call["request"]
            assert sum(len(m["content"]) // 4 + 1 for m in request.messages) + request.max_tokens <= 8192
    assert any("to fit the context window" in n for n in runs[0].notes)
    keys = [sorted(request_key(c["request"]) for c in r.provider.calls) for r in runs]
    assert keys[0] == keys[1]
    assert (runs[0].paths.repo / "main.py").read_text() == MAIN_PY


def test_missing_analysis_uses_the_logic_design(tmp_path):
    run = planned(tmp_path)
    (run.paths.analysis / "model.py.md").unlink()
    run.stage("coding")
    prompt = next(c["request"].messages[-1]["content"] for c in run.provider.calls
                  if "Write the complete file `model.py`" in c["request"].messages[-1]["content"])
    assert "Logic of model.py" in prompt.split('<document title="Analysis of model.py">')[1]
    assert any("no analysis for model.py" in n for n in run.notes)
    assert sorted(p.name for p in run.paths.repo.glob("*.py")) == sorted(FILES)


class TokenHungryProvider(ScriptedProvider):
    """A model whose tokenizer makes 3 characters a token: our estimate (4) is too low for it."""

    async def generate(self, request):
        used = sum(len(m["content"]) for m in request.messages) // 3 + (request.max_tokens or 0)
        if used > self.context_window:
            self.rejected.append(request)
            raise ContextLengthError(f"the request does not fit the context window of {self.context_window}", self.context_window)
        return await super().generate(request)


def test_request_rejected_as_too_long_is_rebuilt_smaller(tmp_path):
    long_paper = PAPER + "\n## Appendix\n\n" + ("More detail about the experiments. " * 380)
    long_analysis = "## Analysis\n" + "A detailed step of the analysis. " * 300
    run = make_run(tmp_path / "run", window=8192, paper=long_paper)
    provider = TokenHungryProvider(PaperModel({"analysis": long_analysis}), context_window=8192)
    provider.rejected = []
    run.provider = provider
    run.ctx.llm = LLM(provider, concurrency=2)
    run.all()
    assert provider.rejected  # some requests were too long for this tokenizer
    assert any("rejected the request as too long" in n for n in run.notes)
    assert (run.paths.repo / "main.py").read_text() == MAIN_PY


def test_truncated_answer_without_room_to_continue_is_kept_and_noted(tmp_path):
    huge = "```python\n" + "x = 1\n" * 6000
    run = planned(tmp_path, PaperModel({"code:model.py": FakeReply(huge, finish_reason="length")}), window=8192)
    run.stage("coding")
    assert (run.paths.repo / "data.py").is_file()
    assert (run.paths.repo / "model.py").read_text().startswith("x = 1\n")
    assert any("model.py: INCOMPLETE" in n for n in run.notes)


def test_empty_answer_keeps_an_empty_file_and_says_so(tmp_path):
    refusal = "I cannot help with that."
    run = planned(tmp_path, PaperModel({"code:model.py": refusal, "syntax_repair:model.py": refusal}))
    run.stage("coding")
    # prose without a fence is taken as the file: it does not parse, gets its repair turn, is kept
    assert any("model.py" in n and "still does not parse" in n for n in run.notes)
    assert any("still does not parse" in f for f in run.fallbacks)  # and the stage is degraded
    empty = planned(tmp_path / "e", PaperModel({"code:model.py": "```python\n```", "empty_retry:model.py": "```python\n```"}))
    empty.stage("coding")
    assert (empty.paths.repo / "model.py").read_text() == ""
    assert "empty_retry:model.py" in empty.provider.replies.seen  # asked once more before giving up
    assert any("wrote no code, twice" in f for f in empty.fallbacks)


def test_an_empty_answer_asked_again_gives_the_file(tmp_path):
    run = planned(tmp_path, PaperModel({"code:model.py": "```python\n```", "empty_retry:model.py": fenced(MODEL_PY)}))
    run.stage("coding")
    assert (run.paths.repo / "model.py").read_text() == MODEL_PY
    assert not run.fallbacks


def test_a_closing_fence_never_opened_still_gives_the_code(tmp_path):
    run = planned(tmp_path, PaperModel({"code:model.py": "X = 1\nY = 2\n```"}))
    run.stage("coding")
    assert (run.paths.repo / "model.py").read_text() == "X = 1\nY = 2\n"


# --- several analyses in one request ---------------------------------------------------------


def grouped_prompts(run):
    return [c["request"].messages[-1]["content"] for c in run.provider.calls
            if "each of these" in c["request"].messages[-1]["content"]]


def test_by_default_one_request_analyses_several_files(tmp_path):
    run = planned(tmp_path)
    run.provider.calls.clear()
    run.stage("analysis")
    assert len(run.provider.calls) == 1 and len(grouped_prompts(run)) == 1  # three files, one request
    prompt = grouped_prompts(run)[0]
    assert "`data.py`, `model.py`, `main.py`" in prompt and "# File: data.py" in prompt
    assert "`main.py` is the entry point" in prompt and "--smoke" in prompt
    for path in FILES:  # each file's logic design is there, and its analysis is on disk
        assert f'<document title="The logic design of {path}">' in prompt
        assert (run.paths.analysis / f"{path}.md").read_text() == "## Analysis\nDetailed steps for this file.\n"


def test_a_file_missing_from_the_answer_is_asked_for_alone(tmp_path):
    answer = "# File: data.py\nData analysis.\n\n# File: main.py\nMain analysis.\n"
    run = planned(tmp_path, PaperModel({"analyses": answer, "analysis:model.py": "Model analysis, alone."}))
    run.provider.calls.clear()
    run.stage("analysis")
    assert [run.paths.analysis.joinpath(f"{p}.md").read_text() for p in FILES] == [
        "Data analysis.\n", "Model analysis, alone.\n", "Main analysis.\n"]
    assert any("no section for them; asked for again alone: model.py" in n for n in run.notes)
    assert not run.ctx.fallbacks  # every file got its analysis: nothing is degraded


def test_a_cut_answer_keeps_the_whole_sections_and_asks_again_for_the_rest(tmp_path):
    cut = FakeReply("# File: data.py\nData analysis.\n\n# File: model.py\nThe model is a", finish_reason="length")
    model = PaperModel({"analyses": cut, "analysis:model.py": "Model, alone.", "analysis:main.py": "Main, alone."})
    run = planned(tmp_path, model)
    run.provider.calls.clear()
    run.stage("analysis")
    assert [run.paths.analysis.joinpath(f"{p}.md").read_text() for p in FILES] == [
        "Data analysis.\n", "Model, alone.\n", "Main, alone.\n"]
    assert any("cut at the output limit; asked for again alone: model.py, main.py" in n for n in run.notes)


def test_a_window_too_small_for_several_answers_halves_the_group(tmp_path):
    long_paper = PAPER + "\n## Appendix\n\n" + ("More detail about the experiments. " * 400)
    run = make_run(tmp_path / "run", window=8192, analysis_group=3, paper=long_paper)
    run.stage("planning")
    run.provider.calls.clear()
    run.stage("analysis")
    # three answers do not fit beside this paper, two do: data.py and model.py, then main.py alone
    assert len(grouped_prompts(run)) == 1 and "`data.py`, `model.py`." in grouped_prompts(run)[0]
    assert len(run.provider.calls) == 2
    assert any("analyses of data.py, model.py, main.py: no room in the context window" in n for n in run.notes)
    for call in run.provider.calls:
        request = call["request"]
        assert sum(len(m["content"]) // 4 + 1 for m in request.messages) + request.max_tokens <= 8192


def test_analysis_group_one_is_the_papers_one_request_per_file(tmp_path):
    run = make_run(tmp_path / "run", analysis_group=1)
    run.stage("planning")
    run.provider.calls.clear()
    run.stage("analysis")
    assert not grouped_prompts(run) and len(run.provider.calls) == len(FILES)
    assert not run.notes


def test_the_embedded_model_analyses_one_file_a_request(tmp_path):
    run = make_run(tmp_path / "run")
    run.provider.analyses_per_call = 1  # what the in-process GGUF provider says
    run.stage("planning")
    run.provider.calls.clear()
    run.stage("analysis")
    assert not grouped_prompts(run) and len(run.provider.calls) == len(FILES)


def test_files_are_grouped_in_task_order_into_even_runs():
    from papercoder.pipeline.analysis import group_files

    files = [f"f{k}.py" for k in range(7)]
    assert group_files(files, 4) == [files[:4], files[4:]]
    assert [len(g) for g in group_files(files, 3)] == [3, 2, 2]
    assert group_files(files, 1) == [[f] for f in files]
    assert group_files(files, 10) == [files] and group_files([], 4) == []
