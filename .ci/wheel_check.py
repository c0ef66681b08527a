"""The release check: build the sdist and the wheel, look inside them, install the wheel
into a fresh virtualenv of another Python and run the command line and a subset of the
tests against the installed package (what an editable checkout hides: package data
missing from the wheel, files the code reads from the source tree, a metadata slip).

    python .ci/wheel_check.py [--python python3.12] [--dist dist] [--keep]

Run from the project's virtualenv (it needs ``build``, which the ``test`` extra brings).
The release is built from the files git tracks (copied as they are on disk, so uncommitted
edits count, unadded new files do not); without git, from the tree as it is. Each step's
time is printed; any failure exits non-zero with what went wrong.
"""

from __future__ import annotations

import argparse
import email.parser
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# tested from the installed wheel, from the copies the sdist holds (copied beside, never
# the package's sources): the README's examples, errors, graph files, the HTML view
# (its script, style and template are package data; with Chromium, drawn in a browser)
TESTS = ["tests/test_installed_package.py", "tests/test_readme.py", "tests/test_errors.py",
         "tests/test_graph_files.py", "tests/test_inspect_html.py"]
# the second Python, first found (the main suite runs on the project's own)
PYTHONS = ["python3.12", "python3.10", "python3.13"]
NOT_IN_SDIST = {".gitignore"}  # and .ci/: how this checkout is tested, not the project
PYTHON_CLASSIFIERS = [f"Programming Language :: Python :: 3.{m}" for m in (10, 11, 12, 13)]

INSTALLED_TEST = '''"""Written by .ci/wheel_check.py: the tests import the installed wheel."""
import importlib.metadata
import importlib.resources
import json
import os
import sys

import symgraph


def test_symgraph_is_the_installed_wheel():
    where = os.path.realpath(symgraph.__file__)
    assert where.startswith(os.path.realpath(sys.prefix) + os.sep), where
    assert os.sep + "site-packages" + os.sep in where, where
    dist = importlib.metadata.distribution("symgraph")
    assert dist.version == symgraph.__version__
    direct = json.loads(dist.read_text("direct_url.json") or "{{}}")
    assert not direct.get("dir_info", {{}}).get("editable"), direct
    assert direct.get("url", "").endswith(".whl"), direct


def test_package_data_is_installed():
    static = importlib.resources.files("symgraph.inspect") / "static"
    assert {{p.name for p in static.iterdir()}} >= {static!r}
'''


class CheckError(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", help=f"the virtualenv's Python (default: the first of "
                                         f"{', '.join(PYTHONS)} found, else this one)")
    parser.add_argument("--dist", type=Path, help="copy the checked sdist and wheel here "
                                                  "(the files to upload)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="symgraph-wheel-check-", dir=_scratch()))
    start = time.perf_counter()
    try:
        run_checks(work, args.python)
        if args.dist:
            args.dist.mkdir(parents=True, exist_ok=True)
            for built in sorted((work / "dist").iterdir()):
                shutil.copy(built, args.dist / built.name)
                print(f"wheel check: wrote {args.dist / built.name}")
    except CheckError as exc:
        print(f"wheel check: FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"wheel check: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"wheel check: passed in {time.perf_counter() - start:.1f} s")
    return 0


def run_checks(work: Path, python: str | None) -> None:
    version = _version()
    with _step("build the sdist and the wheel (python -m build)"):
        source, tracked = _source_tree(work)
        _run([sys.executable, "-m", "build", "--outdir", str(work / "dist"), str(source)])
        sdist = work / "dist" / f"symgraph-{version}.tar.gz"
        wheel = work / "dist" / f"symgraph-{version}-py3-none-any.whl"
        for path in (sdist, wheel):
            if not path.is_file():
                found = sorted(p.name for p in (work / "dist").iterdir())
                raise CheckError(f"expected {path.name}, the build made {found}")
    with _step("look inside them"):
        check_sdist(sdist, version, tracked)
        check_wheel(wheel, version, source, tracked)
    with _step("a fresh virtualenv and the wheel in it"):
        python = python or _second_python()
        venv = work / "venv"
        _run([python, "-m", "venv", str(venv)])
        vpython = venv / "bin" / "python"
        _run([str(vpython), "-m", "pip", "install", "--quiet", str(wheel), "pytest"])
        print(f"  {_run([str(vpython), '-VV'])[0].strip()}")
    run_dir = work / "run"  # outside the checkout: only the installed package imports
    run_dir.mkdir()
    env = _clean_env(work)
    with _step("symgraph version"):
        out = _run([str(venv / "bin" / "symgraph"), "version"], cwd=run_dir, env=env)[0]
        if out.splitlines()[0] != f"symgraph {version}":
            raise CheckError(f"symgraph version printed {out!r}")
        print("  " + "\n  ".join(out.splitlines()[:6]))
    with _step("symgraph demo --batches 2"):
        out = _run([str(venv / "bin" / "symgraph"), "demo", "--batches", "2"], cwd=run_dir,
                   env=env)[0]
        for expected in ("Deferred model", "Compiled plan", "batch 1", "Interactive view"):
            if expected not in out:
                raise CheckError(f"the demo's output lacks {expected!r}:\n{out}")
    with _step(f"{len(TESTS)} test files against the installed package"):
        with tarfile.open(sdist) as tar:  # the tests the sdist holds, not the checkout's
            try:
                tar.extractall(work / "sdist", filter="data")
            except TypeError:  # a Python without extraction filters (before 3.10.12)
                tar.extractall(work / "sdist")  # noqa: S202 (our own sdist)
        unpacked = work / "sdist" / f"symgraph-{version}"
        for name in ("tests", "docs"):
            shutil.copytree(unpacked / name, run_dir / name)
        for name in ("README.md", "pyproject.toml"):  # the README's examples; pytest's options
            shutil.copy(unpacked / name, run_dir / name)
        static = sorted(p.name for p in (source / "symgraph" / "inspect" / "static").iterdir())
        (run_dir / TESTS[0]).write_text(INSTALLED_TEST.format(static=set(static)))
        out = _run([str(vpython), "-m", "pytest", "-p", "no:cacheprovider", *TESTS],
                   cwd=run_dir, env=env)[0]
        print(f"  {out.strip().splitlines()[-1]}")


def check_sdist(sdist: Path, version: str, tracked: list[str]) -> None:
    prefix = f"symgraph-{version}/"
    with tarfile.open(sdist) as tar:
        names = {m.name.removeprefix(prefix) for m in tar.getmembers() if m.isfile()}
    wanted = {p for p in tracked if p not in NOT_IN_SDIST and not p.startswith(".ci/")}
    wanted |= {"PKG-INFO", "pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md"}
    missing = sorted(wanted - names)
    if missing:
        raise CheckError(f"{sdist.name} lacks {missing[:20]} (MANIFEST.in?)")
    stray = sorted(n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))
                   or n.startswith(("docs/_build/", ".venv/", ".git/", "build/", "dist/")))
    if stray:
        raise CheckError(f"{sdist.name} holds files that are not sources: {stray[:20]}")
    print(f"  {sdist.name}: {len(names)} files, {sdist.stat().st_size / 1e3:.0f} kB")


def check_wheel(wheel: Path, version: str, source: Path, tracked: list[str]) -> None:
    info = f"symgraph-{version}.dist-info/"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = email.parser.Parser().parsestr(zf.read(info + "METADATA").decode())
        entry_points = zf.read(info + "entry_points.txt").decode()
    tops = {n.split("/")[0] for n in names}
    if tops != {"symgraph", info.rstrip("/")}:
        raise CheckError(f"{wheel.name}: top-level entries {sorted(tops)}, expected only "
                          "symgraph and its dist-info (no tests, docs or benchmarks)")
    wanted = {p for p in tracked if p.startswith("symgraph/")} if tracked else {
        p.relative_to(source).as_posix() for p in (source / "symgraph").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")}
    missing = sorted(wanted - names)
    if missing:
        raise CheckError(f"{wheel.name} lacks {missing[:20]} (package data in pyproject?)")
    stray = sorted(n for n in names if "__pycache__" in n or n.endswith(".pyc"))
    if stray or info + "licenses/LICENSE" not in names:
        raise CheckError(f"{wheel.name}: compiled files {stray[:5]}, or no licenses/LICENSE")
    problems = []
    expect = {"Name": "symgraph", "Version": version, "License-Expression": "MIT",
              "Requires-Python": ">=3.10", "Description-Content-Type": "text/markdown"}
    for key, value in expect.items():
        if metadata.get(key) != value:
            problems.append(f"{key}: {metadata.get(key)!r}, expected {value!r}")
    classifiers = metadata.get_all("Classifier") or []
    problems += [f"no classifier {c!r}" for c in PYTHON_CLASSIFIERS if c not in classifiers]
    urls = [u.split(",")[0] for u in metadata.get_all("Project-URL") or []]
    problems += [f"no Project-URL {k}" for k in ("Homepage", "Documentation", "Changelog")
                 if k not in urls]
    if "LICENSE" not in (metadata.get_all("License-File") or []):
        problems.append("no License-File: LICENSE")
    if "symgraph = symgraph.cli:main" not in entry_points:
        problems.append("no symgraph console script")
    if problems:
        raise CheckError(f"{wheel.name} metadata: " + "; ".join(problems))
    print(f"  {wheel.name}: {len(names)} files, {wheel.stat().st_size / 1e3:.0f} kB, "
          f"{len(classifiers)} classifiers")


def _version() -> str:
    text = (ROOT / "symgraph" / "_version.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"$', text, flags=re.M)
    if not match:
        raise CheckError("symgraph/_version.py has no __version__ = \"...\" line")
    return match.group(1)


def _source_tree(work: Path) -> tuple[Path, list[str]]:
    """A copy of the tracked files (as they are on disk), and their paths."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                                check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        print("  no git: building the tree as it is")
        return ROOT, []
    tracked = [p for p in listed if p and (ROOT / p).is_file()]
    source = work / "src"
    for path in tracked:
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, source / path)
    return source, tracked


def _scratch() -> str | None:
    """Where the temporary directory goes: ``$WHEEL_CHECK_TMP``, else a RAM disk with room
    (``/dev/shm``: the virtualenv is ~350 MB in ~8,000 files, and removing them from a disk
    mounted with ``discard`` took 25 s), else the default temporary directory."""
    if os.environ.get("WHEEL_CHECK_TMP"):
        return os.environ["WHEEL_CHECK_TMP"]
    shm = "/dev/shm"
    try:
        with open("/proc/mounts") as mounts:  # numba's libraries are mapped executable
            options = [f.split()[3] for f in mounts if f.split()[1:2] == [shm]]
        if options and "noexec" not in options[-1].split(",") and \
                os.access(shm, os.W_OK | os.X_OK) and shutil.disk_usage(shm).free > 2 * 2**30:
            return shm
    except (OSError, IndexError):
        pass
    return None


def _second_python() -> str:
    """The first of PYTHONS on PATH or installed by pyenv (whose shims answer only for
    the versions it has selected) that can make a virtualenv."""
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    for name in PYTHONS:
        if name == here:
            continue
        candidates = [shutil.which(name)] + sorted(
            str(p) for p in pyenv.glob(f"{name.removeprefix('python')}*/bin/{name}"))
        for found in filter(None, candidates):
            if subprocess.run([found, "-c", "import venv, ensurepip"],
                              capture_output=True).returncode == 0:
                return found
    print(f"  none of {', '.join(PYTHONS)} found: the virtualenv uses {sys.executable}")
    return sys.executable


def _clean_env(work: Path) -> dict[str, str]:
    """No PYTHONPATH or active virtualenv leaking the checkout in; a kernel cache and
    temporary files of its own (the demo writes its HTML view to a temporary file)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    (work / "tmp").mkdir()
    env.update(SYMGRAPH_CACHE_DIR=str(work / "cache"), TMPDIR=str(work / "tmp"))
    return env


def _run(cmd: list[str], cwd: Path | None = None, env: dict | None = None,
         ) -> tuple[str, str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise CheckError(f"{' '.join(map(str, cmd))} exited with {proc.returncode}:\n{tail}")
    return proc.stdout, proc.stderr


class _step:  # noqa: N801 (used as a statement: with _step("...")
    def __init__(self, title: str):
        self.title = title

    def __enter__(self):
        print(f"wheel check: {self.title}", flush=True)
        self.start = time.perf_counter()

    def __exit__(self, *exc):
        print(f"  ({time.perf_counter() - self.start:.1f} s)", flush=True)
        return False


if __name__ == "__main__":
    sys.exit(main())
