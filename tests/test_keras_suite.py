"""Keras 2.3.1's own test suite on symgraph (issue 12): ``python -m tests.keras_suite``.

The suite downloads the Keras 2.3.1 sdist from PyPI once (sha256-pinned, cached in
``~/.cache/symgraph/keras-suite`` or ``$SYMGRAPH_KERAS_SUITE_DIR``) and runs 39 of its
test files, each in its own process, files in parallel. Every failure must be a listed
known difference (``tests/keras_suite/known.py``), and a listed one that passes fails
the run too.
"""

from __future__ import annotations

import os

import pytest

from tests.helpers import needs_keras_231
from tests.keras_suite import suite
from tests.keras_suite.known import KNOWN_DIFFERENCES

pytestmark = needs_keras_231()


def test_keras_231_suite_passes():
    report = suite.run_suite(suite.FILES, jobs=os.cpu_count() or 1)
    failures = {t: m for r in report.files for t, m in r.failures.items()}
    crashes = {r.path: r.crash for r in report.files if r.crash}
    assert not crashes, crashes
    assert not failures, "\n".join(f"{t}: {m}" for t, m in failures.items())
    assert not report.stale, f"known differences that pass now: {report.stale}"
    # the run really ran Keras's tests (a broken collection would pass vacuously)
    assert report.total("passed") >= 880, report.as_dict()["totals"]
    assert report.total("known") == len(KNOWN_DIFFERENCES)


def _junit(tmp_path, cases: str):
    path = tmp_path / "junit.xml"
    path.write_text(f"<testsuites><testsuite>{cases}</testsuite></testsuites>")
    return path


def test_runner_counts_and_matches_known_differences(tmp_path):
    known = next(iter(KNOWN_DIFFERENCES))
    rel, rest = known.split("::", 1)
    module = rel[:-3].replace("/", ".")
    classname = module + ("." + rest.split("::")[0] if rest.count("::") else "")
    name = rest.split("::")[-1]
    xml = (f'<testcase classname="{classname}" name="{name}"><failure message="x"/></testcase>'
           f'<testcase classname="{module}" name="test_ok"/>'
           f'<testcase classname="{module}" name="test_skip"><skipped/></testcase>'
           f'<testcase classname="{module}" name="test_bad">'
           f'<error message="boom&#10;more"/></testcase>')
    result = suite.FileResult(rel)
    suite._parse_junit(_junit(tmp_path, xml), rel, result)
    assert (result.passed, result.failed, result.skipped, result.known) == (1, 1, 1, 1)
    assert result.failures == {f"{rel}::test_bad": "boom"}
    report = suite.SuiteReport([result])
    assert not report.ok


def test_stale_known_difference_fails_the_run(tmp_path):
    known = next(iter(KNOWN_DIFFERENCES))
    result = suite.FileResult(known.split("::")[0], passed=1, passed_ids=[known])
    report = suite.SuiteReport([result])
    assert report.stale == [known] and not report.ok


def test_patches_refuse_a_different_sdist(tmp_path):
    from tests.keras_suite.patches import PATCHES, apply_patches

    for rel, _old, _new, _why in PATCHES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("nothing to patch here\n")
    with pytest.raises(RuntimeError, match="does not match the sdist"):
        apply_patches(tmp_path)
