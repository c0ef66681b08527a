"""Compiled functions: ``K.function(inputs, outputs)`` and what ``K.eval`` runs.

A :class:`Function` compiles its plan once. A call validates the feeds, finds the
concrete shape of every needed node (cached per distinct set of fed shapes, so a
new batch size costs one pass of shape rules and never a recompile), runs the
steps, frees each intermediate after its last use, and returns NumPy arrays. All
call state is local, so several threads can call one function at once.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..compiler.passes import DEFAULT_PASSES
from ..compiler.plan import compile_plan
from ..core.shapes import dims_compatible, is_fully_known, shape_str
from ..core.tensor import Placeholder, Tensor, Variable
from ..errors import DTypeError, FeedError, GraphError, ShapeError, created_at
from ..ops.elementwise import compute_type
from .feeds import check_feed

#: kernel launches per op name since import (for tests and profiling)
LAUNCHES: Counter = Counter()
_SHAPE_CACHE_LIMIT = 64


class Function:
    """A compiled graph: call it with a list of arrays, one per input placeholder.

    Args:
        inputs: placeholders, fed in this order on every call.
        outputs: tensors to compute (a single tensor gives a single-item list).
        updates: ``(variable, new_value)`` pairs or update ops (``K.update``,
            ``K.update_add``...), computed from the values before the call and
            assigned after the outputs are computed.
        name: a label for inspection.
        fuse: fuse elementwise chains into single loops (off only to test fusion).
    """

    def __init__(self, inputs, outputs, updates=None, name: str | None = None,
                 fuse: bool = True, passes=None):
        self.inputs = list(inputs or [])
        self.outputs = list(outputs)
        self.name = name
        for t in self.inputs:
            if not isinstance(t, Placeholder):
                raise GraphError(f"K.function inputs must be placeholders, got {t!r}")
        if len({t.id for t in self.inputs}) != len(self.inputs):
            raise GraphError("K.function inputs contain the same placeholder twice")
        for t in self.outputs:
            if not isinstance(t, Tensor):
                raise GraphError(f"K.function outputs must be tensors, got {type(t).__name__}")
        self.updates = []
        update_ops = []  # K.update* nodes: applied like any assign the plan reaches
        for pair in updates or []:
            if isinstance(pair, Tensor):  # an update op (or a node ordered after one)
                update_ops.append(pair)
                continue
            try:
                var, value = pair
            except (TypeError, ValueError):
                raise GraphError(
                    f"an update must be a (variable, new_value) pair, got {pair!r}") from None
            if not isinstance(var, Variable):
                raise GraphError(f"update target must be a variable, got {var!r}")
            value = _as_update_value(value, var)
            self.updates.append((var, value))
        targets = self.outputs + [v for _, v in self.updates] + update_ops
        graphs = {t.graph for t in targets + self.inputs}
        if len(graphs) > 1:
            raise GraphError("K.function got tensors from different graphs "
                             "(some were created before K.clear_session()?)")
        self.graph = graphs.pop() if graphs else None
        passes = DEFAULT_PASSES if passes is None else tuple(passes)
        self.plan = compile_plan(targets, fuse_elementwise=fuse, passes=passes)
        # update ops (K.update*, reached from the outputs or updates) take effect
        # after the call; their values must survive the memory plan
        assigns = [s.node for s in self.plan.steps if s.node.op.name == "assign"]
        target_ids = {t.id for t in self.plan.outputs}
        if any(a.id not in target_ids for a in assigns):
            targets = targets + [a for a in assigns if a.id not in target_ids]
            self.plan = compile_plan(targets, fuse_elementwise=fuse, passes=passes)
        self._assigns = assigns
        # what each output / update value became after the graph passes
        rewritten = self.plan.outputs
        self._output_nodes = rewritten[:len(self.outputs)]
        self._update_nodes = rewritten[len(self.outputs):len(self.outputs) + len(self.updates)]
        fed = {t.id for t in self.inputs}
        self._defaults = {}
        for ph in self.plan.placeholders:
            if ph.id not in fed and ph.default is not None:
                self._defaults[ph.id] = ph.default
            elif ph.id not in fed:
                needed_by = ", ".join(f"'{t.name}'" for t in self.outputs[:3])
                raise FeedError(
                    f"placeholder '{ph.name}' (shape {shape_str(ph.shape)}, {ph.dtype})"
                    f"{created_at(ph)} must be fed to compute {needed_by}; "
                    "pass it in the inputs of K.function")
        self._prepared: dict[tuple, list] = {}  # feed shapes -> prepared steps
        self._constants = {s.node.id: s.node.value for s in self.plan.steps
                           if s.kind == "constant"}
        self._owned = _owned_values(self.plan.steps)
        self._output_ids = {t.id for t in self._output_nodes} | \
            {t.id for t in self._update_nodes}

    @property
    def n_kernels(self) -> int:
        """How many kernels (fused loops, reductions, BLAS calls...) a call runs."""
        return self.plan.n_kernels

    # -- calling ----------------------------------------------------------------------
    def __call__(self, inputs=None) -> list:
        if inputs is None:
            inputs = []
        if isinstance(inputs, dict):
            inputs = [inputs[t] for t in self.inputs]
        if not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        if len(inputs) != len(self.inputs):
            raise FeedError(f"this function takes {len(self.inputs)} inputs "
                            f"({', '.join(t.name for t in self.inputs)}), got {len(inputs)}")
        feeds = {ph.id: check_feed(ph, v) for ph, v in zip(self.inputs, inputs)}
        if self._defaults:
            feeds.update(self._defaults)
        if not self.updates and not self._assigns:
            values, owned = self._run(feeds)
            return [self._output(t, values, owned) for t in self._output_nodes]
        # read-compute-assign must not interleave with another updating call, or an
        # update computed from a stale value would overwrite one (a lost update)
        with self.graph.lock:
            values, owned = self._run(feeds)
            results = [self._output(t, values, owned) for t in self._output_nodes]
            for (var, _), new in zip(self.updates, self._update_nodes):
                var.assign(values[new.id])
            # buffers handed to the caller (or their owners) must not become storage
            taken = {id(r) for r in results} | {id(r.base) for r in results}
            for node in self._assigns:
                value = values[node.id]
                # a fresh buffer of this call that no output or other variable holds
                take = node.id in owned and node.id not in self._output_ids and \
                    id(value) not in taken
                taken.add(id(value))
                node.inputs[0].assign(value, take=take)
        return results

    def _output(self, t, values, owned) -> np.ndarray:
        value = values[t.id]
        if t.id not in owned or not value.flags.writeable:
            value = np.array(value, dtype=t.dtype)  # never hand out views of stored data
        return value

    def _concrete_shapes(self, feeds) -> dict:
        shapes = {}
        for node in self.plan.shape_order:
            if isinstance(node, Placeholder):
                shapes[node.id] = feeds[node.id].shape if node.id in feeds else node.shape
            elif isinstance(node, Variable):
                shapes[node.id] = node.value.shape
            elif not node.inputs or (is_fully_known(node.shape) and all(
                    shapes.get(s.id, s.shape) == s.shape for s in node.inputs)):
                shapes[node.id] = node.shape
            else:
                shapes[node.id] = _infer_concrete(node, shapes)
        return shapes

    def _run(self, feeds) -> tuple:
        """Run the steps; returns the values dict and the ids of values that live in
        buffers of this call (the others are views of stored data)."""
        key = tuple([a.shape for a in feeds.values()])
        actions = self._prepared.get(key)
        if actions is None:
            actions = self._prepare(self._concrete_shapes(feeds))
            if len(self._prepared) < _SHAPE_CACHE_LIMIT:
                self._prepared[key] = actions
        values = dict(feeds)
        values.update(self._constants)
        for action in actions:
            action(values)
        return values, self._owned

    def _prepare(self, shapes) -> list:
        """One closure per step, with concrete shapes, scalar arguments and the
        values to free bound in: a call does no graph work and no shape rules."""
        actions = []
        for step in self.plan.steps:
            node, kind = step.node, step.kind
            dead = tuple(step.free_after)
            if kind in ("placeholder", "constant"):
                action = None
            elif kind == "variable":
                action = _read_variable(node)
            elif kind == "fill":
                action = _fill(node, shapes[node.id])
            elif kind == "group":
                action = _launch_group(step, shapes[node.id])
            else:
                action = _launch_op(node, shapes)
            if action is not None:
                actions.append(action)
            if dead:
                actions.append(_free(dead))
        return actions


def _owned_values(steps) -> frozenset:
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


def _read_variable(node):
    node_id = node.id

    def action(values):
        values[node_id] = node.value
    return action


def _fill(node, shape):
    node_id, value, dtype = node.id, node.attrs["value"], node.dtype
    if value == 0 and not (isinstance(value, float) and np.signbit(value)):
        def zeros(values):  # calloc'd: pages are zeroed lazily by the OS, not written here
            values[node_id] = np.zeros(shape, dtype)
        return zeros

    def action(values):
        values[node_id] = np.full(shape, value, dtype)
    return action


def _launch_group(step, shape):
    node_id, name = step.node.id, step.node.op.name
    sources = [s.id for s in step.array_inputs]
    scalars = [_scalar_arg(s) for s in step.scalar_inputs]
    kernel = step.kernel

    def action(values):
        values[node_id] = kernel(shape, [values[i] for i in sources], scalars)
        LAUNCHES[name] += 1
    return action


def _launch_op(node, shapes):
    node_id, op = node.id, node.op
    name = op.name
    if op.extra.get("stateful"):  # random draws: the evaluation counter goes up per call
        def stateful(values):
            values[node_id] = _run_op(node, values, shapes)
            LAUNCHES[name] += 1
        return stateful
    # everything a call needs, bound once: data sources, shapes, the expected result
    sources = [s.id if op.reads_data(i) else None for i, s in enumerate(node.inputs)]
    in_shapes = [shapes[s.id] for s in node.inputs]
    out_shape = tuple(shapes[node.id])
    dtype, np_dtype = node.dtype, np.dtype(node.dtype)
    kernel, attrs = op.kernel, node.attrs

    def action(values):
        args = [None if i is None else values[i] for i in sources]
        try:
            out = kernel(args, in_shapes, attrs, out_shape, dtype)
        except (IndexError, ValueError) as exc:
            raise ShapeError(f"{name} '{node.name}'{created_at(node)}: {exc}") from None
        if out.shape != out_shape or out.dtype != np_dtype:
            _check_result(node, out, out_shape)
        values[node_id] = out
        LAUNCHES[name] += 1
    return action


def _check_result(node, out, out_shape) -> None:
    if out.shape != out_shape:
        raise ShapeError(f"{node.op.name} '{node.name}'{created_at(node)}: kernel produced "
                         f"shape {out.shape}, expected {out_shape}")
    raise DTypeError(f"{node.op.name} '{node.name}': kernel produced {out.dtype}, "
                     f"expected {node.dtype}")


def _free(dead):
    def action(values):
        for node_id in dead:
            values.pop(node_id, None)
    return action


def _as_update_value(value, var):
    from ..ops import as_tensor, cast

    value = as_tensor(value, like=var)
    if value.dtype != var.dtype:
        value = cast(value, var.dtype)
    if value.shape is not None and not dims_compatible(value.shape, var.shape) and \
            value.shape != ():
        raise ShapeError(f"update of variable '{var.name}' {shape_str(var.shape)} with a value "
                         f"of shape {shape_str(value.shape)}")
    return value


def _scalar_arg(node):
    dtype = compute_type(node.dtype)
    if node.op.name == "fill":
        return np.dtype(dtype).type(node.attrs["value"])
    return np.dtype(dtype).type(node.value[()])


def _infer_concrete(node, shapes):
    in_shapes = [shapes[s.id] for s in node.inputs]
    try:
        shape, _ = node.op.infer(in_shapes, [s.dtype for s in node.inputs], node.attrs)
    except (ValueError, TypeError) as exc:
        detail = ", ".join(f"{shape_str(s)} {t.dtype}" for s, t in zip(in_shapes, node.inputs))
        raise ShapeError(f"{node.op.name} '{node.name}'{created_at(node)}: {exc} "
                         f"[run-time inputs: {detail}]") from None
    if not dims_compatible(node.shape, shape):
        raise ShapeError(f"{node.op.name} '{node.name}'{created_at(node)}: run-time shape "
                         f"{shape_str(shape)} does not match its static shape "
                         f"{shape_str(node.shape)}")
    return tuple(shape)


def _run_op(node, values, shapes):
    op = node.op
    args = [values[s.id] if op.reads_data(i) else None for i, s in enumerate(node.inputs)]
    in_shapes = [shapes[s.id] for s in node.inputs]
    attrs = node.attrs
    if op.extra.get("stateful"):
        with node.graph.lock:
            counter = node.graph.rng_counters.get(node.id, 0)
            node.graph.rng_counters[node.id] = counter + 1
        attrs = dict(attrs, counter=counter)
    try:
        out = op.kernel(args, in_shapes, attrs, shapes[node.id], node.dtype)
    except (IndexError, ValueError) as exc:
        raise ShapeError(f"{op.name} '{node.name}'{created_at(node)}: {exc}") from None
    if out.shape != tuple(shapes[node.id]) or out.dtype != np.dtype(node.dtype):
        _check_result(node, out, tuple(shapes[node.id]))
    return out


def function(inputs, outputs, updates=None, name: str | None = None, **kwargs) -> Function:
    """Compile ``inputs -> outputs`` (see :class:`Function`)."""
    if kwargs:
        raise ValueError(f"K.function got unsupported arguments: {sorted(kwargs)} "
                         "(TensorFlow session options have no meaning in symgraph)")
    if isinstance(outputs, Tensor):
        return _Single(Function(inputs, [outputs], updates, name))
    return Function(inputs, outputs, updates, name)


class _Single:
    """A function compiled from one output tensor: returns one array, not a list."""

    def __init__(self, fn: Function):
        self.fn = fn

    def __call__(self, inputs=None):
        return self.fn(inputs)[0]

    def __getattr__(self, name):
        return getattr(self.fn, name)
