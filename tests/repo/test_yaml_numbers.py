"""Numbers in YAML that PyYAML (YAML 1.1) reads as strings: written as numbers by planning, flagged
by `papercoder check` in any repository."""

from __future__ import annotations

from papercoder.pipeline.planning import parse_config
from papercoder.repo.checks import check_repository
from papercoder.repo.yamlread import load_yaml

CONFIG = """training:
  lr: 1e-4          # Adam's learning rate
  weight_decay: 5E-3
  max_steps: 1.5e5
  eps: 1.0e-8
  name: "1e-4"
seeds:
  - 3e5
  - 2
note: run 1e-4 times
"""


def test_planning_writes_the_papers_numbers_so_they_load_as_numbers():
    body, error = parse_config("```yaml\n" + CONFIG + "```")
    data = load_yaml(body)
    assert not error
    assert data["training"] == {"lr": 0.0001, "weight_decay": 0.005, "max_steps": 150000.0, "eps": 1e-08, "name": "1e-4"}
    assert data["seeds"] == [300000.0, 2] and data["note"] == "run 1e-4 times"  # quoted and prose stay text
    assert "lr: 1.0e-4          # Adam's learning rate" in body


def test_check_flags_a_number_that_loads_as_a_string_in_any_yaml_file(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "sweep.yaml").write_text(CONFIG)
    (tmp_path / "main.py").write_text("print('hi')\n")
    findings = [f for f in check_repository(tmp_path) if f.kind == "config-number"]
    assert [(f.file, f.line) for f in findings] == [("configs/sweep.yaml", 2), ("configs/sweep.yaml", 3),
                                                   ("configs/sweep.yaml", 4), ("configs/sweep.yaml", 8)]
    assert "write it 1.0e-4" in findings[0].message and "write it 1.5e+5" in findings[2].message
