"""Group elementwise nodes into fused kernels.

Walking value-needed nodes from the outputs back, an elementwise node joins the
group of its consumers when all of them are elementwise, all belong to one group,
and it has the same static shape as that group's root (so no small tensor is
recomputed once per element of a big one). Otherwise it roots a group of its own,
whose value is stored. Every member's consumers are inside its group, so groups
are convex: one loop computes the whole group with no intermediate arrays.
Fills and 0-d constants are never members: they enter loops as scalar arguments.
"""

from __future__ import annotations

from ..core.tensor import Constant
from ..ops.registry import ELEMENTWISE


def is_scalar_source(node) -> bool:
    """Nodes an elementwise loop reads as one scalar argument."""
    return node.op.name == "fill" or (isinstance(node, Constant) and node.shape == ())


def fuse(order, value_ids, output_ids, enabled: bool = True) -> dict[int, int]:
    """Map each elementwise value node's id to the id of its group's root.

    ``order``: value-needed nodes in topological order.
    """
    consumers: dict[int, list] = {}
    for node in order:
        for i, src in enumerate(node.inputs):
            if node.op.reads_data(i) and src.id in value_ids:
                consumers.setdefault(src.id, []).append(node)
    group_of: dict[int, int] = {}
    for node in reversed(order):
        if node.op.kind != ELEMENTWISE:
            continue
        if node.op.name == "fill":
            group_of[node.id] = node.id
            continue
        cons = consumers.get(node.id, [])
        root = node.id
        if enabled and node.id not in output_ids and cons and all(
                c.op.kind == ELEMENTWISE and c.op.name != "fill" for c in cons):
            roots = {group_of[c.id] for c in cons}
            if len(roots) == 1:
                candidate = roots.pop()
                if value_ids[candidate].shape == node.shape:
                    root = candidate
        group_of[node.id] = root
    return group_of
