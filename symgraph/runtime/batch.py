"""Batched runs in one process: ``Function.map`` and ``Function.predict``.

Each batch is an ordinary call of the compiled function (``f(feed)``), run on a
thread pool: the kernels are numba ``nogil`` loops and BLAS calls, which release
the GIL, so batches overlap on the cores. There is no second execution path.

* :func:`map_batches` consumes an iterable of feeds lazily, keeps at most
  ``2 x workers`` batches in flight, and yields each batch's results in order
  (``ordered=False``: as they complete).
* :func:`predict` splits arrays along axis 0 and writes each batch's outputs into
  result arrays allocated once, before any batch runs, from the function's own
  run-time shape propagation (no concatenation copy).

Threads (see :mod:`symgraph.runtime.threads`): ``threads=None`` runs as many
batches at once as there are cores available; each call's numba kernels and BLAS
run on one thread, so ``threads`` is the number of threads in all, they never
oversubscribe the cores and the results never depend on ``threads``.

Order-dependent functions run their batches one after another, in order: a
function with updates (each step reads the values the previous step assigned) and
a function with random ops (each evaluation of a random node takes the next value
of its counter, ``graph.rng_counters``, at launch; concurrent batches would take
them in whatever order they start). ``threads=None`` (or 1) does that; an explicit
``threads > 1`` is refused with a ``ValueError``. Their results then equal those of
a serial loop ``[f(b) for b in batches]`` started from the same counters.
"""

from __future__ import annotations

import contextlib
import operator
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import numpy as np

from .. import config
from ..core.shapes import shape_str
from ..core.tensor import Tensor
from ..errors import DTypeError, FeedError, ShapeError, docs_hint
from . import threads as _threads
from .feeds import check_feed
from .progress import make_bar, wants_bar

__all__ = ["DEFAULT_BATCH_SIZE", "BatchIterator", "check_batch_size", "check_threads",
           "map_batches", "order_dependence", "predict", "workers_for"]

#: rows per batch of ``predict`` by default: large enough that a call's fixed cost
#: (feed checks, dispatch) is small next to its kernels, small enough that a few
#: batches in flight stay in the caches of a typical MLP's layers
DEFAULT_BATCH_SIZE = 1024


# -- arguments ---------------------------------------------------------------------------------
def check_threads(threads) -> int | None:
    """Return ``threads`` as an int ``>= 1`` (``None`` stays ``None``).

    Raises:
        TypeError: for a non-integer (``bool`` included).
        ValueError: for ``threads < 1``.
    """
    if threads is None:
        return None
    return _positive_int(threads, "threads", " or None")


def check_batch_size(batch_size) -> int:
    """Return ``batch_size`` as an int ``>= 1``.

    Raises:
        TypeError: for a non-integer (``bool`` included).
        ValueError: for ``batch_size < 1``.
    """
    return _positive_int(batch_size, "batch_size")


def _positive_int(value, name: str, alternative: str = "") -> int:
    if isinstance(value, bool):  # an int subclass, but never meant as a count
        raise TypeError(f"{name} must be an int >= 1{alternative}, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int >= 1{alternative}, got {value!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def _random_node(nodes, seen: set) -> object | None:
    """A stateful (random) node among ``nodes`` or inside their loop bodies."""
    for node in nodes:
        if node.id in seen:
            continue
        seen.add(node.id)
        if node.op.extra.get("stateful"):
            return node
        for value in node.attrs.values():
            inner = getattr(value, "nodes", None)  # a LoopBody (scan, map_fn, rnn...)
            if inner is not None and hasattr(value, "randoms"):
                found = _random_node(inner, seen)
                if found is not None:
                    return found
    return None


def order_dependence(fn) -> str | None:
    """Why ``fn``'s results depend on the order of its calls (``None`` if they don't):
    it has updates, or it evaluates a random op."""
    if fn._kept_ids:
        return "has updates (each call reads what the previous one assigned)"
    nodes = []
    for step in fn.plan.steps:
        nodes.append(step.node)
        nodes.extend(step.members)
    node = _random_node(nodes, set())
    if node is not None:
        return (f"evaluates the random op '{node.name}' (each call draws the next numbers "
                "of its counter)")
    return None


def workers_for(fn, threads: int | None, n_batches: int | None = None) -> int:
    """How many batches of ``fn`` run at once: ``threads`` (``None``: the cores
    available), at most ``n_batches``, and 1 for an order-dependent function.

    Raises:
        ValueError: ``threads > 1`` for an order-dependent function.
    """
    threads = check_threads(threads)
    workers = _threads.available_cores() if threads is None else threads
    reason = order_dependence(fn)
    if reason is not None:
        if threads is not None and threads > 1:
            raise ValueError(
                f"threads={threads}: {_label(fn)} {reason}, so its batches must run one "
                "after another in order; pass threads=1 (or leave threads=None); "
                f"{docs_hint('batch-evaluation', 'threads-the-policy-and-why')}")
        workers = 1
    if n_batches is not None:
        workers = max(1, min(workers, n_batches))
    return workers


def _label(fn) -> str:
    return f"function '{fn.name}'" if fn.name else "this function"


# -- running batches ---------------------------------------------------------------------------
def _name_batch(exc: BaseException, where: str) -> None:
    """Name the failed batch on the exception itself (its type stays the same, so
    ``except FeedError`` and the like keep working): a note (Python >= 3.11, shown
    under the traceback) and, where notes don't exist, a prefix of its message."""
    with contextlib.suppress(AttributeError, TypeError):
        exc.batch = where
    if hasattr(exc, "add_note"):
        exc.add_note(f"(raised by {where})")
    elif exc.args and isinstance(exc.args[0], str):
        exc.args = (f"{where}: {exc.args[0]}", *exc.args[1:])


def _run_jobs(call: Callable, jobs: Iterator, policy: _threads.ThreadPolicy, ordered: bool,
              describe: Callable[[int, object], str]) -> Iterator[tuple]:
    """Yield ``(index, rows, job, call(job))`` for each ``(index, rows, job)`` of
    ``jobs``, under ``policy``'s limits; a failing call raises its own exception,
    named by ``describe(index, job)``."""
    with _threads.blas_threads(policy.blas_threads):
        if policy.workers == 1:
            for index, rows, job in jobs:
                previous = config.set_kernel_thread_cap(policy.kernel_threads)
                try:
                    result = call(job)
                except Exception as exc:
                    _name_batch(exc, describe(index, job))
                    raise
                finally:
                    config.set_kernel_thread_cap(previous)
                yield index, rows, job, result
            return
        yield from _run_threaded(call, jobs, policy, ordered, describe)


def _run_threaded(call, jobs, policy, ordered, describe):
    executor = ThreadPoolExecutor(policy.workers, thread_name_prefix="symgraph-batch",
                                  initializer=config.set_kernel_thread_cap,
                                  initargs=(policy.kernel_threads,))
    window = 2 * policy.workers  # in flight: running, and queued to start at once
    pending: deque = deque()  # (index, rows, job, future), in submission order
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < window:
                try:
                    index, rows, job = next(jobs)
                except StopIteration:
                    exhausted = True
                    break
                pending.append((index, rows, job, executor.submit(call, job)))
            if not pending:
                return
            if ordered:
                index, rows, job, future = pending.popleft()
            else:
                if not any(entry[3].done() for entry in pending):
                    wait([entry[3] for entry in pending], return_when=FIRST_COMPLETED)
                k = next(k for k, entry in enumerate(pending) if entry[3].done())
                index, rows, job, future = pending[k]
                del pending[k]
            try:
                result = future.result()
            except Exception as exc:
                _name_batch(exc, describe(index, job))
                raise
            del future
            yield index, rows, job, result
    finally:  # an error, the end, or the consumer let go (break, close, garbage)
        for entry in pending:
            entry[3].cancel()
        executor.shutdown(wait=True, cancel_futures=True)


class BatchIterator(Iterator):
    """The results of :func:`map_batches`, one per batch.

    Iterate it, or use it as a context manager; :meth:`close` (also called when it is
    garbage-collected, e.g. after ``break``) cancels the batches not started yet,
    waits for the running ones (at most ``threads``) and stops the thread pool.
    """

    def __init__(self, gen: Iterator):
        self._gen = gen

    def __iter__(self) -> BatchIterator:
        return self

    def __next__(self):
        return next(self._gen)

    def close(self) -> None:
        """Stop: run no more batches and release the threads."""
        self._gen.close()

    def __enter__(self) -> BatchIterator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _rows(fn, feed) -> int:
    """Rows of a feed, for progress: dim 0 of its first input (1 when it has none)."""
    first = feed
    if isinstance(feed, (list, tuple)):
        first = feed[0] if feed else None
    elif isinstance(feed, dict):
        first = feed.get(fn.inputs[0]) if fn.inputs else None
    if first is None:
        return 1
    shape = getattr(first, "shape", None)
    if shape is None:
        try:
            shape = np.shape(first)
        except Exception:
            return 1
    return int(shape[0]) if shape else 1


def map_batches(fn, batches: Iterable, *, threads: int | None = None,
                progress: bool | None = None, ordered: bool = True,
                single: bool = False) -> BatchIterator:
    """Run ``fn`` on every feed of ``batches`` on a thread pool (see ``Function.map``).

    ``single``: yield ``results[0]`` (a ``_Single`` function's result) for each batch.
    Arguments are checked here; the batches run as the iterator is consumed.
    """
    threads = check_threads(threads)
    if isinstance(batches, np.ndarray):
        raise TypeError("map takes an iterable of feeds (one per batch); to split one "
                        "array into batches use predict(x, batch_size=...); "
                        f"{docs_hint('batch-evaluation', 'api')}")
    try:
        items = iter(batches)
    except TypeError:
        raise TypeError(f"batches must be an iterable of feeds, got "
                        f"{type(batches).__name__}") from None
    if not isinstance(ordered, bool):
        raise TypeError(f"ordered must be True or False, got {ordered!r}")
    show = wants_bar(progress)
    try:
        n_batches = len(batches)
    except TypeError:
        n_batches = None
    workers = workers_for(fn, threads, n_batches)
    total = None
    if show and isinstance(batches, (list, tuple)):
        total = sum(_rows(fn, feed) for feed in batches)
    name = fn.name or "Function"
    return BatchIterator(_map(fn, items, workers, ordered, show, total, name, single))


def _map(fn, items, workers, ordered, show, total, name, single):
    jobs = ((index, _rows(fn, feed), feed) for index, feed in enumerate(items))
    bar = make_bar(show, total, f"{name}.map")
    runs = _run_jobs(fn, jobs, _threads.policy_for(workers), ordered,
                     lambda index, feed: f"batch {index} of {name}.map")
    try:
        with contextlib.closing(runs):
            for _, rows, _, result in runs:
                bar.update(rows)
                yield result[0] if single else result
    finally:
        bar.close()


# -- predict -----------------------------------------------------------------------------------
class _Probe:
    """A fed value for shape propagation: a shape and no data."""

    __slots__ = ("shape",)

    def __init__(self, shape: tuple):
        self.shape = shape


_FEEDS = docs_hint("errors", "feeds")  # what predict splits, and the fixes


def _input_arrays(fn, inputs) -> list:
    """``inputs`` as one array per input placeholder, checked."""
    names = ", ".join(f"'{ph.name}'" for ph in fn.inputs)
    if not fn.inputs:
        raise FeedError("predict splits its inputs along axis 0, but this function takes "
                        f"no inputs; call it directly; {_FEEDS}")
    if isinstance(inputs, dict):
        missing = [ph.name for ph in fn.inputs if ph not in inputs]
        if missing:
            raise FeedError(f"inputs: no value for placeholder(s) {missing}; {_FEEDS}")
        values = [inputs[ph] for ph in fn.inputs]
    elif isinstance(inputs, (list, tuple)):
        values = list(inputs)
    elif inputs is None:
        values = []
    else:
        values = [inputs]
    if not values:
        raise FeedError(f"inputs is empty: this function takes {len(fn.inputs)} input(s) "
                        f"({names}), one array each, split along axis 0; {_FEEDS}")
    if len(values) != len(fn.inputs):
        raise FeedError(f"inputs: this function takes {len(fn.inputs)} input(s) ({names}), "
                        f"got {len(values)}; {_FEEDS}")
    arrays = []
    for ph, value in zip(fn.inputs, values):
        if isinstance(value, Tensor):
            check_feed(ph, value)  # raises: a symbolic tensor is no feed
        array = value if isinstance(value, np.ndarray) else np.asarray(value)
        if array.ndim == 0:
            raise FeedError(f"input for placeholder '{ph.name}' is 0-d: predict splits "
                            f"every input along axis 0, so each needs a batch axis; {_FEEDS}")
        arrays.append(array)
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        detail = ", ".join(f"'{ph.name}' has {n}" for ph, n in zip(fn.inputs, lengths))
        odd = next(ph.name for ph, n in zip(fn.inputs, lengths) if n != lengths[0])
        raise FeedError(f"inputs: every input is split along axis 0 into the same batches, "
                        f"so all need the same number of rows; placeholder '{odd}' differs "
                        f"({detail}); {_FEEDS}")
    return arrays


def _check_fixed_batch_dims(fn, sizes) -> None:
    for ph in fn.inputs:
        if ph.shape and ph.shape[0] is not None and any(s != ph.shape[0] for s in sizes):
            raise FeedError(
                f"placeholder '{ph.name}' has a fixed batch dimension {ph.shape[0]} "
                f"({shape_str(ph.shape)}) but predict would feed it batches of "
                f"{sorted(set(sizes))} rows; pass a batch_size that divides the rows, or "
                f"build the placeholder with None as its first dim; {_FEEDS}")


def _output_layout(fn, arrays, n: int, batch: int) -> list[tuple[tuple, np.dtype]]:
    """``(shape for n rows, dtype)`` of each output, from run-time shape propagation
    over probes of the batch sizes predict feeds (no data is touched). Where predict
    feeds one size only, a probe of one row more (when the graph accepts it) tells a
    batch axis from a dim that happens to equal the batch."""
    last = n % batch
    needed = sorted({batch, last} - {0}) if n else []
    witnesses = ([] if n else [0]) + ([max(needed, default=0) + 1] if len(needed) < 2 else [])
    probed: dict[int, dict] = {}
    failure = None
    for rows in needed + witnesses:
        feeds = {ph.id: _Probe((rows, *a.shape[1:])) for ph, a in zip(fn.inputs, arrays)}
        try:
            probed[rows] = fn._concrete_shapes({**feeds, **fn._defaults})
        except ShapeError as exc:
            if rows in needed:
                raise  # f itself could not run these batches
            failure = exc  # only a witness (e.g. a fixed batch dim)
    if not probed:
        raise failure
    layout = []
    for k, (node, tensor) in enumerate(zip(fn._output_nodes, fn.outputs)):
        trailing = None
        for rows, shapes in probed.items():
            shape = tuple(shapes.get(node.id, node.shape))
            if not shape or shape[0] != rows or (trailing is not None and
                                                  shape[1:] != trailing):
                raise ShapeError(
                    f"output {k} '{tensor.name}' has shape {shape_str(shape)} for a batch "
                    f"of {rows} rows: predict stacks each output's batches along axis 0, "
                    "so every output needs the batch as its first dim (use f.map for "
                    "per-batch values such as a mean); "
                    f"{docs_hint('errors', 'shapes')}")
            trailing = shape[1:]
        layout.append(((n, *trailing), fn._output_specs[k][2]))
    return layout


def predict(fn, inputs, *, batch_size: int = DEFAULT_BATCH_SIZE, threads: int | None = None,
            progress: bool | None = None, single: bool = False):
    """Run ``fn`` over ``inputs`` in batches of ``batch_size`` rows (see
    ``Function.predict``). Returns a list of arrays, or one array with ``single``."""
    batch_size = check_batch_size(batch_size)
    threads = check_threads(threads)
    show = wants_bar(progress)
    arrays = _input_arrays(fn, inputs)
    n = len(arrays[0])
    batch = min(batch_size, n) if n else batch_size
    last = n % batch
    if n:
        _check_fixed_batch_dims(fn, [batch] + ([last] if last else []))
    for ph, array in zip(fn.inputs, arrays):  # rank, dims, dtype: f's own feed checks
        check_feed(ph, array[:batch])
    layout = _output_layout(fn, arrays, n, batch)
    outputs = [np.empty(shape, dtype) for shape, dtype in layout]
    n_batches = -(-n // batch)
    workers = workers_for(fn, threads, max(n_batches, 1))
    if n:
        name = fn.name or "Function"

        def jobs():
            for index, lo in enumerate(range(0, n, batch)):
                hi = min(lo + batch, n)
                yield index, hi - lo, (lo, hi)

        def call(job):
            lo, hi = job
            results = fn([a[lo:hi] for a in arrays])
            for k, (out, result) in enumerate(zip(outputs, results)):
                if result.shape != (hi - lo, *out.shape[1:]):
                    raise ShapeError(f"output {k} '{fn.outputs[k].name}': batch rows "
                                     f"{lo}:{hi} gave shape {shape_str(result.shape)}, "
                                     f"expected {shape_str((hi - lo, *out.shape[1:]))}")
                if result.dtype != out.dtype:
                    raise DTypeError(f"output {k} '{fn.outputs[k].name}': batch rows "
                                     f"{lo}:{hi} gave {result.dtype}, expected {out.dtype}")
                out[lo:hi] = result
            return None

        bar = make_bar(show, n, f"{name}.predict")
        runs = _run_jobs(call, jobs(), _threads.policy_for(workers), False,
                         lambda index, job: f"batch {index} (rows {job[0]}:{job[1]}) of "
                                            f"{name}.predict")
        try:
            with contextlib.closing(runs):
                for _, rows, _, _ in runs:
                    bar.update(rows)
        finally:
            bar.close()
    return outputs[0] if single else outputs
