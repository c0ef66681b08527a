"""Work of a loop body that reads only its sequences, done once for all steps.

A recurrent step usually starts with ``x_t @ W + b`` (Keras's GRU and LSTM cells do),
which needs no state: computed per step it is a small matmul and a bias add per step
forwards, and their gradients (two more matmuls and a sum) per step backwards. Lifted
out of the loop it is one matmul over all ``T * B`` rows before the loop, and its
gradient one matmul after it, while the loop reads its rows as a new sequence.

:func:`hoist` finds, in a body just built by ``control.scan``, the nodes that depend
on the sequence placeholders but on no state, through ops it knows how to apply to
every step at once (elementwise ops, basic indexing, 2-D matmuls by a loop-invariant
matrix), and builds their stacked versions in the outer graph. It only does so when a
matmul is among them: elementwise work alone is cheaper inside the step, where it
fuses with what reads it.
"""

from __future__ import annotations

from ..core.tensor import Tensor
from .leaves import placeholder
from .registry import ELEMENTWISE

#: basic-index item that keeps a whole axis (the step axis of a stacked value)
_WHOLE = ("slice", None, None, 1)


def _lift(node, lifted: dict, invariant: dict):
    """The stacked (step axis first) outer version of body ``node``, or None when
    ``node`` reads a state or an op that cannot take every step at once."""
    from . import matmul, reshape

    graph = node.graph
    ins = node.inputs
    if not ins or node.shape is None or node.op.extra.get("stateful") or \
            node.op.extra.get("effects"):
        return None
    if not all(s.id in lifted or s.id in invariant for s in ins) or \
            not any(s.id in lifted for s in ins):
        return None
    rank = len(node.shape)
    if node.op.kind == ELEMENTWISE:
        for s in ins:
            if s.shape is None or (s.id in lifted and len(s.shape) != rank) or \
                    len(s.shape) > rank:
                return None  # a step axis would not line up under broadcasting
        args = tuple(lifted[s.id] if s.id in lifted else invariant[s.id] for s in ins)
        return graph._make(node.op, args, dict(node.attrs))
    if node.op.name == "getitem" and len(ins) == 1:
        index = node.attrs["index"]
        if any(item[0] not in ("slice", "int", "newaxis") for item in index):
            return None
        return graph._make(node.op, (lifted[ins[0].id],),
                           dict(node.attrs, index=(_WHOLE, *index)))
    if node.op.name == "matmul" and ins[0].id in lifted and ins[1].id in invariant and \
            len(ins[0].shape) == 2 and len(ins[1].shape) == 2:
        x = lifted[ins[0].id]  # (T, B, D): rows of every step in one matmul
        rows = reshape(x, (((0, 0), (0, 1)), ((0, 2),)))
        out = matmul(rows, invariant[ins[1].id])
        return reshape(out, (((1, 0),), ((1, 1),), ((0, 1),)), shape_sources=(x,))
    return None


def hoist(body_nodes, seq_phs, sequences, capture_phs, captures, inner_outputs):
    """Lift the sequence-only work of a loop body out of it.

    Args:
        body_nodes: the body's nodes in creation (topological) order.
        seq_phs, sequences: the per-step placeholders and the outer sequences.
        capture_phs, captures: the capture placeholders and the outer tensors.
        inner_outputs: the body's outputs (step outputs, then new states).

    Returns:
        None when nothing worth lifting was found, else ``(seq_phs, sequences,
        capture_phs, captures, inner_outputs)`` of the new body: its sequences are the
        lifted values its remaining nodes read (and the original sequences they still
        read), its captures those it still reads.
    """
    lifted: dict[int, Tensor] = {ph.id: s for ph, s in zip(seq_phs, sequences)}
    invariant: dict[int, Tensor] = {ph.id: c for ph, c in zip(capture_phs, captures)}
    for node in body_nodes:  # literal constants and fills (a draw is new at each step)
        if not node.inputs and node.op.name != "placeholder" and \
                not node.op.extra.get("stateful"):
            invariant[node.id] = node
    inner = {ph.id for ph in seq_phs}
    has_matmul = False
    for node in body_nodes:
        if node.id in lifted or node.id in invariant:
            continue
        stacked = _lift(node, lifted, invariant)
        if stacked is not None:
            lifted[node.id] = stacked
            inner.add(node.id)
            has_matmul = has_matmul or node.op.name == "matmul"
    if not has_matmul:
        return None
    # the frontier: lifted values that a node left in the body, or an output, reads
    kept_nodes = [n for n in body_nodes if n.id not in inner and n.inputs]
    frontier: dict[int, Tensor] = {}
    for node in kept_nodes:
        for s in node.inputs:
            if s.id in inner:
                frontier.setdefault(s.id, s)
    for t in inner_outputs:
        if t.id in inner:
            frontier.setdefault(t.id, t)
    if not frontier:
        return None  # the loop would have no sequence left to count its steps
    mapping: dict[int, Tensor] = {}
    new_phs, new_sequences = [], []
    for node_id, node in frontier.items():
        ph = placeholder(node.shape, node.dtype, name="rnn/slice")
        mapping[node_id] = ph
        new_phs.append(ph)
        new_sequences.append(lifted[node_id])
    graph = body_nodes[-1].graph
    for node in kept_nodes:
        args = tuple(mapping.get(s.id, s) for s in node.inputs)
        before = len(graph.nodes)
        new = graph._make(node.op, args, dict(node.attrs))
        if new.id >= before:
            new.location = node.location
        mapping[node.id] = new
    outputs = [mapping.get(t.id, t) for t in inner_outputs]
    read = {s.id for node in kept_nodes for s in mapping[node.id].inputs} | \
        {t.id for t in outputs}
    kept = [(ph, c) for ph, c in zip(capture_phs, captures) if ph.id in read]
    return (new_phs, new_sequences, [ph for ph, _ in kept], [c for _, c in kept], outputs)
