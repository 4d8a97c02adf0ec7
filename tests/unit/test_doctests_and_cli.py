"""Run every module's doctests under its one import name, and check every CLI command's --help."""

import doctest
import importlib
import pkgutil
import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lifeline.cli import app

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _modules() -> list[str]:
    """Every module of every package the project installs. The subpackages live in their own top-level
    folders (``package-dir``), so walking ``lifeline``'s own folder alone would miss them."""
    packages = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["packages"]
    names = set(packages)
    for package in packages:
        path = importlib.import_module(package).__path__
        names |= {info.name for info in pkgutil.iter_modules(path, package + ".") if not info.ispkg}
    return sorted(name for name in names if not name.endswith("__main__"))


@pytest.mark.parametrize("name", _modules())
def test_module_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def _command_paths() -> list[list[str]]:
    import typer.main

    click_app = typer.main.get_command(app)
    paths: list[list[str]] = [[]]

    def walk(command: object, prefix: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            paths.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(click_app, [])
    return paths


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "lifeline")
def test_every_command_has_help(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_registry_check_reports_problems_with_exit_code(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    bad = tmp_path / "bad.csv"
    bad.write_text("sensor_id,kind,asset_id,owner,district,lat,lon\nX,nope,A,o,d,1,2\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["registry", "check", str(bad)])
    assert result.exit_code != 0
    assert "unknown kind" in str(result.exception)


_UNESCAPED_TAG = re.compile(r"(?<!\\)\[\[?[a-z_][a-z_.]*\]")


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "lifeline")
def test_help_text_names_config_tables_visibly(path: list[str]) -> None:
    """``--help`` is rendered as rich markup, where ``[notify]`` is a style tag and vanishes; config tables named in
    a help text must be escaped (``\\[notify]``) so the operator sees them."""
    import typer.main

    command: object = typer.main.get_command(app)
    for name in path:
        command = getattr(command, "commands", {})[name]
    params = getattr(command, "params", [])
    texts = [getattr(command, "help", None) or "", *(getattr(p, "help", None) or "" for p in params)]
    hidden = [m.group(0) for text in texts for m in _UNESCAPED_TAG.finditer(text)]
    assert hidden == [], f"{' '.join(path)}: escape {hidden} in its help"
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    for text in texts:
        for escaped in re.findall(r"\\(\[\\?\[?[a-z_][a-z_.]*\]\]?)", text):
            assert escaped.replace("\\", "") in result.output
