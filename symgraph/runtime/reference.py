"""A plain NumPy interpreter of graphs, built from each op's ``reference``.

It is the oracle of the test suite: compiled kernels must agree with it. It shares
no code with the compiler (no fusion, no numba)."""

from __future__ import annotations

import numpy as np

from ..core.tensor import Constant, Placeholder, Variable
from ..errors import FeedError


def reference_eval(outputs, feeds: dict | None = None) -> list:
    """Evaluate ``outputs`` with NumPy; ``feeds`` maps placeholders to arrays."""
    feeds = feeds or {}
    by_id = {ph.id: np.asarray(v, dtype=ph.dtype) for ph, v in feeds.items()}
    values: dict[int, np.ndarray] = {}
    graph = outputs[0].graph
    for node in graph.ancestors(outputs):
        if isinstance(node, Placeholder):
            if node.id not in by_id:
                raise FeedError(f"placeholder '{node.name}' was not fed")
            values[node.id] = by_id[node.id]
        elif isinstance(node, Variable):
            values[node.id] = node.value
        elif isinstance(node, Constant):
            values[node.id] = node.value
        else:
            arrays = [values[s.id] for s in node.inputs]
            attrs = dict(node.attrs)
            if node.op.extra.get("stateful"):
                attrs["counter"] = 0
            out_shape = _concrete_shape(node, arrays)
            values[node.id] = np.asarray(node.op.reference(arrays, attrs, out_shape, node.dtype))
    return [values[t.id] for t in outputs]


def _concrete_shape(node, arrays):
    shape, _ = node.op.infer([a.shape for a in arrays], [a.dtype.name for a in arrays],
                             node.attrs)
    return tuple(shape)
