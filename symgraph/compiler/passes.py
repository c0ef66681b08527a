"""Graph-to-graph passes run before planning: common-subexpression elimination,
algebraic simplification and constant folding.

Each pass is a pure function ``outputs -> outputs``: it never changes a node, it
builds replacement nodes (in the same graph, through ``Graph.make``, so identical
rewrites are shared) and returns the new outputs. A node a pass leaves alone is
returned as is. Each can be switched off (``compile_plan(passes=...)``) and tested
alone. Rewritten nodes keep the user's source location, so run-time errors still
point at the user's line.

Ops with effects (random draws, printing, assignment, loops with random bodies) are
never merged, folded or dropped.
"""

from __future__ import annotations

import numpy as np

from ..core.graph import ancestors
from ..core.tensor import Constant

#: the passes compile_plan runs by default, in order
DEFAULT_PASSES = ("simplify", "fold_constants", "cse")
# Folding evaluates with the op's NumPy reference (no kernel compile at compile time).
# Only scalar results are folded: that removes the launches of optimizer arithmetic such
# as ``1 - momentum``, while array work keeps running (and being tested) in kernels.
FOLD_LIMIT = 1

def _pure(node) -> bool:
    """Ops declare effects in their registry entry (``extra``: ``stateful`` for random
    draws, ``effects`` for assignment, ordering, printing, loops)."""
    extra = node.op.extra
    return not extra.get("stateful") and not extra.get("effects")


def _rebuild(node, inputs):
    """``node`` with new inputs (the same node when nothing changed)."""
    if all(a is b for a, b in zip(inputs, node.inputs)):
        return node
    graph = node.graph
    before = len(graph.nodes)
    new = graph._make(node.op, tuple(inputs), dict(node.attrs))
    if new.id >= before:
        new.location = node.location
    return new


def rewrite(outputs, rule) -> list:
    """Apply ``rule(node) -> replacement | None`` bottom-up over what ``outputs``
    need, rebuilding consumers of replaced nodes. Returns the new outputs."""
    mapped: dict[int, object] = {}
    for node in ancestors(outputs):
        new = _rebuild(node, [mapped[s.id] for s in node.inputs])
        replacement = rule(new) if new.inputs else None
        mapped[node.id] = new if replacement is None else replacement
    return [mapped[t.id] for t in outputs]


# -- common subexpressions ------------------------------------------------------------------
def cse(outputs) -> list:
    """Merge nodes computing the same op on the same inputs with the same attributes
    (hash-consing already merges most; this catches nodes that differ only by name)."""
    seen: dict[tuple, object] = {}

    def rule(node):
        if not _pure(node):
            return None
        key = (node.op.name, tuple(s.id for s in node.inputs), node.attrs_key)
        first = seen.setdefault(key, node)
        return None if first is node else first

    return rewrite(outputs, rule)


# -- algebraic simplification ------------------------------------------------------------------
def _constant_value(node):
    """The value of a constant or fill node, if it is one uniform number."""
    if node.op.name == "fill":
        return node.attrs["value"]
    if isinstance(node, Constant):
        v = node.value
        if v.size and (v == v.flat[0]).all():
            return v.flat[0].item()
    return None


def _neutral_operand(const, x, result) -> bool:
    """Whether ``x op const`` can be replaced by ``x``: the result is x's dtype and
    shape, and ``const`` cannot broadcast x (0-d, all-ones dims, or a fill of x)."""
    if x.dtype != result.dtype or x.shape is None or x.shape != result.shape:
        return False
    if const.op.name == "fill" and const.inputs and const.inputs[0] is x:
        return True
    return const.shape is not None and len(const.shape) <= len(x.shape) and \
        all(d == 1 for d in const.shape)


def _add_leaves(node, shape, dtype) -> list:
    """The operands of a tree of ``add`` nodes of one static shape and dtype."""
    if node.op.name != "add" or node.shape != shape or node.dtype != dtype:
        return [node]
    return [leaf for s in node.inputs for leaf in _add_leaves(s, shape, dtype)]


def _slab(index, shape):
    """``(axis, start, stop)`` when a basic index selects a contiguous range along one
    axis of static size and everything along the others, else None."""
    if len(index) != len(shape):
        return None
    found = None
    for axis, (item, dim) in enumerate(zip(index, shape)):
        if item[0] != "slice" or item[3] not in (None, 1):
            return None
        if item[1] in (None, 0) and item[2] is None:
            continue  # the whole axis, whatever its run-time size
        if dim is None:
            return None
        start, stop, _ = slice(item[1], item[2]).indices(dim)
        if (start, stop) != (0, dim):
            if found is not None:
                return None
            found = (axis, start, stop)
    return found


def _scatters_as_concatenate(node):
    """A sum of ``scatter_index`` gradients that tile one axis of static size is
    their concatenation (the gradient of slicing a matmul's columns into gates): no
    zero-filled buffers, no additions. -0.0 entries stay -0.0 (the sum would add +0.0)."""
    shape, dtype = node.shape, node.dtype
    if shape is None:
        return None
    parts = _add_leaves(node, shape, dtype)
    slabs = []
    if parts[0].op.name != "scatter_index":
        return None
    ref = parts[0].inputs[1]
    for part in parts:  # one reference tensor: the None dims are the same at run time
        if part.op.name != "scatter_index" or part.dtype != dtype or \
                part.inputs[1] is not ref or ref.shape != shape:
            return None
        slab = _slab(part.attrs["index"], shape)
        if slab is None:
            return None
        slabs.append((slab, part.inputs[0]))
    slabs.sort(key=lambda item: item[0][1])
    axis = slabs[0][0][0]
    end = 0
    for (a, start, stop), _ in slabs:
        if a != axis or start != end or stop <= start:
            return None
        end = stop
    if end != shape[axis]:
        return None
    from ..ops import concatenate

    return concatenate([value for _, value in slabs], axis=axis)


def _simplify(node):
    name = node.op.name
    ins = node.inputs
    if name == "add" and ins[0].op.name in ("scatter_index", "add"):
        joined = _scatters_as_concatenate(node)
        if joined is not None:
            return joined
    if name in ("multiply", "add", "subtract", "true_divide"):
        a, b = ins
        va, vb = _constant_value(a), _constant_value(b)
        # x * 1, 1 * x, x + 0, 0 + x, x - 0, x / 1 (only when nothing is broadcast or cast)
        if (name == "multiply" and vb == 1) or (name in ("add", "subtract") and vb == 0) or \
                (name == "true_divide" and vb == 1):
            if _neutral_operand(b, a, node):
                return a
        if (name == "multiply" and va == 1) or (name == "add" and va == 0):
            if _neutral_operand(a, b, node):
                return b
        # x * 0 for integer and bool x (float x * 0 is NaN for NaN/inf: kept)
        if name == "multiply" and (va == 0 or vb == 0):
            other = b if va == 0 else a
            if other.dtype in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
                               "uint32", "uint64") and node.dtype == other.dtype:
                from ..ops import fill_like

                return fill_like(node, 0)
    if name == "negative" and ins[0].op.name == "negative":
        return ins[0].inputs[0]
    if name == "log" and ins[0].op.name == "exp" and ins[0].inputs[0].dtype == node.dtype:
        return ins[0].inputs[0]
    if name == "transpose" and ins[0].op.name == "transpose":
        inner, outer = ins[0].attrs["perm"], node.attrs["perm"]
        perm = tuple(inner[p] for p in outer)
        source = ins[0].inputs[0]
        if perm == tuple(range(len(perm))):
            return source
        from ..ops import transpose

        return transpose(source, perm)
    if name == "reshape" and ins[0].op.name == "reshape" and len(node.inputs) == 1 and \
            len(ins[0].inputs) == 1 and all(isinstance(e, int) for e in node.attrs["target"]):
        from ..ops import reshape

        return reshape(ins[0].inputs[0], node.attrs["target"])
    if name == "cast" and ins[0].op.name == "cast":
        source = ins[0].inputs[0]
        if _cast_chain_is_one(source.dtype, ins[0].dtype, node.dtype):
            from ..ops import cast

            return cast(source, node.dtype)
    if name in ("sum_to", "broadcast_to", "reshape") and ins[0].shape == node.shape and \
            ins[0].dtype == node.dtype and ins[0].shape is not None and None not in node.shape:
        return ins[0]  # the identity at these static shapes (a specialized loop body's)
    if name in ("identity", "stop_gradient"):
        return None  # kept: they are cheap and carry meaning (names, gradients)
    return None


def _family(dtype) -> str:
    kind = np.dtype(dtype).kind
    return "int" if kind in "iu" else kind


def _cast_chain_is_one(source, mid, dst) -> bool:
    """Whether ``cast(cast(x, mid), dst)`` equals ``cast(x, dst)`` for every x: the first
    cast must keep every value (NumPy calls int64 -> float64 "safe", but float64 holds
    only 53 bits), and the second must treat ``mid`` as it would treat ``source``
    (float -> int saturates where int -> int wraps)."""
    src, mid_t = np.dtype(source), np.dtype(mid)
    if not np.can_cast(src, mid_t, "safe"):
        return False
    if src.kind in "iu" and mid_t.kind == "f" and \
            src.itemsize * 8 - (src.kind == "i") > np.finfo(mid_t).nmant + 1:
        return False  # an int wider than the float's mantissa
    return _family(mid_t) == _family(src) or src.kind == "b" or np.dtype(dst).kind in "fc"


def simplify(outputs) -> list:
    """Algebraic identities: x*1, x+0, x-0, x/1 -> x; int x*0 -> zeros; -(-x) -> x;
    log(exp(x)) -> x; transpose of transpose -> one (or none); reshape of reshape -> one;
    sum_to, broadcast_to or reshape of a static shape to that same shape -> its input;
    a sum of scatter_index gradients tiling one axis -> their concatenation;
    a lossless cast followed by a cast -> one cast."""
    return rewrite(outputs, _simplify)


# -- constant folding ------------------------------------------------------------------------
def fold_constants(outputs) -> list:
    """Evaluate, at compile time, nodes whose data inputs are all constants (and whose
    shape inputs are statically known); replace them by constants. Large results
    (> FOLD_LIMIT elements) and ops with effects are left alone."""

    def rule(node):
        if not _pure(node) or node.op.kind == "leaf" or node.op.name == "fill":
            return None
        if node.shape is None or None in node.shape:
            return None
        if int(np.prod(node.shape, dtype=np.int64)) > FOLD_LIMIT:
            return None
        # every input must be a constant read for its data (shape-only inputs would
        # need the reference to see arrays it does not get)
        if not all(isinstance(src, Constant) and node.op.reads_data(i)
                   for i, src in enumerate(node.inputs)):
            return None
        from ..ops.leaves import constant

        try:
            with np.errstate(all="ignore"):
                value = node.op.reference([src.value for src in node.inputs], node.attrs,
                                          node.shape, node.dtype)
        except Exception:  # e.g. an index out of range: the run time reports it properly
            return None
        value = np.asarray(value)
        if value.shape != tuple(node.shape):
            return None
        return constant(value.astype(node.dtype, copy=False), node.dtype, graph=node.graph)

    return rewrite(outputs, rule)


PASSES = {"cse": cse, "simplify": simplify, "fold_constants": fold_constants}


def run_passes(outputs, names=DEFAULT_PASSES) -> list:
    """Run the named passes in order."""
    for name in names:
        outputs = PASSES[name](outputs)
    return outputs
