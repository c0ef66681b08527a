"""Keep freed memory in the process, so the next call's buffers are not page-faulted in.

A compiled function allocates its results and temporaries afresh on every call (that is
what lets callers keep them). With glibc's defaults, a buffer of more than 128 KB is a
fresh ``mmap`` or, once glibc's threshold has adapted, heap memory that ``free`` hands
back to the OS whenever the heap's free top exceeds twice that threshold. Either way
the next call writes into pages the kernel must fault in and zero again: ~0.25 us per
4 KB page, which a recurrent model pays on every step's stacked outputs. Measured
(``Function.profile``-style medians of the benchmark models' training steps, one
thread): LSTM seq2seq 12.1 -> 9.8 ms, Bidirectional GRU 22.1 -> 18.9 ms, the MLP
6.8 -> 6.2 ms, Conv2D 67 -> 64 ms with the thresholds below, the residual block
unchanged. TensorFlow and JAX avoid this with allocators of their own.

:func:`retain_freed_memory` sets glibc's ``M_MMAP_THRESHOLD`` (32 MB: smaller blocks
come from the heap) and ``M_TRIM_THRESHOLD`` (256 MB of free heap may stay mapped) for
the process, once, when the first function is prepared. The price: up to 256 MB of
memory freed at a peak stays with the process (it is reused by later allocations, and
counted in its resident size). Not applied where the user has tuned malloc
(``MALLOC_*_`` environment variables, ``GLIBC_TUNABLES``), off glibc, or with
``SYMGRAPH_RETAIN_MEMORY=0``.
"""

from __future__ import annotations

import ctypes
import os
import platform
import threading

#: mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 256 << 20

_STATE = {"done": False, "applied": False}
_LOCK = threading.Lock()


def _user_tuned_malloc() -> bool:
    env = os.environ
    return "malloc" in env.get("GLIBC_TUNABLES", "") or any(
        name.startswith("MALLOC_") and name.endswith("_") for name in env)


def retain_freed_memory() -> bool:
    """Set glibc's malloc to keep freed memory for reuse (see the module docstring);
    only the first call does anything.

    Returns:
        Whether the thresholds are in effect (set by this or an earlier call).

    Example:
        >>> from symgraph.runtime.memory import retain_freed_memory
        >>> isinstance(retain_freed_memory(), bool)
        True
    """
    if _STATE["done"]:
        return _STATE["applied"]
    with _LOCK:
        if not _STATE["done"]:
            _STATE["applied"] = _apply()
            _STATE["done"] = True
    return _STATE["applied"]


def _apply() -> bool:
    if os.environ.get("SYMGRAPH_RETAIN_MEMORY", "1").strip().lower() in \
            ("0", "false", "no", "off"):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or \
            _user_tuned_malloc():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
        bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
