"""Tiered execution: a function's first calls run while its kernels compile.

Compiling a plan's kernels costs numba's start (~0.5 s per process) plus the compile of
each fused loop (tenths of a second each with an empty cache). A new function
therefore starts in *tier 0*: its plan is interpreted step by step with each op's
NumPy ``reference`` (the same references the test suite checks the kernels against),
while a background thread builds the compiled runner for the same shapes, runs it once
to compile its kernels and swaps it in. The compiling itself happens in a child process
where it can (``runtime.compile_worker``: numba holds the GIL while it compiles), and
the thread then loads the kernels from the disk caches the child filled. Later calls
with those shapes take the compiled runner (*tier 1*); a function that has compiled
once builds the runners of new shapes at once, as before.

Results of the two tiers agree to the tolerance the test suite holds kernels to, not
bit for bit (NumPy's ``exp`` and pairwise sums against the kernels' ``vmath`` and
float64 accumulators). Random draws are bit-identical: tier 0 draws from the same
counter-based generator with the same counters, and the background run that compiles
the kernels draws without moving them (a dry run). ``SYMGRAPH_TIERED=0`` or
``symgraph.config.set_tiered(False)`` compiles before the first call instead.

Rules that keep it safe:

* ops whose kernels compile nothing (matmul, convolutions, pooling: ``extra["tier0"]``
  in the op registry) run those kernels in tier 0 instead of their references;
* functions that print (``K.print_tensor``) never run tier 0 (the printing is the
  kernel's effect; it would print twice or not at all);
* the compiling thread is a daemon; before a ``fork`` the process waits for running
  compiles (a child must not inherit numba's compiler lock half-held), and at
  interpreter exit for those running in this process (LLVM must not run while the
  interpreter tears down); a compile still in its child process is left to the child,
  which fills the caches on its own (``runtime.compile_worker``);
* a compile that fails is not hidden: the next call builds the compiled runner in the
  calling thread, where the same error is raised.
"""

from __future__ import annotations

import atexit
import os
import threading

import numpy as np

from ..core.tensor import Placeholder, Variable
from ..errors import FeedError, ShapeError, created_at
from ..kernels.cache import NotCachedError, cached_only
from ..ops.elementwise import numpy_function
from .memory import retain_freed_memory

__all__ = ["DRY_RUN", "TierUp", "build_interpreter", "tier_zero_runner", "wait_all"]

#: ``.on`` is true in a thread running a plan only to compile its kernels: stateful
#: kernels (random draws) then leave the evaluation counters where they are
DRY_RUN = threading.local()

_RUNNING: set = set()  # compile threads in flight
_RUNNING_LOCK = threading.Lock()


def wait_all(timeout: float | None = None) -> bool:
    """Wait for every background compile of this process; True when none is left.

    Args:
        timeout: seconds to wait in all (None: as long as it takes).

    Returns:
        Whether all compiles finished.

    Example:
        >>> from symgraph.runtime.tiered import wait_all
        >>> wait_all()
        True
    """
    me = threading.current_thread()
    with _RUNNING_LOCK:
        threads = [t for t in _RUNNING if t is not me]
    for thread in threads:
        thread.join(timeout)
    with _RUNNING_LOCK:
        return not any(t.is_alive() for t in _RUNNING if t is not me)


# Compile threads that are waiting for their child process (compile_worker): at exit
# they are left to it. The child fills the caches on its own, so the process ends
# without waiting for kernels it will not run; a thread compiling in this process
# (numba, which must not be cut off by the interpreter's shutdown) is waited for.
_IN_CHILD: set = set()
_EXIT = {"started": False}


class _AbandonedError(Exception):
    """Raised in a compile thread whose child finished after the process began to exit."""


def _compile_in_child(fn, feeds) -> None:
    from .compile_worker import compile_in_child

    me = threading.current_thread()

    def started() -> bool:  # the child runs: wait for it unless the process is exiting
        with _RUNNING_LOCK:
            if _EXIT["started"]:
                return False
            _IN_CHILD.add(me)
            return True
    try:
        compile_in_child(fn, feeds, started)  # fills the caches without taking the GIL
    finally:
        with _RUNNING_LOCK:
            _IN_CHILD.discard(me)
            exiting = _EXIT["started"]
    if exiting:  # nothing will call this function again: load no kernels
        raise _AbandonedError()


def _at_exit() -> None:
    with _RUNNING_LOCK:
        _EXIT["started"] = True
        left = set(_IN_CHILD)
        threads = [t for t in _RUNNING if t not in left]
    for thread in threads:
        thread.join()


def _before_fork() -> None:
    wait_all()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork)
atexit.register(_at_exit)


class TierUp:
    """The tier state of one function: which shapes are compiling or compiled.

    ``start(key, build)`` runs ``build()`` in a background thread; ``build`` returns
    the compiled runner (after running it once) or raises. ``done(key)`` says whether
    the runner of ``key`` has been installed by the owner's ``install`` callback.
    """

    def __init__(self, install):
        self._install = install
        self._lock = threading.Lock()
        self._threads: dict = {}  # key -> thread
        self.failed: dict = {}  # key -> the exception a background compile raised
        self.hot = False  # a compiled runner was installed once: build new shapes at once

    def start(self, key, build) -> None:
        """Compile ``key`` in the background (once; later calls do nothing)."""
        with self._lock:
            if key in self._threads or key in self.failed:
                return
            thread = threading.Thread(target=self._run, args=(key, build), daemon=True,
                                      name="symgraph-compile")
            self._threads[key] = thread
            with _RUNNING_LOCK:
                _RUNNING.add(thread)
        thread.start()

    def _run(self, key, build) -> None:
        try:
            COMPILING.on = True
            DRY_RUN.on = True
            runner = build()
        except BaseException as exc:  # the caller's thread raises it again
            self.failed[key] = exc
        else:
            self._install(key, runner)
            self.hot = True
        finally:
            DRY_RUN.on = False
            COMPILING.on = False
            with _RUNNING_LOCK:
                _RUNNING.discard(threading.current_thread())

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for this function's background compiles; True when none is left."""
        for thread in list(self._threads.values()):
            thread.join(timeout)
        return not any(t.is_alive() for t in self._threads.values())


#: ``.on`` in a background compile thread: functions called from there (loop bodies,
#: shape functions) compile at once instead of starting tiers of their own
COMPILING = threading.local()


def in_compile_thread() -> bool:
    """True in a background compile thread."""
    return getattr(COMPILING, "on", False)


#: ``.on`` while this thread runs a tier-0 interpreter: the step functions of loop ops
#: it runs are interpreted too (``Function(inner=True)``)
INTERPRETING = threading.local()


def in_interpreter() -> bool:
    """True while this thread runs a tier-0 interpreter."""
    return getattr(INTERPRETING, "on", False)


def tier_zero_allowed(plan) -> bool:
    """Whether ``plan`` may run tier 0: not when a step has an effect a user sees."""
    for step in plan.steps:
        if step.kind == "op" and step.node.op.name == "print_tensor":
            return False
    return True


# -- tier 0: the plan interpreted with NumPy references ---------------------------------
def tier_zero_runner(fn, key, feeds: list, values):
    """The tier-0 runner of function ``fn`` for the shapes ``key``: its interpreter,
    which the first time also starts the background compile once it has returned (the
    first result never waits for it). Functions without inputs (``K.eval``'s) start it
    when called a second time; loop bodies (``inner``) never (their caller compiles them).

    Args:
        fn: the :class:`~symgraph.runtime.function.Function`.
        key: the feed shapes (and data-dependent shape values) the runner is for.
        feeds: the checked feeds of the call (copied for the compile's warm-up run).
        values: computed values that data-dependent shapes read, or None.

    Returns:
        ``runner(*feeds)`` with the contract of :func:`build_interpreter`.
    """
    interpreter = build_interpreter(fn.plan, fn._shapes_for(feeds, values),
                                    [ph.id for ph in fn.inputs],
                                    {**fn._constants, **fn._defaults}, fn._output_specs,
                                    fn._kept_ids)
    if fn._inner:
        return interpreter
    copies = [np.array(a, copy=True) for a in feeds]  # the caller may reuse its buffers

    def compile_and_warm():
        try:  # every kernel in the disk caches: load them here, no child needed
            with cached_only():
                return warm(fn._build_compiled(key, copies, values))
        except NotCachedError:
            pass
        _compile_in_child(fn, copies)
        return warm(fn._build_compiled(key, copies, values))

    def warm(runner):
        try:  # compiles the kernels; a dry run (DRY_RUN)
            runner(*copies)
        except (FeedError, ShapeError, ValueError, ArithmeticError):
            pass  # these values' error (tier 0 raised it too): later kernels compile
        return runner

    def start_then_interpret(*args):
        fn._tier.start(key, compile_and_warm)
        return interpreter(*args)

    def first_call(*args):
        result = interpreter(*args)
        if fn.inputs:  # later calls just interpret, until the compile installs its
            # runner (set first: a compile that loads cached kernels can finish at once)
            fn._interpreters[key] = interpreter
            fn._tier.start(key, compile_and_warm)
        else:  # K.eval-like: compile only when it is asked for again
            fn._interpreters[key] = start_then_interpret
        return result
    return first_call

def build_interpreter(plan, shapes: dict, feed_ids: list, constants: dict,
                      output_specs: list, kept_ids: list):
    """``runner(*feeds)`` computing the plan with each op's NumPy reference, with the
    contract of ``runtime.runner.build_runner``: ``outputs`` or ``(outputs, kept)``;
    outputs and kept values are fresh arrays nobody else holds.

    Args:
        plan: the compiled plan (its steps and fused groups give the order).
        shapes: concrete shape of every node the plan needs (``Function._concrete_shapes``).
        feed_ids: ids of the placeholders, in the order the runner takes their values.
        constants: constant node id -> value, and the defaults of unfed placeholders.
        output_specs: ``(node id, how, dtype)`` per output (``how`` is not used: every
            output is checked for sharing instead).
        kept_ids: ids of further values the caller needs (update values, assigns).

    Returns:
        The interpreter, a plain Python function.
    """
    retain_freed_memory()  # as the compiled runners do (runtime.memory)
    fed_index = {node_id: k for k, node_id in enumerate(feed_ids)}
    program = []  # (node id, how, payload) in execution order
    produced: set = set()
    consts: dict = {}  # key (< 0) -> an array made once that steps read like a value

    def const(array) -> int:
        key = -1 - len(consts)
        consts[key] = array
        return key

    def source(node) -> int:
        """The key a step reads ``node`` under: a computed value, or one made here."""
        if node.id in produced or node.id in fed_index:
            return node.id
        if node.op.name == "fill":  # read as a scalar by fused loops: never a step
            value = np.asarray(node.attrs["value"], dtype=node.dtype)
            return const(np.broadcast_to(value, tuple(shapes[node.id])))
        if node.id in constants:
            return const(constants[node.id])
        if hasattr(node, "value") and not isinstance(node, (Variable, Placeholder)):
            return const(node.value)
        raise ShapeError(f"internal error: tier 0 reached {node.op.name} '{node.name}' "
                         "before it was computed")

    def shape_only(node) -> int:
        """The key of what a step gets for an input it reads the shape of, not the data."""
        return const(np.broadcast_to(np.zeros((), dtype=node.dtype), tuple(shapes[node.id])))

    def add_op(node):
        op = node.op
        route = op.extra.get("tier0")
        out_shape = tuple(shapes[node.id])
        raw = numpy_function(node)
        if route is not None:  # a kernel that compiles nothing: its inputs as it takes them
            run = op.kernel if route == "kernel" else route
            keys = [source(s) if op.reads_data(i) else const(None)
                    for i, s in enumerate(node.inputs)]
            in_shapes = [tuple(shapes[s.id]) for s in node.inputs]
            program.append((node.id, "kernel", (node, run, keys, in_shapes, out_shape)))
        elif raw is not None:
            # an elementwise NumPy function: called directly, ~3x less overhead per step
            # (what recurrent step functions, dozens of small ops each, spend time on)
            keys = [source(s) for s in node.inputs]
            program.append((node.id, "ufunc", (node, raw, keys, out_shape,
                                               np.dtype(node.dtype))))
        else:
            keys = [source(s) if op.reads_data(i) else shape_only(s)
                    for i, s in enumerate(node.inputs)]
            program.append((node.id, "op", (node, keys, out_shape)))
        produced.add(node.id)

    for step in plan.steps:
        node, kind = step.node, step.kind
        if kind == "placeholder" and node.id in fed_index:
            produced.add(node.id)
        elif kind in ("placeholder", "constant"):
            program.append((node.id, "array", constants[node.id]))
            produced.add(node.id)
        elif kind == "variable":
            program.append((node.id, "variable", node))
            produced.add(node.id)
        elif kind == "fill":
            value, dtype = node.attrs["value"], np.dtype(node.dtype)
            program.append((node.id, "fill", (tuple(shapes[node.id]), value, dtype)))
            produced.add(node.id)
        elif kind == "group":
            for member in step.members:
                add_op(member)
        else:
            add_op(node)
    outputs = [(node_id, np.dtype(dtype)) for node_id, _how, dtype in output_specs]
    kept = list(kept_ids)
    graph = plan.steps[0].node.graph if plan.steps else None

    def interpret(*feeds):
        values = consts.copy()
        for node_id, k in fed_index.items():
            values[node_id] = feeds[k]
        stored = {id(v) for v in feeds}  # arrays a result must not be handed out as
        outer = getattr(INTERPRETING, "on", False)
        INTERPRETING.on = True
        try:
            with np.errstate(all="ignore"):  # the kernels do not warn either
                _interpret(program, values, stored, graph)
        finally:
            INTERPRETING.on = outer
        results = [_fresh(values[i], dtype, stored) for i, dtype in outputs]
        if not kept:
            return results
        return results, tuple(_fresh(values[i], None, stored) for i in kept)
    return interpret


def _interpret(program, values, stored, graph) -> None:
    for node_id, how, payload in program:
        if how == "ufunc":
            node, raw, keys, out_shape, dtype = payload
            try:
                out = raw(*[values[k] for k in keys])
            except (IndexError, ValueError, ZeroDivisionError) as exc:
                raise ShapeError(f"{node.op.name} '{node.name}'{created_at(node)}: "
                                 f"{exc}") from None
            if type(out) is not np.ndarray:  # NumPy scalars from 0-d operands
                out = np.asarray(out)
            if out.dtype != dtype:
                out = out.astype(dtype)
            if out.shape != out_shape:
                _wrong_shape(node, "reference", out.shape, out_shape)
            values[node_id] = out
        elif how == "op":
            values[node_id] = _run_reference(graph, *payload, values)
        elif how == "kernel":
            values[node_id] = _run_kernel(*payload, values)
        elif how == "variable":
            values[node_id] = payload.value
            stored.add(id(values[node_id]))
        elif how == "fill":
            shape, value, dtype = payload
            values[node_id] = np.full(shape, value, dtype)
        else:
            values[node_id] = payload
            stored.add(id(payload))


def _run_reference(graph, node, keys, out_shape, values):
    attrs = node.attrs
    if node.op.extra.get("stateful"):  # random draws: the same counters as the kernels
        with graph.lock:
            counter = graph.rng_counters.get(node.id, 0)
            graph.rng_counters[node.id] = counter + 1
        attrs = dict(attrs, counter=counter)
    return _checked(node, "reference", out_shape, node.op.reference,
                    [values[k] for k in keys], attrs, out_shape, node.dtype)


def _run_kernel(node, run, keys, in_shapes, out_shape, values):
    return _checked(node, "kernel", out_shape, run, [values[k] for k in keys],
                    in_shapes, node.attrs, out_shape, node.dtype)


def _checked(node, what: str, out_shape: tuple, run, *args):
    """``run(*args)`` as an array of ``node``'s dtype and ``out_shape``; its errors, and
    a wrong shape, name the node and the user's line."""
    try:
        out = np.asarray(run(*args))
    except (IndexError, ValueError, ZeroDivisionError) as exc:
        raise ShapeError(f"{node.op.name} '{node.name}'{created_at(node)}: {exc}") from None
    if out.dtype != node.dtype:
        out = out.astype(node.dtype)
    if out.shape != out_shape:
        _wrong_shape(node, what, out.shape, out_shape)
    return out


def _wrong_shape(node, what: str, shape: tuple, expected: tuple):
    raise ShapeError(f"{node.op.name} '{node.name}'{created_at(node)}: its {what} "
                     f"produced shape {shape}, expected {expected}")


def _fresh(value, dtype, stored: set):
    """``value`` as an array the caller may keep and write: copied when it is a view,
    read-only, or one of the call's inputs or stored values."""
    if dtype is not None and value.dtype != dtype:
        return value.astype(dtype)
    if value.base is not None or not value.flags.writeable or id(value) in stored or \
            not value.flags.c_contiguous:
        return np.array(value, copy=True)
    return value
