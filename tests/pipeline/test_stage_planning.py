"""Planning when the model gets things wrong: repair turns first, then deterministic fallbacks."""

import json

import pytest
import yaml

from papercoder.errors import InputError
from papercoder.llm import FakeReply
from tests.pipeline.stage_fixtures import FILES, PaperModel, design_json, logic_json, make_run


def load(run, name):
    return json.loads((run.paths.planning / name).read_text())


def test_malformed_design_json_is_repaired(tmp_path):
    model = PaperModel({"design": '{"implementation_approach": "x", "file_list": ["data.py",', "json_repair": design_json()})
    run = make_run(tmp_path, model)
    run.stage("planning")
    assert model.seen[:3] == ["plan", "design", "json_repair"]
    assert load(run, "design.json")["file_list"] == FILES
    assert run.notes == []


def test_design_json_never_valid_salvages_file_names(tmp_path):
    broken = 'file_list: "data.py", "main.py" and so on {'
    logic = logic_json(["data.py", "main.py"], {"data.py": [], "main.py": ["data.py"]})
    run = make_run(tmp_path, PaperModel({"design": broken, "json_repair": broken, "logic": logic, "logic_repair": logic}))
    run.stage("planning")
    assert load(run, "design.json")["file_list"] == ["data.py", "main.py"]
    assert any("not valid JSON" in n for n in run.notes)


def test_task_list_disagreeing_with_file_list_gets_a_repair_turn(tmp_path):
    wrong = logic_json(tasks=["model.py", "train.py", "main.py"])
    model = PaperModel({"logic": wrong, "logic_repair": logic_json()})
    run = make_run(tmp_path, model)
    run.stage("planning")
    assert "logic_repair" in model.seen
    repair_prompt = run.provider.calls[3]["request"].messages[-1]["content"]
    assert "train.py" in repair_prompt and "data.py" in repair_prompt
    assert load(run, "tasks.json")["task_list"] == FILES
    assert run.notes == []


def test_task_list_still_wrong_falls_back(tmp_path):
    wrong = logic_json(tasks=["model.py", "train.py", "main.py"])
    run = make_run(tmp_path, PaperModel({"logic": wrong, "logic_repair": wrong}))
    run.stage("planning")
    tasks = load(run, "tasks.json")
    assert tasks["task_list"] == ["model.py", "main.py", "data.py"]
    assert [x["path"] for x in tasks["logic_analysis"]] == tasks["task_list"]
    assert any("train.py" in n for n in run.notes) and any("data.py" in n for n in run.notes)
    # the conversation continues with the checked plan
    conversation = load(run, "conversation.json")["messages"]
    assert '"train.py"' not in conversation[6]["content"]


def test_unsafe_path_is_dropped_and_never_written(tmp_path):
    bad = design_json(files=["data.py", "../../x.py", "/tmp/evil.py", "model.py", "main.py"])
    model = PaperModel({"design": bad, "design_repair": bad})
    run = make_run(tmp_path / "run", model)
    run.all()
    assert "design_repair" in model.seen
    assert load(run, "design.json")["file_list"] == FILES
    assert any("../../x.py" in n for n in run.notes)
    assert not (tmp_path / "x.py").exists() and not (tmp_path.parent / "x.py").exists()
    assert sorted(p.name for p in run.paths.repo.glob("*.py")) == ["data.py", "main.py", "model.py"]


def test_dependency_cycle_repaired_or_broken(tmp_path):
    cyclic = logic_json(deps={"data.py": ["main.py"], "model.py": ["data.py"], "main.py": ["data.py", "model.py"]})
    repaired = make_run(tmp_path / "a", PaperModel({"logic": cyclic, "logic_repair": logic_json()}))
    repaired.stage("planning")
    assert load(repaired, "tasks.json")["logic_analysis"][0]["depends_on"] == []
    assert repaired.notes == []

    model = PaperModel({"logic": cyclic, "logic_repair": cyclic})
    broken = make_run(tmp_path / "b", model)
    broken.all()
    deps = {x["path"]: x["depends_on"] for x in load(broken, "tasks.json")["logic_analysis"]}
    assert deps == {"data.py": [], "model.py": ["data.py"], "main.py": ["data.py", "model.py"]}
    assert any("cycle" in n for n in broken.notes)
    order = [k.split(":")[1] for k in model.seen if k.startswith("code:")]
    assert order == ["data.py", "model.py", "main.py"]


def test_missing_entry_point_is_added(tmp_path):
    no_entry = design_json(files=["data.py", "model.py"], entry="")
    run = make_run(tmp_path, PaperModel({"design": no_entry, "design_repair": no_entry}))
    run.stage("planning")
    design = load(run, "design.json")
    assert design["entry_point"] == "main.py" and design["file_list"] == FILES
    assert any("entry point" in n for n in run.notes)


def test_invalid_config_yaml_gets_repair_then_empty_config(tmp_path):
    fixed = make_run(tmp_path / "a", PaperModel({"config": "```yaml\nlr: [0.1\n```", "config_repair": "lr: 0.1\n"}))
    fixed.stage("planning")
    assert yaml.safe_load((fixed.paths.planning / "config.yaml").read_text()) == {"lr": 0.1}

    never = make_run(tmp_path / "b", PaperModel({"config": "- just\n- a list", "config_repair": "key: : :"}))
    never.stage("planning")
    assert yaml.safe_load((never.paths.planning / "config.yaml").read_text()) == {}
    assert any("config.yaml" in n and "empty config" in n for n in never.notes)


def test_tiny_model_nonsense_still_gives_a_usable_plan(tmp_path):
    """Schema-valid but useless answers everywhere: the plan falls back to one runnable file."""
    nonsense_design = json.dumps({"implementation_approach": "", "file_list": ["", "a b", "file", "The code"],
                                  "entry_point": "", "class_diagram": "", "sequence_diagram": "", "unclear_points": [""]})
    nonsense_logic = json.dumps({"required_packages": ["", "the packages"], "logic_analysis": [],
                                 "task_list": [], "shared_knowledge": "", "unclear_points": []})
    model = PaperModel({
        "plan": "plan plan plan", "design": nonsense_design, "design_repair": nonsense_design,
        "logic": nonsense_logic, "logic_repair": nonsense_logic, "config": "```yaml\n- 1\n```",
        "config_repair": "", "analysis": "",
        "code:main.py": "```python\ndef main(:\n```", "syntax_repair:main.py": "def main(:\n",
    })
    run = make_run(tmp_path, model, window=8192)
    run.all()
    assert load(run, "design.json")["file_list"] == ["main.py"]
    tasks = load(run, "tasks.json")
    assert tasks["task_list"] == ["main.py"] and tasks["required_packages"] == []
    assert (run.paths.repo / "main.py").read_text() == "def main(:\n"  # kept for the debugging stage
    assert (run.paths.repo / "smoke.sh").is_file() and (run.paths.repo / "config.yaml").is_file()
    assert any("one-file plan" in n for n in run.notes)
    assert any("still does not parse" in n for n in run.notes)
    for call in run.provider.calls:
        request = call["request"]
        assert sum(len(m["content"]) for m in request.messages) // 4 + request.max_tokens <= 8192


def test_missing_or_empty_paper_is_a_clear_error(tmp_path):
    run = make_run(tmp_path, paper="   \n")
    with pytest.raises(InputError, match="empty"):
        run.stage("planning")
    (tmp_path / "paper.md").unlink()
    with pytest.raises(InputError, match="ingest"):
        run.stage("planning")


def test_later_stages_without_planning_say_what_to_run(tmp_path):
    run = make_run(tmp_path)
    with pytest.raises(InputError, match="planning stage"):
        run.stage("analysis")


def test_cut_plan_is_kept_and_noted(tmp_path):
    run = make_run(tmp_path, PaperModel({"plan": FakeReply("## Method\nA two-layer", finish_reason="length")}))
    run.stage("planning")
    assert (run.paths.planning / "plan.md").read_text() == "## Method\nA two-layer\n"
    assert any("overall plan was cut" in n for n in run.notes)


def test_long_nonsense_in_a_small_window_is_shortened_for_its_repair_turn(tmp_path):
    huge = design_json(files=[f"file number {i}" for i in range(300)] + ["model.py"])
    logic = logic_json(["model.py", "main.py"], {"model.py": [], "main.py": ["model.py"]})
    model = PaperModel({"design": huge, "design_repair": huge, "logic": logic, "logic_repair": logic})
    run = make_run(tmp_path, model, window=3072)
    run.stage("planning")
    assert "design_repair" in model.seen
    repair = next(c["request"] for c in run.provider.calls if "has problems" in c["request"].messages[-1]["content"])
    assert "shortened to fit the context window" in repair.messages[-2]["content"]
    assert load(run, "design.json")["file_list"] == ["model.py", "main.py"]
    assert any("shortened the design in the conversation" in n for n in run.notes)
    for call in run.provider.calls:
        request = call["request"]
        assert sum(len(m["content"]) // 4 + 1 for m in request.messages) + request.max_tokens <= 3072
