"""Whether a kernel launch runs its serial or its ``prange`` twin, and on how many threads.

Every kernel that has a parallel twin is launched through :func:`launch`: twins compute
identical results, so the choice is one of speed only. ``PARALLEL_MIN`` is read here
at call time, so setting it (tests do) moves every kernel's threshold at once.
"""

from __future__ import annotations

import os
import threading

from .. import config
from .load import usable_cores

#: elements below which kernels always run serially. Waking numba's pool costs ~0.15 ms
#: on the 2-core VM of docs/performance.md: x * 2 + 1 on 2**18 float32 takes 34 us on one
#: thread and 209 us on two, on 2**20 108 vs 333 us, and first gains at 2**22 (1.2 vs
#: 0.89 ms); a tanh/exp/sigmoid chain gains from 2**20 (1.9 vs 1.8 ms). 2**18 made every
#: large-batch bias add of a training step slower than its serial loop.
PARALLEL_MIN = 1 << 21
_PAR_LOCK = threading.Lock()  # numba's workqueue pool cannot run two parallel launches
_THREAD_CAP = config.KERNEL_THREAD_CAP  # per-thread cap on n_threads (0 or absent: none)


def threads_for(size: int, spec=None) -> int:
    """Threads a kernel over ``size`` elements may use (1: run the serial twin). A body
    that may raise (``spec.may_raise``: an integer power) always runs serially: whether
    an exception raised inside a prange loop reaches Python depends on numba's
    threading layer (workqueue drops it), and a dropped error would be a silent wrong
    answer."""
    if spec is not None and spec.may_raise:
        return 1
    return config.num_threads() if size >= PARALLEL_MIN else 1


_LAYER_CHOSEN: list = []


def choose_threading_layer() -> str:
    """Pick numba's threading layer before symgraph's first parallel kernel runs: a
    fork-safe one (``'forksafe'``: TBB where installed, else numba's workqueue), unless
    the user chose one (``NUMBA_THREADING_LAYER`` or ``numba.config.THREADING_LAYER``).
    GNU OpenMP, numba's usual pick on Linux, aborts any child forked after a parallel
    region ran (multiprocessing's default start method, Dask process pools, gunicorn);
    parallel launches are serialised here anyway (``_PAR_LOCK``), so workqueue, which
    does not take concurrent launches, is enough. Returns the layer asked for."""
    import numba

    _LAYER_CHOSEN.append(True)
    if "NUMBA_THREADING_LAYER" not in os.environ and numba.config.THREADING_LAYER == "default":
        numba.config.THREADING_LAYER = "forksafe"
    return numba.config.THREADING_LAYER


def launch_loaders(n_threads: int, serial_loader, parallel_loader):
    """A callable running ``serial_loader()`` or, with ``n_threads > 1``, the parallel
    twin under :func:`launch`'s rules."""
    if n_threads == 1:
        return serial_loader()
    return lambda *args: launch(n_threads, serial_loader, parallel_loader, *args)


def launch(n_threads: int, serial_loader, parallel_loader, *args) -> None:
    """Run ``serial_loader()(*args)``, or the parallel twin when ``n_threads > 1`` and no
    other parallel launch is in flight (twins compute identical results). Loaders
    return the compiled function, so a twin is only compiled when it runs.
    ``n_threads`` is lowered to the calling thread's cap
    (:func:`symgraph.config.set_kernel_thread_cap`, set by batched runs): runners bind
    ``n_threads`` when they are prepared, the cap is read here, at launch, and so are
    the cores other processes leave free (:func:`symgraph.kernels.load.usable_cores`)."""
    if n_threads > 1:
        cap = getattr(_THREAD_CAP, "n", 0)  # thread-local (config.set_kernel_thread_cap)
        if cap and cap < n_threads:
            n_threads = cap
        free = usable_cores()  # the cores other processes leave free (kernels.load)
        if free < n_threads:
            n_threads = free
    if n_threads > 1 and _PAR_LOCK.acquire(blocking=False):
        try:
            import numba

            if not _LAYER_CHOSEN:
                choose_threading_layer()
            if numba.get_num_threads() != n_threads:
                numba.set_num_threads(n_threads)
            parallel_loader()(*args)
            return
        except SystemError:
            # an exception inside a prange loop reaches Python as a SystemError: the
            # serial twin raises the kernel's own error (e.g. a negative int exponent)
            pass
        finally:
            _PAR_LOCK.release()
    serial_loader()(*args)
