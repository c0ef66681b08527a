"""Write a compiled function (or outputs and their inputs) as a graph document.

What is written is the user's graph, before the compiler's passes: the loaded
function runs the same passes and so the same plan, and its results are
bit-identical. Only the nodes the function needs are written: the ancestors of its
outputs and update values, and, for loops, the nodes of their inner graphs.
"""

from __future__ import annotations

import json

import numpy as np

from .. import config
from .._version import __version__
from ..core.tensor import Placeholder, Tensor, Variable
from ..errors import GraphFileError, docs_hint
from ..ops.control import closure
from . import attrs as attr_codec
from .schema import FORMAT, VERSION


def function_parts(obj, inputs=None) -> tuple:
    """``(inputs, outputs, updates, update_ops, name, fuse, passes, single_output)`` of
    a Function (or its one-output wrapper), or of output tensors with their ``inputs``."""
    from ..runtime.function import Function

    fn = getattr(obj, "fn", obj)  # K.function's one-output wrapper
    if isinstance(fn, Function):
        if inputs is not None:
            raise GraphFileError("save: inputs= is only for saving output tensors; a "
                                 "Function already has its inputs")
        return (fn.inputs, fn.outputs, fn.updates, fn.update_ops, fn.name, fn.fuse,
                fn.passes, fn is not obj)
    outputs = [obj] if isinstance(obj, Tensor) else \
        list(obj) if isinstance(obj, (list, tuple)) else None
    if not outputs or not all(isinstance(t, Tensor) for t in outputs):
        raise GraphFileError("save: expected a Function, a tensor or a list of tensors, "
                             f"got {type(obj).__name__}")
    if inputs is None:
        raise GraphFileError("save: pass inputs=[placeholders...] with output tensors "
                             "(the order the loaded function is fed in); "
                             f"{docs_hint('graph-files')}")
    fn = Function(list(inputs), outputs)  # validates inputs and what must be fed
    return fn.inputs, fn.outputs, [], [], None, True, None, isinstance(obj, Tensor)


def document(obj, inputs=None) -> tuple[bytes, dict]:
    """``(graph.json bytes, arrays)`` describing ``obj`` (see :func:`symgraph.io.save`)."""
    fn_inputs, outputs, updates, update_ops, name, fuse, passes, single = \
        function_parts(obj, inputs)
    targets = list(outputs) + [v for _, v in updates] + [v for v, _ in updates] + \
        list(update_ops) + list(fn_inputs)
    nodes = closure(targets)
    index = {t.id: k for k, t in enumerate(nodes)}
    arrays: dict[str, np.ndarray] = {}
    loops: list[dict] = []
    loop_index: dict[int, int] = {}

    def store_const(cval) -> str:
        key = f"c{len(arrays)}"
        arrays[key] = cval.array
        return key

    def store_loop(body) -> int:
        k = loop_index.get(id(body))
        if k is None:
            k = loop_index[id(body)] = len(loops)
            ids = lambda ts: [index[t.id] for t in ts]  # noqa: E731
            loops.append({
                "kind": body.kind, "seq_placeholders": ids(body.seq_placeholders),
                "state_placeholders": ids(body.state_placeholders),
                "capture_placeholders": ids(body.capture_placeholders),
                "captures": ids(body.captures), "step_outputs": ids(body.step_outputs),
                "state_outputs": ids(body.state_outputs),
                "sum_outputs": ids(body.sum_outputs), "min_steps": body.min_steps,
                "reverse": body.reverse})
        return k

    records = []
    for k, t in enumerate(nodes):
        rec = {"id": k, "op": t.op.name, "name": t.name,
               "scope": t.name.rpartition("/")[0],
               "inputs": [index[s.id] for s in t.inputs],
               "shape": None if t.shape is None else list(t.shape), "dtype": t.dtype}
        try:
            rec["attrs"] = {key: attr_codec.encode(v, store_const, store_loop)
                            for key, v in t.attrs.items()}
        except attr_codec.AttrError as exc:
            raise GraphFileError(f"save: node '{t.name}' ({t.op.name}): {exc}") from None
        if isinstance(t, Variable):
            key = f"v{len(arrays)}"
            arrays[key] = np.asarray(t.value, order="C")  # 0-d stays 0-d
            rec["value"] = key
        elif isinstance(t, Placeholder) and t.default is not None:
            key = f"d{len(arrays)}"
            arrays[key] = np.asarray(t.default, order="C")
            rec["default"] = key
        if t.location is not None:
            rec["location"] = [str(t.location[0]), int(t.location[1])]
        records.append(rec)
    doc = {
        "format": FORMAT, "version": VERSION, "symgraph_version": __version__,
        "floatx": config.floatx(), "nodes": records, "loops": loops,
        "inputs": [index[t.id] for t in fn_inputs],
        "outputs": [index[t.id] for t in outputs],
        "updates": [[index[v.id], index[x.id]] for v, x in updates],
        "update_ops": [index[t.id] for t in update_ops],
        "function": {"name": name, "fuse": bool(fuse),
                     "passes": None if passes is None else list(passes),
                     "single_output": bool(single)},
    }
    return json.dumps(doc, allow_nan=False, separators=(",", ":")).encode(), arrays
