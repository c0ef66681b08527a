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
from collections.abc import Iterator
from dataclasses import dataclass

from .. import config
from ..kernels.blas import blas_get_threads, blas_set_threads, blas_threads, blas_unavailable_reason
from ..kernels.load import available_cores

__all__ = ["ThreadPolicy", "available_cores", "blas_get_threads", "blas_set_threads",
           "blas_threads", "blas_unavailable_reason", "kernel_threads", "policy_for"]

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
