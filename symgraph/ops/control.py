"""Symbolic loops: one ``scan`` op runs an inner graph once per step of its sequences.

The inner graph (the *body*) is built once, in the same graph, by calling a Python
step function on fresh placeholders: one per sequence slice and one per carried
state. Whatever the body reads that does not depend on those placeholders (weights,
variables, outer nodes, anything loop-invariant computed inside the step) is a
*capture*: it becomes a real input of the loop node, so the outer plan computes (and
prunes) it like any other input, and the body gets a placeholder for it instead. The
body's nodes are cloned onto those capture placeholders, so the inner graph's only
leaves are its placeholders and constants, and it compiles into an ordinary
:class:`~symgraph.runtime.function.Function` (lazily, once, under a lock).

Graph nodes have one output, and a loop has several (stacked per-step outputs, final
states). The ``scan`` node therefore produces one byte buffer holding every result
(each part 64-byte aligned) and a ``scan_output`` view per result reinterprets its
part without copying. ``scan_output`` also takes the loop's inputs, read for their
shape only, so its shape rule can lay the buffer out.

Inputs of a ``scan`` node, in order: the sequences (iterated over axis 0), the
initial states, the captures. Its :class:`LoopBody` attribute (hashed by identity)
exposes the inner placeholders and outputs for a later scan gradient.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np

from ..core.shapes import check_size, dims_compatible, is_fully_known, shape_str
from ..core.tensor import Constant, Tensor
from ..errors import DTypeError, GraphError, ShapeError, created_at, op_error
from .leaves import as_tensor, placeholder
from .registry import GRAD_PENDING, KERNEL, VIEW, Op, register

ALIGN = 64  # byte alignment of each part of a loop's output buffer
_SHAPE_CACHE_LIMIT = 64
_uids = itertools.count(1)


class LoopBody:
    """The inner graph of a loop, hashed and compared by identity (a graph attribute).

    Attributes:
        kind: what built it (``'rnn'``, ``'map_fn'``, ``'foldl'``, ``'foldr'``).
        seq_placeholders: one per sequence; fed the sequence's slice at each step.
        state_placeholders: one per carried state; fed the state before each step.
        capture_placeholders: one per capture; fed the capture's value at every step.
        captures: the outer tensors the body reads (inputs of the loop node).
        step_outputs: inner tensors stacked along a new axis 0 over the steps.
        state_outputs: inner tensors that become the next states.
        min_steps: the fewest steps the loop accepts (``rnn`` needs 1).
    """

    def __init__(self, kind, seq_placeholders, state_placeholders, capture_placeholders,
                 captures, step_outputs, state_outputs, min_steps: int = 0):
        self.kind = kind
        self.seq_placeholders = list(seq_placeholders)
        self.state_placeholders = list(state_placeholders)
        self.capture_placeholders = list(capture_placeholders)
        self.captures = list(captures)
        self.step_outputs = list(step_outputs)
        self.state_outputs = list(state_outputs)
        self.min_steps = min_steps
        self.uid = next(_uids)
        self.leaves = self.seq_placeholders + self.state_placeholders + \
            self.capture_placeholders
        self.outputs = self.step_outputs + self.state_outputs
        graph = self.outputs[0].graph if self.outputs else None
        self.nodes = graph.ancestors(self.outputs) if graph is not None else []
        self._lock = threading.Lock()
        self._function = None
        self._layouts: dict[tuple, Layout] = {}

    def __repr__(self) -> str:
        return (f"<LoopBody {self.kind}#{self.uid}: {len(self.seq_placeholders)} sequences, "
                f"{len(self.state_placeholders)} states, {len(self.captures)} captures, "
                f"{len(self.step_outputs)} step outputs>")

    def function(self):
        """The compiled inner function (compiled on first use, once, thread-safely)."""
        fn = self._function
        if fn is None:
            with self._lock:
                if self._function is None:
                    from ..runtime.function import Function

                    self._function = Function(self.leaves, self.outputs,
                                              name=f"{self.kind}_body")
                fn = self._function
        return fn

    def layout(self, in_shapes) -> Layout:
        """Shapes, dtypes and byte offsets of the loop's results for these input shapes."""
        key = tuple(None if s is None else tuple(s) for s in in_shapes)
        found = self._layouts.get(key)
        if found is not None:
            return found
        found = _compute_layout(self, key)
        if len(self._layouts) < _SHAPE_CACHE_LIMIT:
            with self._lock:
                self._layouts[key] = found
        return found


class Layout:
    """Where each result of a loop lives in its output buffer."""

    def __init__(self, steps, shapes, dtypes):
        self.steps = steps  # None when unknown (build time)
        self.shapes = shapes
        self.dtypes = dtypes
        self.offsets = []
        offset = 0
        for shape, dtype in zip(shapes, dtypes):
            if offset is not None and is_fully_known(shape):
                self.offsets.append(offset)
                size = _nbytes(shape, dtype)
                offset += -(-size // ALIGN) * ALIGN
            else:
                self.offsets.append(None)
                offset = None
        self.total = offset

    def part(self, buffer: np.ndarray, index: int) -> np.ndarray:
        shape, dtype, start = self.shapes[index], self.dtypes[index], self.offsets[index]
        size = _nbytes(shape, dtype)
        return buffer[start:start + size].view(dtype).reshape(shape)


def _nbytes(shape, dtype) -> int:
    n = np.dtype(dtype).itemsize
    for d in shape:
        n *= d
    return n


def _merge(a, b):
    """Two compatible static shapes merged (known dims of either)."""
    if a is None:
        return b
    if b is None:
        return a
    return tuple(x if x is not None else y for x, y in zip(a, b))


def _compute_layout(body: LoopBody, in_shapes) -> Layout:
    n_seq = len(body.seq_placeholders)
    seq_shapes = in_shapes[:n_seq]
    steps = None
    for k, s in enumerate(seq_shapes):
        if s is None or len(s) == 0:
            raise ValueError(f"sequence {k} needs rank >= 1, got {shape_str(s)}")
        if s[0] is not None:
            if steps is not None and steps != s[0]:
                raise ValueError(f"the sequences have different lengths ({steps} and {s[0]})")
            steps = s[0]
    if steps is not None and steps < body.min_steps:
        raise ValueError(f"{body.kind} needs at least {body.min_steps} step(s) along the "
                         f"time axis, got {steps}")
    leaf_shapes = [s[1:] for s in seq_shapes] + list(in_shapes[n_seq:])
    if len(leaf_shapes) != len(body.leaves):
        raise ValueError(f"expected {len(body.leaves)} inputs, got {len(in_shapes)}")
    for ph, s in zip(body.leaves, leaf_shapes):
        if s is not None and not dims_compatible(ph.shape, s):
            raise ValueError(f"the step function was built for {shape_str(ph.shape)} at "
                             f"'{ph.name}', got {shape_str(s)}")
    if all(is_fully_known(s) for s in leaf_shapes):
        out_shapes = _inner_shapes(body, leaf_shapes)
    else:
        out_shapes = [t.shape for t in body.outputs]
    n_y = len(body.step_outputs)
    shapes, dtypes = [], []
    for t, s in zip(body.step_outputs, out_shapes[:n_y]):
        if s is None:
            raise ValueError(f"step output '{t.name}' has an unknown rank")
        shapes.append((steps, *s))
        dtypes.append(t.dtype)
    for k, (t, s) in enumerate(zip(body.state_outputs, out_shapes[n_y:])):
        state = leaf_shapes[n_seq + k]
        if is_fully_known(state) and is_fully_known(s) and tuple(state) != tuple(s):
            raise ValueError(f"the step function turns state {k} of shape {shape_str(state)} "
                             f"into shape {shape_str(s)}")
        shapes.append(_merge(state, s))
        dtypes.append(t.dtype)
    for s in shapes:
        if is_fully_known(s):
            check_size(s)
    return Layout(steps, shapes, dtypes)


def _inner_shapes(body: LoopBody, leaf_shapes) -> list:
    """Concrete shapes of the body's outputs given concrete leaf shapes."""
    shapes = {ph.id: tuple(s) for ph, s in zip(body.leaves, leaf_shapes)}
    for node in body.nodes:
        if node.id in shapes:
            continue
        if not node.inputs:
            if not is_fully_known(node.shape):
                raise ValueError(f"'{node.name}' inside the step function has no known shape")
            shapes[node.id] = node.shape
            continue
        in_shapes = [shapes[s.id] for s in node.inputs]
        try:
            shape, _ = node.op.infer(in_shapes, [s.dtype for s in node.inputs], node.attrs)
        except (ValueError, TypeError) as exc:
            detail = ", ".join(shape_str(s) for s in in_shapes)
            raise ValueError(f"inside the step function, {node.op.name} '{node.name}'"
                             f"{created_at(node)}: {exc} [inputs: {detail}]") from None
        shapes[node.id] = tuple(shape)
    return [shapes[t.id] for t in body.outputs]


# -- the ops -------------------------------------------------------------------------------
def _scan_infer(in_shapes, in_dtypes, attrs):
    body = attrs["body"]
    for ph, dtype in zip(body.leaves, in_dtypes):
        if dtype != ph.dtype:
            raise TypeError(f"'{ph.name}' of the step function is {ph.dtype}, fed {dtype}")
    layout = body.layout(in_shapes)
    return (layout.total,), "uint8"


def _split(body, args):
    n_seq, n_state = len(body.seq_placeholders), len(body.state_placeholders)
    return args[:n_seq], list(args[n_seq:n_seq + n_state]), args[n_seq + n_state:]


def _scan_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    body = attrs["body"]
    layout = body.layout(in_shapes)
    buffer = np.empty(out_shape, dtype=np.uint8)
    seqs, states, caps = _split(body, args)
    # contiguous per-step slices (np.require keeps 0-d arrays 0-d)
    seqs = [np.require(a, requirements="C") for a in seqs]
    caps = [np.require(a, requirements="C") for a in caps]
    n_y = len(body.step_outputs)
    parts = [layout.part(buffer, k) for k in range(len(layout.shapes))]
    fn = body.function()
    for t in range(layout.steps):
        results = fn([s[t] for s in seqs] + states + caps)
        for k in range(n_y):
            if results[k].shape != parts[k].shape[1:]:
                raise ValueError(f"step {t} produced output {k} of shape {results[k].shape}, "
                                 f"expected {parts[k].shape[1:]}")
            parts[k][t] = results[k]
        states = results[n_y:]
    for k, s in enumerate(states):
        if s.shape != parts[n_y + k].shape:
            raise ValueError(f"state {k} has shape {s.shape}, expected {parts[n_y + k].shape}")
        parts[n_y + k][...] = s
    return buffer


def _scan_reference(arrays, attrs, out_shape, out_dtype):
    """A plain loop over the steps, each step interpreted by the reference evaluator."""
    from ..runtime.reference import reference_eval

    body = attrs["body"]
    layout = body.layout([a.shape for a in arrays])
    seqs, states, caps = _split(body, [np.asarray(a) for a in arrays])
    n_y = len(body.step_outputs)
    stacked: list[list] = [[] for _ in range(n_y)]
    for t in range(layout.steps):
        feeds = dict(zip(body.seq_placeholders, [s[t] for s in seqs]))
        feeds.update(zip(body.state_placeholders, states))
        feeds.update(zip(body.capture_placeholders, caps))
        values = reference_eval(body.outputs, feeds) if body.outputs else []
        for k in range(n_y):
            stacked[k].append(values[k])
        states = values[n_y:]
    results = [np.stack(s) if s else np.zeros(layout.shapes[k], layout.dtypes[k])
               for k, s in enumerate(stacked)] + states
    buffer = np.zeros(out_shape, dtype=np.uint8)
    for k, value in enumerate(results):
        part = layout.part(buffer, k)
        if value.shape != part.shape:
            raise ValueError(f"result {k} has shape {value.shape}, expected {part.shape}")
        part[...] = value
    return buffer


SCAN = register(Op(
    "scan", KERNEL, _scan_infer, _scan_reference, kernel=_scan_kernel, grad=GRAD_PENDING,
    doc="run an inner graph once per step over sequences, carrying states "
        "(a byte buffer of every result; read it with scan_output)"))


def _output_infer(in_shapes, in_dtypes, attrs):
    layout = attrs["body"].layout(in_shapes[1:])
    k = attrs["index"]
    return layout.shapes[k], layout.dtypes[k]


def _output_view(arrays, attrs, out_shape, out_dtype):
    layout = attrs["body"].layout([None if a is None else a.shape for a in arrays[1:]])
    return layout.part(arrays[0], attrs["index"])


def _output_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    layout = attrs["body"].layout(in_shapes[1:])
    return layout.part(args[0], attrs["index"])


SCAN_OUTPUT = register(Op(
    "scan_output", VIEW, _output_infer, _output_view, data_inputs=(0,),
    kernel=_output_kernel, grad=GRAD_PENDING,
    doc="one result of a scan (a view into its buffer; the loop's inputs are read for shape)"))


# -- building ------------------------------------------------------------------------------
def _as_list(value, what: str) -> tuple[list, bool]:
    """``value`` as a flat list of tensors, and whether it was a list/tuple."""
    if isinstance(value, (list, tuple)):
        return [as_tensor(v) for v in value], True
    if value is None:
        raise GraphError(f"{what} returned None; it must return tensors")
    return [as_tensor(value)], False


def check_new_states(kind: str, states, new_states, inputs, what: str = "state") -> None:
    """Build-time checks: as many new states as states, same dtypes, compatible shapes."""
    if len(new_states) != len(states):
        raise op_error(GraphError, kind, inputs,
                       f"the step function returned {len(new_states)} new {what}(s) for "
                       f"{len(states)} {what}(s)")
    for k, (old, new) in enumerate(zip(states, new_states)):
        if new.dtype != old.dtype:
            raise op_error(DTypeError, kind, inputs,
                           f"the step function's new {what} {k} has dtype {new.dtype}, but "
                           f"the {what} is {old.dtype} (a loop keeps each {what}'s dtype)")
        if new.shape is not None and old.shape is not None and (
                len(new.shape) != len(old.shape) or any(
                    a is not None and b is not None and a != b
                    for a, b in zip(new.shape, old.shape))):
            raise op_error(ShapeError, kind, inputs,
                           f"the step function's new {what} {k} has shape "
                           f"{shape_str(new.shape)}, but the {what} has shape "
                           f"{shape_str(old.shape)} (a loop keeps each {what}'s shape)")


def scan(kind: str, step, sequences, initial_states, *, min_steps: int = 0,
         name: str | None = None, what: str = "state"):
    """Build a loop over axis 0 of ``sequences``.

    ``step(seq_slices, states) -> (step_outputs, new_states)`` (lists of tensors) is
    called once on placeholders. Returns ``(stacked_outputs, final_states)``: each
    step output stacked along a new axis 0, and the states after the last step.
    """
    sequences = [as_tensor(s) for s in sequences]
    initial_states = [as_tensor(s) for s in initial_states]
    everything = sequences + initial_states
    if not sequences:
        raise GraphError(f"{kind}: a loop needs at least one sequence")
    graph = sequences[0].graph
    for s in sequences:
        if s.shape is None or len(s.shape) == 0:
            raise op_error(ShapeError, kind, everything,
                           "the sequences to iterate over need a known rank >= 1")
    start_id = len(graph.nodes)
    seq_phs = [placeholder(s.shape[1:], s.dtype, name=f"{kind}/slice") for s in sequences]
    state_phs = [placeholder(s.shape, s.dtype, name=f"{kind}/state") for s in initial_states]
    step_outputs, new_states = step(seq_phs, state_phs)
    step_outputs = [as_tensor(t) for t in step_outputs]
    new_states = [as_tensor(t) for t in new_states]
    check_new_states(kind, initial_states, new_states, everything, what)
    inner = step_outputs + new_states
    for t in inner:
        if t.graph is not graph:
            raise op_error(GraphError, kind, everything,
                           "the step function returned a tensor of another graph")
    captures, cloned = _capture_and_clone(graph, seq_phs + state_phs, inner, start_id)
    capture_phs = [cloned[c.id] for c in captures]
    outs = [cloned.get(t.id, t) for t in inner]
    body = LoopBody(kind, seq_phs, state_phs, capture_phs, captures,
                    outs[:len(step_outputs)], outs[len(step_outputs):], min_steps)
    loop_inputs = (*sequences, *initial_states, *captures)
    node = graph.make(SCAN, loop_inputs, {"body": body}, name=name)
    results = [graph.make(SCAN_OUTPUT, (node, *loop_inputs), {"body": body, "index": k})
               for k in range(len(body.outputs))]
    return results[:len(step_outputs)], results[len(step_outputs):]


def _capture_and_clone(graph, leaves, inner_outputs, start_id):
    """Split what the inner outputs depend on into body nodes and captures, and clone
    the body onto capture placeholders. Returns ``(captures, id -> inner tensor)``."""
    leaf_ids = {ph.id for ph in leaves}
    depends: dict[int, bool] = {}
    order = graph.ancestors(inner_outputs)
    for node in order:  # creation order is a topological order
        depends[node.id] = node.id in leaf_ids or any(depends[s.id] for s in node.inputs) or (
            node.id >= start_id and bool(node.op.extra.get("stateful")))
    captures = []
    seen = set()

    def want(t):
        if not depends[t.id] and not isinstance(t, Constant) and t.id not in seen:
            seen.add(t.id)
            captures.append(t)

    for node in order:
        if depends[node.id] and node.id not in leaf_ids:
            for s in node.inputs:
                want(s)
    for t in inner_outputs:
        want(t)
    captures.sort(key=lambda t: t.id)
    make = getattr(graph, "_make", graph.make)  # no control-dependency wrapping on clones
    mapping: dict[int, Tensor] = {ph.id: ph for ph in leaves}
    for c in captures:
        mapping[c.id] = placeholder(c.shape, c.dtype, name="capture")
    for node in order:
        if not depends[node.id] or node.id in mapping:
            continue
        inputs = tuple(mapping.get(s.id, s) for s in node.inputs)
        mapping[node.id] = make(node.op, inputs, dict(node.attrs))
    return captures, mapping
