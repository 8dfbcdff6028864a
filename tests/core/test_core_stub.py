"""The typed stub `sim/_core.pyi` matches the compiled module: same public names, same
methods on `MarketEngine`, same parameter names."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from sim import _core

STUB = Path(__file__).resolve().parents[2] / "sim" / "_core.pyi"


def _stub() -> tuple[set[str], dict[str, list[str]]]:
    tree = ast.parse(STUB.read_text())
    names: set[str] = set()
    methods: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
            if node.name == "MarketEngine":
                for f in node.body:
                    if isinstance(f, ast.FunctionDef):
                        args = [a.arg for a in f.args.args + f.args.kwonlyargs if a.arg != "self"]
                        methods[f.name] = args
        elif isinstance(node, ast.FunctionDef):
            names.add(node.name)
            methods[f"<module>.{node.name}"] = [a.arg for a in node.args.args]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    names.discard("Event")
    return names, methods


def test_stub_names_match_module() -> None:
    names, _ = _stub()
    public = {n for n in dir(_core) if not n.startswith("_")} | {"__version__"}
    assert names == public


def test_stub_methods_and_parameters_match_module() -> None:
    _, methods = _stub()
    real = {n for n in dir(_core.MarketEngine) if not n.startswith("_")}
    functions = {n: p for n, p in methods.items() if n.startswith("<module>.")}
    assert set(methods) - {"__init__"} - set(functions) == real
    for name, params in functions.items():
        assert list(inspect.signature(getattr(_core, name.split(".", 1)[1])).parameters) == params, name
    for name, params in methods.items():
        if name in functions:
            continue
        if name == "__init__" or isinstance(getattr(_core.MarketEngine, name), property):
            continue
        obj = getattr(_core.MarketEngine, name)
        if isinstance(inspect.getattr_static(_core.MarketEngine, name), property) or not callable(obj):
            continue
        sig = inspect.signature(obj)
        assert [p for p in sig.parameters if p != "self"] == params, name
