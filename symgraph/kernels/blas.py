"""NumPy's BLAS thread count, through OpenBLAS's own setter.

The BLAS thread count is a process-wide setting of the library. It is found through
``/proc/self/maps`` (what this process has loaded), then NumPy's bundled ``numpy.libs``
folder, and set with ``[scipy_]openblas_set_num_threads[64_]`` through ctypes. Where no
OpenBLAS is found (another BLAS, another OS), nothing is changed and
:func:`blas_unavailable_reason` says why. Two users: batched runs pin BLAS to one thread
for their duration (:func:`blas_threads`), and the load policy (``kernels.load``) sizes
it to the cores other processes leave free (:func:`adapt`).
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import threading
from collections.abc import Iterator

__all__ = ["adapt", "blas_get_threads", "blas_set_threads", "blas_threads",
           "blas_unavailable_reason", "pinned_by_environment"]

#: environment variables that pin BLAS's threads: the load policy leaves them alone
PIN_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                 "SYMGRAPH_NUM_THREADS")

# (setter, getter) symbol pairs, most specific first: NumPy >= 2 wheels bundle
# scipy-openblas (64-bit ints, symbols with a scipy_ prefix and a 64_ suffix)
_SYMBOLS = (
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
    ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
)



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
        >>> from symgraph.kernels.blas import blas_threads
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


def pinned_by_environment() -> bool:
    """Whether the user pinned the thread counts (any of :data:`PIN_VARIABLES` set)."""
    return any(os.environ.get(name) for name in PIN_VARIABLES)


def adapt(n: int) -> bool:
    """Set BLAS to ``n`` threads for the load policy, unless a batched run holds its
    own limit (:func:`blas_threads`) or the environment pinned the count. Returns
    whether the count was set."""
    if pinned_by_environment():
        return False
    _BLAS.find()
    if not _BLAS.libs:
        return False
    with _BLAS.lock:
        if _BLAS.requests:
            return False
        _apply(max(1, int(n)))
    return True
