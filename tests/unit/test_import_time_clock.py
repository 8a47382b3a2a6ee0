"""No module reads the wall clock at import or collection time.

A timestamp taken at import goes stale while a slow machine works through the suite: a
module that built ``TimeRules(now_ms=now_ms())`` at import saw its own batches "in the
future" after five minutes; a ``def f(now=time.time())`` in library code is the same bug.
This scans tests/, bench/ and every package for code that runs at import (module and
class bodies, decorators, default arguments) and reaches a clock, directly or through
functions of this repository (followed across ``from ... import``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("tests", "bench", "agent", "collector", "common", "api", "dashboards")

# Calls that read a clock, as written after ``import time`` / ``from datetime import ...``.
CLOCK_FUNCTIONS = frozenset(
    f"{module}.{name}"
    for module, names in {
        "time": ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns"),
        "datetime.datetime": ("now", "utcnow", "today"),
        "datetime.date": ("today",),
    }.items()
    for name in names
)


@dataclass
class Module:
    """One source file: what its names stand for, and its functions' bodies."""

    name: str
    path: Path
    tree: ast.Module
    aliases: dict[str, str] = field(default_factory=dict)  # local name -> qualified name
    functions: dict[str, list[ast.stmt]] = field(default_factory=dict)  # qualified name -> body


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


# CPython 3.11 bug (python/cpython#106905): ast.parse keeps its AST-constructor recursion
# counter in per-interpreter state, so a parse in another thread during ours (the GIL can
# switch mid-conversion, e.g. on a GC finaliser) or an unbalanced error path leaves it off,
# and ours fails with "SystemError: AST constructor recursion depth mismatch". The source
# is fine: parsing again gives the true tree; any other SystemError is still raised.
_AST_DEPTH_MISMATCH = "AST constructor recursion depth mismatch"
_PARSE_ATTEMPTS = 5


def parse_source(source: str, filename: str = "<memory>") -> ast.Module:
    for attempt in range(_PARSE_ATTEMPTS):
        try:
            return ast.parse(source, filename)
        except SystemError as error:
            if _AST_DEPTH_MISMATCH not in str(error) or attempt == _PARSE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def parse_module(name: str, source: str, path: Path = Path("<memory>")) -> Module:
    tree = parse_source(source, str(path))
    module = Module(name, path, tree)
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                module.aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                module.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            # Calling a hypothesis @composite only builds a strategy: its body runs per draw.
            deferred = any(ast.unparse(d).endswith("composite") for d in node.decorator_list)
            module.functions[f"{name}.{node.name}"] = [] if deferred else node.body
            module.aliases[node.name] = f"{name}.{node.name}"
        elif isinstance(node, ast.ClassDef):
            # Calling a class runs its __init__ / __post_init__.
            body = [
                stmt
                for item in node.body
                if isinstance(item, ast.FunctionDef) and item.name in {"__init__", "__post_init__"}
                for stmt in item.body
            ]
            module.functions[f"{name}.{node.name}"] = body
            module.aliases[node.name] = f"{name}.{node.name}"
    return module


def qualified_call(module: Module, call: ast.Call) -> str | None:
    """``time.time()`` -> "time.time"; ``now_ms()`` -> "tests.factories.now_ms"; else None."""
    parts: list[str] = []
    target: ast.expr = call.func
    while isinstance(target, ast.Attribute):
        parts.append(target.attr)
        target = target.value
    if not isinstance(target, ast.Name) or target.id not in module.aliases:
        return None
    return ".".join([module.aliases[target.id], *reversed(parts)])


def _calls(nodes: Sequence[ast.AST]) -> Iterator[ast.Call]:
    # A nested function's body runs when it is called, not when its parent is: only its
    # decorators and defaults count for the parent.
    for inner in _walk_outside_functions(nodes):
        if isinstance(inner, ast.Call):
            yield inner


def clock_reaching(modules: list[Module]) -> set[str]:
    """Qualified names of functions whose bodies read a clock, directly or by calling one that does."""
    reaching = set(CLOCK_FUNCTIONS)
    calls = {
        qualified: {q for call in _calls(body) if (q := qualified_call(module, call))}
        for module in modules
        for qualified, body in module.functions.items()
    }
    changed = True
    while changed:
        changed = False
        for qualified, callees in calls.items():
            if qualified not in reaching and callees & reaching:
                reaching.add(qualified)
                changed = True
    return reaching


def _is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)


def import_time_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Nodes evaluated on import: everything outside function bodies, but with decorators
    and default arguments, and outside ``if __name__ == "__main__"``."""
    for stmt in body:
        if _is_main_guard(stmt):
            continue
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _walk_outside_functions([*stmt.decorator_list, *stmt.args.defaults])
            yield from _walk_outside_functions([d for d in stmt.args.kw_defaults if d is not None])
        elif isinstance(stmt, ast.ClassDef):
            yield from _walk_outside_functions([*stmt.decorator_list, *stmt.bases, *stmt.keywords])
            yield from import_time_nodes(stmt.body)
        else:
            yield from _walk_outside_functions([stmt])


def _walk_outside_functions(nodes: Sequence[ast.AST]) -> Iterator[ast.AST]:
    for node in nodes:
        if isinstance(node, ast.Lambda):
            yield from _walk_outside_functions([*node.args.defaults])
            continue
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield from import_time_nodes([node])
            continue
        yield node
        yield from _walk_outside_functions(list(ast.iter_child_nodes(node)))


def import_time_clock_reads(modules: list[Module], scanned: list[Module]) -> list[str]:
    reaching = clock_reaching(modules)
    found = []
    for module in scanned:
        for node in import_time_nodes(module.tree.body):
            if isinstance(node, ast.Call) and qualified_call(module, node) in reaching:
                found.append(f"{module.path}:{node.lineno}: {ast.unparse(node)}")
    return found


def _repository_modules() -> list[Module]:
    modules = [
        parse_module(_module_name(path, ROOT), path.read_text(), path.relative_to(ROOT))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if not path.name.endswith("_pb2.py")
    ]
    return modules


def test_no_module_reads_the_clock_at_import() -> None:
    modules = _repository_modules()
    assert sum(m.name.startswith("tests.") for m in modules) > 40  # the scan really saw the suite
    assert import_time_clock_reads(modules, modules) == []


# -- the scan itself finds what it must -----------------------------------------------------

HELPERS = """
import time
from datetime import datetime, UTC

def now_ms():
    return int(time.time() * 1000)

def register(handlers):
    def handler():
        return now_ms()
    handlers.append(handler)

def register_stamped(handlers):
    def handler(at=now_ms()):
        return at
    handlers.append(handler)

def sample(offset):
    return now_ms() - offset

class Rules:
    def __init__(self):
        self.at = datetime.now(UTC)
"""


def _reads(source: str) -> list[str]:
    helpers = parse_module("pkg.helpers", HELPERS)
    module = parse_module("pkg.test_x", source)
    return [line.split(": ", 1)[1] for line in import_time_clock_reads([helpers, module], [module])]


def test_scan_finds_direct_and_indirect_reads_at_import() -> None:
    source = """
import time
import pytest
from datetime import datetime
from pkg.helpers import now_ms, sample, Rules, register_stamped

A = time.time()
register_stamped([])
B = [sample(5) for _ in range(2)]
C = Rules()

class T:
    at = datetime.now()

@pytest.mark.parametrize("t", [now_ms()])
def test_a(t, default=time.monotonic()):
    pass
"""
    assert _reads(source) == [
        "time.time()",
        "register_stamped([])",
        "sample(5)",
        "Rules()",
        "datetime.now()",
        "now_ms()",
        "time.monotonic()",
    ]


def test_scan_allows_reads_inside_tests_and_fixed_times() -> None:
    source = """
import time
import pytest
from hypothesis import strategies as st
from pkg.helpers import now_ms, sample, register

FIXED_MS = 1_800_000_000_000
register([])  # defines a handler that reads the clock when called, later
later = lambda: now_ms()

@st.composite
def stamped(draw):
    return draw(st.integers()) + now_ms()

STRATEGY = stamped()

@pytest.fixture
def rules():
    return sample(0)

def test_b():
    assert time.time() > 0

if __name__ == "__main__":
    print(now_ms())
"""
    assert _reads(source) == []
