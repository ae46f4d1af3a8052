"""The structured answers of the planning conversation, and the checked plan later stages read.

``Design`` and ``LogicDesign`` are what the model is asked for (their JSON schemas go to the
provider, so field descriptions are part of the prompt). ``TaskPlan`` is the logic design after
the consistency checks and fallbacks of :mod:`papercoder.pipeline.plancheck`: it is what
``planning/tasks.json`` holds and what analysis, coding and debugging rely on.
"""

from __future__ import annotations

import json
from pathlib import Path

from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator


class Design(BaseModel):
    """Turn 2: the architecture of the repository to write."""

    implementation_approach: str = Field(
        description="How the code will implement the paper: the main components and libraries, in a few paragraphs."
    )
    file_list: list[str] = Field(
        description="Relative paths of the source files to write, e.g. 'main.py', 'model.py'. "
        "Do not list config.yaml, requirements.txt, README.md, reproduce.sh or smoke.sh: they are made separately."
    )
    entry_point: str = Field(
        default="main.py",
        description="The file of file_list that runs the whole experiment, usually 'main.py'.",
    )
    class_diagram: str = Field(
        description="A Mermaid classDiagram of the classes, their fields, methods and relations."
    )
    sequence_diagram: str = Field(
        description="A Mermaid sequenceDiagram of the program's call flow from the entry point."
    )
    unclear_points: list[str] = Field(
        default_factory=list, description="What the paper leaves unclear or unspecified."
    )

    _coerce_files = field_validator("file_list", mode="before")(lambda value: _names(value))
    _coerce_points = field_validator("unclear_points", mode="before")(lambda value: _text_list(value))
    _coerce_texts = field_validator("class_diagram", "sequence_diagram", "implementation_approach", mode="before")(
        lambda value: _text(value)
    )

    @field_validator("entry_point", mode="before")
    @classmethod
    def _entry(cls, value: Any) -> Any:
        """``python main.py --config x`` names ``main.py``."""
        if isinstance(value, str):
            for token in value.split():
                if token.endswith(".py"):
                    return token
        return value


class FileLogic(BaseModel):
    """The logic analysis of one planned file."""

    path: str = Field(description="The file, exactly as named in the file list.")
    analysis: str = Field(
        description="What the file contains: its classes and functions, what they compute (with formulas "
        "from the paper), which config values they read."
    )
    depends_on: list[str] = Field(
        default_factory=list, description="Files of the file list whose code this file imports or calls."
    )
    covers: list[str] = Field(
        default_factory=list, description="The IDs of the plan's inventory items this file implements, e.g. 'E1', 'B2'."
    )

    _coerce_path = field_validator("path", mode="before")(lambda value: _name(value))

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        """``{"file": ...}`` or ``{"name": ...}`` for ``{"path": ...}``."""
        if isinstance(data, dict) and "path" not in data:
            for key in ("file", "name", "filename", "file_name"):
                if key in data:
                    return {**data, "path": data[key]}
        return data
    _coerce_analysis = field_validator("analysis", mode="before")(lambda value: _text(value))
    _coerce_depends = field_validator("depends_on", mode="before")(lambda value: _names(value))
    _coerce_covers = field_validator("covers", mode="before")(lambda value: _text_list(value, split=","))


class LogicDesign(BaseModel):
    """Turn 3: what each file does, in which order to write them, what they share."""

    required_packages: list[str] = Field(
        description="Third-party Python packages the code needs, pip names, optionally with a version, e.g. 'torch>=2.0'."
    )
    logic_analysis: list[FileLogic] = Field(description="One entry per file of the file list.")
    task_list: list[str] = Field(
        description="Every file of the file list, ordered so that a file comes after the files it depends on."
    )
    shared_knowledge: str = Field(
        default="", description="Conventions every file must follow: config keys, shapes, names shared across files."
    )
    unclear_points: list[str] = Field(default_factory=list, description="What remains unclear.")

    _coerce_packages = field_validator("required_packages", mode="before")(lambda value: _text_list(value, split=","))
    _coerce_tasks = field_validator("task_list", mode="before")(lambda value: _names(value))
    _coerce_logic = field_validator("logic_analysis", mode="before")(lambda value: _logic_items(value))
    _coerce_points = field_validator("unclear_points", mode="before")(lambda value: _text_list(value))
    _coerce_shared = field_validator("shared_knowledge", mode="before")(lambda value: _text(value))


class TaskPlan(LogicDesign):
    """The checked logic design: every file planned, in task order, no cycles, safe names.

    ``task_list`` and ``logic_analysis`` name the same files in the same order, every
    ``depends_on`` names a planned file, and ``entry_point`` is one of them.
    """

    entry_point: str = "main.py"

    def dependencies(self) -> dict[str, list[str]]:
        """File -> the planned files it depends on."""
        return {item.path: list(item.depends_on) for item in self.logic_analysis}

    def logic_of(self, path: str) -> FileLogic:
        """The logic entry of ``path`` (the plan guarantees there is one per task)."""
        for item in self.logic_analysis:
            if item.path == path:
                return item
        return FileLogic(path=path, analysis="")


def load_design(path: Path) -> Design:
    """Read ``planning/design.json`` as written by the planning stage."""
    return Design.model_validate(json.loads(path.read_text(encoding="utf-8")))


def load_tasks(path: Path) -> TaskPlan:
    """Read ``planning/tasks.json`` as written by the planning stage."""
    return TaskPlan.model_validate(json.loads(path.read_text(encoding="utf-8")))


def dump_model(model: BaseModel) -> str:
    """Stable JSON of a model: the same object always gives the same bytes (prompts depend on it)."""
    return json.dumps(model.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


# --- leniency: common shapes models give instead of the schema's, mapped before validation ----


def _name(value: Any) -> Any:
    """A file named by an object (``{"path": "model.py", "description": ...}``) is its path."""
    if isinstance(value, dict):
        for key in ("path", "file", "name", "filename", "file_name"):
            if isinstance(value.get(key), str):
                return value[key]
    return value


def _names(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]
    if isinstance(value, dict):  # {"model.py": "what it does", ...}
        return list(value)
    if isinstance(value, list):
        return [_name(item) for item in value]
    return value


def _text(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "\n".join(value)
    return value


def _text_list(value: Any, split: str = "") -> Any:
    if isinstance(value, str):
        items = value.split(split) if split else [value]
        return [item.strip() for item in items if item.strip()]
    return value


def _logic_items(value: Any) -> Any:
    """``{"model.py": "what it does"}`` for ``[{"path": "model.py", "analysis": "what it does"}]``."""
    if isinstance(value, dict):
        return [
            {"path": key, **item} if isinstance(item, dict) else {"path": key, "analysis": item}
            for key, item in value.items()
        ]
    return value
