"""Cross-file consistency: every use of the repository's own code against its definition.

Files written concurrently from one interface skeleton can still disagree: a caller passes three
arguments where the callee takes two, names a keyword the callee lacks, or reads a method the
class never defines. This check finds such mismatches without running anything:

- a call of a function or class imported from another file of the repository: too many
  positional arguments, a missing required argument, an unknown keyword;
- ``module.name`` for an imported local module that defines no ``name``;
- a method call or attribute read on a variable (or ``self.x``) that holds an instance of a
  local class, when the class and all its bases are the repository's own (a class derived from
  ``nn.Module`` has attributes this check cannot see, so only the methods it defines itself are
  checked).

It only reports what it can prove: names bound more than once, calls with ``*args`` or
``**kwargs``, decorated functions and classes with unknown bases are left alone.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

KIND = "interface"
_SIGNATURE_KEEPING = {"staticmethod", "classmethod", "abstractmethod", "no_grad", "inference_mode", "enable_grad",
                      "cache", "lru_cache", "override", "final"}
_HARMLESS_BASES = {"object", "ABC"}


class ModuleLike(Protocol):
    name: str
    rel: str
    tree: ast.Module | None
    names: set[str]
    open_ended: bool


# (module, ImportFrom node) -> the local module it imports from, or None
ResolveFrom = Callable[[ModuleLike, ast.ImportFrom], "str | None"]
# (module, dotted name of ``import x``) -> the local module, or None
ResolveImport = Callable[[ModuleLike, str], "str | None"]


@dataclass(frozen=True)
class Problem:
    """One mismatch: where (file, line) and what."""

    rel: str
    line: int
    message: str


@dataclass
class _Class:
    node: ast.ClassDef
    module: ModuleLike
    bases: list[_Class | None] = field(default_factory=list)  # None: a base this check cannot see
    attributes: set[str] = field(default_factory=set)  # class-level names and self.x assignments

    @property
    def name(self) -> str:
        return self.node.name

    def mro(self) -> Iterator[_Class | None]:
        seen: set[int] = set()
        todo: list[_Class | None] = [self]
        while todo:
            cls = todo.pop(0)
            if cls is not None:
                if id(cls) in seen:
                    continue
                seen.add(id(cls))
                todo.extend(cls.bases)
            yield cls

    def closed(self) -> bool:
        """True when every base is known, so a missing attribute is really missing."""
        return all(cls is not None and not _open_class(cls.node) for cls in self.mro())

    def method(self, name: str) -> tuple[ast.FunctionDef | ast.AsyncFunctionDef, _Class] | None:
        for cls in self.mro():
            if cls is None:
                return None  # an unseen base may define it first
            for node in cls.node.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                    return node, cls
        return None

    def has(self, name: str) -> bool:
        return any(cls is not None and (name in cls.attributes or cls.method(name) is not None) for cls in self.mro())


def check_calls(modules: dict[str, ModuleLike], resolve_from: ResolveFrom, resolve_import: ResolveImport) -> list[Problem]:
    """Every cross-file mismatch in ``modules`` (by dotted name), as :class:`Problem` values."""
    index = _Index(modules, resolve_from, resolve_import)
    problems: list[Problem] = []
    seen: set[str] = set()
    for module in modules.values():
        if module.tree is None or module.rel in seen:
            continue
        seen.add(module.rel)  # a module reachable under two names is checked once
        problems += _Checker(index, module).run()
    return problems


class _Index:
    """The definitions of every module, and what each module's import names point to."""

    def __init__(self, modules: dict[str, ModuleLike], resolve_from: ResolveFrom, resolve_import: ResolveImport):
        self.modules = modules
        self.resolve_from = resolve_from
        self.resolve_import = resolve_import
        self._classes: dict[tuple[str, str], _Class] = {}
        self._bindings: dict[str, dict[str, tuple] | None] = {}

    def top_level(self, module: ModuleLike, name: str) -> ast.stmt | None:
        if module.tree is None:
            return None
        for node in module.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
                return node
        return None

    def bindings(self, module: ModuleLike) -> dict[str, tuple]:
        """Names bound once in ``module`` by importing local code: ``("module", M)`` or ``("member", M, N)``."""
        cached = self._bindings.get(module.name)
        if cached is not None:
            return cached
        self._bindings[module.name] = {}  # a guard against import cycles while resolving
        tree = module.tree
        found: dict[str, tuple] = {}
        if tree is not None:
            counts = _binding_counts(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom):
                    target = self.resolve_from(module, node)
                    if target is None:
                        continue
                    for alias in node.names:
                        if alias.name == "*":
                            continue
                        bound = alias.asname or alias.name
                        sub = f"{target}.{alias.name}"
                        found[bound] = ("module", sub) if sub in self.modules else ("member", target, alias.name)
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        if alias.asname is None and "." in alias.name:
                            continue  # ``import a.b`` binds ``a``: not followed
                        target = self.resolve_import(module, alias.name)
                        if target is not None:
                            found[alias.asname or alias.name] = ("module", target)
            found = {name: value for name, value in found.items() if counts.get(name, 0) == 1}
        self._bindings[module.name] = found
        return found

    def member(self, module_name: str, name: str, depth: int = 0) -> tuple[ast.stmt, ModuleLike] | None:
        """The def or class ``name`` of ``module_name``, following re-exports a few steps."""
        module = self.modules.get(module_name)
        if module is None or depth > 4:
            return None
        node = self.top_level(module, name)
        if node is not None:
            return node, module
        binding = self.bindings(module).get(name)
        if binding and binding[0] == "member":
            return self.member(binding[1], binding[2], depth + 1)
        return None

    def cls(self, node: ast.ClassDef, module: ModuleLike) -> _Class:
        key = (module.name, node.name)
        if key in self._classes:
            return self._classes[key]
        cls = _Class(node, module)
        self._classes[key] = cls
        cls.attributes = _class_attributes(node)
        for base in node.bases:
            cls.bases.append(self._base(base, module))
        return cls

    def _base(self, base: ast.expr, module: ModuleLike) -> _Class | None:
        if isinstance(base, ast.Name):
            if base.id in _HARMLESS_BASES:
                return _OBJECT
            local = self.top_level(module, base.id)
            if isinstance(local, ast.ClassDef):
                return self.cls(local, module)
            binding = self.bindings(module).get(base.id)
            if binding and binding[0] == "member":
                found = self.member(binding[1], binding[2])
                if found and isinstance(found[0], ast.ClassDef):
                    return self.cls(found[0], found[1])
        if isinstance(base, ast.Attribute) and base.attr == "ABC":
            return _OBJECT
        return None

    def resolve(self, module: ModuleLike, name: str) -> tuple[ast.stmt, ModuleLike] | None:
        """What a plain name used in ``module`` refers to among local definitions, if known."""
        binding = self.bindings(module).get(name)
        if binding and binding[0] == "member":
            return self.member(binding[1], binding[2])
        return None


_OBJECT = _Class(ast.ClassDef(name="object", bases=[], keywords=[], body=[], decorator_list=[]), None)  # type: ignore[arg-type]


class _Checker:
    """The mismatches of one module."""

    def __init__(self, index: _Index, module: ModuleLike):
        self.index = index
        self.module = module
        self.bindings = index.bindings(module)
        self.problems: list[Problem] = []

    def run(self) -> list[Problem]:
        assert self.module.tree is not None
        for scope, owner in _scopes(self.module.tree):
            self._scope(scope, owner)
        unique = {(p.line, p.message): p for p in self.problems}
        return list(unique.values())

    def _report(self, node: ast.AST, message: str) -> None:
        self.problems.append(Problem(self.module.rel, getattr(node, "lineno", 1), message))

    # --- one scope: a module body or a function body ---------------------------------------

    def _scope(self, scope: ast.AST, owner: ast.ClassDef | None) -> None:
        instances = self._instances(scope)
        held = self._held_by_self(owner) if owner is not None else {}
        for node in _walk_scope(scope):
            if isinstance(node, ast.Call):
                self._call(node, instances, held)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                self._attribute(node, instances, held)

    def _instances(self, scope: ast.AST) -> dict[str, _Class]:
        """Variables of the scope bound exactly once, to an instance of a local class."""
        counts = _binding_counts(scope)
        stored = _stored_attributes(scope)
        found: dict[str, _Class] = {}
        for node in _walk_scope(scope):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                cls = self._constructed(node.value)
                if cls is not None and counts.get(name, 0) == 1 and name not in stored:
                    found[name] = cls
        return found

    def _held_by_self(self, owner: ast.ClassDef) -> dict[str, _Class]:
        """``self.x`` attributes of ``owner`` assigned once in all its methods, to a local class."""
        assigned: dict[str, list[ast.expr]] = {}
        for method in owner.body:
            if not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(method):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
                for target in targets:
                    if _is_self_attribute(target):
                        value = node.value if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
                        assigned.setdefault(target.attr, []).append(value)  # type: ignore[union-attr]
        held: dict[str, _Class] = {}
        for name, values in assigned.items():
            if len(values) == 1 and values[0] is not None:
                cls = self._constructed(values[0])
                if cls is not None:
                    held[name] = cls
        return held

    def _constructed(self, value: ast.expr | None) -> _Class | None:
        """The local class ``value`` constructs (``Name(...)``), if it is one."""
        if not isinstance(value, ast.Call) or not isinstance(value.func, ast.Name):
            return None
        found = self.index.resolve(self.module, value.func.id)
        if found and isinstance(found[0], ast.ClassDef) and not found[0].decorator_list:
            return self.index.cls(found[0], found[1])
        return None

    def _holder(self, value: ast.expr, instances: dict[str, _Class], held: dict[str, _Class]) -> _Class | None:
        if isinstance(value, ast.Name):
            return instances.get(value.id)
        if _is_self_attribute(value):
            return held.get(value.attr)  # type: ignore[union-attr]
        return None

    # --- calls and attributes -------------------------------------------------------------

    def _call(self, call: ast.Call, instances: dict[str, _Class], held: dict[str, _Class]) -> None:
        if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            return  # *args or **kwargs at the call: the count is unknown
        func = call.func
        if isinstance(func, ast.Name):
            found = self.index.resolve(self.module, func.id)
            if found:
                self._check_target(call, found[0], found[1], func.id)
            return
        if not isinstance(func, ast.Attribute):
            return
        value = func.value
        if isinstance(value, ast.Name) and self.bindings.get(value.id, ("",))[0] == "module":
            target = self.index.member(self.bindings[value.id][1], func.attr)
            if target:
                self._check_target(call, target[0], target[1], f"{value.id}.{func.attr}")
            return
        if isinstance(value, ast.Name):
            found = self.index.resolve(self.module, value.id)
            if found and isinstance(found[0], ast.ClassDef):  # Class.static_or_class_method(...)
                cls = self.index.cls(found[0], found[1])
                method = cls.method(func.attr)
                if method is not None:
                    kind = _method_kind(method[0])
                    self._check_args(call, method[0], drop_first=kind == "classmethod", what=f"{cls.name}.{func.attr}", where=method[1].module)
                return
        cls = self._holder(value, instances, held)
        if cls is None:
            return
        method = cls.method(func.attr)
        if method is not None:
            kind = _method_kind(method[0])
            if kind != "property":
                self._check_args(call, method[0], drop_first=kind != "staticmethod", what=f"{cls.name}.{func.attr}", where=method[1].module)

    def _attribute(self, node: ast.Attribute, instances: dict[str, _Class], held: dict[str, _Class]) -> None:
        value = node.value
        if isinstance(value, ast.Name) and self.bindings.get(value.id, ("",))[0] == "module":
            target_name = self.bindings[value.id][1]
            target = self.index.modules.get(target_name)
            if target is None or target.open_ended or target.tree is None:
                return
            if node.attr not in target.names and f"{target_name}.{node.attr}" not in self.index.modules:
                self._report(node, f"{value.id}.{node.attr}: {target.rel} defines no '{node.attr}'{_hint(node.attr, target.names)}")
            return
        cls = self._holder(value, instances, held)
        if cls is not None and cls.closed() and not cls.has(node.attr):
            names = {n for c in cls.mro() if c is not None for n in c.attributes | _method_names(c.node)}
            self._report(node, f"{cls.name} (in {cls.module.rel}) has no attribute '{node.attr}'{_hint(node.attr, names)}")

    def _check_target(self, call: ast.Call, node: ast.stmt, where: ModuleLike, shown: str) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self._check_args(call, node, drop_first=False, what=shown, where=where)
        elif isinstance(node, ast.ClassDef):
            self._check_init(call, self.index.cls(node, where), shown)

    def _check_init(self, call: ast.Call, cls: _Class, shown: str) -> None:
        node = cls.node
        if any(_decorator_name(d) == "dataclass" for d in node.decorator_list):
            init = _dataclass_init(node)
            if init is not None and len(node.decorator_list) == 1 and not node.bases and not isinstance(node.decorator_list[0], ast.Call):
                self._check_args(call, init, drop_first=True, what=shown, where=cls.module)
            return
        if node.decorator_list:
            return
        for base in cls.mro():
            if base is None:
                return  # an unseen base makes the constructor unknown
            if base is _OBJECT:
                continue
            own = {n.name: n for n in base.node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
            if "__new__" in own or base.node.decorator_list:
                return
            if "__init__" in own:
                self._check_args(call, own["__init__"], drop_first=True, what=f"{shown} ({base.name}.__init__)", where=base.module)
                return
        if call.args or call.keywords:
            self._report(call, f"{shown}(...) passes arguments, but {cls.name} (in {cls.module.rel}) defines no __init__ that takes any")

    def _check_args(self, call: ast.Call, fn: ast.FunctionDef | ast.AsyncFunctionDef, *, drop_first: bool, what: str,
                    where: ModuleLike) -> None:
        if any(_decorator_name(d) not in _SIGNATURE_KEEPING for d in fn.decorator_list):
            return
        args = fn.args
        positional = [*args.posonlyargs, *args.args]
        defaults = len(args.defaults)
        required = [a.arg for a in positional[: len(positional) - defaults]]
        names = [a.arg for a in positional]
        if drop_first and names:
            names, required = names[1:], required[1:] if required else []
        posonly = {a.arg for a in args.posonlyargs}
        at = f"{what} in {where.rel}:{fn.lineno}"
        given = len(call.args)
        if given > len(names) and args.vararg is None:
            self._report(call, f"{what}(...) takes at most {len(names)} positional arguments but is given {given}: {at} is ({_signature(fn, drop_first)})")
            return
        keywords = {k.arg for k in call.keywords if k.arg}
        accepted = {n for n in names if n not in posonly} | {a.arg for a in args.kwonlyargs}
        for keyword in sorted(keywords - accepted):
            if args.kwarg is None:
                self._report(call, f"{what}(...) is given the keyword '{keyword}', which {at} does not take: ({_signature(fn, drop_first)})")
        missing = [n for n in required[given:] if n not in keywords]
        missing += [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is None and a.arg not in keywords]
        if missing:
            listed = ", ".join(f"'{m}'" for m in missing)
            self._report(call, f"{what}(...) lacks the required argument{'s' if len(missing) > 1 else ''} {listed} of {at}: ({_signature(fn, drop_first)})")


# --- helpers over the syntax tree -------------------------------------------------------------


def _scopes(tree: ast.Module) -> Iterator[tuple[ast.AST, ast.ClassDef | None]]:
    """The module body and every function body, with the class a method belongs to."""
    yield tree, None

    def visit(node: ast.AST, owner: ast.ClassDef | None) -> Iterator[tuple[ast.AST, ast.ClassDef | None]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield child, owner
                yield from visit(child, None)
            elif isinstance(child, ast.ClassDef):
                yield from visit(child, child)
            else:
                yield from visit(child, owner)

    yield from visit(tree, None)


def _walk_scope(scope: ast.AST) -> Iterator[ast.AST]:
    """The nodes of one scope, not descending into nested functions or classes."""
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        todo.extend(ast.iter_child_nodes(node))


def _binding_counts(scope: ast.AST) -> dict[str, int]:
    """How often each name is bound anywhere in ``scope`` (assignments, parameters, defs, imports, loops)."""
    counts: dict[str, int] = {}

    def add(name: str) -> None:
        counts[name] = counts.get(name, 0) + 1

    for node in ast.walk(scope):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            add(node.id)
        elif isinstance(node, ast.arg):
            add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not scope:
            add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                add(name)
                add(name)  # bound elsewhere too: never trusted
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        for arg in ast.walk(scope.args):
            if isinstance(arg, ast.arg):
                counts[arg.arg] = counts.get(arg.arg, 0) + 1  # a parameter is bound by every caller
    return counts


def _stored_attributes(scope: ast.AST) -> set[str]:
    """Variables whose attributes the scope sets (``v.x = ...``): such a variable is not checked."""
    return {
        node.value.id
        for node in _walk_scope(scope)
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name)
    }


def _is_self_attribute(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"


def _class_attributes(node: ast.ClassDef) -> set[str]:
    names: set[str] = set()
    for item in node.body:
        if isinstance(item, ast.Assign):
            names.update(t.id for t in item.targets if isinstance(t, ast.Name))
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            names.add(item.target.id)
        elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(item):
                if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store) and _is_self_attribute(sub):
                    names.add(sub.attr)
                elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id == "setattr":
                    names.add("*")  # set by name at run time: anything may exist
    return names


def _open_class(node: ast.ClassDef) -> bool:
    """True when the class may have attributes no statement shows."""
    own = {n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    attributes = _class_attributes(node)
    return bool(own & {"__getattr__", "__getattribute__", "__slots__"}) or "*" in attributes or bool(node.keywords) or bool(
        [d for d in node.decorator_list if _decorator_name(d) != "dataclass"]
    )


def _method_names(node: ast.ClassDef) -> set[str]:
    return {n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _method_kind(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    for decorator in fn.decorator_list:
        name = _decorator_name(decorator)
        if name in ("staticmethod", "classmethod", "property"):
            return name
        if name in ("setter", "getter", "cached_property"):
            return "property"
    return "method"


def _decorator_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _dataclass_init(node: ast.ClassDef) -> ast.FunctionDef | None:
    """The ``__init__`` a plain ``@dataclass`` generates, as a syntax tree to check calls against
    (None when its fields are not a valid dataclass: a field without a default after one with)."""
    params = [ast.arg(arg="self")]
    defaults: list[ast.expr] = []
    for item in node.body:
        if not isinstance(item, ast.AnnAssign) or not isinstance(item.target, ast.Name):
            continue
        if "ClassVar" in ast.unparse(item.annotation) or "InitVar" in ast.unparse(item.annotation):
            continue
        value = item.value
        if isinstance(value, ast.Call) and _decorator_name(value.func) == "field":
            keywords = {k.arg: k.value for k in value.keywords}
            init = keywords.get("init")
            if isinstance(init, ast.Constant) and init.value is False:
                continue
            value = value if ("default" in keywords or "default_factory" in keywords) else None
        if value is None and defaults:
            return None
        params.append(ast.arg(arg=item.target.id))
        if value is not None:
            defaults.append(value)
    arguments = ast.arguments(posonlyargs=[], args=params, vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=defaults)
    return ast.FunctionDef(name="__init__", args=arguments, body=[], decorator_list=[], lineno=node.lineno)  # type: ignore[call-arg]


def _signature(fn: ast.FunctionDef | ast.AsyncFunctionDef, drop_first: bool) -> str:
    args = fn.args
    positional = [*args.posonlyargs, *args.args]
    shown: list[str] = []
    first_default = len(positional) - len(args.defaults)
    for i, arg in enumerate(positional):
        if drop_first and i == 0:
            continue
        shown.append(arg.arg + ("=..." if i >= first_default else ""))
    if args.vararg:
        shown.append("*" + args.vararg.arg)
    elif args.kwonlyargs:
        shown.append("*")
    shown += [a.arg + ("=..." if d is not None else "") for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    if args.kwarg:
        shown.append("**" + args.kwarg.arg)
    return ", ".join(shown)


def _hint(name: str, candidates: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(c for c in candidates if c != "*"), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
