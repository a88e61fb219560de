"""The import graph of the code: no cycle inside simpl_core (hidden function-level imports count too) and no ROS
node that imports another node (test_package checks that simpl_core never imports ROS). Reads the sources only."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path) -> set[str]:
    """Every module name an import statement anywhere in the file (top level or inside a function) names."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph(package: str) -> dict[str, set[str]]:
    modules = {module_name(p): p for p in (ROOT / package).rglob("*.py")}
    return {name: {n for n in imported_names(path) if n in modules and n != name} for name, path in modules.items()}


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None (depth-first search with colours)."""
    state, stack = {}, []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_simpl_core_has_no_import_cycle():
    found = cycle(import_graph("simpl_core"))
    assert found is None, "import cycle: " + " -> ".join(found)


def test_the_cycle_finder_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_no_ros_node_imports_another_node():
    """Shared helpers live in simpl_ros.common, so each node file stands alone."""
    nodes = {module_name(p) for p in (ROOT / "simpl_ros").rglob("*_node.py")}
    assert len(nodes) >= 12
    offenders = {
        (module_name(p), n)
        for p in (ROOT / "simpl_ros").rglob("*.py")
        for n in imported_names(p)
        if n in nodes and n != module_name(p)
    }
    assert not offenders, f"modules importing a node module: {sorted(offenders)}"


def test_simpl_ros_is_laid_out_by_concern():
    """Nodes live in the subpackage of their concern; only the entry points (cli, executables) stay at the top."""
    top = sorted(p.name for p in (ROOT / "simpl_ros").glob("*.py"))
    assert top == ["__init__.py", "cli.py", "executables.py"]
    assert {p.parent.name for p in (ROOT / "simpl_ros").rglob("*_node.py")} == {
        "serving",
        "simulation",
        "teleop",
        "hardware",
        "tools",
    }


def resolves(module: str, name: str) -> bool:
    """`from module import name` works: the module exists and has `name`, or is a package with a submodule `name`."""
    import importlib
    import importlib.util

    if importlib.util.find_spec(module) is None:
        return False
    imported = importlib.import_module(module)
    return hasattr(imported, name) or (
        hasattr(imported, "__path__") and importlib.util.find_spec(f"{module}.{name}") is not None
    )


def test_every_import_of_our_code_resolves():
    """Every `from simpl_core... / simpl_ros... import NAME`, also inside functions (where only running the code
    would find a stale one after a module moved), names a module or an attribute that exists."""
    assert not resolves("simpl_ros", "bench") and resolves("simpl_ros.tools", "bench")
    missing = [
        f"{path.relative_to(ROOT)}: from {node.module} import {alias.name}"
        for path in [*ROOT.glob("simpl_*/**/*.py"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("launch/*.py")]
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom)
        and not node.level
        and node.module
        and node.module.split(".")[0] in ("simpl_core", "simpl_ros")
        for alias in node.names
        if not resolves(node.module, alias.name)
    ]
    assert missing == []
