"""Static shape algebra. A shape is a tuple of ``int | None`` (None: unknown dim), or
``None`` when even the rank is unknown. Every rule here works on static shapes (build
time) and on concrete shapes (run time, all ints) alike. Sizes are Python ints, never
NumPy ints, so they cannot overflow silently."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Shape = tuple  # tuple[int | None, ...]

MAX_ELEMENTS = 2**48  # refuse to allocate more than this many elements


class BroadcastError(ValueError):
    """Internal: two shapes do not broadcast (turned into a ShapeError by the op)."""


def normalize_shape(shape, what: str = "shape") -> Shape:
    """Turn an int, list or tuple (None allowed) into a validated shape tuple."""
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError as exc:
        raise ValueError(f"{what} must be a tuple of ints or None, got {shape!r}") from exc
    out = []
    for d in dims:
        if d is None:
            out.append(None)
            continue
        if isinstance(d, bool) or not hasattr(d, "__index__"):
            raise ValueError(f"{what} must contain ints or None, got {shape!r}")
        d = int(d.__index__())
        if d < 0:
            raise ValueError(f"{what} has a negative dimension: {shape!r}")
        out.append(d)
    return tuple(out)


def is_fully_known(shape: Shape | None) -> bool:
    return shape is not None and all(d is not None for d in shape)


def num_elements(shape: Shape) -> int | None:
    """Product of the dims as a Python int, or None if any dim is unknown."""
    if shape is None:
        return None
    n = 1
    for d in shape:
        if d is None:
            return None
        n *= d
    return n


def check_size(shape: Shape) -> None:
    """Reject shapes too large to allocate (guards against overflowing sizes)."""
    n = num_elements(shape)
    if n is not None and n > MAX_ELEMENTS:
        raise ValueError(f"shape {shape} has {n} elements, more than symgraph allocates")


def broadcast_dim(a: int | None, b: int | None) -> int | None:
    if a == 1:
        return b
    if b == 1:
        return a
    if a is None:
        return b if b is not None and b != 1 else (None if b is None else a)
    if b is None:
        return a
    if a != b:
        raise BroadcastError(f"{a} vs {b}")
    return a


def broadcast_shapes(*shapes: Shape | None) -> Shape | None:
    """NumPy broadcasting of static shapes. ``None`` dims stay unknown unless the
    other side fixes them (a known dim > 1 wins over None: a mismatch would be an
    error at run time)."""
    # Fast paths for what every elementwise op asks while a graph is built: one
    # operand, equal shapes, or a scalar next to a tensor (equal shapes broadcast to
    # themselves, unknown dims included: broadcast_dim(None, None) is None).
    n = len(shapes)
    if n == 1:
        s = shapes[0]
        return None if s is None else tuple(s)
    if n == 2:
        a, b = shapes
        if a is None or b is None:
            return None
        if a == b or b == ():
            return tuple(a)
        if a == ():
            return tuple(b)
    if any(s is None for s in shapes):
        return None
    first = shapes[0] if shapes else ()
    if all(s == first for s in shapes):
        return tuple(first)
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        padded = (1,) * (ndim - len(s)) + tuple(s)
        for i, d in enumerate(padded):
            out[i] = broadcast_dim(out[i], d)
    return tuple(out)


def normalize_axis(axis: int, ndim: int, what: str = "axis") -> int:
    """Resolve a possibly negative axis; raise ValueError when out of range."""
    if isinstance(axis, bool) or not hasattr(axis, "__index__"):
        raise ValueError(f"{what} must be an int, got {axis!r}")
    axis = int(axis.__index__())
    if not -ndim <= axis < ndim:
        raise ValueError(f"{what} {axis} is out of range for rank {ndim}")
    return axis % ndim if ndim else 0


def normalize_axes(axis, ndim: int) -> tuple[int, ...]:
    """Resolve ``None`` (all axes), an int, or a list/tuple of ints into sorted axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, Iterable) and not isinstance(axis, (str, bytes)):
        axes = tuple(normalize_axis(a, ndim) for a in axis)
    else:
        axes = (normalize_axis(axis, ndim),)
    if len(set(axes)) != len(axes):
        raise ValueError(f"repeated axis in {axis!r}")
    return tuple(sorted(axes))


def dims_compatible(static: Shape | None, concrete: Sequence[int]) -> bool:
    """Whether a concrete shape matches a static one (same rank, known dims equal)."""
    if static is None:
        return True
    if len(static) != len(concrete):
        return False
    return all(s is None or s == c for s, c in zip(static, concrete))


def shapes_compatible(a: Shape | None, b: Shape | None) -> bool:
    """Whether two static shapes can be the same at run time (``None`` matches any)."""
    if a is None or b is None:
        return True
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def shape_str(shape: Shape | None) -> str:
    if shape is None:
        return "<unknown rank>"
    inner = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"
