"""The layer rule of the design, checked on the source: imports point down only, and only
storage speaks SQL."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_AND_WEB = {"telegram", "httpx", "fastapi", "starlette", "uvicorn", "jinja2"}
OURS = {
    "bot",
    "web",
    "channels",
    "handlers",
    "par",
    "analytics",
    "questionnaires",
    "storage",
    "problems",
}
FORBIDDEN = {
    # The shape of a refusal, which every layer raises: it imports nothing of ours.
    "problems": OURS - {"problems"} | PLATFORM_AND_WEB,
    "storage": PLATFORM_AND_WEB | {"bot", "web", "channels", "handlers", "par", "analytics"},
    "questionnaires": PLATFORM_AND_WEB
    | {"bot", "web", "channels", "handlers", "par", "analytics", "storage"},
    "analytics": PLATFORM_AND_WEB | {"bot", "web", "channels", "handlers", "par"},
    # The PAR Index pipeline, between analytics and handlers (its rows only through storage).
    "par": PLATFORM_AND_WEB | {"bot", "web", "channels", "handlers"},
    "handlers": PLATFORM_AND_WEB | {"bot", "web", "channels"},
    "channels": {"bot", "web", "fastapi", "starlette", "uvicorn"},
    "web": {"bot"},
}
# Outside storage, only the module that assembles the database from the settings may reach
# for SQLAlchemy itself (`test_only_storage_speaks_sql`); every query, and every type a
# session is named by, comes from storage.
ENGINE_ASSEMBLY = {"bot/runtime.py"}


def imported_roots(path: Path) -> set[str]:
    """The top-level packages a module imports (at any depth in the file)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it_nor_platform_code_it_must_not_know(layer: str) -> None:
    breaches = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN[layer])
        for path in sorted((ROOT / layer).rglob("*.py"))
    }
    assert {module: roots for module, roots in breaches.items() if roots} == {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The modules of ours a module imports, at any depth in the file (inside functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found & modules


def test_no_module_imports_one_that_imports_it_back_even_inside_a_function() -> None:
    # A cycle hidden in a function (serve ↔ workers once) still makes two modules one.
    paths = {_module_name(path): path for layer in OURS for path in (ROOT / layer).rglob("*.py")}
    imports = {name: _imported_modules(path, set(paths)) for name, path in paths.items()}
    cycles: list[list[str]] = []
    done: set[str] = set()

    def visit(chain: list[str]) -> None:  # depth first: a module met again on the way is a cycle
        for imported in sorted(imports[chain[-1]]):
            if imported in chain:
                cycles.append([*chain[chain.index(imported) :], imported])
            elif imported not in done:
                visit([*chain, imported])
        done.add(chain[-1])

    for name in sorted(imports):
        if name not in done:
            visit([name])
    assert cycles == []


@pytest.mark.parametrize("layer", sorted(set(FORBIDDEN) - {"storage"} | {"bot"}))
def test_only_storage_speaks_sql(layer: str) -> None:
    speaking = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / layer).rglob("*.py"))
        if "sqlalchemy" in imported_roots(path)
    ]
    assert [module for module in speaking if module not in ENGINE_ASSEMBLY] == []


def test_the_engine_assembly_named_above_exists() -> None:
    assert all((ROOT / module).is_file() for module in ENGINE_ASSEMBLY)
