"""The release's metadata: the version written once, the changelog, the license, the
Pythons declared. (.ci/wheel_check.py builds the sdist and the wheel and tests the
installed wheel on a second Python; that is too slow for the suite.)"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

import symgraph

ROOT = Path(__file__).resolve().parent.parent

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_installed_version_is_the_one_in_version_py():
    """The distribution's version (editable installs too) is symgraph/_version.py's."""
    assert importlib.metadata.version("symgraph") == symgraph.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc)?\d*", symgraph.__version__)


def test_pyproject_reads_the_version_from_version_py(project):
    text = (ROOT / "pyproject.toml").read_text()
    assert "version" in project["dynamic"] and "version" not in project
    assert 'version = {attr = "symgraph._version.__version__"}' in text


def test_the_changelog_has_a_section_for_this_version():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## \[{re.escape(symgraph.__version__)}\]", changelog, flags=re.M)
    assert f"[{symgraph.__version__}]: https://" in changelog  # its link at the bottom


def test_license_and_supported_pythons(project):
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    # an SPDX license expression forbids the License classifier beside it
    assert not any(c.startswith("License ::") for c in project["classifiers"])
    assert project["requires-python"] == ">=3.10"
    declared = {c.rsplit(" ", 1)[1] for c in project["classifiers"]
                if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)}
    assert declared == {"3.10", "3.11", "3.12", "3.13"}
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in declared or \
        sys.version_info >= (3, 14)
    assert {"Homepage", "Documentation", "Changelog", "Issues"} <= set(project["urls"])


def test_ci_runs_the_wheel_check():
    assert "python .ci/wheel_check.py" in (ROOT / ".ci" / "run").read_text()
