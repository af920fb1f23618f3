"""The interfaces (API, web, CLI, worker, composition root) call use cases through the feature
package (`from trialhub.services import trials`), never through a feature's inner modules;
only a feature's `schemas` and `views` modules are theirs to import by name (issue 9)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

import trialhub

SRC = Path(trialhub.__file__).parent
INTERFACES = ("api/", "cli/", "web/", "worker.py", "bootstrap.py")
SERVICES = "trialhub.services"
# a feature's modules that interfaces may name: its input and output shapes
OPEN_MODULES = frozenset({"schemas", "views"})
# the Idempotency-Key protocol, which the API drives step by step around a use case
OPEN_KERNEL_MODULES = frozenset({"idempotency"})


def _is_inner(module: str) -> bool:
    """Whether `module` is a feature's inner module (trialhub.services.<feature>.<inner>)."""
    parts = module.split(".")
    if parts[:2] != SERVICES.split(".") or len(parts) <= 3 or parts[3] in OPEN_MODULES:
        return False
    return not (parts[2] == "kernel" and parts[3] in OPEN_KERNEL_MODULES)


def _inner_imports(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [
                f"{node.module}.{alias.name}"
                for alias in node.names
                if _names_module(node.module, alias.name)
            ]
        else:
            continue
        found += [f"line {node.lineno}: {name}" for name in names if _is_inner(name)]
    return found


def _names_module(package: str, name: str) -> bool:
    """Whether `from package import name` imports a module (not a name the package exports)."""
    if not package.startswith(SERVICES + ".") or package.count(".") != 2:
        return False
    found = getattr(importlib.import_module(package), name, None)
    if found is None:  # a submodule nothing imported yet
        return importlib.util.find_spec(f"{package}.{name}") is not None
    return isinstance(found, ModuleType)


def test_interfaces_import_use_cases_from_the_feature_package() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        where = path.relative_to(SRC).as_posix()
        if where.startswith(INTERFACES):
            tree = ast.parse(path.read_text("utf-8"))
            found += [f"{where} {hit}" for hit in _inner_imports(tree)]
    assert found == [], "interfaces reach into a feature's inner modules:\n" + "\n".join(found)


def test_the_check_sees_what_it_forbids() -> None:
    def hits(source: str) -> list[str]:
        return _inner_imports(ast.parse(source))

    assert hits("from trialhub.services.trials import start as trials")
    assert hits("from trialhub.services.trials.start import start_trial")
    assert not hits("from trialhub.services import trials")
    assert not hits("from trialhub.services.trials import start_trial")
    assert not hits("from trialhub.services.trials.schemas import StartTrial")
