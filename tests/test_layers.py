"""The layering rule, read from the code: every import points down, and no modules import in a circle.

The order below is the one docs/architecture.md explains; a test keeps the two the same. Imports
inside functions and ``if TYPE_CHECKING:`` blocks count, and so does ``importlib.import_module``
with a papercoder name: a dependency is a dependency wherever it is written.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "papercoder"

# lowest first; a module may import its own package and the packages before it, never one after
LAYERS = [
    "errors", "tokens", "pysource", "secrets", "config", "prompts", "mermaid", "rubric", "paper", "llm", "testing", "repo", "rundir",
    "pipeline", "evaluate", "verify", "reproduce", "report", "export", "run", "batch", "bench", "commands", "cli", "__main__",
]


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}


def resolve(name: str) -> str:
    """The most specific module a dotted name refers to (``papercoder.llm.LLM`` -> ``papercoder.llm``)."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def imports_of(module: str) -> set[str]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "papercoder":
                found |= {resolve(f"{target}.{alias.name}") for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {resolve(a.name) for a in node.names if a.name.split(".")[0] == "papercoder"}
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            arg = node.args[0] if node.args else None
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                found.add("<dynamic import>")  # a name chosen at run time cannot be checked: not allowed
            elif arg.value.startswith("papercoder"):
                found.add(resolve(arg.value))
    return found - {module}


GRAPH = {module: imports_of(module) for module in MODULES}


def layer_of(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:  # papercoder itself: the version, at the bottom
        return -1
    return LAYERS.index(parts[1])


def test_every_package_has_a_layer():
    packages = {m.split(".")[1] for m in MODULES if "." in m}
    assert packages <= set(LAYERS), f"give these a place in LAYERS (and docs/architecture.md): {packages - set(LAYERS)}"


# modules that import a third-party SDK by a name held in data (the provider table's SDK modules)
DYNAMIC_THIRD_PARTY = {"papercoder.llm.preload"}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        if (target == "<dynamic import>" and module not in DYNAMIC_THIRD_PARTY)
        or (target != "<dynamic import>" and layer_of(target) > layer_of(module))
    )


def circles(graph: dict[str, set[str]]) -> list[str]:
    found: list[str] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                found.append(" -> ".join(path[path.index(target):] + [target]))
            elif target in graph and target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return found


def test_no_import_runs_up_a_layer():
    upward = upward_imports(GRAPH)
    assert not upward, "imports that run up a layer:\n" + "\n".join(upward)


def test_no_modules_import_in_a_circle():
    found = circles(GRAPH)
    assert not found, "modules that import in a circle:\n" + "\n".join(found)


def test_the_architecture_document_gives_the_same_order():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- layers -->\n(.*?)<!-- /layers -->", text, re.S)
    assert block, "docs/architecture.md has no <!-- layers --> block"
    documented = re.findall(r"^\| `([a-z_]+)", block.group(1), re.M)
    assert documented == LAYERS, "docs/architecture.md lists the layers in another order than tests/test_layers.py"


def test_the_rules_catch_an_upward_import_a_dynamic_one_and_a_circle():
    planted = {"papercoder.llm.x": {"papercoder.run.engine"}, "papercoder.run.engine": set(),
               "papercoder.repo.y": {"<dynamic import>"},
               "papercoder.repo.a": {"papercoder.repo.b"}, "papercoder.repo.b": {"papercoder.repo.a"}}
    assert upward_imports(planted) == ["papercoder.llm.x -> papercoder.run.engine", "papercoder.repo.y -> <dynamic import>"]
    assert circles(planted) == ["papercoder.repo.a -> papercoder.repo.b -> papercoder.repo.a"]
