"""Planning, analysis and coding end to end with the scripted model: the normal path."""

import json
import os
import subprocess
import sys

import yaml

from tests.pipeline.stage_fixtures import FILES, MODEL_PY, PaperModel, make_run, request_key


def test_three_file_plan_end_to_end(tmp_path):
    run = make_run(tmp_path / "run")
    run.all()
    planning = run.paths.planning
    assert "Adam, lr 0.001" in (planning / "plan.md").read_text()
    design = json.loads((planning / "design.json").read_text())
    assert design["file_list"] == FILES and design["entry_point"] == "main.py"
    tasks = json.loads((planning / "tasks.json").read_text())
    assert tasks["task_list"] == FILES and tasks["entry_point"] == "main.py"
    assert (planning / "diagrams" / "class.mmd").read_text().startswith("classDiagram")
    assert (planning / "diagrams" / "sequence.mmd").read_text().startswith("sequenceDiagram")
    assert yaml.safe_load((planning / "config.yaml").read_text())["training"]["lr"] == 0.001
    conversation = json.loads((planning / "conversation.json").read_text())
    assert [m["role"] for m in conversation["messages"]] == ["system"] + ["user", "assistant"] * 4
    for path in FILES:
        assert (run.paths.analysis / f"{path}.md").read_text().startswith("## Analysis")
    repo = run.paths.repo
    assert (repo / "model.py").read_text() == MODEL_PY
    assert set(os.listdir(repo)) >= {"data.py", "model.py", "main.py", "requirements.txt", "config.yaml",
                                     "reproduce.sh", "smoke.sh", "README.md"}
    assert (repo / "requirements.txt").read_text() == "numpy\npyyaml\n"
    assert "main.py --config config.yaml --smoke" in (repo / "smoke.sh").read_text()
    readme = (repo / "README.md").read_text()
    assert readme.startswith("# Tiny Ridge Networks for Noisy Regression") and "`model.py`" in readme
    assert run.notes == []
    assert run.progress[-1] == ("coding", 3, 3) and ("analysis", 3, 3) in run.progress

    # the generated smoke script really runs the generated code
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    done = subprocess.run(["bash", "smoke.sh"], cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("mse ")


def _without_skeleton(run) -> None:
    """Plan, drop the skeleton (a run planned by an older version), analyse and code."""
    run.stage("planning")
    run.paths.interfaces.unlink()
    run.stage("analysis")
    run.stage("coding")


def test_coding_context_holds_the_skeleton_and_the_files_own_analysis(tmp_path):
    run = make_run(tmp_path / "run")
    run.all()
    coding = {}
    for call in run.provider.calls:
        for path in FILES:
            if f"Write the complete file `{path}`" in call["request"].messages[-1]["content"]:
                coding[path] = call["request"].messages
    main = coding["main.py"]
    assert "interface skeleton" in main[2]["content"] and "def make_data(n, noise, seed=0):" in main[2]["content"]
    assert "rng.uniform" not in "\n".join(m["content"] for m in main)  # no file sees another's code in the wave
    assert "Analysis of main.py" in main[-1]["content"] and "This is the entry point" in main[-1]["content"]
    assert all(messages[:3] == main[:3] for messages in coding.values())  # one shared prefix


def test_without_a_skeleton_coding_context_holds_dependencies_and_interfaces(tmp_path):
    run = make_run(tmp_path / "run")
    _without_skeleton(run)
    coding = {}
    for call in run.provider.calls:
        text = "\n".join(m["content"] for m in call["request"].messages)  # the artifacts come before the file's part
        for path in FILES:
            if f"Write the complete file `{path}`" in call["request"].messages[-1]["content"]:
                coding[path] = text
    main = coding["main.py"]
    assert "Code of model.py (a dependency of main.py)" in main and "self.a -= self.lr * err * x" in main
    assert "Analysis of main.py" in main and "--smoke" in main and "This is the entry point" in main
    # files of the first layer see neither each other nor later files
    assert "def make_data" not in coding["model.py"] and "class Model:" not in coding["data.py"]
    assert "Logic of model.py" in coding["model.py"] and "weight_decay: 0.01" in coding["model.py"]


def test_interfaces_of_earlier_files_that_are_not_dependencies(tmp_path):
    from tests.pipeline.stage_fixtures import logic_json

    deps = {"data.py": [], "model.py": ["data.py"], "main.py": ["model.py"]}
    run = make_run(tmp_path / "run", PaperModel({"logic": logic_json(deps=deps)}))
    _without_skeleton(run)
    main = next(c["request"].messages[-1]["content"] for c in run.provider.calls
                if "Write the complete file `main.py`" in c["request"].messages[-1]["content"])
    assert "Interface of data.py" in main and "def make_data(n, noise, seed=0):" in main
    assert "rng.uniform" not in main  # an interface, not the code
    assert "Code of model.py" in main


def test_every_request_fits_the_window_and_second_run_repeats_requests(tmp_path):
    first = make_run(tmp_path / "a")
    first.all()
    second = make_run(tmp_path / "b")
    second.all()
    keys = sorted(request_key(c["request"]) for c in first.provider.calls)
    assert keys == sorted(request_key(c["request"]) for c in second.provider.calls)
    for call in first.provider.calls:
        request = call["request"]
        size = sum(len(m["content"]) for m in request.messages) // 4
        assert request.max_tokens and size + request.max_tokens <= 128_000
