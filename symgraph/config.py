"""Global settings of the Keras backend contract: floatx, epsilon, image data format."""

from __future__ import annotations

import threading

_FLOATX = "float32"
_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"
_FLOAT_TYPES = ("float16", "float32", "float64")


def floatx() -> str:
    """Return the default float type as a string, e.g. ``'float32'``.

    Example:
        >>> import symgraph.backend as K
        >>> K.floatx()
        'float32'
    """
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float type: ``'float16'``, ``'float32'`` or ``'float64'``.

    New variables, placeholders and constants created afterwards use it.

    Raises:
        ValueError: for any other value.

    Example:
        >>> import symgraph.backend as K
        >>> K.set_floatx("float64")
        >>> K.dtype(K.variable([1.0, 2.0]))
        'float64'
        >>> K.set_floatx("float32")
    """
    global _FLOATX
    value = str(value)
    if value not in _FLOAT_TYPES:
        raise ValueError(f"Unknown floatx type: {value!r}; expected one of {_FLOAT_TYPES}")
    _FLOATX = value


def epsilon() -> float:
    """Return the fuzz factor used to keep logs and divisions finite (default ``1e-7``).

    Example:
        >>> import symgraph.backend as K
        >>> K.epsilon()
        1e-07
    """
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Set the fuzz factor returned by :func:`epsilon`.

    Example:
        >>> import symgraph.backend as K
        >>> K.set_epsilon(1e-5)
        >>> K.epsilon()
        1e-05
        >>> K.set_epsilon(1e-7)
    """
    global _EPSILON
    _EPSILON = float(value)


def image_data_format() -> str:
    """Return the default image data format, ``'channels_last'`` or ``'channels_first'``.

    Example:
        >>> import symgraph.backend as K
        >>> K.image_data_format()
        'channels_last'
    """
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format: str) -> None:
    """Set the default image data format (``'channels_last'`` or ``'channels_first'``).

    Raises:
        ValueError: for any other value.

    Example:
        >>> import symgraph.backend as K
        >>> K.set_image_data_format("channels_first")
        >>> K.image_data_format()
        'channels_first'
        >>> K.set_image_data_format("channels_last")
    """
    global _IMAGE_DATA_FORMAT
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"Unknown data_format: {data_format!r}")
    _IMAGE_DATA_FORMAT = str(data_format)


# -- threads of the compiled kernels -------------------------------------------------------------
_NUM_THREADS: list = [None]  # None: $SYMGRAPH_NUM_THREADS, else numba's default (all cores)


def num_threads() -> int:
    """Return the number of threads large compiled kernels may use (``>= 1``).

    ``set_num_threads`` wins, then ``$SYMGRAPH_NUM_THREADS``, then numba's thread pool
    size (``$NUMBA_NUM_THREADS`` or the number of cores). Results never depend on it:
    parallel kernels split work over fixed-size chunks combined in a fixed order.
    Calls from a thread with a cap (:func:`set_kernel_thread_cap`, set by batched
    runs) use at most that many.

    Example:
        >>> from symgraph import config
        >>> import numba
        >>> 1 <= config.num_threads() <= numba.config.NUMBA_NUM_THREADS
        True
    """
    if _NUM_THREADS[0] is None:
        import os

        env = os.environ.get("SYMGRAPH_NUM_THREADS")
        if env:
            _NUM_THREADS[0] = _check_threads(int(env))
        else:
            import numba

            _NUM_THREADS[0] = int(numba.config.NUMBA_NUM_THREADS)
    return _NUM_THREADS[0]


def _check_threads(n: int) -> int:
    import numba

    n = int(n)
    if n < 1:
        raise ValueError(f"the number of threads must be >= 1, got {n}")
    return min(n, int(numba.config.NUMBA_NUM_THREADS))


def set_num_threads(n: int) -> None:
    """Set how many threads large kernels use (capped at numba's pool size,
    ``$NUMBA_NUM_THREADS``); ``1`` runs everything serially.

    Raises:
        ValueError: for ``n < 1``.

    Example:
        >>> from symgraph import config
        >>> before = config.num_threads()
        >>> config.set_num_threads(1)
        >>> config.num_threads()
        1
        >>> config.set_num_threads(before)
    """
    _NUM_THREADS[0] = _check_threads(n)


# -- a per-thread cap on kernel threads (set by batched runs: runtime.threads) ------------------
KERNEL_THREAD_CAP = threading.local()  #: ``.n``: this thread's cap (absent or 0: no cap)


def kernel_thread_cap() -> int | None:
    """Return the cap on kernel threads for calls made from the current thread, or
    ``None`` when there is none (the usual case: :func:`num_threads` applies).

    The cap is thread-local: batched runs (``Function.map`` / ``Function.predict``)
    set it in each worker thread so that ``workers x kernel threads`` stays within
    the cores available. Kernels check it when they launch, not when a function is
    prepared, so one prepared function honours the cap of whichever thread calls it.

    Example:
        >>> from symgraph import config
        >>> config.kernel_thread_cap() is None
        True
    """
    return getattr(KERNEL_THREAD_CAP, "n", 0) or None


def set_kernel_thread_cap(n: int | None) -> int | None:
    """Cap the kernel threads of calls made from the current thread at ``n``
    (``None``: remove the cap). Returns the previous cap (``None`` if there was none).

    Raises:
        ValueError: for ``n < 1``.

    Example:
        >>> import threading
        >>> from symgraph import config
        >>> def capped(seen):
        ...     config.set_kernel_thread_cap(1)   # this thread only
        ...     seen.append(config.kernel_thread_cap())
        >>> seen = []
        >>> worker = threading.Thread(target=capped, args=(seen,))
        >>> worker.start(); worker.join()
        >>> seen, config.kernel_thread_cap()
        ([1], None)
    """
    previous = kernel_thread_cap()
    if n is None:
        KERNEL_THREAD_CAP.n = 0
    else:
        n = int(n)
        if n < 1:
            raise ValueError(f"the kernel thread cap must be >= 1, got {n}")
        KERNEL_THREAD_CAP.n = n
    return previous


# -- tiered execution (runtime.tiered) -------------------------------------------------------
_TIERED: list = [None]  # None: $SYMGRAPH_TIERED, else on


def tiered() -> bool:
    """Return whether new functions start in tier 0 (see ``symgraph.runtime.tiered``).

    On by default: a function's first calls run its plan with NumPy while the kernels
    compile in a background thread, and later calls run the kernels. Results of the
    two tiers agree to kernel precision, not bit for bit. ``set_tiered`` wins, then
    ``$SYMGRAPH_TIERED`` (``0`` switches it off).

    Example:
        >>> from symgraph import config
        >>> isinstance(config.tiered(), bool)
        True
    """
    if _TIERED[0] is None:
        import os

        _TIERED[0] = os.environ.get("SYMGRAPH_TIERED", "1").strip().lower() not in (
            "0", "false", "no", "off")
    return _TIERED[0]


def set_tiered(on: bool | None) -> None:
    """Switch tiered execution on or off for functions created afterwards
    (``None``: back to ``$SYMGRAPH_TIERED``). Off, every function compiles its kernels
    before its first call returns, and every call runs them.

    Example:
        >>> from symgraph import config
        >>> before = config.tiered()
        >>> config.set_tiered(False)
        >>> config.tiered()
        False
        >>> config.set_tiered(before)
    """
    _TIERED[0] = None if on is None else bool(on)


# -- loop hoisting (ops.loop_hoist) ----------------------------------------------------------
_HOIST_LOOPS: list = [None]  # None: $SYMGRAPH_HOIST_LOOPS, else on


def hoist_loops() -> bool:
    """Return whether ``K.rnn`` lifts the work of a step that reads only its inputs
    (``x_t @ W + b``) out of the loop, as one matmul over all steps (see
    ``symgraph.ops.loop_hoist``). On by default; ``set_hoist_loops`` wins, then
    ``$SYMGRAPH_HOIST_LOOPS`` (``0`` switches it off). Results agree to float
    rounding: BLAS may round a row of a taller matmul differently in the last bit.

    Example:
        >>> from symgraph import config
        >>> isinstance(config.hoist_loops(), bool)
        True
    """
    if _HOIST_LOOPS[0] is None:
        import os

        _HOIST_LOOPS[0] = os.environ.get("SYMGRAPH_HOIST_LOOPS", "1").strip().lower() \
            not in ("0", "false", "no", "off")
    return _HOIST_LOOPS[0]


def set_hoist_loops(on: bool | None) -> None:
    """Switch loop hoisting on or off for loops built afterwards (``None``: back to
    ``$SYMGRAPH_HOIST_LOOPS``).

    Example:
        >>> from symgraph import config
        >>> before = config.hoist_loops()
        >>> config.set_hoist_loops(False)
        >>> config.hoist_loops()
        False
        >>> config.set_hoist_loops(before)
    """
    _HOIST_LOOPS[0] = None if on is None else bool(on)
