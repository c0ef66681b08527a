"""What the compiler made of a function: each kernel's source and the memory plan.

``Function.kernels()``, ``Function.source(kernel)`` and ``Function.memory_plan(...)``
are thin methods over :func:`kernel_source` and :func:`memory_plan`.
"""

from __future__ import annotations

import inspect as _pyinspect
from dataclasses import dataclass

import numpy as np

from ..core.shapes import shape_str
from .view import Kernel, plan_kernels


def find_kernel(fn, kernel) -> Kernel:
    """``kernel`` (a :class:`Kernel`, its index, its name ``'k3'`` or the name of the node
    it stores) among ``fn``'s kernels."""
    kernels = plan_kernels(fn.plan)
    if isinstance(kernel, Kernel):
        return kernels[kernel.index]
    for k in kernels:
        if kernel in (k.index, k.name, k.node.name) and not isinstance(kernel, bool):
            return k
    names = ", ".join(f"{k.name} ({k.node.name})" for k in kernels[:8])
    raise KeyError(f"no kernel {kernel!r} in this function; it has {len(kernels)}: {names}"
                   f"{'...' if len(kernels) > 8 else ''}")


def kernel_source(fn, kernel) -> str:
    """The source of one kernel of ``fn``: the numba module(s) symgraph generated for a
    fused loop or reduction (the variants a call has used, else the generic ones), or
    the Python source of an op's hand-written kernel.

    Example:
        >>> import symgraph.backend as K
        >>> x = K.placeholder((None, 3))
        >>> f = K.function([x], [K.exp(x) * 2.0])
        >>> "def flat(" in f.source("k0")
        True
    """
    from ..compiler.codegen import CompiledGroup, flat_source, group_source, nd_source
    from ..compiler.fused_reduce import CompiledReduceGroup, fused_reduction_source

    k = find_kernel(fn, kernel)
    compiled = k.step.kernel
    head = f"# {k.name}: {k.kind} computing '{k.node.name}' " \
        f"({', '.join(m.op.name for m in k.members)})\n"
    if isinstance(compiled, CompiledGroup):
        used = sorted(compiled._modules, key=repr)
        if not used:
            ndim = len(k.node.shape) if k.node.shape is not None else 1
            return head + "# (not run yet: the generic flat and n-d loops)\n" + \
                group_source(compiled.spec, ndim)
        parts = [flat_source(compiled.spec, *key[1:]) if key[0] == "flat" else
                 nd_source(compiled.spec, key[1], key[2], key[3], *key[4:]) for key in used]
        return head + "\n\n".join(parts)
    if isinstance(compiled, CompiledReduceGroup):
        keys = sorted(compiled._modules, key=repr) or [
            (tuple(("A", (False,) * compiled.ndim) for _ in compiled.spec.array_dtypes), False)]
        return head + "\n\n".join(
            fused_reduction_source(compiled.spec, compiled.kind, compiled.ndim, compiled.axes,
                                   patterns, parallel) for patterns, parallel in keys)
    op = k.node.op
    target = op.kernel or op.reference
    try:
        text = _pyinspect.getsource(target)
    except (OSError, TypeError):
        text = f"# the source of {target!r} is not available\n"
    if op.name == "matmul":
        note = "# matmul runs NumPy's BLAS; its launcher:\n"
    else:
        note = f"# the kernel of op '{op.name}', in {getattr(target, '__module__', '?')}:\n"
    return head + note + text


@dataclass
class Buffer:
    """One array a call allocates.

    Attributes:
        node: the node whose value it holds.
        kernel: the kernel that writes it (``None`` for fills).
        shape, dtype, nbytes: its concrete shape, dtype and size.
        born: index of the plan step that creates it.
        dies: index of the step after which it is freed (``None``: an output, returned).
        reuses: the node whose dead buffer it overwrites (dead-buffer reuse), or None:
            such a buffer adds no bytes.
    """

    node: object
    kernel: object
    shape: tuple
    dtype: str
    nbytes: int
    born: int
    dies: int | None
    reuses: object = None


@dataclass
class MemoryPlan:
    """The buffers of one call for given input shapes, and the peak of their sum.

    Attributes:
        buffers: every buffer a call allocates, in creation order.
        peak_bytes: the most bytes alive at once (inputs, variables and constants not
            counted: they exist before the call).
        peak_step: the plan step at which the peak is reached.
        output_bytes: the bytes of the outputs (what the call hands out).
        input_shapes: the fed shapes the plan is for.
    """

    buffers: list
    peak_bytes: int
    peak_step: int
    output_bytes: int
    input_shapes: list

    def __str__(self) -> str:
        rows = [("buffer", "kernel", "shape", "dtype", "bytes", "lives", "reuses")]
        for b in self.buffers:
            life = f"{b.born}-{'out' if b.dies is None else b.dies}"
            rows.append((b.node.name, b.kernel.name if b.kernel else "fill", shape_str(b.shape),
                         b.dtype, f"{b.nbytes:,}", life,
                         "" if b.reuses is None else b.reuses.name))
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) if c in (0, 1, 2, 3, 6) else cell.rjust(w)
                           for c, (cell, w) in enumerate(zip(r, widths))).rstrip()
                 for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.append(f"peak {self.peak_bytes:,} bytes at step {self.peak_step}; outputs "
                     f"{self.output_bytes:,} bytes; inputs {self.input_shapes}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(str(self))}</pre>"


def _probe(shape, dtype) -> np.ndarray:
    """A read-only array of ``shape`` that owns one element (strides 0)."""
    base = np.zeros(1, dtype)
    return np.lib.stride_tricks.as_strided(base, shape=tuple(shape),
                                           strides=(0,) * len(shape), writeable=False)


def input_shapes_for(fn, input_shapes=None, batch_size: int = 1) -> list[tuple]:
    """Concrete input shapes: ``input_shapes`` as given, or the placeholders' shapes with
    ``None`` dims set to ``batch_size``."""
    if input_shapes is not None:
        shapes = [tuple(s) for s in input_shapes]
        if len(shapes) != len(fn.inputs):
            raise ValueError(f"this function takes {len(fn.inputs)} inputs, got "
                             f"{len(shapes)} shapes")
        return shapes
    shapes = []
    for ph in fn.inputs:
        if ph.shape is None:
            raise ValueError(f"placeholder '{ph.name}' has an unknown rank: pass "
                             "input_shapes=")
        shapes.append(tuple(batch_size if d is None else d for d in ph.shape))
    return shapes


def memory_plan(fn, input_shapes=None, batch_size: int = 1) -> MemoryPlan:
    """The buffers a call of ``fn`` allocates for these input shapes, their lifetimes,
    dead-buffer reuse and the peak bytes (computed from the plan and the shape rules,
    without running a kernel).

    Args:
        fn: a compiled Function.
        input_shapes: one concrete shape per input; default: the placeholders' shapes
            with ``None`` dims set to ``batch_size``.
        batch_size: the size of ``None`` dims when ``input_shapes`` is not given.

    Returns:
        A :class:`MemoryPlan` (``str()`` is a table).

    Example:
        >>> import symgraph.backend as K
        >>> x = K.placeholder((None, 1000))
        >>> plan = K.function([x], [K.sum(K.exp(x) * 2.0, axis=1)]).memory_plan(batch_size=64)
        >>> plan.peak_bytes   # the fused loop never stores exp(x): only the (64,) sums
        256
    """
    fn = getattr(fn, "fn", fn)
    shapes_in = input_shapes_for(fn, input_shapes, batch_size)
    feeds = [_probe(s, ph.dtype) for s, ph in zip(shapes_in, fn.inputs)]
    from ..runtime.feeds import check_feed

    feeds = [check_feed(ph, a) for ph, a in zip(fn.inputs, feeds)]
    runner = fn._runner_for(feeds, compiled=True)
    shapes = fn._concrete_shapes({**dict(zip([p.id for p in fn.inputs], feeds)),
                                  **fn._defaults})
    reused = getattr(runner, "reused", {})
    kernels = {k.node.id: k for k in plan_kernels(fn.plan)}
    nodes = {s.node.id: s.node for s in fn.plan.steps}
    output_ids = {t.id for t in fn.plan.outputs}
    buffers: list[Buffer] = []
    by_id: dict[int, Buffer] = {}
    for k, step in enumerate(fn.plan.steps):
        node = step.node
        makes = step.kind in ("group", "fill") or (
            step.kind == "op" and node.op.kind != "view")
        if makes:
            shape = tuple(shapes[node.id])
            nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(node.dtype).itemsize
            source = nodes.get(reused.get(node.id))
            b = Buffer(node, kernels.get(node.id), shape, node.dtype, nbytes, k,
                       None if node.id in output_ids else len(fn.plan.steps) - 1, source)
            buffers.append(b)
            by_id[node.id] = b
        for dead in step.free_after:
            if dead in by_id:
                by_id[dead].dies = k
    handed_on = {b.reuses.id for b in buffers if b.reuses is not None}
    alive, peak, peak_step = 0, 0, 0
    for k in range(len(fn.plan.steps)):
        # a buffer written into a dead input's memory adds nothing; that input's
        # memory then lives on in it instead of being freed
        alive += sum(b.nbytes for b in buffers if b.born == k and b.reuses is None)
        if alive > peak:
            peak, peak_step = alive, k
        alive -= sum(b.nbytes for b in buffers if b.dies == k and b.node.id not in handed_on)
    outputs = sum(b.nbytes for b in buffers if b.dies is None)
    return MemoryPlan(buffers, peak, peak_step, outputs, shapes_in)

