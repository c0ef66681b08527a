"""Fetch Keras 2.3.1's sdist, run its test files on symgraph, one process each, and sum."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TextIO

from .known import KNOWN_DIFFERENCES
from .patches import apply_patches

SDIST = "Keras-2.3.1.tar.gz"
SDIST_SHA256 = "321d43772006a25a1d58eea17401ef2a34d388b588c9f7646c34796151ebc8cc"
ROOT_NAME = "Keras-2.3.1"
PROJECT_ROOT = Path(__file__).resolve().parents[2]

# The files the suite runs, slowest first so that parallel runs end together. Left out,
# each for a reason:
# - tests/keras/layers/cudnn_recurrent_test.py: CuDNN layers need TensorFlow and a GPU.
# - tests/keras/engine/test_training.py: runs (pandas is in the test extra).
# - tests/keras/backend/*: compares backends with each other, importing TensorFlow, Theano
#   and CNTK; symgraph's own tests check the backend API against NumPy instead.
FILES = [
    "tests/keras/layers/recurrent_test.py",
    "tests/keras/layers/convolutional_test.py",
    "tests/keras/layers/wrappers_test.py",
    "tests/keras/engine/test_training.py",
    "tests/keras/layers/convolutional_recurrent_test.py",
    "tests/keras/layers/local_test.py",
    "tests/keras/layers/pooling_test.py",
    "tests/keras/layers/core_test.py",
    "tests/keras/engine/test_topology.py",
    "tests/keras/callbacks/callbacks_test.py",
    "tests/keras/legacy/layers_test.py",
    "tests/keras/legacy/interface_test.py",
    "tests/keras/test_sequential_model.py",
    "tests/keras/layers/merge_test.py",
    "tests/keras/layers/normalization_test.py",
    "tests/keras/layers/noise_test.py",
    "tests/keras/layers/embeddings_test.py",
    "tests/keras/layers/advanced_activations_test.py",
    "tests/keras/metrics_test.py",
    "tests/keras/metrics_confusion_matrix_test.py",
    "tests/keras/metrics_training_test.py",
    "tests/keras/metrics_correctness_test.py",
    "tests/keras/metrics_functional_test.py",
    "tests/keras/losses_test.py",
    "tests/keras/optimizers_test.py",
    "tests/keras/activations_test.py",
    "tests/keras/constraints_test.py",
    "tests/keras/initializers_test.py",
    "tests/keras/regularizers_test.py",
    "tests/keras/engine/layer_subclassing_tests.py",
    "tests/keras/utils/layer_utils_test.py",
    "tests/test_model_saving.py",
    "tests/test_model_pickling.py",
    "tests/test_dynamic_trainability.py",
    "tests/test_loss_masking.py",
    "tests/test_loss_weighting.py",
    "tests/integration_tests/test_image_data_tasks.py",
    "tests/integration_tests/test_temporal_data_tasks.py",
    "tests/integration_tests/test_vector_data_tasks.py",
]


@dataclasses.dataclass
class FileResult:
    """What one test file's process reported."""

    path: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    known: int = 0
    seconds: float = 0.0
    failures: dict[str, str] = dataclasses.field(default_factory=dict)
    crash: str = ""  # the process's output tail when it produced no report
    passed_ids: list[str] = dataclasses.field(default_factory=list)
    skip_reasons: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class SuiteReport:
    """The per-file results and their sums."""

    files: list[FileResult]

    def total(self, field: str) -> int:
        return sum(getattr(r, field) for r in self.files)

    @property
    def ok(self) -> bool:
        return self.total("failed") == 0 and not any(r.crash for r in self.files) and \
            not self.stale

    @property
    def stale(self) -> list[str]:
        """Known differences that passed: the list in known.py must lose them."""
        return sorted(t for r in self.files for t in r.passed_ids if t in KNOWN_DIFFERENCES)

    def as_dict(self) -> dict:
        return {"totals": {k: self.total(k) for k in ("passed", "failed", "skipped", "known")},
                "stale_known": self.stale,
                "files": [dataclasses.asdict(r) for r in self.files]}


def default_cache() -> Path:
    """``$SYMGRAPH_KERAS_SUITE_DIR``, else ``~/.cache/symgraph/keras-suite``."""
    env = os.environ.get("SYMGRAPH_KERAS_SUITE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "symgraph" / "keras-suite"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_sdist(cache: Path) -> Path:
    """Return the extracted, patched sdist under ``cache``, downloading it if needed.

    The tarball must match :data:`SDIST_SHA256`; a mismatched download is deleted and
    refused. Extraction goes to a temporary directory renamed into place, so an
    interrupted run never leaves a half-extracted tree.
    """
    cache.mkdir(parents=True, exist_ok=True)
    tree = cache / ROOT_NAME
    if (tree / ".symgraph-patched").exists():
        return tree
    tarball = cache / SDIST
    if not tarball.exists() or _sha256(tarball) != SDIST_SHA256:
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "keras==2.3.1",
                            "--no-binary", ":all:", "--no-deps", "-d", tmp], check=True)
            got = Path(tmp) / SDIST
            if _sha256(got) != SDIST_SHA256:
                raise RuntimeError(f"{SDIST} from PyPI has sha256 {_sha256(got)}, "
                                   f"expected {SDIST_SHA256}; refusing to run it")
            os.replace(got, tarball)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
        apply_patches(Path(tmp) / ROOT_NAME)
        (Path(tmp) / ROOT_NAME / ".symgraph-patched").touch()
        shutil.rmtree(tree, ignore_errors=True)
        os.replace(Path(tmp) / ROOT_NAME, tree)
    return tree


def _environment(tree: Path, work: Path, threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "KERAS_BACKEND": "symgraph.backend",
        "KERAS_HOME": str(work / "keras-home"),          # never the user's ~/.keras
        "SYMGRAPH_CACHE_DIR": str(work / "kernels"),     # one kernel cache per process
        # the sdist's keras first; the project so that `-p tests.keras_suite.plugin` imports
        "PYTHONPATH": os.pathsep.join([str(tree), str(PROJECT_ROOT),
                                       env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    # several processes at once share the cores: no thread pools fighting each other
    for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    return env


def _parse_junit(path: Path, rel: str, result: FileResult) -> None:
    known = KNOWN_DIFFERENCES
    for case in ET.parse(path).getroot().iter("testcase"):
        test_id = f"{rel}::{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        test_id = test_id.replace("::" + Path(rel).stem + "::", "::")
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        skipped = case.find("skipped")
        if skipped is not None:
            result.skipped += 1
            reason = (skipped.get("message") or "no reason given").strip()[:160]
            result.skip_reasons[reason] = result.skip_reasons.get(reason, 0) + 1
        elif bad is not None:
            if test_id in known:
                result.known += 1
            else:
                result.failed += 1
                message = (bad.get("message") or "").strip().splitlines()
                result.failures[test_id] = message[0][:300] if message else bad.tag
        else:
            result.passed += 1
            result.passed_ids.append(test_id)


def run_file(tree: Path, rel: str, threads: int, keyword: str | None = None) -> FileResult:
    """Run one Keras test file with pytest in a fresh process and return its counts."""
    result = FileResult(rel)
    with tempfile.TemporaryDirectory(prefix="symgraph-keras-") as tmp:
        work = Path(tmp)
        junit = work / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", rel, "-p", "tests.keras_suite.plugin",
               "-p", "no:cacheprovider", "-q", "-rN", "--tb=short", f"--junitxml={junit}",
               "--rootdir", str(tree), "-c", os.devnull]
        if keyword:
            cmd += ["-k", keyword]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=tree, env=_environment(tree, work, threads),
                              capture_output=True, text=True)
        result.seconds = time.perf_counter() - start
        if junit.exists():
            _parse_junit(junit, rel, result)
        if not junit.exists() or proc.returncode not in (0, 1, 5):
            result.crash = (proc.stdout + proc.stderr)[-3000:]
    return result


def run_suite(files: list[str], jobs: int = 0, cache: str | None = None,
              keyword: str | None = None, stream: TextIO | None = None) -> SuiteReport:
    """Run ``files`` of the Keras 2.3.1 sdist on symgraph and return the summed report.

    Args:
        files: test files relative to the sdist root (see :data:`FILES`).
        jobs: files run at once; 0 means one per core. Each process gets
            ``cores // jobs`` threads for numba and BLAS.
        cache: directory for the sdist (default :func:`default_cache`).
        keyword: a pytest ``-k`` expression passed to every file.
        stream: where to print a line per file and the totals (None: silent).

    Returns:
        The :class:`SuiteReport`; ``report.ok`` is False when anything failed that is not
        in ``known.KNOWN_DIFFERENCES`` or a process died without a report.
    """
    tree = fetch_sdist(Path(cache) if cache else default_cache())
    cores = os.cpu_count() or 1
    jobs = jobs or cores
    threads = max(1, cores // jobs)

    def one(rel: str) -> FileResult:
        result = run_file(tree, rel, threads, keyword)
        if stream is not None:
            status = "CRASH" if result.crash else f"{result.failed} failed"
            print(f"{rel:58s} {result.passed:4d} passed {status:>9s} {result.skipped:4d} "
                  f"skipped {result.known:2d} known  {result.seconds:6.1f} s",
                  file=stream, flush=True)
        return result

    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(one, files))
    report = SuiteReport(results)
    if stream is not None:
        for r in results:
            for test_id, message in r.failures.items():
                print(f"FAILED {test_id}: {message}", file=stream)
            if r.crash:
                print(f"CRASH {r.path}:\n{r.crash}", file=stream)
        reasons: dict[str, int] = {}
        for r in results:
            for reason, count in r.skip_reasons.items():
                reasons[reason] = reasons.get(reason, 0) + count
        for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
            print(f"skipped by Keras {count:3d}x: {reason}", file=stream)
        for test_id in report.stale:
            print(f"STALE known difference (it passes now): {test_id}", file=stream)
        print(f"total: {report.total('passed')} passed, {report.total('failed')} failed, "
              f"{report.total('skipped')} skipped, {report.total('known')} known differences",
              file=stream)
    return report
