"""A run directory with every artifact the report shows, made without a model."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from papercoder.rundir.manifest import Manifest, StageRecord

CLASS_DIAGRAM = """classDiagram
    class Trainer {
        +model: ProtoNet
        +train(loader) dict
    }
    class ProtoNet {
        +forward(x) Tensor
    }
    Trainer --> ProtoNet : trains
"""
SEQUENCE_DIAGRAM = """sequenceDiagram
    participant M as main
    participant T as Trainer
    M->>T: train(loader)
    loop every epoch
        T->>T: step()
    end
    T-->>M: metrics
"""


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True)
    return done.stdout.strip()


def make_run(root: Path, *, files: int = 3, leaves: int = 4, broken_diagram: bool = False) -> Path:
    """A finished, degraded run at ``root`` with ``files`` source files and ``leaves`` checklist leaves."""
    root.mkdir(parents=True)
    (root / "paper.md").write_text("# Prototype Classifiers\n\n## Abstract\n\nText.\n\n## 1 Method\n\nMore.\n\n### 1.1 Loss\n\nx\n")
    planning = root / "planning"
    (planning / "diagrams").mkdir(parents=True)
    (planning / "plan.md").write_text("Implement the prototype classifier and its temperature.\n")
    (planning / "diagrams" / "class.mmd").write_text("classDiagram\n  A ==> B\n" if broken_diagram else CLASS_DIAGRAM)
    (planning / "diagrams" / "sequence.mmd").write_text(SEQUENCE_DIAGRAM)
    names = ["main.py"] + [f"pkg/module_{k}.py" for k in range(1, files)]
    (planning / "inventory.json").write_text(json.dumps([
        {"id": "E1", "kind": "experiment", "text": "Accuracy on the five-way task"},
        {"id": "B1", "kind": "baseline", "text": "Nearest neighbour"},
    ]))
    (planning / "tasks.json").write_text(json.dumps({"logic_analysis": [
        {"path": "main.py", "analysis": "", "depends_on": [], "covers": ["E1"]}]}))
    repo = root / "repo"
    for name in names:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "analysis" / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(f'"""{name}."""\n\n\ndef run(x):\n    return x * 2\n' + "".join(
            f"\n\ndef helper_{k}(value):\n    return value + {k}\n" for k in range(30)))
        (root / "analysis" / f"{name}.md").write_text(f"{name} runs the <experiment> & reports it.\n")
    (repo / "main.py").write_text("import missing_module_xyz\n\nprint(undefined_name)\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "code as written")
    (repo / "main.py").write_text("import os\n\n\ndef five_way_accuracy(predictions):\n    return 1.0\n\n\nprint(os.getcwd())\n")
    _git(repo, "commit", "-qam", "debug round 1")
    commit = _git(repo, "rev-parse", "HEAD")
    (root / "debug").mkdir()
    (root / "debug" / "report.json").write_text(json.dumps({
        "status": "passed", "iterations": 1, "lines_changed": 2, "lines_total": 40, "last_error": "",
        "notes": [{"number": 1, "command": "python main.py", "run": "NameError: name 'undefined_name' is not defined",
                   "returncode": 1, "limit": None, "findings": 1, "applied": ["main.py (block 1)"], "failed": [], "commit": commit}]}))
    checklist = {"id": "root", "requirements": "Reproduce the paper", "weight": 1, "task_category": None,
                 "sub_tasks": [{"id": f"leaf-{k}", "requirements": f"Requirement {k} is implemented", "weight": 1,
                                "task_category": "Code Development", "sub_tasks": []} for k in range(leaves)]}
    (root / "verify").mkdir()
    (root / "verify" / "checklist.json").write_text(json.dumps(checklist))
    (root / "verify" / "grades-1.json").write_text(json.dumps({
        f"leaf-{k}": {"requirement": f"Requirement {k}", "score": k % 2, "explanation": f"reason {k}", "valid": True}
        for k in range(leaves)}))
    (root / "verify" / "report.json").write_text(json.dumps({
        "status": "done", "leaves": leaves, "coverage_before": 0.25, "coverage_after": 0.5, "rounds": [],
        "failing": [{"id": "leaf-0", "requirement": "Requirement 0", "reason": "missing"}]}))
    manifest = Manifest(source="paper.pdf", model="openai:o3-mini", title="Prototype Classifiers", status="degraded")
    manifest.stages = {
        "plan": StageRecord(status="degraded", seconds=12.5, detail={"fallbacks": ["the config had no learning rate"]}),
        "analyze": StageRecord(status="done", seconds=4.0), "code": StageRecord(status="done", seconds=9.0),
        "debug": StageRecord(status="done", seconds=3.0), "verify": StageRecord(status="done", seconds=5.0)}
    manifest.totals = {
        "plan": {"calls": 5, "input_tokens": 40_000, "cached_input_tokens": 20_000, "output_tokens": 6_000, "cost": 0.05, "call_seconds": 30.0},
        "code": {"calls": 3, "input_tokens": 30_000, "cached_input_tokens": 25_000, "output_tokens": 6_000, "cost": 0.03, "call_seconds": 12.0},
        "total": {"calls": 8, "input_tokens": 70_000, "cached_input_tokens": 45_000, "output_tokens": 12_000, "cost": 0.08, "call_seconds": 42.0}}
    manifest.save(root / "manifest.json")
    return root
