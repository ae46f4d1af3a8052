"""Prompt templates, one file per turn or stage, rendered strictly.

A template is ``prompts/<area>/<name>.j2`` (Jinja2). :func:`render` fails on a missing variable
instead of silently leaving a blank, so a prompt never goes out half-filled.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )


def _load(name: str) -> str:
    path = resources.files("papercoder.prompts").joinpath(*f"{name}.j2".split("/"))
    if not path.is_file():
        raise jinja2.TemplateNotFound(name)
    return path.read_text(encoding="utf-8")


def render(name: str, **variables: Any) -> str:
    """Render the template ``name`` (e.g. ``"planning/overall_plan"``) with ``variables``.

    Raises ``jinja2.UndefinedError`` when the template uses a variable that was not given.
    """
    return _environment().get_template(name).render(**variables).strip() + "\n"
