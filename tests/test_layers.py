"""The folders are the layers: every import in ocm_core and ocm_gui (at the top, inside a
function, or for the type checker only) points down or across, never up; no cycle; no
module reaches another's private names; the GUI never imports the terminal tools.

The table below is the picture in docs/architecture.md: a module's layer is its rank;
it may import modules of its own rank or lower. Walked from the source, without importing it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# (module or package prefix, rank): the longest matching prefix names a module's layer.
LAYERS = [
    ("ocm_core", 0),
    ("ocm_core.errors", 0),
    ("ocm_core.i18n", 0),
    ("ocm_core.paths", 0),
    ("ocm_core.logutil", 0),
    ("ocm_core.wire", 1),
    ("ocm_core.words", 2),
    ("ocm_core.crypto", 3),
    ("ocm_core.storage", 4),
    ("ocm_core.sansio", 5),
    ("ocm_core.net", 6),
    ("ocm_core.cli", 7),
    ("ocm_core.__main__", 8),
    ("ocm_gui", 10),
    ("ocm_gui.theme", 10),
    ("ocm_gui.icons", 10),
    ("ocm_gui.inbox", 10),
    ("ocm_gui.settings", 10),
    ("ocm_gui.autostart", 10),
    ("ocm_gui.ports", 10),
    ("ocm_gui.single_instance", 10),
    ("ocm_gui.background", 11),
    ("ocm_gui.text", 11),
    ("ocm_gui.backend", 12),
    ("ocm_gui.notify", 12),
    ("ocm_gui.chat", 13),
    ("ocm_gui.dialogs", 13),
    ("ocm_gui.app", 14),
    ("ocm_gui.main.directs", 14),  # the main window's direct conversations: pages of chat/
    ("ocm_gui.selftest", 14),
    ("ocm_gui.__main__", 15),
]


def rank(module: str) -> int:
    best = max((prefix for prefix, _ in LAYERS if module == prefix or module.startswith(prefix + ".")), key=len)
    return dict(LAYERS)[best]


def modules() -> dict[str, Path]:
    found = {}
    for package in ("ocm_core", "ocm_gui"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = modules()


def imports_of(name: str, path: Path) -> list[tuple[str, int, list[str]]]:
    """(imported module, line, names taken from it) for every import of our packages."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno, []) for a in node.names if a.name.split(".")[0] in ("ocm_core", "ocm_gui")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            if base.split(".")[0] not in ("ocm_core", "ocm_gui"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in MODULES:  # `from package import module`
                    found.append((sub, node.lineno, []))
                else:
                    found.append((base, node.lineno, [alias.name]))
    return found


def graph() -> dict[str, set[str]]:
    return {name: {target for target, _, _ in imports_of(name, path)} for name, path in MODULES.items()}


def test_the_table_covers_every_module_and_every_module_exists():
    assert len(MODULES) > 60
    for name in MODULES:
        rank(name)  # raises if no layer claims it
    for prefix, _ in LAYERS:
        assert prefix in MODULES or any(m.startswith(prefix + ".") for m in MODULES), prefix


def test_no_import_points_up():
    upward = [
        f"{name}:{line} imports {target} (layer {rank(target)} above {rank(name)})"
        for name, path in MODULES.items()
        for target, line, _ in imports_of(name, path)
        if rank(target) > rank(name)
    ]
    assert not upward, "\n".join(upward)


def test_the_gui_never_imports_the_terminal_tools_and_the_core_only_from_cli_itself():
    wrong = [
        f"{name}:{line} imports {target}"
        for name, path in MODULES.items()
        for target, line, _ in imports_of(name, path)
        if (target == "ocm_core.cli" or target.startswith("ocm_core.cli."))
        and not (name.startswith("ocm_core.cli") or name == "ocm_core.__main__")
    ]
    assert not wrong, "\n".join(wrong)


def test_no_cycle_among_modules():
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in MODULES:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in MODULES:
        if name not in index:
            visit(name)
    # A package's __init__ that re-exports its own modules is not a cycle in what runs first.
    cycles = [c for c in cycles if not all(m == c[0] or m.startswith(c[0] + ".") for m in c)]
    assert not cycles, cycles


def test_no_module_reaches_into_another_modules_private_names():
    reaches = []
    for name, path in MODULES.items():
        aliases: dict[str, str] = {}
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for target, line, names in imports_of(name, path):
            reaches += [
                f"{name}:{line} imports {target}.{n}"
                for n in names
                if n.startswith("_") and n != "_" and not n.startswith("__")
            ]  # _ is gettext
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.split(".")[0] in ("ocm_core", "ocm_gui")
            ):
                for alias in node.names:
                    if f"{node.module}.{alias.name}" in MODULES:
                        aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.name in MODULES:
                        aliases[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                reaches.append(f"{name}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    assert not reaches, "\n".join(reaches)


@pytest.mark.parametrize(
    "planted, expected",
    [
        ("from ocm_gui.app import App\n", "test_no_import_points_up"),
        ("from ocm_core.cli.chat import describe\n", "the terminal tools"),
    ],
)
def test_the_checks_see_a_planted_wrong_import(tmp_path, monkeypatch, planted, expected):
    """The walk finds a bad import where it is put: in a function body of a low module."""
    victim = tmp_path / "errors.py"
    victim.write_text("def later():\n    " + planted.replace("\n", "\n    ") + "pass\n", encoding="utf-8")
    found = imports_of("ocm_core.errors", victim)
    assert found and all(rank(target) > rank("ocm_core.errors") for target, _, _ in found)
