"""No function in the code over 80 lines (the structure issue's bar), read from the source with ``ast``.

A ``slant`` command (``service/cli/``) declares each option in its signature, one typer
``Annotated`` block per option; there only the body (after the docstring) counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 80


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)


def _too_long(path: Path, root: Path = ROOT) -> list[str]:
    cli = path.relative_to(root).parts[:2] == ("service", "cli")
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        body = node.body
        if cli and len(body) > 1 and _is_docstring(body[0]):
            body = body[1:]
        first = body[0].lineno if cli else node.lineno
        if (n := (node.end_lineno or first) - first + 1) > LIMIT:
            out.append(f"{path.relative_to(root)}:{node.lineno} {node.name}: {n} lines")
    return out


def test_no_function_over_80_lines():
    files = [p for pkg in ("model", "training", "service", "benchmarks") for p in (ROOT / pkg).rglob("*.py")]
    assert len(files) > 50
    long = [line for p in files for line in _too_long(p)]
    assert not long, "split these into named steps:\n" + "\n".join(long)


def test_the_check_sees_a_long_function_and_spares_cli_signatures(tmp_path):
    body = "    x = 1\n" * LIMIT
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "x.py").write_text("def f():\n" + body)
    assert _too_long(tmp_path / "model" / "x.py", tmp_path) == ["model/x.py:1 f: 81 lines"]
    (tmp_path / "service" / "cli").mkdir(parents=True)
    options = "".join(f"    o{i}: int = {i},\n" for i in range(40))
    (tmp_path / "service" / "cli" / "c.py").write_text(f'def c(\n{options}):\n    """Doc."""\n' + body[:-10])
    assert _too_long(tmp_path / "service" / "cli" / "c.py", tmp_path) == []
    (tmp_path / "service" / "cli" / "c.py").write_text(f'def c(\n{options}):\n    """Doc."""\n' + body + body)
    assert len(_too_long(tmp_path / "service" / "cli" / "c.py", tmp_path)) == 1
