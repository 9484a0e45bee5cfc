"""The package's shape, read from its source: the rules of ARCHITECTURE.md that a newcomer
relies on, checked on every module's imports (parsed, never imported).

- at most 12 Python files directly under ``pipelines/``; one folder per stage;
- no import cycle between modules (a submodule import also runs its package's
  ``__init__``, so those edges count);
- a stage imports another stage only through that stage's package (its ``__init__``
  names what others may use), never one of its modules; ``stats`` is a library whose
  modules are public;
- shared modules (the top-level ones and ``config/``) import no stage, except the CLI;
- ``maps/`` (the renderers) imports shared modules only: no stage, no analysis;
- ``stats/`` imports no stage;
- no import of the package inside a function (a lazy import dodging a cycle), except in
  the CLI, which imports each stage when its command runs to start fast.
- no JavaScript or CSS source held in a Python string;
- ``workbench/`` (``vigie init``, ``vigie doctor``: the analyst's tools around the spine)
  follows the rules of a stage (it uses the others through their packages), and no
  module but the CLI imports it: the spine never depends on its tools.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pipelines"

STAGES = (
    "ingest",
    "osm",
    "geocode",
    "stats",
    "hotspots",
    "trends",
    "zones",
    "annotations",
    "actions",
    # Indicators per site and quarter (issue 18).
    "indicators",
    "publish",
    "maps",
    "simulate",
    # Many sites: a portfolio split per site, sites run in parallel on Dask.
    "portfolio",
    # Not a stage of the spine but a folder under the same rules: the analyst's tools.
    "workbench",
)
#: Libraries among the folders: their modules are their public face (``stats.gistar``).
LIBRARIES = {"stats"}
#: What the renderers may import besides shared modules: nothing (they read the
#: published tables through the shared module ``published``).
MAPS_MAY_IMPORT: set[str] = set()
#: The package allowed to import inside functions, and why: the CLI imports a stage when
#: its command runs, so that ``vigie --help`` starts without loading geopandas.
CLI = "pipelines.cli"


def is_cli(module: str) -> bool:
    """A module of the CLI package (:data:`CLI`)."""
    return module == CLI or module.startswith(CLI + ".")


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported module, dotted (a module or a package)
    line: int
    in_function: bool
    type_only: bool = False  # under ``if TYPE_CHECKING:``: never run


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """``pipelines.a.b.c`` → the longest prefix that is a module of the package."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool, type_only: bool = False) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            typing = type_only or (
                isinstance(child, ast.If) and ast.unparse(child.test).endswith("TYPE_CHECKING")
            )
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    targets.append(full if full in modules else base)
            for t in targets:
                if t.split(".")[0] != "pipelines":
                    continue
                resolved = _resolve(t, modules)
                if resolved and resolved != name:
                    found.append(Import(name, resolved, child.lineno, inner, typing))
            visit(child, inner, typing)

    visit(tree, False)
    return found


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def is_shared(module: str) -> bool:
    return stage_of(module) is None


@pytest.fixture(scope="module")
def graph() -> tuple[dict[str, Path], list[Import]]:
    modules = all_modules()
    edges = [imp for name, path in modules.items() for imp in imports_of(name, path, modules)]
    return modules, edges


def test_the_package_has_a_folder_per_stage_and_few_top_level_files() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 12, top
    for stage in STAGES:
        assert (PACKAGE / stage / "__init__.py").is_file(), stage


def test_the_import_walk_sees_the_package(graph) -> None:
    """The walk itself works: the CLI reaches every stage, ingestion reads CSV."""
    modules, edges = graph
    assert len(modules) > 50
    cli_targets = {stage_of(e.target) for e in edges if is_cli(e.source)}
    assert {"ingest", "geocode", "hotspots", "maps"} <= cli_targets
    assert any(
        e.source == "pipelines.ingest.readers" and e.target == "pipelines.ingest.csvfile"
        for e in edges
    )


def _runtime_graph(modules: dict[str, Path], edges: list[Import]) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(modules)
    for e in edges:
        if e.type_only:
            continue
        g.add_edge(e.source, e.target)
        # Importing pipelines.b.m first runs pipelines.b's __init__ (unless it is the
        # importer's own package, already running): that is an edge too.
        parent = e.target.rpartition(".")[0]
        own = e.source if modules[e.source].name == "__init__.py" else e.source.rpartition(".")[0]
        while parent and parent != "pipelines" and not own.startswith(parent):
            g.add_edge(e.source, parent)
            parent = parent.rpartition(".")[0]
    return g


def test_no_import_cycle(graph) -> None:
    modules, edges = graph
    cycles = list(nx.simple_cycles(_runtime_graph(modules, edges)))
    assert not cycles, "\n".join(" → ".join([*c, c[0]]) for c in cycles[:20])


def test_no_import_inside_a_function_except_the_cli(graph) -> None:
    _, edges = graph
    lazy = [
        f"{e.source}:{e.line} imports {e.target}"
        for e in edges
        if e.in_function and not is_cli(e.source)
    ]
    assert not lazy, "\n".join(lazy)


def test_stages_import_each_other_only_through_their_package(graph) -> None:
    _, edges = graph
    private = [
        f"{e.source}:{e.line} imports {e.target}"
        for e in edges
        if stage_of(e.source)
        and stage_of(e.target)
        and stage_of(e.source) != stage_of(e.target)
        and e.target != f"pipelines.{stage_of(e.target)}"
        and stage_of(e.target) not in LIBRARIES
    ]
    assert not private, "\n".join(private)


def test_shared_modules_import_no_stage(graph) -> None:
    _, edges = graph
    bad = [
        f"{e.source}:{e.line} imports {e.target}"
        for e in edges
        if is_shared(e.source) and stage_of(e.target) and not is_cli(e.source)
    ]
    assert not bad, "\n".join(bad)


def test_stats_import_no_stage(graph) -> None:
    _, edges = graph
    bad = [
        f"{e.source}:{e.line} imports {e.target}"
        for e in edges
        if stage_of(e.source) == "stats" and stage_of(e.target) not in (None, "stats")
    ]
    assert not bad, "\n".join(bad)


def test_renderers_import_no_analysis(graph) -> None:
    _, edges = graph
    bad = [
        f"{e.source}:{e.line} imports {e.target}"
        for e in edges
        if stage_of(e.source) == "maps"
        and stage_of(e.target) not in (None, "maps", *MAPS_MAY_IMPORT)
    ]
    assert not bad, "\n".join(bad)


def test_nothing_but_the_cli_imports_the_workbench(graph) -> None:
    _, edges = graph
    bad = [
        f"{e.source}:{e.line} imports {e.target}"
        for e in edges
        if stage_of(e.target) == "workbench"
        and stage_of(e.source) != "workbench"
        and not is_cli(e.source)
    ]
    assert not bad, "\n".join(bad)


# A JavaScript or CSS body in a string: a function or arrow function, a DOM call, or a
# CSS rule with a property inside braces.
_JS = re.compile(r"\bfunction\s*\(|=>\s*\{|document\.\w+\(|addEventListener\(")
_CSS = re.compile(r"[\w#.\-\]]\s*\{\s*[\w-]+\s*:\s*[^;{}]+;")


def _long_strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append((node.lineno, node.value))
    return out


def test_no_javascript_or_css_in_python_strings() -> None:
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {text[:60]!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, text in _long_strings(path)
        if _JS.search(text) or _CSS.search(text)
    ]
    assert not found, "\n".join(found)


def test_the_string_check_finds_javascript_and_css(tmp_path: Path) -> None:
    """The check above is not blind: it flags a script and a style held in strings."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "JS = \"document.getElementById('x').addEventListener('click', () => {})\"\n"
        'CSS = ".legend { color: #333; }"\n'
        'TEXT = "Pas de code ici : {nom} et {valeur}."\n'
    )
    flagged = [text for _, text in _long_strings(sample) if _JS.search(text) or _CSS.search(text)]
    assert len(flagged) == 2
