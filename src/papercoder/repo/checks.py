"""Static checks of a generated repository, without running it.

Each finding names a file, a line, a kind and a message; the repair loop gives them to the
model next to the runtime error. Kinds:

- ``syntax``: a ``.py`` file that does not parse, or a shell script ``bash -n`` rejects;
- ``local-import``: an import of the repository's own modules that names no module or no name;
- ``undefined-name``: a name used but never defined (pyflakes, used as a library);
- ``interface``: a call or attribute of the repository's own code that its definition does not
  match (argument count, keywords, missing attributes; see :mod:`papercoder.repo.crossfile`);
- ``config-key``: a key the code reads from the config that ``config.yaml`` does not have;
- ``config-number``: a YAML value that looks like a number but loads as a string (``1e-4``: YAML
  1.1 wants ``1.0e-4``), in any ``.yaml`` file;
- ``requirement``: a third-party import not covered by ``requirements.txt``;
- ``missing-file``: a file named in ``reproduce.sh`` or ``smoke.sh`` that does not exist.
"""

from __future__ import annotations

import ast
import difflib
import json
import shlex
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml
from pyflakes import checker as flakes

from papercoder import pysource
from papercoder.repo.crossfile import KIND as INTERFACE, check_calls
from papercoder.repo.yamlread import load_yaml, string_numbers
from papercoder.repo.importmap import IMPORT_TO_DISTRIBUTION, covered, declared_dependencies, distribution_for, is_stdlib

SKIP_DIRS = {".git", ".venv", "venv", "env", "__pycache__", ".papercoder", "node_modules", "build", "dist", ".eggs"}
SCRIPTS = ("reproduce.sh", "smoke.sh")
CONFIG_ROOTS = {"config", "cfg", "conf", "configs", "hparams", "hyperparams", "hp", "CONFIG", "CFG"}
_UNDEFINED = {"UndefinedName", "UndefinedLocal", "UndefinedExport"}
MAX_SOURCE_BYTES = 2_000_000  # a generated module larger than this is not parsed
_CHECKED_SUFFIXES = (".py", ".sh", ".yaml", ".yml")
_OUTPUT_OPTIONS = {">", ">>", "2>", "&>", "tee", "-o", "--output", "--out", "--save", "--save-path", "--output-dir"}


@dataclass(frozen=True)
class Finding:
    """One problem found without running the code."""

    file: str
    line: int
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.kind}: {self.message}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Module:
    name: str
    path: Path
    rel: str
    tree: ast.Module | None = None
    names: set[str] = field(default_factory=set)
    open_ended: bool = False  # a star import or a module __getattr__: any name may exist


def python_files(repo: Path) -> list[Path]:
    """The repository's ``.py`` files, skipping virtual environments, caches and ``.git``."""
    found = []
    for path in sorted(repo.rglob("*.py")):
        rel = path.relative_to(repo)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts[:-1]):
            continue
        if path.is_file():
            found.append(path)
    return found


def check_repository(repo: Path) -> list[Finding]:
    """Run every static check on the repository at ``repo``; findings sorted by file and line."""
    repo = Path(repo)
    findings: list[Finding] = []
    modules = _load_modules(repo, findings)
    requirements = declared_dependencies(repo)
    third_party: dict[str, tuple[str, int]] = {}
    for module in modules.values():
        twin = modules.get(module.name[4:]) if module.name.startswith("src.") else None
        if module.tree is None or (twin is not None and twin.path == module.path):
            continue
        findings += _check_imports(module, modules, third_party)
        findings += _undefined_names(module)
    findings += _interface_findings(modules)
    findings += _requirement_findings(repo, third_party, requirements, modules)
    findings += _config_findings(repo, modules)
    findings += _yaml_number_findings(repo)
    findings += _script_findings(repo, modules)
    unique = sorted(set(findings), key=lambda f: (f.file, f.line, f.kind, f.message))
    return unique


def format_findings(findings: list[Finding]) -> str:
    """Findings as text, one per line (``file:line: kind: message``)."""
    if not findings:
        return "no findings\n"
    return "".join(f"{f}\n" for f in findings)


def findings_json(findings: list[Finding]) -> str:
    """Findings as a JSON list of {file, line, kind, message}."""
    return json.dumps([f.to_dict() for f in findings], indent=2) + "\n"


# --- modules and their names -------------------------------------------------------------


def _module_names(repo: Path, path: Path) -> list[str]:
    rel = path.relative_to(repo).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    names = []
    if parts and all(p.isidentifier() for p in parts):
        names.append(".".join(parts))
    if len(parts) > 1 and parts[0] == "src" and all(p.isidentifier() for p in parts[1:]):
        names.append(".".join(parts[1:]))
    return names


def _load_modules(repo: Path, findings: list[Finding]) -> dict[str, _Module]:
    modules: dict[str, _Module] = {}
    for path in python_files(repo):
        rel = path.relative_to(repo).as_posix()
        if path.stat().st_size > MAX_SOURCE_BYTES:
            findings.append(Finding(rel, 1, "too-large", f"{rel} is over {MAX_SOURCE_BYTES // 1_000_000} MB; not checked"))
            continue
        source = path.read_text(encoding="utf-8", errors="replace")
        if not source.strip() and path.name != "__init__.py":
            findings.append(Finding(rel, 1, "empty-file", f"{rel} is empty: the file was planned but holds no code"))
        tree = None
        try:
            tree = pysource.parse(source, filename=rel)
        except SyntaxError as exc:
            findings.append(Finding(rel, exc.lineno or 1, "syntax", f"{exc.msg}"))
        except ValueError as exc:  # e.g. NUL bytes
            findings.append(Finding(rel, 1, "syntax", str(exc)))
        for name in _module_names(repo, path):
            module = _Module(name=name, path=path, rel=rel, tree=tree)
            if tree is not None:
                module.names, module.open_ended = _top_level_names(tree)
            else:
                module.open_ended = True
            modules.setdefault(name, module)
    # folders holding modules are (namespace) packages even without __init__.py
    for name in list(modules):
        parts = name.split(".")
        for k in range(1, len(parts)):
            package = ".".join(parts[:k])
            if package not in modules:
                folder = modules[name].path.parents[len(parts) - 1 - k]
                modules[package] = _Module(name=package, path=folder, rel=folder.relative_to(repo).as_posix(), open_ended=False)
    return modules


def _top_level_names(tree: ast.Module) -> tuple[set[str], bool]:
    names: set[str] = set()
    open_ended = False

    def visit(statements: list[ast.stmt]) -> None:
        nonlocal open_ended
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
                if node.name == "__getattr__":
                    open_ended = True
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if alias.name == "*":
                        open_ended = True
                    else:
                        names.add(alias.asname or alias.name.split(".")[0])
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor, ast.With, ast.AsyncWith)):
                targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                if isinstance(node, (ast.With, ast.AsyncWith)):
                    targets = [item.optional_vars for item in node.items]
                for target in targets:
                    if target is not None:
                        names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            elif isinstance(node, ast.Global):
                names.update(node.names)
            for block in ("body", "orelse", "finalbody"):
                if isinstance(node, (ast.If, ast.Try, ast.With, ast.AsyncWith, ast.For, ast.While)) and hasattr(node, block):
                    visit(getattr(node, block))
            if isinstance(node, ast.Try):
                for handler in node.handlers:
                    visit(handler.body)
            for expr in ast.walk(node) if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else []:
                if isinstance(expr, ast.NamedExpr) and isinstance(expr.target, ast.Name):
                    names.add(expr.target.id)

    visit(tree.body)
    return names, open_ended


# --- imports ------------------------------------------------------------------------------


def _guarded_imports(tree: ast.Module) -> set[int]:
    """ids of import nodes inside ``try: ... except ImportError`` or ``if TYPE_CHECKING:``."""
    guarded: set[int] = set()
    for node in ast.walk(tree):
        body: list[ast.stmt] = []
        if isinstance(node, ast.Try):
            caught = set()
            for handler in node.handlers:
                if handler.type is None:
                    caught.add("*")
                for n in ast.walk(handler.type) if handler.type is not None else []:
                    if isinstance(n, ast.Name):
                        caught.add(n.id)
                    elif isinstance(n, ast.Attribute):
                        caught.add(n.attr)
            if caught & {"*", "ImportError", "ModuleNotFoundError", "Exception", "BaseException"}:
                body = node.body
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            body = node.body
        for statement in body:
            guarded.update(id(n) for n in ast.walk(statement) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return guarded


def _package_of(module: _Module) -> list[str]:
    parts = module.name.split(".")
    return parts if module.path.name == "__init__.py" else parts[:-1]


def _check_imports(module: _Module, modules: dict[str, _Module], third_party: dict[str, tuple[str, int]]) -> list[Finding]:
    assert module.tree is not None
    findings: list[Finding] = []
    local_tops = {name.split(".")[0] for name in modules}
    guarded = _guarded_imports(module.tree)
    for node in ast.walk(module.tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in guarded:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = _beside(module, alias.name, modules) or alias.name
                top = name.split(".")[0]
                if top in local_tops:
                    if name not in modules:
                        findings.append(_no_module(module, node.lineno, alias.name, modules))
                elif not is_stdlib(top):
                    third_party.setdefault(alias.name, (module.rel, node.lineno))
            continue
        target = _from_target(module, node, modules)
        if target is None:
            findings.append(Finding(module.rel, node.lineno, "local-import", "the relative import climbs above the repository"))
            continue
        if not node.level:
            top = target.split(".")[0]
            if top not in local_tops:
                if not is_stdlib(top):
                    third_party.setdefault(target, (module.rel, node.lineno))
                continue
        if target not in modules:
            findings.append(_no_module(module, node.lineno, target or ".", modules))
            continue
        source = modules[target]
        if source.open_ended:
            continue
        for alias in node.names:
            if alias.name == "*" or alias.name in source.names or f"{target}.{alias.name}" in modules:
                continue
            hint = _closest(alias.name, source.names)
            findings.append(
                Finding(
                    module.rel,
                    node.lineno,
                    "local-import",
                    f"'{alias.name}' is not defined in {source.rel}" + (f" (did you mean '{hint}'?)" if hint else ""),
                )
            )
    return findings


def _from_target(module: _Module, node: ast.ImportFrom, modules: dict[str, _Module]) -> str | None:
    """The dotted module ``from ... import`` names (relative ones resolved); None when it climbs too high."""
    if node.level:
        base = _package_of(module)
        if node.level - 1 > len(base):
            return None
        base = base[: len(base) - (node.level - 1)]
        return ".".join(base + (node.module.split(".") if node.module else []))
    return _beside(module, node.module or "", modules) or node.module or ""


def _interface_findings(modules: dict[str, _Module]) -> list[Finding]:
    """Cross-file calls and attributes that do not match the definitions they use."""

    def resolve_from(module, node: ast.ImportFrom) -> str | None:
        target = _from_target(module, node, modules)
        return target if target in modules else None

    def resolve_import(module, name: str) -> str | None:
        target = _beside(module, name, modules) or name
        return target if target in modules else None

    problems = check_calls(modules, resolve_from, resolve_import)  # type: ignore[arg-type]
    return [Finding(p.rel, p.line, INTERFACE, p.message) for p in problems]


def _beside(module: _Module, name: str, modules: dict[str, _Module]) -> str | None:
    """``name`` as a module next to the importing file (a script's folder is on sys.path)."""
    folder = module.name.split(".") if module.path.name == "__init__.py" else module.name.split(".")[:-1]
    if not folder or not name:
        return None
    top = ".".join([*folder, name.split(".")[0]])
    return ".".join([*folder, name]) if top in modules else None


def _no_module(module: _Module, line: int, name: str, modules: dict[str, _Module]) -> Finding:
    hint = _closest(name, set(modules))
    return Finding(module.rel, line, "local-import", f"no module '{name}' in the repository" + (f" (did you mean '{hint}'?)" if hint else ""))


def _closest(name: str, candidates: set[str]) -> str | None:
    matches = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _requirement_findings(
    repo: Path, third_party: dict[str, tuple[str, int]], requirements: set[str], modules: dict[str, _Module]
) -> list[Finding]:
    findings = []
    local_tops = sorted({name.split(".")[0] for name in modules})
    has_file = (repo / "requirements.txt").is_file()
    seen: set[str] = set()
    for name, (rel, line) in sorted(third_party.items(), key=lambda item: item[1]):
        top = name.split(".")[0]
        if top in seen or covered(name, requirements):
            continue
        seen.add(top)
        near = difflib.get_close_matches(top, local_tops, n=1, cutoff=0.8)
        if near and top not in IMPORT_TO_DISTRIBUTION:
            # more likely a misspelt module of the repository than a missing package
            findings.append(Finding(rel, line, "local-import", f"no module '{name}' in the repository (did you mean '{near[0]}'?)"))
            continue
        dist = distribution_for(name)
        where = "requirements.txt" if has_file else "requirements.txt (which does not exist)"
        findings.append(Finding(rel, line, "requirement", f"'{top}' is imported but its distribution '{dist}' is not in {where}"))
    return findings


# --- undefined names ------------------------------------------------------------------------


def _undefined_names(module: _Module) -> list[Finding]:
    assert module.tree is not None
    found = []
    for message in flakes.Checker(module.tree, filename=module.rel).messages:
        if type(message).__name__ in _UNDEFINED:
            found.append(Finding(module.rel, message.lineno, "undefined-name", message.message % message.message_args))
    return found


# --- config keys ----------------------------------------------------------------------------


def _yaml_number_findings(repo: Path) -> list[Finding]:
    found = []
    for path in sorted(list(repo.rglob("*.yaml")) + list(repo.rglob("*.yml"))):
        rel = path.relative_to(repo)
        if path.is_symlink() or any(part.startswith(".") or part in ("venv", "node_modules") for part in rel.parts):
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line, value, fixed in string_numbers(text):
            found.append(Finding(rel.as_posix(), line, "config-number",
                                 f"{value} loads as the string '{value}' (YAML 1.1), not a number; write it {fixed}"))
    return found


def find_config(repo: Path) -> Path | None:
    """The repository's ``config.yaml``: at the top, else in ``configs/`` or ``config/``."""
    for candidate in ("config.yaml", "config.yml", "configs/config.yaml", "config/config.yaml"):
        if (repo / candidate).is_file():
            return repo / candidate
    return None


def _config_findings(repo: Path, modules: dict[str, _Module]) -> list[Finding]:
    path = find_config(repo)
    if path is None:
        return []
    rel = path.relative_to(repo).as_posix()
    try:
        config = load_yaml(path.read_text(encoding="utf-8", errors="replace"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [Finding(rel, (mark.line + 1) if mark else 1, "syntax", f"{rel} is not valid YAML: {getattr(exc, 'problem', exc)}")]
    if not isinstance(config, dict):
        return []
    findings = []
    sections = _sections(config)
    seen_files: set[str] = set()
    for module in modules.values():
        if module.tree is None or module.rel in seen_files:
            continue
        seen_files.add(module.rel)
        for line, keys, with_default in _config_reads(module.tree):
            missing = _missing_key(config, keys)
            if missing is None or any(_missing_key(section, keys) is None for section in sections):
                continue  # found, or the variable holds a section of the config (a common pattern)
            shown = "".join(f"[{k!r}]" for k in keys[: missing + 1])
            how = " (read with .get and a default)" if with_default else ""
            where = "there" if missing else "at the top level or in any section"
            findings.append(Finding(module.rel, line, "config-key", f"config{shown} is read{how} but {rel} has no key {keys[missing]!r} {where}"))
    return findings


def _sections(node: object) -> list[dict]:
    """Every mapping nested inside ``node`` (not ``node`` itself)."""
    found: list[dict] = []
    seen: set[int] = {id(node)}
    stack = [node]
    while stack:  # iterative, and each container once: a self-referring config cannot loop
        current = stack.pop()
        values = current.values() if isinstance(current, dict) else current if isinstance(current, list) else []
        for value in values:
            if isinstance(value, (dict, list)) and id(value) not in seen:
                seen.add(id(value))
                if isinstance(value, dict):
                    found.append(value)
                stack.append(value)
    return found


def _missing_key(config: dict, keys: list[str]) -> int | None:
    node = config
    for index, key in enumerate(keys):
        if not isinstance(node, dict):
            return None
        if key not in node:
            return index
        node = node[key]
    return None


def _root_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return f"self.{node.attr}"
    return None


def _config_reads(tree: ast.Module) -> list[tuple[int, list[str], bool]]:
    """(line, key path, read with a default) for every read of a config dict in ``tree``."""
    aliases: dict[str, list[str]] = {}

    def chain(node: ast.expr) -> tuple[list[str], bool] | None:
        if isinstance(node, ast.Subscript):
            key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                inner = chain(node.value)
                return (inner[0] + [key.value], inner[1]) if inner else None
            return None
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            inner = chain(node.func.value)
            default = len(node.args) > 1 or bool(node.keywords)
            return (inner[0] + [node.args[0].value], inner[1] or default) if inner else None
        name = _root_name(node)
        if name is None:
            return None
        if name in aliases:
            return list(aliases[name]), False
        if name.split(".")[-1] in CONFIG_ROOTS:
            return [], False
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = _root_name(node.targets[0])
            found = chain(node.value)
            if target and found and found[0]:
                aliases[target] = found[0]
    reads: dict[tuple[int, tuple[str, ...]], bool] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Subscript, ast.Call)):
            found = chain(node)
            if found and found[0] and not (isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del))):
                reads[(node.lineno, tuple(found[0]))] = found[1]
    # keep the longest path read on each line: its prefixes are reads of the same expression
    result = []
    for (line, keys), default in reads.items():
        longer = any(other_line == line and len(other) > len(keys) and other[: len(keys)] == keys for other_line, other in reads)
        if not longer:
            result.append((line, list(keys), default))
    return sorted(result)


# --- scripts --------------------------------------------------------------------------------


def _script_findings(repo: Path, modules: dict[str, _Module]) -> list[Finding]:
    findings = []
    bash = shutil.which("bash")
    for script in SCRIPTS:
        path = repo / script
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if bash:
            result = subprocess.run([bash, "-n", str(path)], capture_output=True, text=True, timeout=10)
            if result.returncode != 0:
                findings.append(Finding(script, 1, "syntax", result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "bash -n failed"))
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            try:
                tokens = shlex.split(line, comments=True)
            except ValueError:
                tokens = line.split()
            previous = ""
            for index, token in enumerate(tokens):
                value = token.split("=", 1)[1] if token.startswith("-") and "=" in token else token
                if previous == "-m" and index > 0:
                    top = value.split(".")[0]
                    if (repo / top).exists() or (repo / f"{top}.py").exists():
                        if value not in modules:
                            findings.append(Finding(script, number, "missing-file", f"module '{value}' run with -m does not exist"))
                elif (
                    value.endswith(_CHECKED_SUFFIXES)
                    and previous not in _OUTPUT_OPTIONS
                    and not value.startswith(("-", "/", "$", "~"))
                    and not any(c in value for c in "*?$`{")
                ):
                    if not (repo / value).exists():
                        findings.append(Finding(script, number, "missing-file", f"'{value}' is named here but does not exist"))
                previous = token
    return findings
