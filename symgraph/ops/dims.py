"""Shape arguments that are tensors: ``K.shape(x)[0]``, arithmetic on such dims,
``K.stack`` / ``K.concatenate`` of them, ``K.size(x)``, or a whole ``K.shape(x)``.

Keras layers compute shapes at run time and pass them on (``[K.shape(x)[0], 1, 5]``
as a dropout ``noise_shape``). Such a tensor is rarely *data*: it is a function of other
tensors' shapes. At build time it is turned into **dim entries**, the same small
expressions reshape and broadcast targets already use, over ``(input, axis)``
references to the tensors whose shapes it reads. Those tensors become shape-only inputs
of the op, so:

* static inference keeps every dim it can know (a known dim is an int at once);
* the run-time shape propagation resolves the rest from the fed shapes, before any
  kernel runs and without computing data; the tensor itself is never evaluated;
* a new batch size costs a pass of shape rules, never a recompile.

Entries (hashable, stored in op attributes and graph files):

* ``int``: a known size (``-1`` at the top level of a reshape target: "the rest");
* ``((src, axis), ...)``: the product of those input dims (``()`` is 1);
* ``("expr", fn, a, b)``: ``fn`` in :data:`FUNCTIONS` applied to two entries
  (arithmetic, max/min, and comparisons giving 0 or 1, with which ``where`` is written);
* ``("value", src, k)``: element ``k`` of input ``src``'s *value*, for a shape that
  depends on data (``K.zeros([K.max(labels) + 1])``). Statically that dim is ``None``;
  a compiled function computes those inputs first, with a small function of its own,
  and then propagates shapes with their values (``runtime.function``).
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from ..core.tensor import Constant, Tensor

FUNCTIONS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "//": lambda a, b: a // b if b else None,
    "%": lambda a, b: a % b if b else None,
    "/": lambda a, b: a / b if b else None,
    "max": max,
    "min": min,
    "int": lambda a, b: int(a),  # a cast to an integer type truncates toward zero
    "ceil": lambda a, b: -(-a // b) if b else None,  # ceil(a / b) for ints
    "<": lambda a, b: int(a < b),  # comparisons are 0 or 1 (``where`` is arithmetic on them)
    "<=": lambda a, b: int(a <= b),
    ">": lambda a, b: int(a > b),
    ">=": lambda a, b: int(a >= b),
    "==": lambda a, b: int(a == b),
    "!=": lambda a, b: int(a != b),
}
_BINARY_OPS = {"add": "+", "subtract": "-", "multiply": "*", "floor_divide": "//",
               "mod": "%", "true_divide": "/", "maximum": "max", "minimum": "min",
               "less": "<", "less_equal": "<=", "greater": ">", "greater_equal": ">=",
               "equal": "==", "not_equal": "!="}
_MAX_ELEMENTS = 64  # a shape argument longer than this is not a shape


_RUN_TIME = threading.local()  # .values: {input index: array} of the node being shaped


def is_expr(entry) -> bool:
    return type(entry) is tuple and len(entry) == 4 and entry[0] == "expr"


def is_value(entry) -> bool:
    return type(entry) is tuple and len(entry) == 3 and entry[0] == "value"


@contextlib.contextmanager
def input_values(values: dict):
    """Make ``values`` ({input index: array}) what ``("value", src, k)`` entries read
    while the node they belong to is shaped (this thread only)."""
    previous = getattr(_RUN_TIME, "values", None)
    _RUN_TIME.values = values
    try:
        yield
    finally:
        _RUN_TIME.values = previous


def resolve_entry(entry, in_shapes):
    """The value of one entry given the inputs' shapes (static or concrete): a number,
    or ``None`` when a dim or value it reads is unknown.

    Raises:
        ValueError: for a malformed entry (a graph file is checked through this).
    """
    if type(entry) is int or type(entry) is float:
        return entry
    if type(entry) is not tuple:
        raise ValueError(f"malformed dim entry {entry!r}")
    if is_expr(entry):
        _, fn, a, b = entry
        if fn not in FUNCTIONS:
            raise ValueError(f"unknown function {fn!r} in a dim entry")
        a, b = resolve_entry(a, in_shapes), resolve_entry(b, in_shapes)
        if a is None or b is None:
            return None
        return FUNCTIONS[fn](a, b)
    if is_value(entry):
        _, src, k = entry
        if type(src) is not int or not 0 <= src < len(in_shapes) or type(k) is not int:
            raise ValueError(f"malformed value entry {entry!r}")
        values = getattr(_RUN_TIME, "values", None)
        if values is None or src not in values:
            return None  # build time: known once the value is computed
        flat = np.asarray(values[src]).reshape(-1)
        if not 0 <= k < flat.size or flat.dtype.kind not in "iu":
            raise ValueError(f"a shape value of input {src} has no int element {k}")
        return int(flat[k])
    value = 1
    for ref in entry:
        if type(ref) is not tuple or len(ref) != 2 or type(ref[0]) is not int or \
                not 0 <= ref[0] < len(in_shapes) or type(ref[1]) is not int:
            raise ValueError(f"malformed dim reference {ref!r}")
        shape = in_shapes[ref[0]]
        if shape is None:
            return None
        if not -len(shape) <= ref[1] < len(shape):
            raise ValueError(f"dim reference {ref!r} is out of range for rank {len(shape)}")
        d = shape[ref[1]]
        if d is None:
            return None
        value *= d
    return value


def value_inputs(attrs) -> set:
    """Input indices whose *values* some entry in ``attrs`` reads."""
    found: set = set()
    stack = list(attrs.values()) if hasattr(attrs, "values") else [attrs]
    while stack:
        item = stack.pop()
        if type(item) is tuple:
            if is_value(item):
                found.add(item[1])
            else:
                stack.extend(item)
    return found


class Collector:
    """The inputs of an op being built: ``leading`` (its own inputs, which a shape
    argument may refer to by position), then every other tensor a shape argument reads
    the shape of, appended once each. ``offset`` instead of ``leading``: the op has that
    many inputs of its own, none of which a reference may name (they are built later);
    ``context`` names the user's tensors in error messages."""

    def __init__(self, leading=(), offset: int | None = None, context=()):
        self.inputs = list(leading) if offset is None else [None] * offset
        self.n_leading = len(self.inputs)
        self.context = [t for t in (context or leading) if t is not None]

    @property
    def sources(self) -> tuple:
        return tuple(self.inputs[self.n_leading:])

    def add(self, tensor: Tensor) -> int:
        """The input index of ``tensor``, appending it when new."""
        for i, t in enumerate(self.inputs):
            if t is tensor:
                return i
        self.inputs.append(tensor)
        return len(self.inputs) - 1

    def dim(self, tensor: Tensor, axis: int):
        """Entry for ``tensor.shape[axis]``: the int when static, else a reference."""
        d = tensor.shape[axis]
        if d is not None:
            return d
        for i, t in enumerate(self.inputs):
            if t is tensor:
                return ((i, axis),)
        self.inputs.append(tensor)
        return ((len(self.inputs) - 1, axis),)


def combine(fn: str, a, b):
    """The entry ``fn(a, b)`` of two entries (folded when both are known numbers)."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return FUNCTIONS[fn](a, b)
    if fn == "*" and type(a) is tuple and type(b) is tuple and not is_expr(a) and \
            not is_expr(b):
        return a + b  # products of dims stay a flat product (reshape's -1 cancels them)
    if fn == "*" and a == 1:
        return b
    if fn in ("*", "+") and b in (1, 0) and (fn == "*") == (b == 1):
        return a
    if fn == "+" and a == 0:
        return b
    return ("expr", fn, a, b)


def _constant_entries(value: np.ndarray):
    if value.ndim > 1 or value.size > _MAX_ELEMENTS or value.dtype.kind not in "iuf":
        return None
    out = []
    for v in value.reshape(-1).tolist():
        if value.dtype.kind == "f" and not float(v).is_integer():
            out.append(float(v))
        else:
            out.append(int(v))
    return out


def _entries(t: Tensor, col: Collector, memo: dict):
    """Entries of a 0-d or 1-d tensor that depends only on shapes, else None."""
    if t.id in memo:
        return memo[t.id]
    memo[t.id] = None  # a cycle cannot happen, but a miss must not recurse again
    out = _entries_uncached(t, col, memo)
    if out is not None and len(out) > _MAX_ELEMENTS:
        out = None
    memo[t.id] = out
    return out


def _entries_uncached(t: Tensor, col: Collector, memo: dict):
    if t.shape is None or len(t.shape) > 1 or None in t.shape:
        return None
    if isinstance(t, Constant):
        return _constant_entries(np.asarray(t.value))
    name = t.op.name
    if name == "shape":
        src = t.inputs[0]
        if src.shape is None:
            return None
        return [col.dim(src, a) for a in range(len(src.shape))]
    if name in ("identity", "stop_gradient"):
        return _entries(t.inputs[0], col, memo)
    if name == "cast":
        inner = _entries(t.inputs[0], col, memo)
        if inner is None:
            return None
        if t.dtype == "bool":
            return [combine("!=", e, 0) for e in inner]
        if t.dtype.startswith(("int", "uint")):
            return [combine("int", e, 0) if not _is_int_entry(e) else e for e in inner]
        return inner
    if name == "reshape":  # to (n,) or (): the same elements
        return _entries(t.inputs[0], col, memo)
    if name == "getitem":
        inner = _entries(t.inputs[0], col, memo)
        index = t.attrs["index"]
        if inner is None or len(index) != 1:
            return None
        kind = index[0][0]
        if kind == "int":
            return [inner[index[0][1]]]
        if kind == "slice":
            _, start, stop, step = index[0]
            return inner[slice(start, stop, step)]
        return None
    if name == "concatenate":
        out = []
        for part in t.inputs:
            inner = _entries(part, col, memo)
            if inner is None:
                return None
            out.extend(inner)
        return out
    if name == "where":  # b + (a - b) * cond, cond being 0 or 1
        parts = [_entries(s, col, memo) for s in t.inputs]
        if any(p is None for p in parts):
            return None
        n = max(len(p) for p in parts)
        if any(len(p) not in (1, n) for p in parts):
            return None
        cond, a, b = (p * n if len(p) == 1 else p for p in parts)
        return [combine("+", y, combine("*", combine("-", x, y), c))
                for c, x, y in zip(cond, a, b)]
    if name == "negative":
        inner = _entries(t.inputs[0], col, memo)
        return None if inner is None else [combine("-", 0, e) for e in inner]
    if name in _BINARY_OPS:
        a, b = (_entries(s, col, memo) for s in t.inputs)
        if a is None or b is None:
            return None
        if len(a) == 1 and len(b) != 1:
            a = a * len(b)
        elif len(b) == 1 and len(a) != 1:
            b = b * len(a)
        if len(a) != len(b):
            return None
        out = [combine(_BINARY_OPS[name], x, y) for x, y in zip(a, b)]
        if t.dtype.startswith(("int", "uint")) and name == "true_divide":
            return None  # true division of ints gives floatx; never an int here
        return out
    if name in ("prod", "sum") and t.attrs.get("axes") == (0,):
        inner = _entries(t.inputs[0], col, memo)
        if inner is None:
            return None
        acc = 1 if name == "prod" else 0
        for e in inner:
            acc = combine("*" if name == "prod" else "+", acc, e)
        return [acc]
    return None


def _is_int_entry(entry) -> bool:
    if type(entry) is int:
        return True
    if type(entry) is float:
        return False
    if is_expr(entry):
        return entry[1] not in ("/",) and _is_int_entry(entry[2]) and _is_int_entry(entry[3])
    return True  # a product of dims


def entries_of(t: Tensor, col: Collector) -> list | None:
    """The dim entries of a 0-d or 1-d tensor ``t`` computed only from shapes (static
    length), registering the tensors it reads with ``col``; ``None`` when ``t`` reads
    data or is not such a tensor."""
    saved = list(col.inputs)
    out = _entries(t, col, {})
    if out is None:
        col.inputs[:] = saved  # a failed walk must not leave inputs behind
        return None
    if any(type(e) is float for e in out):
        col.inputs[:] = saved
        return None
    return out


def describe(t: Tensor) -> str:
    """Why a tensor is not a shape: for error messages."""
    from ..core.shapes import shape_str

    return f"'{t.name}' ({t.op.name}, shape {shape_str(t.shape)}, {t.dtype})"


def shape_argument(arg, col: Collector, label: str, *, allow_none: bool = False,
                   allow_minus_one: bool = False, allow_negative: bool = False,
                   allow_data: bool = True, what: str = "shape") -> list:
    """Turn a user's shape argument into dim entries (``None`` kept where allowed).

    ``arg`` may be an int, a list/tuple mixing ints, ``None`` and scalar int tensors,
    or a 1-D int tensor of known length (``K.shape(x)``, ``K.stack([...])``). A tensor
    computed only from shapes becomes dim entries; one computed from data (with
    ``allow_data``) becomes ``("value", ...)`` entries, resolved when it has run.

    Raises:
        DTypeError / ShapeError naming ``label``, the argument and the user's line.
    """
    from ..errors import DTypeError, ShapeError, op_error

    def bad(cls, msg, extra=()):
        return op_error(cls, label, [*col.context, *extra], msg)

    if isinstance(arg, Tensor):
        if arg.shape is None or len(arg.shape) != 1 or arg.shape[0] is None:
            raise bad(ShapeError, f"a {what} given as a tensor must be 1-D with a known "
                      f"length, got {describe(arg)}", [arg])
        items = [arg]
    elif isinstance(arg, (list, tuple)):
        items = list(arg)
    elif isinstance(arg, np.ndarray) and arg.ndim <= 1:
        items = arg.reshape(-1).tolist()
    else:
        items = [arg]
    out = []
    for item in items:
        if item is None:
            if not allow_none:
                raise bad(ShapeError, f"{what} entries must be known here, got None in {arg!r}")
            out.append(None)
        elif isinstance(item, Tensor):
            if not item.dtype.startswith(("int", "uint")):
                raise bad(DTypeError, f"{what} tensors must have an integer dtype, got "
                          f"{describe(item)}", [item])
            if item.shape is None or len(item.shape) > 1 or (
                    len(item.shape) == 1 and (item.shape[0] is None or len(items) > 1)):
                raise bad(ShapeError, f"{what} entries must be scalar int tensors (or the "
                          f"whole {what} one 1-D tensor), got {describe(item)}", [item])
            entries = entries_of(item, col)
            if entries is None:  # computed from data: read its value before shaping
                if not allow_data:
                    raise bad(ShapeError, f"the {what} tensor {describe(item)} is computed "
                              "from data, not only from shapes (K.shape, K.int_shape, "
                              "ints), and this op needs it before it runs", [item])
                index = col.add(item)
                count = 1 if item.shape == () else item.shape[0]
                entries = [("value", index, k) for k in range(count)]
            out.extend(entries)
        elif isinstance(item, (bool, np.bool_)) or not hasattr(item, "__index__"):
            raise bad(DTypeError, f"{what} entries must be ints, None or scalar int "
                      f"tensors, got {item!r}")
        else:
            out.append(int(item.__index__()))
    for e in out:
        if type(e) is int and e < 0 and not allow_negative and not (
                e == -1 and allow_minus_one):
            raise bad(ShapeError, f"{what} has a negative dimension: {arg!r}")
    return out
