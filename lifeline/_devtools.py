"""Developer tasks behind ``./run.sh test``. Not part of the public API.

``python -m lifeline._devtools typecheck`` runs mypy over the installed layout. The source folders
are mapped to ``lifeline.*`` by setuptools, which mypy cannot follow, so a throw-away tree of
symlinks (``.typecheck/lifeline``) reproduces the import names for the type checker only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _package_dirs() -> dict[str, str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mapping: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    return mapping


def build_typecheck_tree() -> Path:
    """Create ``.typecheck/`` with the package layout that the import names describe."""
    tree = ROOT / ".typecheck"
    if tree.exists():
        shutil.rmtree(tree)
    for package, folder in sorted(_package_dirs().items()):
        target = tree.joinpath(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for entry in (ROOT / folder).iterdir():
            if entry.suffix in {".py", ".pyi"} or entry.name == "py.typed":
                (target / entry.name).symlink_to(entry)
    for extra in ("tests", "benchmarks"):
        if (ROOT / extra).is_dir():
            (tree / extra).symlink_to(ROOT / extra)
    return tree


def typecheck() -> int:
    """Run mypy on every project package; return its exit code."""
    tree = build_typecheck_tree()
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "-p", "lifeline"]
    return subprocess.call(cmd, cwd=tree)


if __name__ == "__main__":
    task = sys.argv[1] if len(sys.argv) > 1 else ""
    if task == "typecheck":
        sys.exit(typecheck())
    print("usage: python -m lifeline._devtools typecheck", file=sys.stderr)
    sys.exit(2)
