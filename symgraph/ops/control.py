"""Symbolic loops: one ``scan`` op runs an inner graph once per step of its sequences.

The inner graph (the *body*) is built once, in the same graph, by calling a Python
step function on fresh placeholders: one per sequence slice and one per carried
state. Whatever the body reads that does not depend on those placeholders (weights,
variables, outer nodes, anything loop-invariant computed inside the step) is a
*capture*: it becomes a real input of the loop node, so the outer plan computes (and
prunes) it like any other input, and the body gets a placeholder for it instead. The
body's nodes are cloned onto those capture placeholders, so the inner graph's only
leaves are its placeholders and constants, and it compiles into an ordinary
:class:`~symgraph.runtime.function.Function` (lazily, once, under a lock), asked for
through :mod:`symgraph.core.services`: the runtime stands above ops.

Graph nodes have one output, and a loop has several (stacked per-step outputs, final
states). The ``scan`` node therefore produces one byte buffer holding every result
(each part 64-byte aligned) and a ``scan_output`` view per result reinterprets its
part without copying. ``scan_output`` also takes the loop's inputs, read for their
shape only, so its shape rule can lay the buffer out.

Inputs of a ``scan`` node, in order: the sequences (iterated over axis 0), the
initial states, the captures. Its :class:`LoopBody` attribute (hashed by identity)
exposes the inner placeholders and outputs.

Gradients. ``scan_output`` declares the loop's inputs as data inputs (their values are
the scan's own inputs, computed anyway), so reverse-mode gradients reach them through
its rule; the byte buffer carries none. A loop with a float input also *saves*, as
extra parts of its buffer after the results, every state before each step and every
random draw of the body (stacked over the steps). The gradient of one result part is
a second ``scan`` running the other way over the steps (:class:`GradBody`, built once
per part): each step recomputes the forward step from the saved state, the sequence
slices and the saved random draws (so dropout-like noise is the forward's, never
redrawn), and applies the step's vector-Jacobian product, built once by
:func:`symgraph.autodiff.gradients` on the inner graph (also through ``services``). It
carries the states' gradients, stacks the sequences' gradients and sums the captures'
gradients over the steps (``sum_outputs``), so a weight read at every step gets one
summed gradient.
The reverse loop is an ordinary ``scan``, so it has gradients too (second order).
Cost: one forward step plus its backward per step; the autodiff rule is per view, so
a loss reading several results of one loop (stacked outputs and final states) runs one
reverse loop per result read.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np

from .. import config
from ..core import dtypes, services
from ..core.graph import ancestors, make_leaf
from ..core.shapes import check_size, dims_compatible, is_fully_known, shape_str
from ..core.tensor import Constant, Placeholder, Tensor
from ..errors import DTypeError, GradientError, GraphError, ShapeError, created_at, op_error
from .leaves import PLACEHOLDER, as_tensor, placeholder
from .loop_hoist import hoist
from .registry import KERNEL, VIEW, Op, define_grad, register

ALIGN = 64  # byte alignment of each part of a loop's output buffer
_SHAPE_CACHE_LIMIT = 64
#: inner functions specialized to concrete leaf shapes per loop body (LoopBody.function_for)
SPECIALIZED_LIMIT = 8
_uids = itertools.count(1)


class LoopBody:
    """The inner graph of a loop, hashed and compared by identity (a graph attribute).

    Attributes:
        kind: what built it (``'rnn'``, ``'map_fn'``, ``'foldl'``, ``'foldr'``, or
            ``'grad_<kind>'`` for the reverse loop of a gradient).
        seq_placeholders: one per sequence; fed the sequence's slice at each step.
        state_placeholders: one per carried state; fed the state before each step.
        capture_placeholders: one per capture; fed the capture's value at every step.
        captures: the outer tensors the body reads (inputs of the loop node).
        step_outputs: inner tensors stacked along a new axis 0 over the steps.
        state_outputs: inner tensors that become the next states.
        sum_outputs: inner tensors summed over the steps (zeros after no step); the
            reverse loop of a gradient sums the captures' gradients this way.
        min_steps: the fewest steps the loop accepts (``rnn`` needs 1).
        reverse: run the steps from the last to the first (results stay indexed by
            step, so stacked outputs are in sequence order).
        randoms: stateful (random) inner nodes, drawn anew at each step.
        saves: whether the loop also records, for its gradient, every state before
            each step and every random draw (stacked over the steps). Loops with a
            float input do; their parts follow the results in the buffer.
    """

    def __init__(self, kind, seq_placeholders, state_placeholders, capture_placeholders,
                 captures, step_outputs, state_outputs, min_steps: int = 0,
                 sum_outputs=(), reverse: bool = False):
        self.kind = kind
        self.seq_placeholders = list(seq_placeholders)
        self.state_placeholders = list(state_placeholders)
        self.capture_placeholders = list(capture_placeholders)
        self.captures = list(captures)
        self.step_outputs = list(step_outputs)
        self.state_outputs = list(state_outputs)
        self.sum_outputs = list(sum_outputs)
        self.min_steps = min_steps
        self.reverse = reverse
        self.uid = next(_uids)
        self.leaves = self.seq_placeholders + self.state_placeholders + \
            self.capture_placeholders
        self.outputs = self.step_outputs + self.state_outputs + self.sum_outputs
        graph = self.outputs[0].graph if self.outputs else None
        self.nodes = graph.ancestors(self.outputs) if graph is not None else []
        self.randoms = [n for n in self.nodes if n.op.extra.get("stateful")]
        self.saves = any(dtypes.is_float(ph.dtype) for ph in self.leaves)
        self.saved_states = self.state_placeholders if self.saves else []
        self.saved_randoms = self.randoms if self.saves else []
        self._lock = threading.Lock()
        self._grad_lock = threading.RLock()
        self._function = None
        self._specialized: dict[tuple, object] = {}  # leaf shapes -> inner function
        self._layouts: dict[tuple, Layout] = {}
        self._grad_bodies: dict[int, GradBody] = {}

    def __repr__(self) -> str:
        return (f"<LoopBody {self.kind}#{self.uid}: {len(self.seq_placeholders)} sequences, "
                f"{len(self.state_placeholders)} states, {len(self.captures)} captures, "
                f"{len(self.step_outputs)} step outputs>")

    @property
    def n_results(self) -> int:
        """Parts of the buffer that are results (the saved parts follow)."""
        return len(self.outputs)

    def function(self):
        """The compiled inner function (compiled on first use, once, thread-safely):
        the body's outputs, then the random draws the loop saves."""
        fn = self._function
        if fn is None:
            with self._lock:
                if self._function is None:
                    self._function = services.compile_function(
                        self.leaves, self.outputs + self.saved_randoms,
                        name=f"{self.kind}_body", inner=True)
                fn = self._function
        return fn

    def function_for(self, leaf_shapes):
        """The inner function compiled for these concrete leaf shapes (one per shape
        set, at most ``SPECIALIZED_LIMIT``; then, and for bodies that draw random
        numbers, the generic :meth:`function`).

        The body is cloned onto placeholders of these shapes, so every node has a
        static shape and the compiler's passes drop what is the identity at them
        (``sum_to`` of a gradient that was not broadcast, a reshape to its own shape).
        Those views split a GRU step's gradient into 36 kernels of one or two
        operations each; specialized, its elementwise work fuses. Results are the
        same: the same operations in the same order, rounded to the same dtypes."""
        key = tuple(leaf_shapes)
        fn = self._specialized.get(key)
        if fn is not None:
            return fn
        if self.randoms or len(self._specialized) >= SPECIALIZED_LIMIT:
            return self.function()
        with self._lock:
            fn = self._specialized.get(key)
            if fn is None and len(self._specialized) < SPECIALIZED_LIMIT:
                leaves, outputs = _clone_for_shapes(self, key)
                fn = services.compile_function(leaves, outputs, name=f"{self.kind}_body",
                                               inner=True)
                self._specialized[key] = fn
        return fn if fn is not None else self.function()

    def functions(self) -> list:
        """The inner functions compiled so far: the generic one (if any), then one per
        specialized shape set."""
        generic = [self._function] if self._function is not None else []
        return generic + list(self._specialized.values())

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

    def grad_body(self, index: int) -> GradBody:
        """The reverse loop that turns a gradient of buffer part ``index`` into
        gradients of the loop's inputs (built once per part)."""
        with self._grad_lock:
            found = self._grad_bodies.get(index)
            if found is None:
                found = _build_grad_body(self, index)
                self._grad_bodies[index] = found
            return found


def _clone_for_shapes(body: LoopBody, leaf_shapes) -> tuple[list, list]:
    """``(leaves, outputs)``: the body rebuilt, in its graph, on placeholders of the
    concrete ``leaf_shapes`` (shape rules run again, so its nodes get static shapes)."""
    graph = body.outputs[0].graph
    mapping: dict[int, Tensor] = {}
    for ph, shape in zip(body.leaves, leaf_shapes):
        mapping[ph.id] = make_leaf(graph, PLACEHOLDER, Placeholder, tuple(shape), ph.dtype,
                                   ph.name)
    for node in body.nodes:
        if node.id in mapping:
            continue
        if not node.inputs:  # literal constants and fills of the body
            mapping[node.id] = node
            continue
        before = len(graph.nodes)
        new = graph._make(node.op, tuple(mapping[s.id] for s in node.inputs),
                          dict(node.attrs))
        if new.id >= before:
            new.location = node.location  # errors name the user's line, not this one
        mapping[node.id] = new
    return [mapping[ph.id] for ph in body.leaves], [mapping[t.id] for t in body.outputs]


def closure(targets) -> list:
    """Every node ``targets`` need, the nodes of the inner graphs of their loops
    included (``Graph.ancestors`` follows inputs only), in creation order.

    Example:
        >>> import symgraph.backend as K
        >>> x = K.placeholder((None, 2, 3))
        >>> last, _, _ = K.rnn(lambda i, s: (i * 2.0, s), x, [])
        >>> len(closure([last])) > len(last.graph.ancestors([last]))
        True
    """
    def bodies(node) -> list:
        return [t for value in node.attrs.values() if isinstance(value, LoopBody)
                for t in value.leaves + value.captures + value.outputs]

    return ancestors(targets, also=bodies)


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
    extra = body.saved_randoms
    if all(is_fully_known(s) for s in leaf_shapes):
        out_shapes = _inner_shapes(body, leaf_shapes, extra)
    else:
        out_shapes = [t.shape for t in body.outputs + extra]
    n_y, n_s = len(body.step_outputs), len(body.state_outputs)
    n_a = len(body.sum_outputs)
    shapes, dtypes_ = [], []
    for t, s in zip(body.step_outputs, out_shapes[:n_y]):
        if s is None:
            raise ValueError(f"step output '{t.name}' has an unknown rank")
        shapes.append((steps, *s))
        dtypes_.append(t.dtype)
    state_shapes = []
    for k, (t, s) in enumerate(zip(body.state_outputs, out_shapes[n_y:n_y + n_s])):
        state = leaf_shapes[n_seq + k]
        if is_fully_known(state) and is_fully_known(s) and tuple(state) != tuple(s):
            raise ValueError(f"the step function turns state {k} of shape {shape_str(state)} "
                             f"into shape {shape_str(s)}")
        state_shapes.append(_merge(state, s))
        dtypes_.append(t.dtype)
    shapes += state_shapes
    for t, s in zip(body.sum_outputs, out_shapes[n_y + n_s:n_y + n_s + n_a]):
        if s is None:
            raise ValueError(f"summed output '{t.name}' has an unknown rank")
        shapes.append(tuple(s))
        dtypes_.append(t.dtype)
    for ph, s in zip(body.saved_states, state_shapes):
        if s is None:
            raise ValueError(f"state '{ph.name}' has an unknown rank")
        shapes.append((steps, *s))
        dtypes_.append(ph.dtype)
    for t, s in zip(extra, out_shapes[n_y + n_s + n_a:]):
        if s is None:
            raise ValueError(f"random '{t.name}' inside the step function has an unknown rank")
        shapes.append((steps, *s))
        dtypes_.append(t.dtype)
    for s in shapes:
        if is_fully_known(s):
            check_size(s)
    return Layout(steps, shapes, dtypes_)


def _inner_shapes(body: LoopBody, leaf_shapes, extra=()) -> list:
    """Concrete shapes of the body's outputs (then of ``extra`` inner nodes) given
    concrete leaf shapes."""
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
    return [shapes[t.id] for t in body.outputs + list(extra)]


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
    n_y, n_s, n_a = len(body.step_outputs), len(body.state_outputs), len(body.sum_outputs)
    n_out = n_y + n_s + n_a
    parts = [layout.part(buffer, k) for k in range(len(layout.shapes))]
    sums = parts[n_y + n_s:n_out]
    saved_states = parts[n_out:n_out + len(body.saved_states)]
    saved_randoms = parts[n_out + len(body.saved_states):]
    for p in sums:
        p[...] = 0
    fn = body.function_for([a.shape[1:] for a in seqs] + [a.shape for a in states] +
                           [a.shape for a in caps])
    steps = range(layout.steps - 1, -1, -1) if body.reverse else range(layout.steps)
    for t in steps:
        for k, p in enumerate(saved_states):
            _store(p, t, states[k], f"state {k}")
        results = fn([s[t] for s in seqs] + states + caps)
        for k in range(n_y):
            _store(parts[k], t, results[k], f"output {k}")
        for k, p in enumerate(sums):
            r = results[n_y + n_s + k]
            if r.shape != p.shape:
                raise ValueError(f"step {t} produced summed output {k} of shape {r.shape}, "
                                 f"expected {p.shape}")
            p += r
        for k, p in enumerate(saved_randoms):
            _store(p, t, results[n_out + k], f"random draw {k}")
        states = results[n_y:n_y + n_s]
    for k, s in enumerate(states):
        if s.shape != parts[n_y + k].shape:
            raise ValueError(f"state {k} has shape {s.shape}, expected {parts[n_y + k].shape}")
        parts[n_y + k][...] = s
    return buffer


def _store(part, t, value, what):
    if value.shape != part.shape[1:]:
        raise ValueError(f"step {t} produced {what} of shape {value.shape}, expected "
                         f"{part.shape[1:]}")
    part[t] = value


def _scan_reference(arrays, attrs, out_shape, out_dtype):
    """A plain loop over the steps, each step interpreted by the reference evaluator."""
    body = attrs["body"]
    layout = body.layout([a.shape for a in arrays])
    seqs, states, caps = _split(body, [np.asarray(a) for a in arrays])
    n_y, n_s, n_a = len(body.step_outputs), len(body.state_outputs), len(body.sum_outputs)
    n_out = n_y + n_s + n_a
    wanted = body.outputs + body.saved_randoms
    n_saved = len(body.saved_states) + len(body.saved_randoms)
    stacked: dict[int, dict] = {k: {} for k in list(range(n_y)) +
                                list(range(n_out, n_out + n_saved))}
    sums = [np.zeros(layout.shapes[n_y + n_s + k], layout.dtypes[n_y + n_s + k])
            for k in range(n_a)]
    steps = range(layout.steps - 1, -1, -1) if body.reverse else range(layout.steps)
    for t in steps:
        for k in range(len(body.saved_states)):
            stacked[n_out + k][t] = states[k]
        feeds = dict(zip(body.seq_placeholders, [s[t] for s in seqs]))
        feeds.update(zip(body.state_placeholders, states))
        feeds.update(zip(body.capture_placeholders, caps))
        values = services.reference_eval(wanted, feeds) if wanted else []
        for k in range(n_y):
            stacked[k][t] = values[k]
        for k in range(n_a):
            sums[k] = sums[k] + values[n_y + n_s + k]
        for k in range(len(body.saved_randoms)):
            stacked[n_out + len(body.saved_states) + k][t] = values[n_out + k]
        states = values[n_y:n_y + n_s]

    def stack(k):
        if not stacked[k]:
            return np.zeros(layout.shapes[k], layout.dtypes[k])
        return np.stack([stacked[k][t] for t in range(layout.steps)])

    results = [stack(k) for k in range(n_y)] + list(states) + sums + \
        [stack(k) for k in range(n_out, n_out + n_saved)]
    buffer = np.zeros(out_shape, dtype=np.uint8)
    for k, value in enumerate(results):
        part = layout.part(buffer, k)
        if value.shape != part.shape:
            raise ValueError(f"result {k} has shape {value.shape}, expected {part.shape}")
        part[...] = value
    return buffer


SCAN = register(Op(
    "scan", KERNEL, _scan_infer, _scan_reference, kernel=_scan_kernel,
    doc="run an inner graph once per step over sequences, carrying states "
        "(a byte buffer of every result; read it with scan_output)",
    # its body may draw random numbers: never merged or folded; tier 0 runs the kernel,
    # whose step function is itself a function with tiers (runtime.tiered)
    extra={"effects": True, "tier0": "kernel"}))


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
    "scan_output", VIEW, _output_infer, _output_view, kernel=_output_kernel,
    doc="one result of a scan (a view into its buffer; the loop's inputs, read for their "
        "shapes, are declared data inputs so that gradients reach them)",
    extra={"effects": True}))  # tied to its scan's buffer: rewritten only with it


# -- gradients -----------------------------------------------------------------------------
class GradBody:
    """The reverse loop of one part of a loop's buffer (see :meth:`LoopBody.grad_body`).

    ``loop`` runs the steps in the opposite order. Its sequences: the forward loop's
    sequences, its saved states and random draws, and (for a stacked output or a saved
    state) the incoming gradient; its states: the gradients of the forward float states
    (``slot == 'state'``: the incoming gradient starts the one of state ``j``); its
    captures: the forward captures, and (``slot == 'sum'``) the incoming gradient. Its
    results: the gradients of the forward sequences ``seq_idx`` (stacked), of the initial
    states ``state_idx`` and of the captures ``cap_idx`` (summed over the steps).
    """

    def __init__(self, loop, slot, j, seq_idx, state_idx, cap_idx):
        self.loop = loop
        self.slot = slot
        self.j = j
        self.seq_idx = seq_idx
        self.state_idx = state_idx
        self.cap_idx = cap_idx


class _NoControls:
    """Build inner graphs outside any ``control_dependencies`` context of the user's."""

    def __init__(self, graph):
        self.graph = graph

    def __enter__(self):
        self.saved = self.graph._controls
        self.graph._controls = []

    def __exit__(self, *exc):
        self.graph._controls = self.saved


def _substitute(graph, outputs, mapping: dict) -> list:
    """``outputs`` rebuilt with the nodes of ``mapping`` (id -> tensor) replaced."""
    if not mapping:
        return list(outputs)
    new: dict[int, Tensor] = dict(mapping)
    for node in graph.ancestors(outputs):
        if node.id in new or not any(s.id in new for s in node.inputs):
            continue
        inputs = tuple(new.get(s.id, s) for s in node.inputs)
        new[node.id] = graph._make(node.op, inputs, dict(node.attrs))
    return [new.get(t.id, t) for t in outputs]


def _slot_of(body: LoopBody, index: int) -> tuple[str, int]:
    n_y, n_s, n_a = len(body.step_outputs), len(body.state_outputs), len(body.sum_outputs)
    for slot, count in (("step", n_y), ("state", n_s), ("sum", n_a),
                        ("saved", len(body.saved_states)), ("random", len(body.saved_randoms))):
        if index < count:
            return slot, index
        index -= count
    raise IndexError("no such part of the loop's buffer")


def _build_grad_body(fwd: LoopBody, index: int) -> GradBody:
    """Differentiate one step of ``fwd`` (on its own placeholders) and wrap the
    vector-Jacobian product into a reverse loop; see :class:`GradBody`."""
    from .elementwise import fill_like
    from .reduce import reduce

    slot, j = _slot_of(fwd, index)
    n_y = len(fwd.step_outputs)
    graph = fwd.outputs[0].graph
    is_float = dtypes.is_float
    with _NoControls(graph):
        rand_phs = [placeholder(r.shape, r.dtype, name=f"grad_{fwd.kind}/random")
                    for r in fwd.saved_randoms]
        outs = _substitute(graph, fwd.outputs, {r.id: p for r, p in
                                                zip(fwd.saved_randoms, rand_phs)})
        if slot == "saved":
            like = fwd.state_placeholders[j]
        else:
            like = fwd.outputs[index]
        g_ph = placeholder(like.shape, like.dtype, name=f"grad_{fwd.kind}/incoming")
        state_idx = [k for k, ph in enumerate(fwd.state_placeholders) if is_float(ph.dtype)]
        lam = {k: placeholder(fwd.state_placeholders[k].shape, fwd.state_placeholders[k].dtype,
                              name=f"grad_{fwd.kind}/state_grad") for k in state_idx}
        terms = []
        if slot in ("step", "sum"):
            terms.append(reduce("sum", outs[index] * g_ph))
        for k in state_idx:
            terms.append(reduce("sum", outs[n_y + k] * lam[k]))
        seq_wrt = [k for k, ph in enumerate(fwd.seq_placeholders) if is_float(ph.dtype)]
        cap_wrt = [k for k, ph in enumerate(fwd.capture_placeholders) if is_float(ph.dtype)]
        wrt = [fwd.seq_placeholders[k] for k in seq_wrt] + \
            [fwd.state_placeholders[k] for k in state_idx] + \
            [fwd.capture_placeholders[k] for k in cap_wrt]
        if terms:
            loss = terms[0]
            for term in terms[1:]:
                loss = loss + term
            grads = services.gradients(loss, wrt)
        else:
            grads = [None] * len(wrt)
        g_seq = grads[:len(seq_wrt)]
        g_state = grads[len(seq_wrt):len(seq_wrt) + len(state_idx)]
        g_cap = grads[len(seq_wrt) + len(state_idx):]
        step_outputs = [g for g in g_seq if g is not None]
        seq_idx = [k for k, g in zip(seq_wrt, g_seq) if g is not None]
        state_outputs = []
        for k, g in zip(state_idx, g_state):
            if g is None:
                g = fill_like(lam[k], 0)
            if slot == "saved" and k == j:
                g = g + g_ph
            state_outputs.append(g)
        sum_outputs = [g for g in g_cap if g is not None]
        cap_idx = [k for k, g in zip(cap_wrt, g_cap) if g is not None]
    seq_phs = fwd.seq_placeholders + fwd.saved_states + rand_phs + \
        ([g_ph] if slot in ("step", "saved") else [])
    cap_phs = fwd.capture_placeholders + ([g_ph] if slot == "sum" else [])
    captures = fwd.captures + ([g_ph] if slot == "sum" else [])  # g_ph: replaced by g
    loop = LoopBody(f"grad_{fwd.kind}", seq_phs, [lam[k] for k in state_idx], cap_phs,
                    captures, step_outputs, state_outputs, sum_outputs=sum_outputs,
                    reverse=not fwd.reverse)
    return GradBody(loop, slot, j, seq_idx, state_idx, cap_idx)


def _output_grad(node, g):
    """Gradient of one part of a loop's buffer: a reverse loop over the steps (see
    :class:`GradBody`). Random draws inside the body are not recomputed: the forward
    loop saved them, and the reverse loop reads those values."""
    from .elementwise import fill_like

    body, index = node.attrs["body"], node.attrs["index"]
    grads: list = [None] * len(node.inputs)
    slot, _ = _slot_of(body, index)
    if slot == "random" or not dtypes.is_float(node.dtype):
        return tuple(grads)
    gb = body.grad_body(index)
    graph = node.graph
    scan_node, loop_inputs = node.inputs[0], tuple(node.inputs[1:])
    seqs, states, caps = _split(body, loop_inputs)
    n_saved = len(body.saved_states) + len(body.saved_randoms)
    saved = [graph.make(SCAN_OUTPUT, (scan_node, *loop_inputs),
                        {"body": body, "index": body.n_results + k}) for k in range(n_saved)]
    b_seqs = list(seqs) + saved + ([g] if gb.slot in ("step", "saved") else [])
    b_states = [g if gb.slot == "state" and k == gb.j else fill_like(states[k], 0)
                for k in gb.state_idx]
    b_caps = list(caps) + ([g] if gb.slot == "sum" else [])
    inputs = (*b_seqs, *b_states, *b_caps)
    loop = gb.loop
    rnode = graph.make(SCAN, inputs, {"body": loop})
    results = iter([graph.make(SCAN_OUTPUT, (rnode, *inputs), {"body": loop, "index": k})
                    for k in range(loop.n_results)])
    n_seq, n_state = len(seqs), len(states)
    for k in gb.seq_idx:
        grads[1 + k] = next(results)
    for k in gb.state_idx:
        grads[1 + n_seq + k] = next(results)
    for k in gb.cap_idx:
        grads[1 + n_seq + n_state + k] = next(results)
    return tuple(grads)


def _scan_grad(node, g):
    raise GradientError("gradients: a scan's byte buffer has no gradient; differentiate "
                        "its scan_output views")


define_grad(SCAN, _scan_grad)
define_grad(SCAN_OUTPUT, _output_grad)


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
    if kind == "rnn" and config.hoist_loops():  # x_t @ W + b for all steps at once
        hoisted = hoist(graph.ancestors(outs), seq_phs, sequences, capture_phs, captures,
                        outs)
        if hoisted is not None:
            seq_phs, sequences, capture_phs, captures, outs = hoisted
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
        # float constants with elements are captured too (so that gradients reach
        # them); 0-d and non-float ones stay in the body as literals
        literal = isinstance(t, Constant) and (t.shape == () or not dtypes.is_float(t.dtype))
        if not depends[t.id] and not literal and t.id not in seen:
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
