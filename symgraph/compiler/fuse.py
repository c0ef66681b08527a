"""Group elementwise nodes into fused kernels.

Walking value-needed nodes from the outputs back, an elementwise node joins the
group of its consumers when all of them are elementwise, all belong to one group,
and it has the same static shape as that group's root (so no small tensor is
recomputed once per element of a big one). Otherwise it roots a group of its own,
whose value is stored. Every member's consumers are inside its group, so groups
are convex: one loop computes the whole group with no intermediate arrays.
Fills and 0-d constants are never members: they enter loops as scalar arguments.

A trailing reduction (sum, mean, prod, max, min) absorbs the elementwise node it
reduces when that node is no output and all its other consumers are elementwise:
the reduction's loop computes the body and accumulates, never storing it. If the node
is also read by an elementwise group (softmax's ``exp(x - m)`` feeds both the sum and
the division), that group recomputes it, when the recomputed part is small
(``RECOMPUTE_LIMIT`` nodes): one pass and one full-size buffer fewer.
"""

from __future__ import annotations

from ..core.tensor import Constant
from ..ops.registry import ELEMENTWISE, REDUCE

#: reductions that can take an elementwise body into their loop
FUSABLE_REDUCTIONS = ("sum", "mean", "prod", "max", "min")
#: most nodes an elementwise group recomputes so that a reduction can absorb them
RECOMPUTE_LIMIT = 4


def is_scalar_source(node) -> bool:
    """Nodes an elementwise loop reads as one scalar argument."""
    return node.op.name == "fill" or (isinstance(node, Constant) and node.shape == ())


def fuse(order, value_ids, output_ids, enabled: bool = True) -> dict[int, int]:
    """Map each elementwise value node's id to the id of its group's root.

    ``order``: value-needed nodes in topological order.
    """
    return fuse_with_reductions(order, value_ids, output_ids, enabled, False)[0]


def _is_member(node) -> bool:
    return node.op.kind == ELEMENTWISE and node.op.name != "fill" and not is_scalar_source(node)


def fuse_with_reductions(order, value_ids, output_ids, enabled: bool = True,
                         reductions: bool = True):
    """``(group_of, absorbed)``: ``group_of`` as :func:`fuse`; ``absorbed`` maps the id
    of each reduction that computes its input inside its own loop to that input node.
    A node whose every consumer absorbed it has a group whose root is never stored."""
    consumers: dict[int, list] = {}
    for node in order:
        for i, src in enumerate(node.inputs):
            if node.op.reads_data(i) and src.id in value_ids:
                consumers.setdefault(src.id, []).append(node)
    absorbed: dict[int, object] = {}
    recomputed: set[int] = set()  # absorbed nodes that an elementwise group also computes
    if enabled and reductions:
        for node in order:
            if node.op.kind != REDUCE or node.op.name not in FUSABLE_REDUCTIONS:
                continue
            src = node.inputs[0]
            if not _is_member(src) or src.id in output_ids or src.shape is None or \
                    not _scalars_fit(src, node.attrs["axes"]):
                continue
            others = [c for c in consumers.get(src.id, []) if c.op.kind != REDUCE
                      or c.op.name not in FUSABLE_REDUCTIONS or c.inputs[0] is not src]
            if not all(c.op.kind == ELEMENTWISE for c in others):
                continue
            if others and (_cone_size(src, consumers) > RECOMPUTE_LIMIT or
                           _reaches(src, recomputed, consumers, absorbed)):
                # recomputing src must not recompute another recomputed node: a chain of
                # `y = sum(y) * c + y` blocks would put every block above into each
                # reduction's loop (compile time and work quadratic in the chain)
                continue
            absorbed[node.id] = src
            if others:
                recomputed.add(src.id)
    absorbed_ids = set(absorbed)
    group_of: dict[int, int] = {}
    for node in reversed(order):
        if node.op.kind != ELEMENTWISE:
            continue
        if node.op.name == "fill":
            group_of[node.id] = node.id
            continue
        cons = [c for c in consumers.get(node.id, []) if c.id not in absorbed_ids]
        root = node.id
        if enabled and node.id not in output_ids and cons and all(
                c.op.kind == ELEMENTWISE and c.op.name != "fill" for c in cons):
            roots = {group_of[c.id] for c in cons}
            if len(roots) == 1:
                candidate = roots.pop()
                if value_ids[candidate].shape == node.shape:
                    root = candidate
        group_of[node.id] = root
    return group_of, absorbed


def _cone_size(node, consumers) -> int:
    """Elementwise nodes of the same shape that ``node`` is computed from and that
    nothing else reads (an upper bound of what a group would recompute)."""
    seen, stack = {node.id}, [node]
    while stack:
        n = stack.pop()
        for src in n.inputs:
            if src.id not in seen and _is_member(src) and src.shape == node.shape and \
                    len(consumers.get(src.id, [])) == 1:
                seen.add(src.id)
                stack.append(src)
    return len(seen)


def _reaches(node, marked: set, consumers, absorbed, limit: int = 64) -> bool:
    """Whether recomputing ``node`` recomputes a ``marked`` node: a walk through its
    same-shape elementwise ancestors that stops at stored ones (read by an op that does
    not compute them in its loop). More than ``limit`` of them counts as reaching."""
    absorbed_src = {s.id for s in absorbed.values()}

    def stored(n) -> bool:
        return any(c.op.kind != ELEMENTWISE and not (c.id in absorbed and n.id in absorbed_src)
                   for c in consumers.get(n.id, []))

    seen, stack = {node.id}, [node]
    while stack:
        n = stack.pop()
        for src in n.inputs:
            if src.id in seen or not _is_member(src) or src.shape != node.shape:
                continue
            if src.id in marked or len(seen) >= limit:
                return True
            seen.add(src.id)
            if not stored(src):
                stack.append(src)
    return False


def _scalars_fit(node, axes) -> bool:
    """Whether no fill read by ``node``'s elementwise ancestors of its shape is larger
    than 1 along a reduced axis: the fused loop's extent along a reduced axis is then
    the broadcast of its array inputs' extents."""
    ndim = len(node.shape)
    seen, stack = {node.id}, [node]
    while stack:
        n = stack.pop()
        for src in n.inputs:
            if src.id in seen:
                continue
            seen.add(src.id)
            if src.op.name == "fill":
                if src.shape is None:
                    return False
                lead = ndim - len(src.shape)
                if any(a - lead >= 0 and src.shape[a - lead] != 1 for a in axes):
                    return False
            elif _is_member(src) and src.shape == node.shape:
                stack.append(src)
    return True
