"""The conda environments (Binder's and the local one) and binder/postBuild agree with pyproject.toml.

Binder builds from ``binder/`` only (repo2docker ignores top-level configuration when that
directory exists): ``binder/environment.yml`` must carry every runtime dependency and JupyterLab 4,
and ``binder/postBuild`` installs the package. The top-level ``environment.yml`` is for local
conda users and adds the test tools. Names are compared after PEP 503 normalisation, with the
conda-forge names that differ from PyPI's translated (``python-kubernetes`` is the ``kubernetes``
client; conda-forge's own ``kubernetes`` package is the cluster binaries).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError:
        tomllib = None  # type: ignore[assignment]

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = REPO / "pyproject.toml"
BINDER_ENV = REPO / "binder" / "environment.yml"
LOCAL_ENV = REPO / "environment.yml"
POSTBUILD = REPO / "binder" / "postBuild"
README = REPO / "README.md"
ENV_FILES = {"binder": BINDER_ENV, "local": LOCAL_ENV}

# conda-forge name -> PyPI name, where they differ
CONDA_TO_PYPI = {
    "python-kubernetes": "kubernetes",
    "matplotlib-base": "matplotlib",
}
# conda-forge packages whose names look like a PyPI dependency but are something else
CONDA_IMPOSTORS = {
    "kubernetes": "conda-forge's kubernetes is the cluster binaries: the Python client is python-kubernetes",
}
# what conda needs besides the Python packages: not dependencies to compare
CONDA_TOOLING = {"python", "pip"}

_CONDA_SPEC = re.compile(r"^(?:[\w.-]+::)?(?P<name>[A-Za-z0-9_.\-]+)\s*(?P<version>[^#\[]*?)\s*(?:\[.*\])?$")
_CONSTRAINT = re.compile(r"^(?P<op>>=|==|=|>|<=|<|!=|~=)?\s*(?P<version>[0-9][0-9A-Za-z.*+!_-]*)$")


def normalise(name: str) -> str:
    """PEP 503 name, e.g. ``PyYAML`` -> ``pyyaml``."""
    return re.sub(r"[-_.]+", "-", name).lower()


class Dependency:
    """One entry of an environment file: its PyPI name and the lowest version it allows (if stated)."""

    def __init__(self, name: str, floor: Version | None, source: str, spec: str) -> None:
        self.name, self.floor, self.source, self.spec = name, floor, source, spec

    def __repr__(self) -> str:
        return f"{self.source}:{self.spec}"


def conda_floor(version_spec: str) -> Version | None:
    """The lowest version a conda match spec's version part allows (``>=6.0``, ``=3.11``, ``3.11.*``)."""
    floors: list[Version] = []
    for part in filter(None, (p.strip() for p in re.split(r"[,|]", version_spec))):
        match = _CONSTRAINT.match(part)
        if not match:
            raise ValueError(f"cannot read the conda version constraint {part!r}")
        if match["op"] in (None, ">=", "==", "=", ">", "~="):
            try:
                floors.append(Version(match["version"].removesuffix(".*")))
            except InvalidVersion as err:
                raise ValueError(f"cannot read the version in {part!r}") from err
    return max(floors) if floors else None


def pip_floor(requirement: Requirement) -> Version | None:
    floors = [Version(s.version.removesuffix(".*")) for s in requirement.specifier
              if s.operator in (">=", "==", "~=", ">", "===")]
    return max(floors) if floors else None


def read_env(path: Path) -> tuple[dict, dict[str, Dependency], list[str]]:
    """The parsed file, its dependencies by PyPI name (conda and pip sections), and the pip options
    (``-e .`` and the like)."""
    data = yaml.safe_load(path.read_text())
    deps: dict[str, Dependency] = {}
    options: list[str] = []
    for entry in data.get("dependencies") or []:
        if isinstance(entry, dict):
            for line in entry.get("pip") or []:
                line = str(line).strip()
                if line.startswith("-") or line in (".",) or line.startswith(("./", "file:", "git+")):
                    options.append(line)
                    continue
                requirement = Requirement(line)
                name = normalise(requirement.name)
                deps[name] = Dependency(name, pip_floor(requirement), "pip", line)
            continue
        match = _CONDA_SPEC.match(str(entry).strip())
        assert match, f"{path.name}: cannot read the conda spec {entry!r}"
        conda_name = normalise(match["name"])
        assert conda_name not in CONDA_IMPOSTORS, f"{path.name}: {entry!r}: {CONDA_IMPOSTORS[conda_name]}"
        name = CONDA_TO_PYPI.get(conda_name, conda_name)
        deps[name] = Dependency(name, conda_floor(match["version"]), "conda", str(entry))
    return data, deps, options


@pytest.fixture(scope="module")
def pyproject() -> dict:
    if tomllib is None:
        pytest.skip("reading pyproject.toml needs tomllib (Python >= 3.11) or the tomli package")
    return tomllib.loads(PYPROJECT.read_text())


def _requirements(pyproject: dict, extra: str | None = None) -> list[Requirement]:
    project = pyproject["project"]
    lines = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def _check_covers(env_name: str, requirements: list[Requirement]) -> None:
    _, deps, _ = read_env(ENV_FILES[env_name])
    problems = []
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate({"python_version": "3.11"}):
            continue
        name = normalise(requirement.name)
        if name not in deps:
            problems.append(f"{requirement} is missing")
            continue
        wanted, have = pip_floor(requirement), deps[name].floor
        if wanted is not None and (have is None or have < wanted):
            problems.append(f"{requirement}: the environment says {deps[name]!r}, whose floor is below {wanted}")
    assert not problems, f"{ENV_FILES[env_name].name} ({env_name}) disagrees with pyproject.toml: " + "; ".join(
        problems
    )


# -- the parsers themselves ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "floor"),
    [("", None), (">=6.0", "6.0"), ("=3.11", "3.11"), ("==1.2.3", "1.2.3"), ("3.11.*", "3.11"),
     (">=2.0,<3", "2.0"), ("<3", None), (">=29.0.0", "29.0.0")],
)
def test_conda_floor(spec: str, floor: str | None) -> None:
    assert conda_floor(spec) == (Version(floor) if floor else None)


def test_names_normalise() -> None:
    assert normalise("PyYAML") == normalise("pyyaml") == "pyyaml"
    assert normalise("kubernetes_validate") == "kubernetes-validate"


# -- the environment files ----------------------------------------------------------------
@pytest.mark.parametrize("env_name", sorted(ENV_FILES))
def test_environment_is_conda_forge_with_pip(env_name: str) -> None:
    data, _, _ = read_env(ENV_FILES[env_name])
    channels = data.get("channels") or []
    assert channels and channels[0] == "conda-forge", f"{env_name}: conda-forge must be the first channel: {channels}"
    assert "defaults" not in channels, f"{env_name}: mixing defaults with conda-forge breaks solves: {channels}"
    if any(isinstance(entry, dict) and "pip" in entry for entry in data["dependencies"]):
        assert "pip" in data["dependencies"], f"{env_name}: a pip: section needs pip itself in the conda list"


@pytest.mark.parametrize("env_name", sorted(ENV_FILES))
def test_runtime_dependencies_are_in_environment(env_name: str, pyproject: dict) -> None:
    _check_covers(env_name, _requirements(pyproject))


def test_test_extra_is_in_local_environment(pyproject: dict) -> None:
    _check_covers("local", _requirements(pyproject, "test"))


@pytest.mark.parametrize("env_name", sorted(ENV_FILES))
def test_environment_has_jupyterlab_4(env_name: str, pyproject: dict) -> None:
    _, deps, _ = read_env(ENV_FILES[env_name])
    assert "jupyterlab" in deps, f"{env_name}: jupyterlab is missing"
    floor = deps["jupyterlab"].floor
    assert floor is not None and floor >= Version("4.0"), f"{env_name}: needs jupyterlab>=4: {deps['jupyterlab']!r}"
    _check_covers(env_name, _requirements(pyproject, "lab"))


@pytest.mark.parametrize("env_name", sorted(ENV_FILES))
def test_environment_python_is_within_requires_python(env_name: str, pyproject: dict) -> None:
    _, deps, _ = read_env(ENV_FILES[env_name])
    assert "python" in deps, f"{env_name}: pin python (Binder's default is whatever repo2docker ships)"
    python = deps["python"].floor
    assert python is not None, f"{env_name}: python needs a version: {deps['python']!r}"
    requires = SpecifierSet(pyproject["project"]["requires-python"])
    assert requires.contains(python), f"{env_name}: python {python} is outside requires-python {requires}"


def test_binder_uses_python_311() -> None:
    _, deps, _ = read_env(BINDER_ENV)
    assert deps["python"].spec.replace(" ", "") in ("python=3.11", "python==3.11.*", "python=3.11.*")


def test_no_environment_lists_unknown_conda_names(pyproject: dict) -> None:
    """Everything in the conda sections is a dependency, the lab, a test tool, or conda's tooling."""
    known = {normalise(r.name) for extra in (None, "lab", "test") for r in _requirements(pyproject, extra)}
    known.add("ipykernel")  # the lessons' kernel
    for env_name, path in ENV_FILES.items():
        _, deps, _ = read_env(path)
        unknown = sorted(n for n in deps if n not in known | CONDA_TOOLING)
        assert not unknown, f"{env_name}: {unknown} are neither dependencies of nphelpers nor tools it uses"


def test_local_environment_installs_the_package() -> None:
    _, _, options = read_env(LOCAL_ENV)
    assert any(re.fullmatch(r"-e\s+\.(\[[\w,]+\])?", o) or o == "." for o in options), (
        f"environment.yml should pip-install nphelpers itself (-e .): {options}"
    )


# -- binder/postBuild ---------------------------------------------------------------------
def _commands(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_postbuild_is_an_executable_bash_script() -> None:
    assert POSTBUILD.is_file(), "binder/postBuild is missing"
    mode = POSTBUILD.stat().st_mode
    assert mode & stat.S_IXUSR and os.access(POSTBUILD, os.X_OK), "binder/postBuild must be executable (chmod +x)"
    text = POSTBUILD.read_text()
    first = text.splitlines()[0]
    assert first in ("#!/bin/bash", "#!/usr/bin/env bash"), f"binder/postBuild must start with a bash shebang: {first}"
    assert "\r" not in text, "binder/postBuild has CRLF line endings: bash would choke on them"
    commands = _commands(text)
    assert commands and re.fullmatch(r"set\s+-[a-z]*e[a-z]*(\s+-?o?\s*\w+)*", commands[0]), (
        f"the first command of binder/postBuild must be set -e (stop at the first failure): {commands[:1]}"
    )


def test_postbuild_installs_the_package() -> None:
    install = re.compile(r"^(python3?\s+-m\s+)?pip3?\s+install\b(?P<args>.*)$")
    for command in _commands(POSTBUILD.read_text()):
        match = install.match(command)
        if match:
            args = match["args"].split()
            if "." in args or any(re.fullmatch(r"\.(\[[\w,]+\])?", a) for a in args):
                return
    pytest.fail("binder/postBuild must pip-install the repository's package (pip install . or pip install -e .)")


# -- the Binder link ------------------------------------------------------------------------
def test_readme_binder_badge_opens_an_existing_notebook_in_lab() -> None:
    links = re.findall(r"https://mybinder\.org/v2/gh/[^)\s]+", README.read_text())
    assert links, "README.md has no Binder link"
    for link in links:
        match = re.search(r"[?&]urlpath=lab/tree/([^&#]+)", link)
        assert match, f"the Binder link should open JupyterLab on a notebook (urlpath=lab/tree/...): {link}"
        assert (REPO / match[1]).is_file(), f"the Binder link opens {match[1]}, which does not exist"


# -- JupyterLab around the lessons (issue 9 §4) ----------------------------------------------
LAB_SH = REPO / "scripts" / "lab.sh"
OVERRIDES = REPO / "jupyter" / "labconfig" / "default_setting_overrides.json"


def test_lab_settings_turn_off_news_saved_widget_state_and_autosave() -> None:
    import json

    overrides = json.loads(OVERRIDES.read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"] == {"fetchNews": "false", "checkForUpdates": False}
    assert overrides["@jupyter-widgets/jupyterlab-manager:plugin"] == {"saveState": False}
    assert overrides["@jupyterlab/docmanager-extension:plugin"] == {"autosave": False}


def test_binder_ships_the_lab_settings() -> None:
    text = POSTBUILD.read_text()
    assert "jupyter/labconfig/default_setting_overrides.json" in text and "etc/jupyter/labconfig" in text


def test_license_is_an_spdx_expression() -> None:
    """setuptools >= 77 takes ``license = "Apache-2.0"``; the old table form prints a deprecation banner."""
    text = PYPROJECT.read_text()
    assert re.search(r'^license = "Apache-2\.0"$', text, re.M), "project.license must be the SPDX string"
    assert '"setuptools>=77"' in text, "SPDX license strings need setuptools 77 or later"


def _fake_venv(tmp_path: Path) -> tuple[Path, Path]:
    """A venv whose python and jupyter only log how they were called."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    log = tmp_path / "calls.log"
    for tool in ("python", "jupyter"):
        script = venv / "bin" / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\necho "JUPYTER_CONFIG_PATH=$JUPYTER_CONFIG_PATH" '
                          f'>> "{log}"\n')
        script.chmod(0o755)
    return venv, log


def _run_lab_sh(venv: Path) -> None:
    import subprocess

    env = {**os.environ, "VENV": str(venv)}
    subprocess.run(["bash", str(LAB_SH)], env=env, check=True, capture_output=True, timeout=60)


def test_lab_sh_installs_once_then_skips_until_pyproject_changes(tmp_path: Path) -> None:
    venv, log = _fake_venv(tmp_path)
    _run_lab_sh(venv)
    first = log.read_text()
    assert "python -m pip install --quiet -e .[lab]" in first  # no stamp yet: install
    log.unlink()
    _run_lab_sh(venv)
    second = log.read_text()
    assert "pip install" not in second  # nothing changed: no install
    # JupyterLab serves the repository's root and opens lesson 02; the project's settings are on the path.
    jupyter = next(line for line in second.splitlines() if line.startswith("jupyter lab"))
    assert f"--ServerApp.root_dir={REPO}" in jupyter
    assert "--LabApp.default_url=/lab/tree/notebooks/02-limit-traffic-to-an-application.ipynb" in jupyter
    assert f"JUPYTER_CONFIG_PATH={REPO}/jupyter" in second
    (venv / ".nphelpers-lab-installed").write_text("an older pyproject.toml\n")
    log.unlink()
    _run_lab_sh(venv)
    assert "pip install" in log.read_text()  # pyproject.toml changed since: install again
