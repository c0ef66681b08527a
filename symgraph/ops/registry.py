"""The op registry: every op of symgraph is one :class:`Op` entry, defined in one place.

An entry holds everything the rest of the system needs to know about the op:

* ``infer(in_shapes, in_dtypes, attrs) -> (shape, dtype)``: the shape/dtype rule. It
  works on static shapes (``None`` dims, build time) and concrete shapes (run time).
  It raises ``ValueError`` for impossible shapes and ``TypeError`` for bad dtypes;
  the graph turns those into errors naming the op, its inputs and the user's line.
* ``data_inputs``: which inputs the op reads *data* from. The others are read for
  their shape only (``zeros_like(x)`` never needs ``x``'s values).
* ``reference(arrays, attrs, out_shape, out_dtype)``: a plain NumPy implementation,
  the oracle tests compare compiled kernels against.
* ``scalar(args, attrs, in_dtypes, out_dtype) -> str`` for elementwise ops: a
  scalar expression the code generator inlines into one fused numba loop; or
  ``kernel(args, in_shapes, attrs, out_shape, out_dtype)`` for every other op.
* ``extra``: flags the compiler reads instead of knowing op names: ``stateful``
  (draws random numbers; a counter advances per evaluation) and ``effects`` (assigns,
  orders, prints or runs a loop: never merged, folded or rewritten by the passes),
  ``fresh_output`` (the kernel returns a new buffer a fused loop may write into) and
  ``tier0``: what a function's first calls run while the kernels compile
  (``runtime.tiered``): ``"kernel"`` when the kernel compiles nothing (NumPy and
  BLAS only), or a kernel-like function that compiles nothing; the reference otherwise;
  ``broadcast_view`` (the value is a zero-stride broadcast of input 0, which fused loops
  read at its own extent instead); ``bind(in_shapes, in_dtypes, attrs, out_shape,
  out_dtype)``: the kernel planned once for concrete shapes, a ``run(args)`` the
  runner calls instead of ``kernel`` (or None: the kernel decides each call).
* ``grad``: the gradient rule ``grad(node, g)`` returning one gradient (a tensor, or
  None) per input of ``node`` given ``g``, the gradient of the node's output
  (``NOT_DIFFERENTIABLE`` for ops without one). See ``symgraph.autodiff``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ELEMENTWISE = "elementwise"  # fused into generated numba loops
REDUCE = "reduce"  # generated numba reduction loops
VIEW = "view"  # zero-copy: strides and offsets only (reshape may copy)
KERNEL = "kernel"  # a hand-written numba kernel (or BLAS for matmul)
LEAF = "leaf"  # placeholder, variable, constant: values come from outside

KINDS = (ELEMENTWISE, REDUCE, VIEW, KERNEL, LEAF)


class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


NOT_DIFFERENTIABLE = _Marker("NOT_DIFFERENTIABLE")
GRAD_PENDING = _Marker("GRAD_PENDING")  # the gradient rule arrives with autodiff


@dataclass(frozen=True, eq=False)
class Op:
    """One op: its shape/dtype rule, data dependencies, reference, kernel and gradient."""

    name: str
    kind: str
    infer: Callable[..., tuple[Any, str]]
    reference: Callable[..., Any]
    data_inputs: tuple[int, ...] | None = None  # None: every input is read for data
    scalar: Callable[..., str] | None = None
    kernel: Callable[..., Any] | None = None
    grad: Any = GRAD_PENDING
    doc: str = ""
    extra: dict = field(default_factory=dict)

    def reads_data(self, index: int) -> bool:
        return self.data_inputs is None or index in self.data_inputs

    def __repr__(self) -> str:
        return f"Op({self.name})"


REGISTRY: dict[str, Op] = {}


def register(op: Op) -> Op:
    """Add ``op`` to the registry (each name once)."""
    if op.kind not in KINDS:
        raise ValueError(f"op {op.name}: unknown kind {op.kind!r}")
    if op.name in REGISTRY:
        raise ValueError(f"op {op.name} is registered twice")
    REGISTRY[op.name] = op
    return op


def get(name: str) -> Op:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"no op named {name!r} in the registry") from None


def define_grad(op: Op, rule) -> None:
    """Attach the gradient rule ``rule(node, g) -> tuple of input gradients (or None)``
    to ``op``'s entry; rules are defined next to the op, after the builders they use."""
    if op.grad is not GRAD_PENDING:
        raise ValueError(f"op {op.name} already has a gradient rule")
    object.__setattr__(op, "grad", rule)
