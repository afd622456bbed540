"""The import layering: no cycle among the project's modules, no import against the README's list.

Every import counts, also those inside functions and under ``TYPE_CHECKING``: an import moved
into a function to dodge a cycle is still a cycle in the design.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("explorer", "zoo", "dashboard", "data")
#: Packages whose own modules may import each other (the acyclic check still applies).
OPEN_PACKAGES = ("dashboard", "explorer", "data")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path) -> dict[str, Path]:
    modules = {"app": root / "app.py"} if (root / "app.py").exists() else {}
    for package in PACKAGES:
        for path in sorted((root / package).glob("*.py")):
            modules[module_name(path, root)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            targets = [t for t in targets if t in modules] or [base]
            if len(targets) > 1:  # ``from pkg import mod``: the module, not the package
                targets = [t for t in targets if t != base]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    modules = project_modules(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def readme_layers(readme: Path) -> list[list[str]]:
    """The layering block of the README, top line first."""
    text = readme.read_text()
    match = re.search(r"The layering, top to bottom\..*?```text\n(.*?)```", text, re.S)
    assert match, "README.md has no layering block"
    return [line.split() for line in match.group(1).splitlines() if line.strip()]


def layer_of(module: str, layers: list[list[str]]) -> tuple[int, str] | None:
    """(line index from the bottom, the entry that covers ``module``)."""
    for depth, line in enumerate(reversed(layers)):
        for entry in line:
            if module == entry or (entry in OPEN_PACKAGES and module.startswith(entry + ".")):
                return depth, entry
    return None


def violations(graph: dict[str, set[str]], layers: list[list[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        here = layer_of(module, layers)
        if here is None:
            problems.append(f"{module} is not in the README's layering list")
            continue
        for target in sorted(targets):
            there = layer_of(target, layers)
            if there is None:
                continue  # reported as a module of its own
            same_open_package = here[1] == there[1] and here[1] in OPEN_PACKAGES
            if there[0] >= here[0] and not same_open_package:
                problems.append(f"{module} imports {target}, which is not below it")
    return problems


def test_no_import_cycle():
    assert find_cycle(import_graph(ROOT)) is None


def test_every_import_follows_the_readme_layering():
    assert violations(import_graph(ROOT), readme_layers(ROOT / "README.md")) == []


def test_explorer_and_data_never_import_zoo_or_dashboard():
    graph = import_graph(ROOT)
    for module, targets in graph.items():
        if module.split(".")[0] in ("explorer", "data"):
            assert not {t.split(".")[0] for t in targets} & {"zoo", "dashboard"}, module
        if module.split(".")[0] == "zoo":
            assert not any(t.startswith("dashboard") for t in targets), module


# --------------------------------------------------------------------------- the checker itself


def write_package(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path):
    write_package(
        tmp_path,
        {
            "zoo/__init__.py": "",
            "zoo/a.py": "from zoo.b import thing\n",
            "zoo/b.py": "def thing():\n    from zoo import a\n    return a\n",
            "zoo/c.py": "import zoo.a\n",
        },
    )
    cycle = find_cycle(import_graph(tmp_path))
    assert cycle is not None and set(cycle) == {"zoo.a", "zoo.b"}


def test_relative_and_package_imports_resolve(tmp_path):
    write_package(
        tmp_path,
        {
            "data/__init__.py": "from .schema import load\n",
            "data/schema.py": "import csv\n",
            "zoo/__init__.py": "from zoo.errors import E\n",
            "zoo/errors.py": "",
            "zoo/cli.py": "from zoo import errors\nimport data\n",
        },
    )
    graph = import_graph(tmp_path)
    assert graph["data"] == {"data.schema"}
    assert graph["zoo"] == {"zoo.errors"}
    assert graph["zoo.cli"] == {"zoo.errors", "data"}
    assert find_cycle(graph) is None


@pytest.mark.parametrize(
    "imports, expected",
    [
        ({"zoo.store": {"zoo.protocol"}}, []),
        ({"zoo.protocol": {"zoo.store"}}, ["zoo.protocol imports zoo.store, which is not below it"]),
        ({"zoo.store": {"zoo.memory"}}, ["zoo.store imports zoo.memory, which is not below it"]),
        ({"explorer.network": {"explorer.scaling"}}, []),
        ({"explorer.network": {"zoo.build"}}, ["explorer.network imports zoo.build, which is not below it"]),
        ({"zoo.new": set()}, ["zoo.new is not in the README's layering list"]),
    ],
)  # fmt: skip
def test_layering_violations_are_reported(imports, expected):
    layers = readme_layers(ROOT / "README.md")
    assert violations(imports, layers) == expected


#: One concern per module: a zoo module that grows past this is split (the zoo's rooms).
MAX_ZOO_LINES = 400


def test_no_zoo_module_is_over_the_size_limit():
    sizes = {path.name: len(path.read_text().splitlines()) for path in (ROOT / "zoo").glob("*.py")}
    assert sizes and all(n > 0 for n in sizes.values())
    assert {name: n for name, n in sizes.items() if n > MAX_ZOO_LINES} == {}
