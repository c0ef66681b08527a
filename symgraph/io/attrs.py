"""Op attributes in graph files: the JSON encoding of attr values and the schema
each op's attributes must follow when a file is loaded.

Encoding (``graph.json``): ``None``, booleans, integers, strings and finite floats are
JSON values; tuples are JSON arrays (attrs are hashable, so they hold no lists and an
array always decodes to a tuple); ``{"$float": "nan" | "inf" | "-inf"}`` for the other
floats; ``{"$array": key}`` a constant's value, stored in ``arrays.npz``;
``{"$loop": k}`` the inner graph of a loop, entry ``k`` of the file's ``loops`` table.
No other object is ever written or read.

Schema: :data:`OP_ATTRS` names, per op, every attribute it may carry and its kind. A
file whose node carries another attribute, or a value of the wrong kind, is refused
before anything is built; what the kinds allow beyond that (a padding mode, the
entries of a reshape target) is checked by the op's own shape rule, run on every node.
"""

from __future__ import annotations

import math

from ..core import dtypes

MAX_DEPTH = 8  #: nesting of tuples inside one attribute value
MAX_ITEMS = 100_000  #: scalars inside one attribute value

_CONV = {"data_format": "str", "dilation": "ints", "padding": "str", "rank": "int",
         "strides": "ints"}
_POOL = {"data_format": "str", "mode": "str", "padding": "str", "pool_size": "ints",
         "rank": "int", "strides": "ints"}
_LOCAL = {"data_format": "str", "kernel_size": "ints", "output_shape": "tree",
          "rank": "int", "strides": "ints"}
_REDUCE = {"axes": "ints", "keepdims": "bool"}

#: op name -> {attribute: kind}; kinds: int, bool, float, number (bool, int or float),
#: str, dtype, ints (a tuple of ints), tree (nested tuples of scalars), const, loop
OP_ATTRS: dict[str, dict[str, str]] = {
    **{name: {} for name in (
        "placeholder", "variable", "abs", "add", "after", "cos", "equal", "exp", "expm1",
        "floor_divide", "gather", "greater", "greater_equal", "identity", "isfinite",
        "less", "less_equal", "log", "log1p", "logical_and", "logical_not", "logical_or",
        "matmul", "maximum", "minimum", "mod", "multiply", "negative", "not_equal",
        "padded_rows_to_sparse_count", "padded_rows_to_sparse_indices",
        "padded_rows_to_sparse_values", "pick", "power", "round", "scatter_pick",
        "scatter_rows", "shape", "sigmoid", "sign", "sin", "softplus", "softsign", "sqrt",
        "square", "stop_gradient", "subtract", "sum_to", "tanh", "true_divide", "where",
        "ctc_skip_idxs", "ctc_update_log_p", "ctc_update_log_p_grad")},
    **{name: _CONV for name in ("conv", "conv_input_grad", "conv_kernel_grad",
                                "depthwise_conv", "depthwise_input_grad",
                                "depthwise_kernel_grad")},
    "conv_transpose": {**_CONV, "output_shape": "tree"},
    **{name: _POOL for name in ("pool", "avg_pool_grad", "max_pool_gather",
                                "max_pool_grad")},
    **{name: _LOCAL for name in ("local_conv", "local_input_grad", "local_kernel_grad")},
    **{name: _REDUCE for name in ("all", "any", "argmax", "argmin", "max", "mean", "min",
                                  "prod", "sum")},
    "assign": {"instance": "int"},
    "print_tensor": {"instance": "int", "message": "str"},
    "broadcast_to": {"target": "tree"},
    "reshape": {"target": "tree", "unit_axes": "ints"},
    "cast": {"dtype": "dtype"},
    "concat_part": {"axis": "int", "part": "int"},
    "concatenate": {"axis": "int"},
    "constant": {"value": "const"},
    "ctc_decode": {"beam_width": "int", "eps": "float", "greedy": "bool",
                   "merge_repeated": "bool", "top_paths": "int"},
    "ctc_loss": {"eps": "float"},
    "ctc_loss_grad": {"eps": "float"},
    "ctc_path_probs": {"alpha": "float"},
    "ctc_path_probs_grad": {"alpha": "float"},
    "cumulative": {"axis": "int", "kind": "str"},
    "fill": {"dtype": "dtype", "value": "number"},
    "getitem": {"index": "tree"},
    "scatter_index": {"index": "tree"},
    "in_top_k": {"k": "int"},
    "pad": {"pads": "tree"},
    "random": {"a": "float", "b": "float", "dist": "str", "dtype": "dtype",
               "instance": "int", "seed": "int", "shape": "tree", "target": "tree"},
    "resize_bilinear": {"factors": "ints"},
    "resize_bilinear_grad": {"factors": "ints"},
    "scan": {"body": "loop"},
    "scan_output": {"body": "loop", "index": "int"},
    "softmax": {"axis": "int"},
    "sparse_gather": {"counted": "bool"},
    "sparse_to_dense": {"counted": "bool", "target": "tree"},
    "transpose": {"perm": "ints"},
}


class AttrError(ValueError):
    """An attribute value that cannot be encoded or decoded (the caller names the node)."""


# -- encoding -----------------------------------------------------------------------------
def encode(value, arrays: dict, loops: dict):
    """``value`` as JSON data. ``arrays(ConstValue) -> key`` and ``loops(LoopBody) -> k``
    are callbacks that store what cannot be inline."""
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is str:
        return value
    if kind is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if kind is tuple:
        return [encode(v, arrays, loops) for v in value]
    name = kind.__name__
    if name == "ConstValue":
        return {"$array": arrays(value)}
    if name == "LoopBody":
        return {"$loop": loops(value)}
    raise AttrError(f"an attribute of type {name} cannot be saved")


# -- decoding -----------------------------------------------------------------------------
def _scalar_ok(v) -> bool:
    return v is None or type(v) in (bool, int, float, str)


def decode(kind: str, data, arrays, loops):
    """The attribute value of ``kind`` that ``data`` (parsed JSON) encodes.
    ``arrays(key)`` / ``loops(k)`` return the stored constant / loop body."""
    if kind == "const":
        key = _tag(data, "$array")
        if type(key) is not str:
            raise AttrError("expected {\"$array\": key}")
        return arrays(key)
    if kind == "loop":
        k = _tag(data, "$loop")
        if type(k) is not int:
            raise AttrError("expected {\"$loop\": index}")
        return loops(k)
    value = _plain(data, 0, [0])
    if kind == "int":
        ok = type(value) is int
    elif kind == "bool":
        ok = type(value) is bool
    elif kind == "float":
        ok = type(value) in (int, float)
    elif kind == "number":
        ok = type(value) in (bool, int, float)
    elif kind == "str":
        ok = type(value) is str and len(value) <= 100_000
    elif kind == "dtype":
        ok = type(value) is str and value in dtypes.SUPPORTED
    elif kind == "ints":
        ok = type(value) is tuple and all(type(v) is int for v in value)
    elif kind == "tree":
        ok = value is None or _scalar_ok(value) or type(value) is tuple
    else:  # a schema bug, not the file's
        raise AssertionError(f"unknown attribute kind {kind!r}")
    if not ok:
        raise AttrError(f"expected {'a ' if kind != 'ints' else ''}{_KIND_TEXT[kind]}, "
                        f"got {_short(data)}")
    return value


_KIND_TEXT = {"int": "integer", "bool": "boolean", "float": "number", "number": "number",
              "str": "string", "dtype": f"dtype name ({', '.join(dtypes.SUPPORTED)})",
              "ints": "list of integers", "tree": "nested list of scalars"}


def _tag(data, tag: str):
    if type(data) is not dict or list(data) != [tag]:
        raise AttrError(f"expected {{{tag!r}: ...}}, got {_short(data)}")
    return data[tag]


def _plain(data, depth: int, count: list):
    """JSON data without tags (but ``$float``) as tuples and scalars, bounded."""
    count[0] += 1
    if count[0] > MAX_ITEMS:
        raise AttrError(f"more than {MAX_ITEMS} items in one attribute")
    if type(data) is list:
        if depth >= MAX_DEPTH:
            raise AttrError(f"nested deeper than {MAX_DEPTH}")
        return tuple(_plain(v, depth + 1, count) for v in data)
    if type(data) is dict:
        text = _tag(data, "$float")
        if text not in ("nan", "inf", "-inf"):
            raise AttrError(f"$float must be 'nan', 'inf' or '-inf', got {_short(text)}")
        return float(text)
    if _scalar_ok(data):
        return data
    raise AttrError(f"unexpected value {_short(data)}")


def _short(data) -> str:
    text = repr(data)
    return text if len(text) <= 60 else text[:57] + "..."


_ONE = (1, 1)
#: op name -> (fewest, most) inputs (``None``: any number) for ops without a fixed
#: elementwise arity; elementwise ops declare theirs in the registry (``extra['nin']``)
OP_INPUTS: dict[str, tuple[int, int | None]] = {
    **{name: (0, 0) for name in ("placeholder", "variable", "constant")},
    **{name: _ONE for name in (
        "all", "any", "argmax", "argmin", "max", "mean", "min", "prod", "sum", "cumulative",
        "pad", "pool", "print_tensor", "resize_bilinear", "shape", "softmax", "transpose",
        "ctc_skip_idxs")},
    **{name: (2, 2) for name in (
        "assign", "avg_pool_grad", "conv", "ctc_decode", "ctc_path_probs", "depthwise_conv",
        "gather", "in_top_k", "local_conv", "matmul", "max_pool_gather", "max_pool_grad",
        "padded_rows_to_sparse_count", "padded_rows_to_sparse_indices",
        "padded_rows_to_sparse_values", "pick", "resize_bilinear_grad", "scatter_index",
        "sum_to")},
    **{name: (3, 3) for name in (
        "conv_input_grad", "conv_kernel_grad", "ctc_path_probs_grad", "depthwise_input_grad",
        "depthwise_kernel_grad", "local_input_grad", "local_kernel_grad", "scatter_pick",
        "scatter_rows")},
    "ctc_loss": (4, 4), "ctc_loss_grad": (5, 5), "ctc_update_log_p": (5, 5),
    "ctc_update_log_p_grad": (6, 6),
    "after": (1, None), "broadcast_to": (1, None), "concat_part": (2, None),
    "concatenate": (1, None), "conv_transpose": (2, None), "getitem": (1, None),
    "random": (0, None), "reshape": (1, None), "scan": (1, None), "scan_output": (2, None),
    "sparse_gather": (2, 3), "sparse_to_dense": (2, None), "fill": (0, 1),
}
