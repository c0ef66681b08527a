"""How many threads a batched run may use, and the limits that keep it in the cores.

Batched runs (``Function.map`` / ``Function.predict``) run ``T`` batches at once on
a thread pool. Each call may itself use threads: numba's (large fused loops,
reductions, softmax) and BLAS's (matmul, conv, through NumPy's OpenBLAS). The
policy makes ``T`` the number of threads in all (``T <= cores`` by default):

* the cores are :func:`available_cores` (``os.sched_getaffinity``, the CPUs this
  process may run on, else ``os.cpu_count()``);
* numba kernels run serially in every call of a batched run, through a thread-local
  cap (:func:`symgraph.config.set_kernel_thread_cap`) that ``kernels.parallelism.launch``
  reads at launch time: the run's parallelism is across batches. Giving each call
  ``cores // T`` kernel threads instead was measured slower: after a parallel kernel,
  numba's OpenMP workers spin-wait on the cores the next (single-threaded) BLAS call
  needs, so ``threads=1`` on 2 cores ran 1.10x slower idle and 1.65x slower with one
  core busy elsewhere than with serial kernels (``benchmarks/bench_batch.py``);
* BLAS runs single-threaded during a batched run, for every ``T``. OpenBLAS's
  results depend on its thread count for some shapes (it splits the work of a
  ``(256, 500) @ (500, 256)`` float32 product differently with 1 and 2 threads,
  and the sums differ in the last bits), so a BLAS pool sized by ``T`` would make
  the results depend on ``T``; numba's kernels never do (fixed chunks, fixed
  combination order). One BLAS thread per call also never spin-waits on a busy
  core, which is what makes a multi-threaded BLAS collapse under load.

The BLAS thread count is a process-wide setting of the library: :func:`blas_threads`
sets it for the duration of a run (nested and concurrent runs are counted: the
lowest request wins and the original value comes back when the last run ends).
It finds the library through ``/proc/self/maps`` (what this process has loaded)
and then NumPy's bundled ``numpy.libs`` folder, and calls its
``[scipy_]openblas_set_num_threads[64_]`` through ctypes. Where no OpenBLAS is
found (another BLAS, another OS), it does nothing and :func:`blas_unavailable_reason`
says why.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from .. import config

__all__ = ["ThreadPolicy", "available_cores", "blas_get_threads", "blas_set_threads",
           "blas_threads", "blas_unavailable_reason", "kernel_threads", "policy_for"]

# (setter, getter) symbol pairs, most specific first: NumPy >= 2 wheels bundle
# scipy-openblas (64-bit ints, symbols with a scipy_ prefix and a 64_ suffix)
_SYMBOLS = (
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
    ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
)


def available_cores() -> int:
    """Return the number of CPUs this process may run on (``>= 1``).

    ``len(os.sched_getaffinity(0))`` where the OS has it (it honours ``taskset`` and
    container CPU sets), else ``os.cpu_count()``.

    Example:
        >>> from symgraph.runtime.threads import available_cores
        >>> available_cores() >= 1
        True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def kernel_threads(workers: int, cores: int | None = None) -> int:
    """Numba kernel threads each of ``workers`` concurrent calls may use: 1 (see the
    module notes: batches, not kernels, use the cores in a batched run).

    Example:
        >>> kernel_threads(2, cores=2), kernel_threads(1, cores=8)
        (1, 1)
    """
    return 1


@dataclass(frozen=True)
class ThreadPolicy:
    """The threads of one batched run.

    Attributes:
        workers: batches run at once (the thread pool's size; 1: in the caller's thread).
        kernel_threads: numba threads each call may use (always 1: see the module notes).
        blas_threads: BLAS threads each call may use (always 1: see the module notes).
        cores: the cores available when the policy was made.
    """

    workers: int
    kernel_threads: int
    blas_threads: int
    cores: int


def policy_for(workers: int, cores: int | None = None) -> ThreadPolicy:
    """The :class:`ThreadPolicy` of a run with ``workers`` concurrent batches.

    Example:
        >>> policy_for(2, cores=2)
        ThreadPolicy(workers=2, kernel_threads=1, blas_threads=1, cores=2)
    """
    cores = available_cores() if cores is None else cores
    return ThreadPolicy(workers, kernel_threads(workers, cores), 1, cores)


@contextlib.contextmanager
def kernel_thread_cap(n: int) -> Iterator[None]:
    """Cap numba kernel threads at ``n`` for calls made from this thread, for the
    duration of the ``with`` block (thread-local; the previous cap comes back after)."""
    previous = config.set_kernel_thread_cap(n)
    try:
        yield
    finally:
        config.set_kernel_thread_cap(previous)


# -- BLAS ------------------------------------------------------------------------------------
class _Blas:
    """The OpenBLAS libraries this process has loaded, found once."""

    def __init__(self) -> None:
        self.libs: list[tuple[str, object, object]] = []  # (path, setter, getter)
        self.reason = ""
        self._found = False
        self.lock = threading.Lock()
        self.requests: list[int] = []  # the limits of the runs in progress
        self.saved: list[int] = []  # each library's count before the first of them

    def find(self) -> None:
        if self._found:
            return
        with self.lock:
            if not self._found:
                self._find()
                self._found = True

    def _find(self) -> None:
        import numpy  # noqa: F401  (loads NumPy's BLAS, so that /proc/self/maps lists it)

        paths = _loaded_openblas_paths()
        if not paths:
            paths = _bundled_openblas_paths()
        for path in paths:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for set_name, get_name in _SYMBOLS:
                setter, getter = getattr(lib, set_name, None), getattr(lib, get_name, None)
                if setter is not None and getter is not None:
                    setter.argtypes, setter.restype = [ctypes.c_int], None
                    getter.argtypes, getter.restype = [], ctypes.c_int
                    self.libs.append((path, setter, getter))
                    break
        if not self.libs:
            self.reason = ("no OpenBLAS library found in this process (NumPy uses another "
                           "BLAS, or the OS has no /proc/self/maps): BLAS threads are left "
                           "as they are" if not paths else
                           f"the OpenBLAS libraries found ({', '.join(paths)}) have no "
                           "openblas_set_num_threads symbol: BLAS threads are left as they are")


def _loaded_openblas_paths() -> list[str]:
    try:
        with open("/proc/self/maps") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return []
    paths: list[str] = []
    for line in lines:
        parts = line.split(maxsplit=5)  # address perms offset dev inode [path]
        path = parts[5].strip() if len(parts) == 6 else ""
        name = os.path.basename(path).lower()
        if "openblas" in name and ".so" in name and path not in paths and os.path.exists(path):
            paths.append(path)
    return paths


def _bundled_openblas_paths() -> list[str]:
    import numpy

    root = os.path.dirname(os.path.dirname(os.path.abspath(numpy.__file__)))
    found = []
    for folder in (os.path.join(root, "numpy.libs"),
                   os.path.join(os.path.dirname(numpy.__file__), ".dylibs")):
        found += sorted(glob.glob(os.path.join(folder, "*openblas*")))
    return found


_BLAS = _Blas()


def blas_unavailable_reason() -> str:
    """Why BLAS threads cannot be controlled here (empty when they can)."""
    _BLAS.find()
    return _BLAS.reason


def blas_get_threads() -> int | None:
    """Return the BLAS thread count (of NumPy's OpenBLAS), or ``None`` if no OpenBLAS
    was found (see :func:`blas_unavailable_reason`)."""
    _BLAS.find()
    return int(_BLAS.libs[0][2]()) if _BLAS.libs else None


def blas_set_threads(n: int) -> bool:
    """Set the BLAS thread count of every OpenBLAS this process has loaded (a
    process-wide setting). Returns whether a library was found to set it on.

    Raises:
        ValueError: for ``n < 1``.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"the number of BLAS threads must be >= 1, got {n}")
    _BLAS.find()
    for _, setter, _ in _BLAS.libs:
        setter(n)
    return bool(_BLAS.libs)


@contextlib.contextmanager
def blas_threads(n: int) -> Iterator[bool]:
    """Limit BLAS to ``n`` threads for the duration of the ``with`` block; yields
    whether a library was found (a no-op otherwise, see :func:`blas_unavailable_reason`).

    The setting is process-wide: while several runs are in progress (nested or in
    other threads) the lowest of their limits applies, and the count from before
    the first of them comes back when the last one ends.

    Example:
        >>> import numpy as np
        >>> from symgraph.runtime.threads import blas_threads
        >>> with blas_threads(1):
        ...     product = np.ones((4, 4)) @ np.ones((4, 4))
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"the number of BLAS threads must be >= 1, got {n}")
    _BLAS.find()
    if not _BLAS.libs:
        yield False
        return
    with _BLAS.lock:
        if not _BLAS.requests:
            _BLAS.saved = [int(getter()) for _, _, getter in _BLAS.libs]
        _BLAS.requests.append(n)
        _apply(min(_BLAS.requests))
    try:
        yield True
    finally:
        with _BLAS.lock:
            _BLAS.requests.remove(n)
            if _BLAS.requests:
                _apply(min(_BLAS.requests))
            else:
                for (_, setter, _), count in zip(_BLAS.libs, _BLAS.saved):
                    setter(max(1, count))


def _apply(n: int) -> None:
    for _, setter, getter in _BLAS.libs:
        if getter() != n:
            setter(n)
