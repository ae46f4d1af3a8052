"""The checklist as a planning artifact: quotes checked against the paper, owners among the planned
files, sections from the paper's own headings, and a file that round-trips."""

from __future__ import annotations

import json

from papercoder.pipeline.requirements import (
    Checklist,
    Requirement,
    checklist_tree,
    choose_owners,
    load_checklist,
    merge_checklists,
    paper_sections,
    quote_found,
    render_requirements,
    save_checklist,
    section_groups,
)
from papercoder.rubric import load_rubric

PAPER = """# Tiny Ridge Networks

## 1 Introduction

We study ridge networks.

## 2 Method

The loss is the mean squared error plus
0.1 times the squared L2 norm of the weights (Eq. 2).

## Appendix A: Hyperparameters

We train with Adam at a learning rate of 3e-4 for 10,000 steps and batch size 256.
"""


def test_a_verbatim_quote_is_found_whatever_its_spacing_case_and_punctuation():
    assert quote_found("plus 0.1 times the squared L2 norm of the weights", PAPER)  # across a line break
    assert quote_found("We train with Adam at a learning rate of 3e-4", PAPER)
    assert quote_found("the LOSS is the mean squared error", PAPER)
    assert quote_found("“learning rate of 3e-4 for 10,000 steps”", PAPER)  # typographic quotes around it


def test_a_quote_that_is_not_in_the_paper_or_too_short_is_not_found():
    assert not quote_found("We train with SGD at a learning rate of 0.1", PAPER)  # paraphrased
    assert not quote_found("Adam", PAPER)  # too short to locate a passage
    assert not quote_found("", PAPER)


def test_owners_are_planned_files_named_by_the_model_or_else_the_closest_logic_design():
    files = {"model.py": "The ridge network and its loss with the L2 penalty.",
             "train.py": "Adam training loop, learning rate schedule, batch size.",
             "main.py": "Entry point: runs every experiment."}
    assert choose_owners(["./model.py", "nowhere.py", "model.py"], "The loss adds 0.1 L2", files, "main.py") == (["model.py"], False)
    owners, fallback = choose_owners([], "Adam with learning rate 3e-4 and batch size 256", files, "main.py")
    assert owners == ["train.py"] and fallback
    assert choose_owners(["ghost.py"], "Something unrelated entirely", files, "main.py") == (["main.py"], True)


def test_sections_include_the_appendix_and_groups_stay_in_order():
    sections = paper_sections(PAPER)
    assert [name for name, _ in sections] == ["1 Introduction", "2 Method", "Appendix A: Hyperparameters"]
    assert section_groups([("a", 5), ("b", 5), ("c", 20)], max_tokens=12) == [["a", "b"], ["c"]]


def test_the_checklist_file_is_a_paperbench_rubric_with_its_sources_and_owners(tmp_path):
    answer = Checklist.model_validate({"groups": [
        {"requirement": "The method of Section 2", "weight": 3, "items": [
            {"requirement": "The loss adds 0.1 times the squared L2 norm", "weight": 2, "section": "2 Method",
             "quote": "0.1 times the squared L2 norm of the weights", "files": ["model.py"]},
        ]},
        {"requirement": "Training as in Appendix A", "items": [
            {"requirement": "Adam at 3e-4 for 10,000 steps", "section": "Appendix A: Hyperparameters",
             "quote": "Adam at a learning rate of 3e-4 for 10,000 steps", "files": ["train.py"]},
        ]},
    ]})
    tree, meta = checklist_tree(merge_checklists([answer]), "Tiny Ridge Networks", paper=PAPER)
    assert [leaf.id for leaf in tree.leaves()] == ["1.1", "2.1"]
    assert meta["2.1"] == Requirement("2.1", "Adam at 3e-4 for 10,000 steps", 1.0, "Appendix A: Hyperparameters",
                                      "Adam at a learning rate of 3e-4 for 10,000 steps", True, ["train.py"])
    path = tmp_path / "checklist.json"
    save_checklist(path, tree, meta)
    assert load_rubric(path).leaves()[1].requirements == "Adam at 3e-4 for 10,000 steps"  # grade --rubric reads it
    again_tree, again_meta = load_checklist(path)
    assert again_meta == meta and [leaf.id for leaf in again_tree.leaves()] == ["1.1", "2.1"]
    assert json.loads(path.read_text())["sub_tasks"][1]["sub_tasks"][0]["files"] == ["train.py"]


def test_a_files_requirements_render_with_their_sections():
    meta = {"1.1": Requirement("1.1", "The loss adds the L2 term", 2.0, "2 Method", "0.1 times the squared", True, ["model.py"])}
    text = render_requirements(list(meta.values()))
    assert text == "- [1.1] The loss adds the L2 term (from: 2 Method)"


# --- the checklist in a run: made with the skeleton, read by analysis and coding -------------------

from tests.pipeline.stage_fixtures import PaperModel, make_run  # noqa: E402

from papercoder.llm import FakeReply  # noqa: E402


def test_planning_writes_the_checklist_while_the_skeleton_is_asked_for(tmp_path):
    model = PaperModel(delay=0.05)
    run = make_run(tmp_path / "run", model)
    run.stage("planning")
    tree, meta = load_checklist(run.paths.checklist)
    assert len(meta) == 4 and all(r.quote_found and r.files for r in meta.values())
    assert meta["1.2"].files == ["model.py"] and meta["2.1"].section == "Experiments"
    calls = {c["request"].messages[-1]["content"].split("\n")[0][:40]: c for c in run.provider.calls}
    checklist = next(c for k, c in calls.items() if k.startswith("Write the checklist of requirements"))
    skeleton = next(c for c in run.provider.calls if "Write the interface skeleton" in c["request"].messages[-1]["content"])
    assert checklist["start"] < skeleton["end"] and skeleton["start"] < checklist["end"]  # at the same time
    assert checklist["request"].messages[0] == run.provider.calls[0]["request"].messages[0]  # the cached system prefix
    assert run.notes == [] and run.fallbacks == []


def test_each_files_requests_list_the_requirements_it_owns_after_the_shared_prefix(tmp_path):
    run = make_run(tmp_path / "run", analysis_group=1)
    run.all()
    by_kind = {}
    for call in run.provider.calls:
        last = call["request"].messages[-1]["content"]
        if "Write the complete file `model.py`" in last or "implementation analysis of `model.py`" in last:
            by_kind["code" if "complete file" in last else "analysis"] = call["request"].messages
    for messages in by_kind.values():
        own = messages[-1]["content"]
        assert "[1.2] The loss is the MSE plus 0.01 times the squared norm of the weights (from: Method)" in own
        assert "[2.1]" not in own  # data.py's requirement is not model.py's
        assert "Requirements model.py must meet" not in "".join(m["content"] for m in messages[:-1])
    assert "Meet every requirement listed above" in by_kind["code"][-1]["content"]


def test_a_quote_not_in_the_paper_is_asked_for_again_once_then_kept_without_one(tmp_path):
    wrong = json.dumps({"groups": [{"requirement": "Model", "items": [
        {"requirement": "The hidden width is 16", "quote": "a hidden layer of sixteen units", "files": ["model.py"]},
        {"requirement": "Adam with learning rate 0.001", "quote": "optimised by Adam with a small step", "files": ["main.py"]},
    ]}]})
    fixed = json.dumps({"quotes": {"1.1": "with hidden width 16. The loss is the mean squared", "1.2": "still not in the paper at all"}})
    run = make_run(tmp_path / "run", PaperModel(answers={"checklist": wrong, "quotes": FakeReply(fixed)}))
    run.stage("planning")
    _, meta = load_checklist(run.paths.checklist)
    assert meta["1.1"].quote_found and meta["1.1"].quote.startswith("with hidden width 16")
    assert not meta["1.2"].quote_found and meta["1.2"].quote == ""  # kept, without a quote, and counted
    assert run.provider.calls and sum("The quotes given" in c["request"].messages[-1]["content"] for c in run.provider.calls) == 1
    assert any("1 have no verbatim quote" in note for note in run.notes)


def test_an_unusable_checklist_degrades_planning_and_coding_goes_on_without_requirements(tmp_path):
    run = make_run(tmp_path / "run", PaperModel(answers={"checklist": "I would rather not.", "json_repair": "Still no."}))
    run.all()
    assert any("no usable checklist" in f for f in run.fallbacks)
    assert (run.paths.repo / "model.py").is_file()


def test_the_report_shows_the_checklist_with_its_sources_before_verify_runs(tmp_path):
    from tests.pipeline.run_answers import answer

    from papercoder.llm import ScriptedProvider
    from papercoder.run import run_paper

    from tests.pipeline.run_fixtures import EXAMPLE_PAPER

    result = run_paper(str(EXAMPLE_PAPER), out_dir=tmp_path / "run", provider=ScriptedProvider(answer),
                       stages=["plan"], show_progress=False)
    page = result.report.read_text()
    assert "Requirements checklist" in page and "plus an L2 penalty on the embedding" in page  # a quote
    assert "files: <code>model.py</code>" in page


def test_a_runaway_checklist_is_capped_at_its_most_weighted_requirements_and_said(tmp_path):
    from papercoder.pipeline.requirements import cap_checklist

    answer = Checklist.model_validate({"groups": [
        {"requirement": f"Group {g}", "items": [{"requirement": f"Requirement {g}.{i}", "weight": 1 + (i % 3)} for i in range(1000)]}
        for g in range(3)]})
    capped, dropped = cap_checklist(answer, 400)
    assert dropped == 2600 and sum(len(g.items) for g in capped.groups) == 400
    assert all(item.weight == 3 for g in capped.groups for item in g.items)  # the most weighted stay
    again, none = cap_checklist(capped, 400)
    assert none == 0 and again == capped
