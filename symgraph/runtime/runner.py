"""Turn a plan and one set of concrete shapes into a plain Python function.

A call of a compiled function should cost little more than its kernels. So, once
per distinct set of fed shapes, the plan's steps become the lines of one generated
function: every value is a local variable, every launcher is bound with its shapes,
scalar arguments and dtype checks decided in advance, dead values are ``del``-ed
after their last reader (the memory plan), and the result is returned directly.
No dict of values, no per-step closure calls, no graph or shape work at call time.
"""

from __future__ import annotations

import mmap
import time
from collections import Counter

import numpy as np

from ..errors import DTypeError, ShapeError, created_at
from ..kernels.load import usable_cores as free_cores
from ..ops.elementwise import compute_type, numpy_function
from .memory import retain_freed_memory
from .tiered import DRY_RUN

#: kernel launches per op name since import (for tests and profiling)
LAUNCHES: Counter = Counter()


def build_runner(plan, shapes: dict, feed_ids: list, constants: dict, output_specs: list,
                 kept_ids: list, timings: dict | None = None):
    """Generate ``runner(*feeds) -> (outputs, kept)`` for these concrete ``shapes``
    (just ``outputs`` when ``kept_ids`` is empty).

    Args:
        plan: the compiled plan (steps in execution order, with their frees).
        shapes: concrete shape of every node the plan needs.
        feed_ids: ids of the placeholders, in the order the runner takes their values.
        constants: constant node id -> value, and the defaults of unfed placeholders.
        output_specs: ``(node id, how, dtype)`` per output; ``how`` is 'fresh' (a
            buffer of the call: handed out as it is), 'owned' (copied if read-only)
            or 'copy' (a view of stored data: always copied).
        kept_ids: ids of further values the caller needs (update values, assigns).
        timings: profiling only (``symgraph.inspect.profile``): plan step index -> a
            list; the runner built appends the seconds each of these steps took, per
            call. Without it (every ordinary call) the generated code has no timer.
    """
    retain_freed_memory()  # once per process: no page faults on every call's buffers
    namespace: dict = {"L": LAUNCHES, "copy_out": _copy_out, "empty": np.empty,
                       "unless_writeable": _unless_writeable, "P": time.perf_counter,
                       "contiguous": _contiguous}
    lines = [f"def runner({', '.join(f'v{i}' for i in feed_ids)}):"]
    fed = set(feed_ids)
    maybe_strided = _maybe_strided(plan, shapes)
    reusable = _reusable_buffers(plan)
    # one-element groups skip numba only where array loops compile anyway: a function
    # of scalars alone keeps its loops, the cheapest per call (a+b: ~1.5 us)
    numpy_groups = any(step.kind == "group" and not _numpy_group(step, shapes)
                       for step in plan.steps)
    for node_id, value in constants.items():
        namespace[f"c{node_id}"] = value
    for index, step in enumerate(plan.steps):
        node, kind = step.node, step.kind
        target = f"v{node.id}"
        timed = timings is not None and index in timings
        if timed:
            namespace[f"T{index}"] = timings[index].append
            lines.append("    t_ = P()")
        if kind == "placeholder" and node.id in fed:
            pass
        elif kind in ("placeholder", "constant"):  # an unfed placeholder: its default
            lines.append(f"    {target} = c{node.id}")
        elif kind == "variable":
            namespace[f"n{node.id}"] = node
            lines.append(f"    {target} = n{node.id}.value")
        elif kind == "fill":
            namespace[f"k{node.id}"] = _fill(node, shapes[node.id])
            lines.append(f"    {target} = k{node.id}()")
        elif kind == "group":
            group = _group_lines(step, shapes, namespace, maybe_strided, reusable,
                                 numpy_groups)
            if any(m.op.name == "power" and m.dtype.startswith(("int", "uint"))
                   for m in step.members):  # its kernel may raise: name the node
                namespace[f"e{node.id}"] = _value_error(node)
                group = ["    try:", *("    " + line for line in group),
                         "    except ValueError as exc:", f"        e{node.id}(exc)"]
            lines += group
            lines.append(f"    L[{node.op.name!r}] += 1")
        else:
            namespace[f"k{node.id}"] = _op_launcher(node, shapes)
            args = ", ".join(f"v{s.id}" if node.op.reads_data(i) else "None"
                             for i, s in enumerate(node.inputs))
            lines.append(f"    {target} = k{node.id}({args})")
            lines.append(f"    L[{node.op.name!r}] += 1")
        if timed:
            lines.append(f"    T{index}(P() - t_)")
        if step.free_after:
            lines.append("    del " + ", ".join(f"v{i}" for i in step.free_after))
    outputs = []
    for node_id, how, dtype in output_specs:
        if how == "fresh":
            outputs.append(f"v{node_id}")
        else:
            namespace[f"d{node_id}"] = dtype
            outputs.append(f"{'copy_out' if how == 'copy' else 'unless_writeable'}"
                           f"(v{node_id}, d{node_id})")
    kept = "".join(f"v{i}, " for i in kept_ids)
    if kept_ids:
        lines.append(f"    return [{', '.join(outputs)}], ({kept})")
    else:
        lines.append(f"    return [{', '.join(outputs)}]")
    exec(compile("\n".join(lines) + "\n", "<symgraph runner>", "exec"), namespace)
    runner = namespace["runner"]
    # what the memory plan decided, for Function.memory_plan: result id -> the id of
    # the dead input whose buffer it overwrites
    runner.reused = namespace.get("reused", {})
    return runner


def build_entry(feed_specs: list, runner):
    """``entry(inputs) -> outputs`` (``runner`` of a function that updates nothing),
    or None when ``inputs`` is not a list of arrays (or, for 0-d placeholders, NumPy
    scalars of their dtype) with exactly the placeholders' (fully known) shapes, dtypes
    and C layout: then
    the caller's general path converts or explains. The checks are unrolled into
    straight-line code with the expected values bound as globals."""
    namespace = {"runner": runner, "ndarray": np.ndarray, "asarray": np.asarray}
    names = [f"x{j}" for j in range(len(feed_specs))]
    checks, scalars = [], []
    for j, (_, dtype, shape) in enumerate(feed_specs):
        namespace[f"D{j}"], namespace[f"S{j}"] = dtype, tuple(shape)
        if tuple(shape) == ():  # a NumPy scalar of the dtype (np.float32(1.5)) is a 0-d feed
            namespace[f"T{j}"] = dtype.type
            scalars.append(f"        if type(x{j}) is T{j}:\n            x{j} = asarray(x{j})\n")
        checks.append(f"type(x{j}) is ndarray and x{j}.dtype is D{j} and x{j}.shape == S{j}"
                      f" and x{j}.flags.c_contiguous")
    unpack = f"        {', '.join(names)}{',' if len(names) == 1 else ''} = inputs\n" \
        if names else ""
    source = (f"def entry(inputs):\n"
              f"    if type(inputs) is list and len(inputs) == {len(names)}:\n"
              f"{unpack}"
              f"{''.join(scalars)}"
              f"        if {' and '.join(checks) or 'True'}:\n"
              f"            return runner({', '.join(names)})\n"
              f"    return None\n")
    exec(compile(source, "<symgraph entry>", "exec"), namespace)
    return namespace["entry"]


def _copy_out(value: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Never hand out views of stored data (variables, constants, feeds)."""
    return np.array(value, dtype=dtype)


def _unless_writeable(value: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return value if value.flags.writeable else np.array(value, dtype=dtype)


#: zero fills of at least this many bytes are mapped, not allocated (see lazy_zeros)
LAZY_ZEROS_MIN = 1 << 22


def lazy_zeros(shape: tuple, dtype: np.dtype) -> np.ndarray:
    """A writable zero array whose pages the OS zeroes on first touch.

    ``np.zeros`` is calloc, which is lazy only while glibc serves the size with a
    fresh mmap; after one such block is freed glibc raises its mmap threshold and the
    next calloc of that size memsets a heap block (16 MB: ~0.3 ms, every call). An
    anonymous mapping is always lazily zeroed and goes back to the OS when the array
    is collected."""
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    return np.frombuffer(mmap.mmap(-1, nbytes), dtype).reshape(shape)


def _fill(node, shape):
    value, dtype = node.attrs["value"], np.dtype(node.dtype)
    if value == 0 and not (isinstance(value, float) and np.signbit(value)):
        if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize >= LAZY_ZEROS_MIN:
            return lambda: lazy_zeros(shape, dtype)
        return lambda: np.zeros(shape, dtype)
    return lambda: np.full(shape, value, dtype)


def _scalar_arg(node):
    dtype = compute_type(node.dtype)
    if node.op.name == "fill":
        return np.dtype(dtype).type(node.attrs["value"])
    return np.dtype(dtype).type(node.value[()])


def _maybe_strided(plan, shapes) -> set:
    """Ids of values that may be strided views at these shapes: outputs of view ops
    (a transpose, a slice, a real broadcast), except those that keep a C-contiguous
    input C-contiguous: ``sum_to`` (the input itself, or a fresh sum), ``reshape``,
    and a ``broadcast_to`` that is the identity at these shapes (a gradient's
    ``sum_to`` read as 'A' kept a 1M-element BatchNormalization loop from
    vectorizing: ~0.9 ms where a 'C' loop takes ~0.3). Everything else is C:
    checked feeds, variables, constants, fills, the buffers kernels allocate. A value
    assumed C that is not takes the kernels' general path (no signature matches)."""
    strided: set = set()
    for step in plan.steps:
        node = step.node
        if step.kind != "op" or node.op.kind != "view":
            continue
        source = node.inputs[0] if node.inputs else None
        keeps = source is not None and source.id not in strided and (
            node.op.name in ("sum_to", "reshape") or (
                node.op.name == "broadcast_to"
                and tuple(shapes[source.id]) == tuple(shapes[node.id])))
        if not keeps:
            strided.add(node.id)
    return strided


#: groups at least this big write into a dead input's buffer when they can
REUSE_MIN_ELEMENTS = 1 << 14


def _reusable_buffers(plan) -> set:
    """Ids of values whose buffer a group may overwrite: computed into a fresh buffer
    of the call (a fused loop, or an op declaring ``fresh_output``), read by exactly
    one step and dead after it (so no view of it exists), and not handed out."""
    readers: dict[int, int] = {}
    for step in plan.steps:
        for src in step.array_inputs:
            readers[src.id] = readers.get(src.id, 0) + 1
    fresh = {s.node.id for s in plan.steps if s.kind == "group" or (
        s.kind == "op" and s.node.op.extra.get("fresh_output"))}
    dead_at = {i for s in plan.steps for i in s.free_after}
    return {i for i in fresh if readers.get(i) == 1 and i in dead_at}


#: small views a fused loop reads (slices, views of views) are made contiguous first (a
#: copy only when strided): its 'C' loop vectorizes, an 'A' one does not, and a few KB
#: copy in well under a microsecond. A GRU step's gates on column slices of one
#: (64, 96) matmul: 52 -> 11 us
CONTIGUOUS_VIEWS_MAX = 1 << 16


def _contiguous(a: np.ndarray) -> np.ndarray:
    """``a`` itself when C-contiguous, else a C copy (0-d stays 0-d, unlike
    ``np.ascontiguousarray``)."""
    return a if a.flags.c_contiguous else a.copy()


def _size(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


#: fused groups on at most this many elements (output and every input) run as NumPy
#: calls instead of a compiled loop (see ``_numpy_group_lines``)
NUMPY_GROUP_MAX = 1


def _numpy_group(step, shapes) -> bool:
    """Whether fused group ``step`` may run as NumPy calls (``_numpy_group_lines``):
    at most ``NUMPY_GROUP_MAX`` elements in its output and each input; float32/float64,
    integer and bool only (float16 loops compute in float32, NumPy in float16); no
    random draws."""
    if not step.members or _size(shapes[step.node.id]) > NUMPY_GROUP_MAX or \
            any(_size(shapes[s.id]) > NUMPY_GROUP_MAX for s in step.array_inputs):
        return False
    return not any(m.dtype == "float16" or m.op.extra.get("stateful") or
                   any(t.dtype == "float16" for t in m.inputs) for m in step.members)


def _numpy_group_lines(step, shapes, namespace) -> list:
    """Source lines computing a one-element group with its ops' NumPy functions.

    A scalar loop saves nothing when it runs, but each costs numba ~0.1 s to compile:
    an optimizer's step-size arithmetic and the metrics' means are ~8 such loops per
    Keras training function (~1.5 s of the Conv2D benchmark's 14 s cold compile). Each
    op rounds to its dtype as in the loop, so results agree with the kernel's to the
    ulp of the elementary functions (add, multiply, divide, sqrt: the same bits). The
    calls run under ``np.errstate(all="ignore")``: kernels neither warn nor raise on
    NaN or overflow, whatever ``np.seterr`` says (~1.6 us, hence only in functions
    that have array loops to compile anyway: see ``build_runner``)."""
    members = step.members
    for s in step.scalar_inputs:
        value = s.attrs["value"] if s.op.name == "fill" else s.value
        namespace[f"c{s.id}"] = np.full(tuple(shapes[s.id]), value, dtype=s.dtype)
    names = {s.id: f"v{s.id}" for s in step.array_inputs}
    names.update({s.id: f"c{s.id}" for s in step.scalar_inputs})
    namespace["errstate"] = np.errstate
    namespace["asarray"] = np.asarray
    lines = ['    with errstate(all="ignore"):']
    for m in members:
        args = ", ".join(names[t.id] for t in m.inputs)
        raw = numpy_function(m)
        namespace[f"t{m.id}"] = np.dtype(m.dtype)
        if raw is not None:
            namespace[f"u{m.id}"] = raw
            lines += [f"        m{m.id} = u{m.id}({args})",
                      f"        if m{m.id}.dtype is not t{m.id}:",
                      f"            m{m.id} = m{m.id}.astype(t{m.id})"]
        else:  # the op's reference wrapper: attributes, reductions
            namespace[f"u{m.id}"] = _reference_call(m, tuple(shapes[m.id]))
            lines.append(f"        m{m.id} = u{m.id}({args})")
        names[m.id] = f"m{m.id}"
    root = step.node.id
    lines.append(f"    v{root} = asarray(m{root})")  # 0-d results of ufuncs are scalars
    lines.append("    del " + ", ".join(f"m{m.id}" for m in members))
    return lines


def _reference_call(node, out_shape):
    """``call(*arrays)``: ``node``'s NumPy reference on these inputs."""
    reference, attrs, dtype = node.op.reference, node.attrs, node.dtype
    return lambda *arrays: reference(list(arrays), attrs, out_shape, dtype)


def _group_lines(step, shapes, namespace, maybe_strided, reusable=frozenset(),
                 numpy_groups: bool = False) -> list:
    """Source lines computing a fused group. One-element groups call NumPy where
    ``numpy_groups`` is set (see ``_numpy_group_lines``); small
    groups whose inputs all have the output's shape call the serial flat kernel inline
    (the common case of small calls); the rest go through the kernel object, which
    picks its loop."""
    node_id = step.node.id
    if numpy_groups and _numpy_group(step, shapes):
        return _numpy_group_lines(step, shapes, namespace)
    kernel = step.kernel
    shape = tuple(shapes[node_id])
    scalars = [_scalar_arg(s) for s in step.scalar_inputs]
    namespace[f"g{node_id}"] = lambda *arrays: kernel(shape, list(arrays), scalars)
    arrays = [f"v{s.id}" for s in step.array_inputs]
    in_shapes = [shapes[s.id] for s in step.array_inputs]
    layouts = ["A" if s.id in maybe_strided else "C" for s in step.array_inputs]
    for j, src in enumerate(step.array_inputs):
        unbroadcast = _unbroadcast_index(src, shapes, maybe_strided)
        if unbroadcast is not None:
            index, in_shapes[j], layouts[j] = unbroadcast
            namespace[f"ix{src.id}"] = index
            arrays[j] = f"v{src.id}[ix{src.id}]"
    for j, layout in enumerate(layouts):
        if layout == "A" and _size(in_shapes[j]) <= CONTIGUOUS_VIEWS_MAX:
            arrays[j] = f"contiguous({arrays[j]})"
            layouts[j] = "C"
    general = f"g{node_id}({', '.join(arrays)})"
    if hasattr(kernel, "bind_inplace") and _size(shape) >= REUSE_MIN_ELEMENTS:
        for j, src in enumerate(step.array_inputs):
            if src.id in reusable and src.id in step.free_after:
                bound = kernel.bind_inplace(shape, in_shapes, scalars, j, layouts)
                if bound is not None:  # dead-buffer reuse: the result overwrites src
                    namespace[f"g{node_id}"] = bound
                    namespace.setdefault("reused", {})[node_id] = src.id
                    return [f"    v{node_id} = {general}"]
    flat = None
    if "A" not in layouts:
        flat = getattr(kernel, "serial_flat", lambda *a: None)(shape, in_shapes)
    if flat is None:
        bound = getattr(kernel, "bind_nd", lambda *a: None)(shape, in_shapes, scalars,
                                                           layouts)
        if bound is not None:
            namespace[f"g{node_id}"] = bound
        return [f"    v{node_id} = {general}"]
    for j, value in enumerate(scalars):
        namespace[f"s{node_id}_{j}"] = value
    namespace[f"f{node_id}"] = flat
    namespace[f"t{node_id}"] = np.dtype(kernel.spec.out_dtype)
    # 0-d and 1-d values go in as they are; others are flattened (a copy if strided)
    flatten = "" if len(shape) <= 1 else ".reshape(-1)"
    size = () if not shape else int(np.prod(shape, dtype=np.int64))
    args = ", ".join([f"o{node_id}", *[f"{a}{flatten}" for a in arrays],
                      *[f"s{node_id}_{j}" for j in range(len(scalars))]])
    return [f"    o{node_id} = empty({size!r}, t{node_id})",
            "    try:",
            f"        f{node_id}({args})",
            f"        v{node_id} = o{node_id}{'' if len(shape) <= 1 else f'.reshape({shape!r})'}",
            "    except TypeError:  # an input of another dtype or layout: the general path",
            f"        v{node_id} = {general}",
            f"    del o{node_id}"]


def _unbroadcast_index(src, shapes, maybe_strided):
    """``(index, shape, layout)`` that turns the zero-stride view a broadcasting node
    (its op declares ``extra["broadcast_view"]``: ``broadcast_to``) hands a fused loop
    back into its input 0's extent (size 1 along the broadcast dims), or None. The loop
    then indexes those dims with 0 and, for a contiguous source, reads a 'C' array: a
    zero-stride view is an 'A' array that LLVM does not vectorize (Keras's gradient of
    a global average pooling: 10 ms -> ~1 ms per step of the residual block benchmark)."""
    if not src.op.extra.get("broadcast_view"):
        return None
    target = tuple(shapes[src.id])
    source = src.inputs[0]
    source_shape = tuple(shapes[source.id])
    if len(source_shape) > len(target) or 0 in target:
        return None
    padded = (1,) * (len(target) - len(source_shape)) + source_shape
    if not any(p == 1 and t != 1 for p, t in zip(padded, target)):
        return None
    index = tuple(slice(0, 1) if p == 1 and t != 1 else slice(None)
                  for p, t in zip(padded, target))
    return index, padded, "A" if source.id in maybe_strided else "C"


def _value_error(node):
    """Raise a kernel's ValueError again as a ShapeError naming ``node`` and its line."""
    def raise_named(exc):
        raise ShapeError(f"{node.op.name} '{node.name}'{created_at(node)}: {exc}") from None
    return raise_named


def _op_launcher(node, shapes):
    """``launch(*args)`` of a kernel op: its result is checked against the shape and
    dtype the plan derived, and kernel errors name the node and the user's line."""
    op = node.op
    name = op.name
    in_shapes = [shapes[s.id] for s in node.inputs]
    out_shape = tuple(shapes[node.id])
    dtype, np_dtype = node.dtype, np.dtype(node.dtype)
    kernel, attrs = op.kernel, node.attrs
    stateful = bool(op.extra.get("stateful"))
    # only view ops hand out strided views: the loops bound to other ops' results assume
    # C layout (a kernel returning e.g. a transposed view of its buffer is made contiguous)
    contiguous = op.kind != "view"

    binder = op.extra.get("bind")
    bound = None if binder is None or stateful else binder(
        in_shapes, [s.dtype for s in node.inputs], attrs, out_shape, dtype)
    if bound is not None:
        kernel = lambda args, *_: bound(args)  # noqa: E731 (planned for these shapes)

    def launch(*args):
        free_cores()  # BLAS follows the cores other processes leave free (kernels.load)
        call_attrs = attrs
        if stateful:  # random draws: the evaluation counter goes up per call
            with node.graph.lock:
                counter = node.graph.rng_counters.get(node.id, 0)
                if not getattr(DRY_RUN, "on", False):  # a compile's warm-up run
                    node.graph.rng_counters[node.id] = counter + 1
            call_attrs = dict(attrs, counter=counter)
        try:
            out = kernel(list(args), in_shapes, call_attrs, out_shape, dtype)
        except (IndexError, ValueError) as exc:
            raise ShapeError(f"{name} '{node.name}'{created_at(node)}: {exc}") from None
        if type(out) is not np.ndarray:  # a NumPy scalar (indexing): kernels take arrays
            out = np.asarray(out)
        elif contiguous and not out.flags.c_contiguous:
            out = np.ascontiguousarray(out)
        if out.shape != out_shape or out.dtype != np_dtype:
            _check_result(node, out, out_shape)
        return out
    return launch


def _check_result(node, out, out_shape) -> None:
    if out.shape != out_shape:
        raise ShapeError(f"{node.op.name} '{node.name}'{created_at(node)}: kernel produced "
                         f"shape {out.shape}, expected {out_shape}")
    raise DTypeError(f"{node.op.name} '{node.name}': kernel produced {out.dtype}, "
                     f"expected {node.dtype}")


def owned_values(steps) -> frozenset:
    """Ids of values computed into buffers of the call (not views of stored data):
    a structural property of the plan, so found once."""
    owned: set[int] = set()
    for step in steps:
        node = step.node
        if step.kind in ("placeholder", "variable", "constant"):
            continue
        source = node.inputs[1] if node.op.name == "assign" else (
            node.inputs[0] if node.inputs else None)
        if node.op.kind != "view" or (source is not None and source.id in owned):
            owned.add(node.id)
    return frozenset(owned)
