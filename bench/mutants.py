"""Mutants of a module, all compiled into one copy of it ("mutant schemata").

Every mutation point becomes `(mutated if __mutant__(7) else original)`, so one import of the
module carries all its mutants and the runner switches one on at a time without reloading
anything. The switch also records which points each test reaches; a test that never reaches a
mutant cannot kill it and is not run for it.

Operators: arithmetic (+ − * / // % ** | & << >>), comparisons (< ≤ > ≥ == != in is), `and` ↔
`or`, `not x` → `x`, `-x` → `x`, constants (True ↔ False, n → n + 1, a string changed), an
element dropped from a literal tuple, list or set, and `+=` ↔ `-=`. Docstrings, annotations,
translated messages (gettext), log messages and `__all__` are left alone.

The mutated module is compiled from source in memory; nothing is written next to it (no .pyc),
so other processes using the same working tree never see a mutant.
"""

from __future__ import annotations

import ast
import copy
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

SWITCH = "__mutant__"

_BINARY: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
    ast.BitOr: ast.BitAnd,
    ast.BitAnd: ast.BitOr,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
}
_COMPARE: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_SYMBOL = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.BitOr: "|", ast.BitAnd: "&", ast.LShift: "<<", ast.RShift: ">>",
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
    ast.And: "and", ast.Or: "or",
}  # fmt: skip
# Calls whose string arguments are messages for people, not behaviour.
_MESSAGE_CALLS = {
    "_", "gettext", "gettext_lazy", "pgettext", "pgettext_lazy", "ngettext", "ngettext_lazy",
    "debug", "info", "warning", "error", "exception", "critical",
}  # fmt: skip


@dataclass(frozen=True)
class Mutant:
    id: int
    module: str
    line: int
    description: str
    source_line: str
    # "body" (runs when called), "import" (runs once, at import) or the default it sits in:
    # "default:Class.method:2" (the 3rd positional default), "kwdefault:func:name" or
    # "classdefault:Class:name" (a class attribute, such as a dataclass field's default).
    where: str = "body"

    def __str__(self) -> str:
        return f"{self.module}:{self.line} {self.description}    | {self.source_line.strip()}"


class _Schemata(ast.NodeTransformer):
    def __init__(self, module: str, lines: list[str], first_id: int) -> None:
        self.module = module
        self.lines = lines
        self.next_id = first_id
        self.mutants: list[Mutant] = []
        self._skip: set[int] = set()
        self._where: list[str] = ["import"]
        self._classes: list[str] = []
        # The default argument expressions (after the switches went in) by mutant id.
        self.defaults: dict[int, ast.expr] = {}

    # --- what is never mutated -----------------------------------------------------------

    def _protect(self, *nodes: ast.AST | None) -> None:
        for node in nodes:
            if node is not None:
                self._skip.update(id(child) for child in ast.walk(node))

    def _skip_docstring(self, body: list[ast.stmt]) -> None:
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            self._protect(body[0])

    def visit_Module(self, node: ast.Module) -> ast.AST:
        self._skip_docstring(node.body)
        for statement in node.body:
            if isinstance(statement, ast.ImportFrom | ast.Import):
                self._protect(statement)
            targets = getattr(statement, "targets", [])
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                self._protect(statement)
            if (
                isinstance(statement, ast.If)
                and isinstance(statement.test, ast.Name)
                and statement.test.id == "TYPE_CHECKING"
            ):
                self._protect(statement)
        return self.generic_visit(node)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        self._skip_docstring(node.body)
        self._protect(node.returns, *node.decorator_list)
        arguments = node.args
        for argument in [*arguments.args, *arguments.kwonlyargs, *arguments.posonlyargs]:
            self._protect(argument.annotation)
        for argument in (arguments.vararg, arguments.kwarg):
            if argument is not None:
                self._protect(argument.annotation)
        # Defaults are evaluated where the function is defined: at import for module-level
        # functions and methods, on every call for a function defined inside another.
        inside = self._where[-1] == "body"
        qualified = ".".join([*self._classes, node.name])
        for index, default in enumerate(arguments.defaults):
            where = "body" if inside else f"default:{qualified}:{index}"
            arguments.defaults[index] = self._default(default, where)
        for index, default in enumerate(arguments.kw_defaults):
            if default is not None:
                name = arguments.kwonlyargs[index].arg
                where = "body" if inside else f"kwdefault:{qualified}:{name}"
                arguments.kw_defaults[index] = self._default(default, where)
        self._where.append("body")
        node.body = [self.visit(statement) for statement in node.body]
        self._where.pop()
        return node

    def _default(self, default: ast.expr, where: str) -> ast.expr:
        self._where.append(where)
        first = self.next_id
        visited: ast.expr = self.visit(default)
        self._where.pop()
        for number in range(first, self.next_id):
            self.defaults[number] = visited
        return visited

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self._skip_docstring(node.body)
        self._protect(*node.decorator_list, *node.bases, *node.keywords)
        self._classes.append(node.name)
        qualified = ".".join(self._classes)
        inside = self._where[-1] == "body"
        for statement in node.body:
            if (
                not inside
                and isinstance(statement, ast.AnnAssign)
                and isinstance(statement.target, ast.Name)
                and statement.value is not None
                and not _is_field_call(statement.value)
            ):
                # A class attribute with a plain default (a dataclass field's default).
                self._protect(statement.annotation, statement.target)
                where = f"classdefault:{qualified}:{statement.target.id}"
                statement.value = self._default(statement.value, where)
            else:
                visited = self.visit(statement)
                node.body[node.body.index(statement)] = visited  # type: ignore[assignment]
        self._classes.pop()
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        self._protect(node.annotation, node.target)
        return self.generic_visit(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        self._protect(*[value for value in node.values if isinstance(value, ast.Constant)])
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        name = node.func.attr if isinstance(node.func, ast.Attribute) else ""
        name = node.func.id if isinstance(node.func, ast.Name) else name
        if name in _MESSAGE_CALLS:
            self._protect(*node.args)
        return self.generic_visit(node)

    def _collection(self, node: ast.Tuple | ast.List | ast.Set) -> ast.AST:
        # A literal of constants (field names, codes) is mutated by dropping an element; its
        # strings are not changed one by one as well.
        if all(isinstance(element, ast.Constant) for element in node.elts):
            self._protect(*node.elts)
        return self.generic_visit(node)

    visit_Tuple = _collection
    visit_List = _collection
    visit_Set = _collection

    # --- what is mutated ------------------------------------------------------------------

    def generic_visit(self, node: ast.AST) -> ast.AST:
        original = id(node)
        node = super().generic_visit(node)
        if original in self._skip:
            return node
        return self._mutate(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        node = super().generic_visit(node)  # type: ignore[assignment]
        swapped = {ast.Add: ast.Sub, ast.Sub: ast.Add}.get(type(node.op))
        if swapped is None or id(node) in self._skip:
            return node
        mutated = copy.deepcopy(node)
        mutated.op = swapped()
        number = self._record(node, f"{_SYMBOL[type(node.op)]}= → {_SYMBOL[swapped]}=")
        return ast.copy_location(
            ast.If(test=self._switch(number, node), body=[mutated], orelse=[node]), node
        )

    def _mutate(self, node: ast.AST) -> ast.AST:
        context = getattr(node, "ctx", None)
        if not isinstance(node, ast.expr) or not isinstance(context, ast.Load | None):
            return node
        variants = list(self._variants(node))
        result: ast.expr = node  # type: ignore[assignment]
        for description, variant in variants:
            number = self._record(node, description)
            result = ast.copy_location(
                ast.IfExp(test=self._switch(number, node), body=variant, orelse=result), node
            )
        return result

    def _variants(self, node: ast.AST) -> Iterator[tuple[str, ast.expr]]:
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            mutated = copy.deepcopy(node)
            mutated.op = _BINARY[type(node.op)]()
            yield f"{_SYMBOL[type(node.op)]} → {_SYMBOL[type(mutated.op)]}", mutated
        elif isinstance(node, ast.Compare):
            for index, op in enumerate(node.ops):
                if type(op) in _COMPARE:
                    mutated = copy.deepcopy(node)
                    mutated.ops[index] = _COMPARE[type(op)]()
                    yield f"{_SYMBOL[type(op)]} → {_SYMBOL[type(mutated.ops[index])]}", mutated
        elif isinstance(node, ast.BoolOp):
            mutated = copy.deepcopy(node)
            mutated.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            yield f"{_SYMBOL[type(node.op)]} → {_SYMBOL[type(mutated.op)]}", mutated
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub):
            yield ("not x → x" if isinstance(node.op, ast.Not) else "-x → x"), node.operand
        elif isinstance(node, ast.Constant):
            yield from self._constant(node)
        elif (
            isinstance(node, ast.Tuple | ast.List | ast.Set)
            and len(node.elts) >= 2
            and all(isinstance(element, ast.Constant) for element in node.elts)
        ):
            for index, element in enumerate(node.elts):
                mutated = copy.deepcopy(node)
                del mutated.elts[index]
                yield f"drop element {ast.unparse(element)}", mutated

    def _constant(self, node: ast.Constant) -> Iterator[tuple[str, ast.expr]]:
        value = node.value
        if isinstance(value, bool):
            yield f"{value} → {not value}", ast.Constant(not value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield f"{value!r} → {value + 1!r}", ast.Constant(value + 1)
        elif isinstance(value, str):
            yield f"{value!r} → {'XX' + value + 'XX'!r}", ast.Constant("XX" + value + "XX")
        elif isinstance(value, bytes):
            yield f"{value!r} → {b'XX' + value + b'XX'!r}", ast.Constant(b"XX" + value + b"XX")

    def _record(self, node: ast.AST, description: str) -> int:
        number = self.next_id
        self.next_id += 1
        line = getattr(node, "lineno", 0)
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        self.mutants.append(Mutant(number, self.module, line, description, text, self._where[-1]))
        return number

    @staticmethod
    def _switch(number: int, where: ast.AST) -> ast.expr:
        call = ast.Call(ast.Name(SWITCH, ast.Load()), [ast.Constant(number)], [])
        return ast.copy_location(call, where)


def _is_field_call(value: ast.expr) -> bool:
    function = value.func if isinstance(value, ast.Call) else None
    name = function.id if isinstance(function, ast.Name) else ""
    return name == "field" or (isinstance(function, ast.Attribute) and function.attr == "field")


@dataclass
class Schemata:
    tree: ast.Module
    mutants: list[Mutant]
    # Mutants inside the value of a module-level `NAME = value` that no other module-level
    # statement reads: switched on by evaluating the value again and rebinding NAME.
    rebindable: dict[int, tuple[str, ast.expr]]
    # Mutants inside a default argument: switched on by evaluating it again and patching the
    # function's __defaults__ / __kwdefaults__.
    defaults: dict[int, ast.expr]


def schemata(module: str, source: str, first_id: int = 1) -> Schemata:
    """The module's tree with every mutant behind its switch, and the list of mutants."""
    tree = ast.parse(source)
    transformer = _Schemata(module, source.splitlines(), first_id)
    mutated = transformer.visit(tree)
    ast.fix_missing_locations(mutated)
    return Schemata(mutated, transformer.mutants, _rebindable(mutated), transformer.defaults)


def _rebindable(tree: ast.Module) -> dict[int, tuple[str, ast.expr]]:
    read_at_import: set[str] = set()
    assignments: list[tuple[str, ast.expr, ast.stmt]] = []
    for statement in tree.body:
        target = None
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target = statement.target
        if isinstance(target, ast.Name) and statement.value is not None:  # type: ignore[union-attr]
            assignments.append((target.id, statement.value, statement))  # type: ignore[union-attr]
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            # Defaults, decorators and class bodies run at import; function bodies do not.
            outside = [*statement.decorator_list]
            if isinstance(statement, ast.ClassDef):
                outside += [s for s in statement.body if not isinstance(s, ast.FunctionDef)]
            else:
                outside += [*statement.args.defaults, *statement.args.kw_defaults]
            nodes = [node for part in outside if part is not None for node in ast.walk(part)]
        else:
            nodes = list(ast.walk(statement))
        for node in nodes:
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                read_at_import.add(node.id)
    found: dict[int, tuple[str, ast.expr]] = {}
    for name, value, _statement in assignments:
        if name in read_at_import:
            continue
        for node in ast.walk(value):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == SWITCH
            ):
                found[node.args[0].value] = (name, value)  # type: ignore[attr-defined]
    return found


class Switchboard:
    """Which mutant is on, and which points the running code has reached."""

    def __init__(self) -> None:
        self.active: int | None = None
        self.reached: set[int] = set()

    def __call__(self, number: int) -> bool:
        self.reached.add(number)
        return number == self.active


class _Loader(importlib.machinery.SourceFileLoader):
    board: Switchboard
    compiled: dict[str, Schemata]
    first_id: int

    def get_code(self, fullname: str) -> Any:
        source = self.get_data(self.path).decode("utf-8")
        result = schemata(fullname, source, self.first_id)
        self.compiled[fullname] = result
        return compile(result.tree, self.path, "exec", dont_inherit=True)

    def exec_module(self, module: Any) -> None:
        module.__dict__[SWITCH] = self.board
        super().exec_module(module)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, modules: set[str], loader_factory: Callable[[str, str], _Loader]) -> None:
        self.modules = modules
        self.loader_factory = loader_factory

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in self.modules:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None:
            return None
        spec.loader = self.loader_factory(fullname, spec.origin)
        return spec


MODULE_ID_STEP = 10_000


def install(modules: list[str], board: Switchboard) -> dict[str, Schemata]:
    """Import `modules` (when something imports them) as their schemata. Call before anything
    imports them; the returned mapping fills in as they are imported. The mutants of the n-th
    module are numbered from n × 10,000 + 1, whatever the order of the imports."""
    sys.dont_write_bytecode = True
    found: dict[str, Schemata] = {}

    def loader(fullname: str, path: str) -> _Loader:
        instance = _Loader(fullname, path)
        instance.board, instance.compiled = board, found
        instance.first_id = (modules.index(fullname) + 1) * MODULE_ID_STEP + 1
        return instance

    sys.meta_path.insert(0, _Finder(set(modules), loader))
    return found


# --- switching on a mutant that was evaluated at import ---------------------------------------


class CannotSwitch(Exception):
    """The mutant's value cannot be put in place in this process (it needs a fresh one)."""


Undo = list[tuple[Any, str, Any]]


def _evaluate(expression: ast.expr, module: Any, board: Switchboard, number: int) -> Any:
    code = compile(ast.Expression(expression), module.__file__, "eval")
    board.active = number
    try:
        return eval(code, module.__dict__)  # noqa: S307 (the project's own source)
    finally:
        board.active = None


def rebind(compiled: Schemata, module: Any, mutant: Mutant, board: Switchboard) -> Undo:
    """Evaluate a module-level value again with the mutant on and bind it wherever the original
    object is bound under that name (`from module import NAME` in the code and in the tests),
    as if the module had been imported with the mutant."""
    name, value = compiled.rebindable[mutant.id]
    original = getattr(module, name)
    mutated = _evaluate(value, module, board, mutant.id)
    undo: Undo = []
    for holder in list(sys.modules.values()):
        if getattr(holder, name, None) is original:
            undo.append((holder, name, original))
            setattr(holder, name, mutated)
    return undo


def patch_default(compiled: Schemata, module: Any, mutant: Mutant, board: Switchboard) -> Undo:
    """Put a mutated default argument (or class attribute default) in place."""
    import inspect

    kind, qualified, key = mutant.where.split(":")
    try:
        target: Any = module
        for part in qualified.split("."):
            target = vars(target)[part] if part in vars(target) else getattr(target, part)
        function: Any = target
        if kind == "classdefault":
            class_attribute = vars(target)[key]
            function = vars(target).get("__init__")
            parameters = inspect.signature(function).parameters if function else {}
            if key not in parameters:
                function = None
            elif parameters[key].kind is inspect.Parameter.KEYWORD_ONLY:
                kind = "kwdefault"
            else:
                defaulted = [p.name for p in parameters.values() if p.default is not p.empty]
                kind, key = "default", str(defaulted.index(key))
        if function is not None:
            function = inspect.unwrap(getattr(function, "__func__", function))
    except (KeyError, AttributeError, ValueError, TypeError) as error:
        raise CannotSwitch(f"{mutant.where}: {error}") from None
    value = _evaluate(compiled.defaults[mutant.id], module, board, mutant.id)
    undo: Undo = []
    if mutant.where.startswith("classdefault:"):
        name = mutant.where.split(":")[2]
        undo.append((target, name, class_attribute))
        setattr(target, name, value)
        if function is None:
            return undo
    if kind == "default":
        defaults = list(function.__defaults__ or ())
        index = int(key)
        if index >= len(defaults):
            raise CannotSwitch(mutant.where)
        undo.append((function, "__defaults__", function.__defaults__))
        defaults[index] = value
        function.__defaults__ = tuple(defaults)
    elif kind == "kwdefault":
        if key not in (function.__kwdefaults__ or {}):
            raise CannotSwitch(mutant.where)
        undo.append((function, "__kwdefaults__", function.__kwdefaults__))
        function.__kwdefaults__ = {**function.__kwdefaults__, key: value}
    return undo


def undo(changes: Undo) -> None:
    for holder, name, value in reversed(changes):
        setattr(holder, name, value)
