"""The import layering: no cycle among the project's modules, and no import between parts of the
project that ``ALLOWED`` does not list (docs/architecture.md draws the same table).

Every import counts, also those inside functions and under ``TYPE_CHECKING``: an import moved
into a function to dodge a cycle is still a cycle in the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("explorer", "zoo", "dashboard", "data")
#: The zoo's shared leaves: every wing may import them.
CORE = {"zoo.errors", "zoo.paths", "zoo.jsontext", "zoo.files"}
#: The parts of the project (a package, a wing, or one module) and the other parts each may
#: import; a part's own modules may import each other (the acyclic check still applies). The
#: dashboard sees the zoo through its public face (``zoo``) only.
ALLOWED: dict[str, set[str]] = {
    "data": set(),
    "explorer": {"data"},
    "zoo.errors": set(),
    "zoo.paths": set(),
    "zoo.jsontext": set(),
    "zoo.files": {"zoo.errors"},
    "zoo.records": {"zoo.errors"},
    "zoo.models": {"zoo.errors", "explorer", "data"},
    "zoo.runtimes": CORE | {"zoo.records", "data"},
    "zoo.store": CORE | {"zoo.records", "zoo.models"},
    "zoo.measure": CORE | {"zoo.records", "zoo.models", "zoo.runtimes", "zoo.store"},
    "zoo.weights": CORE | {"zoo.models"},
    "zoo.classify": CORE | {"zoo.records", "zoo.models", "zoo.runtimes", "zoo.weights", "data"},
    "zoo.workers": CORE | {"zoo.records", "zoo.models", "zoo.store", "zoo.measure"},
    "zoo.latency": CORE | {"zoo.records", "zoo.models", "zoo.store", "zoo.measure",
                           "zoo.workers", "zoo.profile", "explorer"},
    "zoo.profile": CORE | {"zoo.records", "zoo.models", "zoo.runtimes", "zoo.measure", "explorer"},
    "zoo.cli": CORE | {"zoo." + w for w in ("records", "models", "runtimes", "store", "measure",
                                          "weights", "classify", "workers", "latency", "profile")}
               | {"explorer"},
    "zoo": CORE | {"zoo." + w for w in ("records", "models", "runtimes", "store", "measure",
                                      "weights", "classify", "workers", "latency", "profile")},
    "zoo.__main__": {"zoo.cli"},
    "dashboard": set(),
    "dashboard.text": set(),
    "dashboard.plotting": {"data", "explorer"},
    "dashboard.measuring": {"zoo", "dashboard.text"},
    "dashboard.explorer": {"explorer", "data", "zoo", "dashboard.plotting", "dashboard.measuring"},
    "dashboard.compare": {"explorer", "data", "zoo", "dashboard.plotting", "dashboard.measuring",
                          "dashboard.explorer", "dashboard.text"},
    "dashboard.classify": {"data", "zoo", "dashboard.text"},
    "app": {"dashboard.explorer", "dashboard.compare", "dashboard.classify"},
}  # fmt: skip


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path) -> dict[str, Path]:
    modules = {"app": root / "app.py"} if (root / "app.py").exists() else {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
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


def part_of(module: str, parts: dict[str, set[str]] = ALLOWED) -> str | None:
    """The part ``module`` belongs to: itself if it is one, else the longest part it is in."""
    if module in parts:
        return module
    found = [p for p in parts if module.startswith(p + ".")]
    return max(found, key=len) if found else None


def violations(graph: dict[str, set[str]], parts: dict[str, set[str]] = ALLOWED) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        here = part_of(module, parts)
        if here is None:
            problems.append(f"{module} is in no part of the layering table")
            continue
        for target in sorted(targets):
            there = part_of(target, parts)
            if there is None or there == here:
                continue  # a module of no part is reported as one of its own
            if there not in parts[here]:
                problems.append(f"{module} imports {target}: {here} may not import {there}")
    return problems


def test_no_import_cycle():
    assert find_cycle(import_graph(ROOT)) is None


def test_every_import_follows_the_layering_table():
    assert violations(import_graph(ROOT)) == []


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
        ({"zoo.store.jobs": {"zoo.records.protocol"}}, []),
        ({"zoo.records.protocol": {"zoo.store.jobs"}},
         ["zoo.records.protocol imports zoo.store.jobs: zoo.records may not import zoo.store"]),
        ({"zoo.store.jobs": {"zoo.measure.memory"}},
         ["zoo.store.jobs imports zoo.measure.memory: zoo.store may not import zoo.measure"]),
        ({"zoo.measure.timing": {"zoo.measure.quiet"}}, []),
        ({"explorer.network": {"zoo.models.build"}},
         ["explorer.network imports zoo.models.build: explorer may not import zoo.models"]),
        ({"dashboard.compare.page": {"zoo.store.jobs"}},
         ["dashboard.compare.page imports zoo.store.jobs: dashboard.compare may not import "
          "zoo.store"]),
        ({"dashboard.compare.page": {"zoo"}}, []),
        ({"dashboard.explorer.page": {"dashboard.compare.page"}},
         ["dashboard.explorer.page imports dashboard.compare.page: dashboard.explorer may not "
          "import dashboard.compare"]),
        ({"newpkg.x": set()}, ["newpkg.x is in no part of the layering table"]),
    ],
)  # fmt: skip
def test_layering_violations_are_reported(imports, expected):
    assert violations(imports) == expected


def test_the_real_tree_would_fail_on_a_forbidden_import(tmp_path):
    """The check on the tree itself, not only on a table: a store module importing the
    orchestration (an arrow back up) is found."""
    graph = import_graph(ROOT)
    graph["zoo.store.jobs"] = graph["zoo.store.jobs"] | {"zoo.measure.orchestrate"}
    assert violations(graph) == [
        "zoo.store.jobs imports zoo.measure.orchestrate: zoo.store may not import zoo.measure"
    ]


#: One concern per module: a file that grows past this is split (and its wing regrouped).
MAX_LINES = 400
#: The zoo's top level holds its public face and shared leaves only; the rest is in wings.
MAX_ZOO_TOP_LEVEL_MODULES = 10


def test_no_zoo_or_dashboard_file_is_over_the_size_limit():
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for package in ("zoo", "dashboard")
        for path in (ROOT / package).rglob("*.py")
    }
    assert sizes and all(n > 0 for n in sizes.values())
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_the_zoo_top_level_is_small_and_every_wing_says_what_it_owns():
    top = sorted(p.name for p in (ROOT / "zoo").glob("*.py"))
    assert len(top) <= MAX_ZOO_TOP_LEVEL_MODULES, top
    for package in ("zoo", "dashboard"):
        for init in (ROOT / package).glob("*/__init__.py"):
            doc = ast.get_docstring(ast.parse(init.read_text())) or ""
            assert 3 <= len(doc.splitlines()) <= 6, (init, doc)
            assert "may import" in doc.lower(), init


#: A module docstring says what the module does and one why, and points to docs/ for the rest.
MODULE_DOCSTRING_LINES = (3, 8)


def test_module_docstrings_are_short():
    low, high = MODULE_DOCSTRING_LINES
    lengths = {
        str(path.relative_to(ROOT)): len(
            (ast.get_docstring(ast.parse(path.read_text())) or "").splitlines()
        )
        for package in ("zoo", "dashboard")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.name != "__init__.py"
    }
    assert lengths
    offending = {name: n for name, n in lengths.items() if not low <= n <= high}
    assert offending == {}, (
        f"module docstrings must be {low} to {high} lines (what, one why, a docs/ link); "
        f"lines per offending file: {offending}"
    )
