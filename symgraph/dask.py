"""Compiled symgraph functions over Dask arrays: in threads, or on a cluster.

:func:`map_blocks` (and ``f.to_dask``) turns a compiled function and dask arrays
chunked along axis 0 (the batch axis) into lazy dask arrays, one per output. Each
chunk is one task calling the function on the chunk's rows; a multi-output function
computes all its outputs in that one task and cheap ``getitem`` tasks split them.
Chunks, dtypes and ``meta`` come from the function's shape rules
(:meth:`~symgraph.runtime.function.Function.output_shapes`), never from running it.

How the function travels: a task's callable is a :class:`FunctionTask`. In-process
(dask's threaded or synchronous scheduler) it calls the ``Function`` object itself.
Pickled (``dask.distributed`` ships tasks to worker processes), it is only the bytes
of the function's graph file (``symgraph.io.dumps``) and their sha256: numba
functions cannot be pickled, and the graph is plain, validated data. A worker
process loads each graph file once (a per-process cache keyed by sha256, see
:func:`loaded_functions`); its numba kernels then come from the worker's disk kernel
cache (``$SYMGRAPH_CACHE_DIR``), so only the first process ever compiles them.

Tasks are pure: functions with updates or random ops are refused, since Dask may
run a task twice, or in any order. Results are bit-identical to calling the
function on the same chunks (with the same BLAS thread count: dask's nanny starts
workers with ``OPENBLAS_NUM_THREADS=1``).

Example:
    >>> import dask.array as da, numpy as np, symgraph.backend as K
    >>> import symgraph.dask
    >>> x = K.placeholder(shape=(None, 3))
    >>> f = K.function([x], [x * 2.0, K.sum(x, axis=1)])
    >>> doubled, sums = symgraph.dask.map_blocks(f, da.ones((10, 3), chunks=(4, 3)))
    >>> doubled.chunks, sums.chunks
    (((4, 4, 2), (3,)), ((4, 4, 2),))
    >>> sums.compute(scheduler="threads").tolist()[:3]
    [3.0, 3.0, 3.0]
"""

from __future__ import annotations

import hashlib
import operator
import os
import re
import sys
import threading
import time
import uuid
import weakref
from collections import OrderedDict

import numpy as np

try:
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph, MaterializedLayer
except ImportError as exc:  # an optional dependency: say which extra brings it
    from .errors import docs_hint

    raise ImportError(
        f"symgraph.dask needs dask ({exc}); install it with: pip install 'symgraph[dask]'; "
        f"{docs_hint('batch-evaluation', 'a-dask-cluster')}"
    ) from exc

from . import config
from .core import services
from .core.shapes import dims_compatible, shape_str
from .errors import FeedError, ShapeError, created_at, docs_hint
from .runtime.function import Function, _Single

__all__ = ["FunctionTask", "loaded_functions", "map_blocks", "warmup"]

#: graph files a worker process keeps loaded (least recently used ones are dropped)
CACHE_LIMIT = 16


# -- the task callable -------------------------------------------------------------------------
class FunctionTask:
    """The callable of every chunk's task: ``task(*chunks) -> list of arrays``.

    Built from a ``Function`` (``FunctionTask(f)``), it calls that object directly
    in this process. Its pickled form is only the graph file's bytes and their
    sha256 (written on first pickling, with ``symgraph.io.dumps``); unpickled, it
    loads the function through this process's cache on first call.

    Args:
        fn: a compiled function (``K.function``'s one-output wrapper is unwrapped).

    Example:
        >>> import pickle, numpy as np, symgraph.backend as K
        >>> from symgraph.dask import FunctionTask
        >>> x = K.placeholder(shape=(None, 2))
        >>> task = FunctionTask(K.function([x], [x + 1.0]))
        >>> copy = pickle.loads(pickle.dumps(task))  # just the graph file's bytes
        >>> copy(np.zeros((1, 2), "float32"))[0].tolist()
        [[1.0, 1.0]]
    """

    __slots__ = ("_data", "_fn", "_lock", "_sha256", "__weakref__")

    def __init__(self, fn: Function | _Single | None = None):
        self._fn = _unwrap(fn)[0] if fn is not None else None
        self._data: bytes | None = None
        self._sha256: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_bytes(cls, data: bytes, sha256: str) -> FunctionTask:
        """A task that loads the graph file ``data`` (of digest ``sha256``) when called."""
        task = cls()
        task._data, task._sha256 = bytes(data), str(sha256)
        return task

    def _graph_file(self) -> tuple[bytes, str]:
        with self._lock:  # several threads may pickle one task (one dumps)
            if self._data is None:
                from . import io as sg_io

                self._data = sg_io.dumps(self._fn)
                self._sha256 = hashlib.sha256(self._data).hexdigest()
            return self._data, self._sha256

    @property
    def data(self) -> bytes:
        """The graph file's bytes (what the pickled task carries)."""
        return self._graph_file()[0]

    @property
    def sha256(self) -> str:
        """The hex sha256 of :attr:`data`: the key of the worker-side cache."""
        return self._graph_file()[1]

    def function(self) -> Function:
        """The ``Function`` this task calls (loaded once per process when unpickled)."""
        if self._fn is not None:
            return self._fn
        return _cached_function(self._sha256, self._data)

    def __call__(self, *chunks: np.ndarray) -> list:
        if self._fn is not None:
            with _local_kernel_cap():
                return self._fn(list(chunks))
        return _cached_function(self._sha256, self._data)(list(chunks))

    def __reduce__(self):
        return (FunctionTask.from_bytes, self._graph_file())

    def __dask_tokenize__(self):
        return ("symgraph.FunctionTask", self._sha256 or _function_token(self._fn))

    def __repr__(self) -> str:
        where = "in-process" if self._fn is not None else f"sha256 {self._sha256[:12]}"
        return f"<symgraph.dask.FunctionTask {where}>"


_TOKENS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_TOKENS_LOCK = threading.Lock()


def _function_token(fn: Function) -> str:
    """A name for ``fn`` in dask keys: stable for its lifetime, never reused (graphs
    are data, but hashing a large one's file for a key would cost a dumps)."""
    with _TOKENS_LOCK:
        token = _TOKENS.get(fn)
        if token is None:
            token = _TOKENS[fn] = uuid.uuid4().hex
        return token


class _local_kernel_cap:  # noqa: N801 (used as a context manager, like a function)
    """In-process tasks in a thread pool (dask's threaded scheduler) run serial numba
    kernels, as batched runs do (``symgraph.runtime.threads``): the pool's threads are
    the parallelism, and parallel kernels' spinning OpenMP workers would take the cores
    the other tasks and BLAS need. The synchronous scheduler (main thread) keeps the
    usual thread count."""

    __slots__ = ("previous",)

    def __enter__(self):
        self.previous = False
        if threading.current_thread() is not threading.main_thread():
            self.previous = config.set_kernel_thread_cap(1)
        return self

    def __exit__(self, *exc):
        if self.previous is not False:
            config.set_kernel_thread_cap(self.previous)


# -- the per-process cache of loaded functions ----------------------------------------------------
_CACHE: OrderedDict[str, Function] = OrderedDict()
_LOADS: dict[str, int] = {}
_CACHE_LOCK = threading.Lock()  # one load per graph file, however many threads ask
_THREADS_SET = [False]  # whether this process's kernel threads were chosen already


def _cached_function(sha256: str, data: bytes) -> Function:
    with _CACHE_LOCK:
        fn = _CACHE.get(sha256)
        if fn is not None:
            _CACHE.move_to_end(sha256)
            return fn
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"symgraph.dask: a graph file arrived damaged (its sha256 is "
                             f"not {sha256})")
        from . import io as sg_io

        _default_worker_threads()
        fn = _unwrap(sg_io.loads(data))[0]
        _CACHE[sha256] = fn
        _LOADS[sha256] = _LOADS.get(sha256, 0) + 1
        while len(_CACHE) > CACHE_LIMIT:
            _CACHE.popitem(last=False)
        return fn


def loaded_functions() -> dict[str, int]:
    """How many times this process loaded each graph file, by sha256.

    Tasks load a function once per process (``1`` each), whatever the number of
    chunks they run; more only after the cache dropped it (over ``CACHE_LIMIT``
    functions). Read it on the workers with ``client.run(loaded_functions)``.

    Returns:
        ``{sha256: loads}`` for the functions loaded from graph files in this process.

    Example:
        >>> from symgraph.dask import loaded_functions
        >>> isinstance(loaded_functions(), dict)
        True
    """
    with _CACHE_LOCK:
        return dict(_LOADS)


# -- threads on workers ------------------------------------------------------------------------
def _worker_nthreads() -> int | None:
    """The thread count of the dask worker this process is, or ``None``."""
    if "distributed" not in sys.modules:  # a worker has imported it; don't, otherwise
        return None
    from distributed import get_worker

    try:
        return int(get_worker().state.nthreads)
    except ValueError:  # not inside a worker
        return None


def _default_worker_threads() -> None:
    """On the first load in a worker process: single-threaded kernels. The workers
    (processes x threads) are the parallelism, as in batched runs
    (``symgraph.runtime.threads``); dask's nanny already starts them with one BLAS
    thread (``OPENBLAS_NUM_THREADS=1``)."""
    if _THREADS_SET[0]:
        return
    if _worker_nthreads() is not None:
        _set_kernel_threads(1)


def _set_kernel_threads(n: int) -> None:
    """Set this worker process's kernel threads, unless the worker was started with
    ``$SYMGRAPH_NUM_THREADS`` (an explicit choice wins)."""
    _THREADS_SET[0] = True
    if not os.environ.get("SYMGRAPH_NUM_THREADS"):
        config.set_num_threads(n)


# -- building the dask graph -------------------------------------------------------------------
def _unwrap(f) -> tuple[Function, bool]:
    """``(Function, single)``: ``K.function``'s one-output wrapper returns one array."""
    if isinstance(f, _Single):
        return f.fn, True
    if isinstance(f, Function):
        return f, False
    raise TypeError(f"symgraph.dask expects a compiled function (K.function), "
                    f"got {type(f).__name__}")


def _check_pure(fn: Function) -> None:
    from .runtime.batch import order_dependence

    reason = order_dependence(fn)
    if reason is not None:
        raise ValueError(f"symgraph.dask: the function {reason}; dask tasks must be pure "
                         "(dask may run a task twice, and runs chunks in any order)")


def _input_label(ph, index: int) -> str:
    return f"input {index} ('{ph.name}'{created_at(ph)})"


def _feedable(ph, dtype: np.dtype) -> bool:
    """Whether arrays of ``dtype`` convert to ``ph`` like ``check_feed`` converts them
    (0/1 ints to a bool placeholder are checked when the chunk is fed)."""
    if dtype.kind not in "biuf":
        return False
    if ph.dtype == "bool" and dtype.kind in "iu":
        return True
    return bool(np.can_cast(dtype, ph.dtype, "same_kind"))


_CHUNKS = docs_hint("batch-evaluation", "chunking-rules")  # what map_blocks accepts


def _check_input(ph, array, index: int) -> None:
    label = _input_label(ph, index)
    if not isinstance(array, da.Array):
        raise TypeError(f"symgraph.dask: {label} must be a dask array, got "
                        f"{type(array).__name__} (wrap it with dask.array.from_array); "
                        f"{_CHUNKS}")
    if array.ndim == 0:
        raise FeedError(f"symgraph.dask: {label} is 0-d; inputs are chunked along axis 0 "
                        f"(the batch axis), so they need one; {_CHUNKS}")
    if any(np.isnan(c) for c in array.chunks[0]):
        raise ValueError(f"symgraph.dask: {label} has unknown chunk sizes; "
                         f"call .compute_chunk_sizes() on it first; {_CHUNKS}")
    if ph.shape is not None and (array.ndim != len(ph.shape) or
                                 not dims_compatible(ph.shape[1:], array.shape[1:])):
        raise FeedError(f"symgraph.dask: {label} expects shape {shape_str(ph.shape)}; "
                        f"got a dask array of shape {shape_str(array.shape)}; {_CHUNKS}")
    for axis in range(1, array.ndim):
        if len(array.chunks[axis]) > 1:
            raise ValueError(
                f"symgraph.dask: {label} is chunked along axis {axis} "
                f"({array.chunks[axis]}); chunks split axis 0 (the batch axis) only: "
                f"use array.rechunk({{{axis}: -1}}); {_CHUNKS}")
    if ph.shape is not None and ph.shape[0] is not None and \
            any(c != ph.shape[0] for c in array.chunks[0]):
        raise FeedError(f"symgraph.dask: {label} has a fixed batch of {ph.shape[0]} rows; "
                        f"its chunks have {sorted(set(array.chunks[0]))} rows: "
                        f"use array.rechunk({{0: {ph.shape[0]}}}); {_CHUNKS}")
    if not _feedable(ph, np.dtype(array.dtype)):
        raise FeedError(f"symgraph.dask: {label} expects dtype {ph.dtype}; a dask array "
                        f"of dtype {array.dtype} does not convert safely; {_CHUNKS}")


def _check_arrays(fn: Function, arrays: tuple) -> tuple[int, ...]:
    """Check the arrays against the inputs; return their common axis-0 chunks."""
    if len(arrays) != len(fn.inputs):
        names = ", ".join(f"'{t.name}'" for t in fn.inputs)
        raise FeedError(f"symgraph.dask: the function takes {len(fn.inputs)} inputs "
                        f"({names}), got {len(arrays)} dask arrays; {_CHUNKS}")
    if not arrays:
        raise FeedError("symgraph.dask: the function has no inputs, so there is nothing "
                        f"to chunk; call it directly; {_CHUNKS}")
    for index, (ph, array) in enumerate(zip(fn.inputs, arrays)):
        _check_input(ph, array, index)
    rows = arrays[0].chunks[0]
    for index, array in enumerate(arrays[1:], start=1):
        if array.chunks[0] != rows:
            raise ValueError(
                f"symgraph.dask: {_input_label(fn.inputs[index], index)} has axis-0 "
                f"chunks {array.chunks[0]}, {_input_label(fn.inputs[0], 0)} has {rows}; "
                f"they must agree: use array.rechunk({{0: first.chunks[0]}}); {_CHUNKS}")
    return tuple(int(c) for c in rows)


def _output_tails(fn: Function, arrays: tuple, rows: tuple[int, ...]) -> list[tuple]:
    """The dims after axis 0 of each output, checked to be computed row by row: dim 0
    is the chunk's rows and the rest does not depend on them. A shape probe with one
    more row than any chunk tells a real batch axis from a coincidence (an output of
    784 sums for chunks of 784 rows)."""
    tails = [a.shape[1:] for a in arrays]
    probes = {n: fn.output_shapes([(n, *t) for t in tails]) for n in sorted(set(rows))}
    if all(ph.shape is None or ph.shape[0] is None for ph in fn.inputs):
        extra = max(rows) + 1
        try:
            probes[extra] = fn.output_shapes([(extra, *t) for t in tails])
        except (ShapeError, FeedError):  # e.g. a reshape that needs an even batch
            pass
    result = []
    for j, out in enumerate(fn.outputs):
        shapes = {n: found[j] for n, found in probes.items()}
        for n, shape in shapes.items():
            if not shape or shape[0] != n or \
                    shape[1:] != shapes[rows[0]][1:]:
                raise ShapeError(
                    f"symgraph.dask: output {j} ('{out.name}'{created_at(out)}) is not "
                    f"computed row by row: chunks of {n} rows give it shape "
                    f"{shape_str(shape)}; every output's dim 0 must be the chunk's rows "
                    "(a reduction over the batch, a variable or a constant cannot be split "
                    f"into chunks); {_CHUNKS}")
        result.append(tuple(shapes[rows[0]][1:]))
    return result


def _run_task(task: FunctionTask, *chunks: np.ndarray) -> list:
    return task(*chunks)


def _safe_name(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]", "_", name)[:40] or "output"


def map_blocks(f: Function | _Single, *arrays: da.Array) -> list[da.Array] | da.Array:
    """Lazy dask arrays of ``f``'s outputs over dask arrays chunked along axis 0.

    Each chunk of rows is one task calling ``f`` on that chunk of every input; all
    outputs of a chunk come from that one call. Nothing runs here: output chunks,
    dtypes and ``meta`` come from ``f``'s shape rules.

    Args:
        f: a compiled function (``K.function``); it must be pure (no updates, no
            random ops), since dask may run a task twice.
        *arrays: one dask array per input placeholder, in ``f.inputs`` order, split
            along axis 0 only, all with the same axis-0 chunks (rechunk them to agree).

    Returns:
        A list with one dask array per output, chunked along axis 0 like the inputs
        (one array when ``f`` was compiled from a single tensor).

    Raises:
        FeedError: the wrong number of arrays, or an array whose rank, dims or dtype
            cannot be fed to its placeholder (naming it).
        ValueError: an array chunked along another axis, inputs whose axis-0 chunks
            disagree, unknown chunk sizes, or a function with updates or random ops.
        ShapeError: an output whose dim 0 is not the chunk's rows (naming it).
        TypeError: ``f`` is not a compiled function, or an input is not a dask array.

    Example:
        >>> import dask.array as da, symgraph.backend as K
        >>> from symgraph.dask import map_blocks
        >>> a, b = K.placeholder(shape=(None, 2)), K.placeholder(shape=(None, 2))
        >>> total = map_blocks(K.function([a, b], a + b),
        ...                    da.ones((5, 2), chunks=2), da.ones((5, 2), chunks=2))
        >>> total.chunks, total.dtype, total.compute().sum()
        (((2, 2, 1), (2,)), dtype('float32'), np.float32(20.0))
    """
    fn, single = _unwrap(f)
    _check_pure(fn)
    rows = _check_arrays(fn, arrays)
    tails = _output_tails(fn, arrays, rows)
    task = FunctionTask(fn)
    token = tokenize(task, *[a.name for a in arrays])
    call = f"symgraph-call-{token}"
    # the task object (the graph file's bytes, once pickled) is one key that every
    # chunk's task depends on: distributed moves it to each worker once and keeps
    # it there, instead of shipping the graph file inside every task
    fn_key = f"symgraph-function-{token}"
    layer = {fn_key: task}
    layer.update({(call, i): (_run_task, fn_key, *[(a.name, i, *(0,) * (a.ndim - 1))
                                                   for a in arrays])
                  for i in range(len(rows))})
    graph = HighLevelGraph.from_collections(call, layer, dependencies=arrays)
    outputs = []
    for j, (node, tail) in enumerate(zip(fn._output_nodes, tails)):
        name = f"{_safe_name(fn.outputs[j].name)}-{j}-{token}"
        split = {(name, i, *(0,) * len(tail)): (operator.getitem, (call, i), j)
                 for i in range(len(rows))}
        out_graph = HighLevelGraph({**graph.layers, name: MaterializedLayer(split)},
                                   {**graph.dependencies, name: {call}})
        dtype = np.dtype(node.dtype)
        chunks = (rows, *((d,) for d in tail))
        outputs.append(da.Array(out_graph, name, chunks=chunks,
                                meta=np.empty((0,) * len(chunks), dtype)))
    return outputs[0] if single else outputs


# -- warmup --------------------------------------------------------------------------------------
def _zero_feeds(fn: Function, batch_rows: int) -> list[tuple[tuple, str]]:
    """``(shape, dtype)`` of a batch of zeros for each input (``None`` dims: rows)."""
    feeds = []
    for index, ph in enumerate(fn.inputs):
        if ph.shape is None:
            raise FeedError(f"symgraph.dask.warmup: {_input_label(ph, index)} has an "
                            "unknown rank, so no batch of zeros can be made for it")
        feeds.append((tuple(batch_rows if d is None else d for d in ph.shape), ph.dtype))
    return feeds


def _warm_worker(task: FunctionTask, feeds: list, dask_worker=None) -> float:
    """Runs on each worker (``client.run`` passes ``dask_worker``): set serial
    kernels, load the function, run it on zeros."""
    start = time.perf_counter()
    _set_kernel_threads(1)
    task.function()([np.zeros(shape, dtype) for shape, dtype in feeds])
    return time.perf_counter() - start


def warmup(client, f: Function | _Single, *, batch_rows: int = 1) -> dict[str, float]:
    """Load ``f`` on every worker of ``client`` and run it once on a batch of zeros,
    so numba kernels compile (or load from the worker's disk cache) before real work.

    Workers run single-threaded kernels (set here, or on a worker's first load
    without a warmup): the workers are the parallelism.

    Args:
        client: a ``distributed.Client``.
        f: the compiled function the tasks will run.
        batch_rows: rows of the zeros batch (the size of ``None`` dims).

    Returns:
        ``{worker address: seconds}`` the load and the zeros batch took there.

    Raises:
        FeedError: an input of unknown rank.
        ValueError: ``batch_rows < 1``, or a function with updates or random ops.

    Example:
        A cluster in this process (``LocalCluster(n_workers=2)`` starts worker
        processes; the workers of an in-process one set this process's threads):

        >>> import symgraph.backend as K
        >>> from distributed import Client
        >>> from symgraph import config
        >>> threads = config.num_threads()
        >>> x = K.placeholder((None, 3))
        >>> f = K.function([x], [K.sum(K.exp(x), axis=1)])
        >>> with Client(processes=False, n_workers=1, dashboard_address=None) as client:
        ...     seconds = warmup(client, f, batch_rows=8)
        >>> len(seconds), all(s >= 0 for s in seconds.values())
        (1, True)
        >>> config.set_num_threads(threads)
    """
    fn, _ = _unwrap(f)
    if isinstance(batch_rows, bool) or operator.index(batch_rows) < 1:
        raise ValueError(f"batch_rows must be an int >= 1, got {batch_rows!r}")
    _check_pure(fn)
    feeds = _zero_feeds(fn, operator.index(batch_rows))
    return client.run(_warm_worker, FunctionTask(fn), feeds)


services.lend(map_blocks=map_blocks)  # what Function.to_dask calls
