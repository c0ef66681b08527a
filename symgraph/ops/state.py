"""Ops with effects outside the value they compute: variable assignment, ordering
(control dependencies) and printing.

* ``assign(variable, new_value)``: its value is ``new_value`` (cast to the variable's
  dtype and shape); when a compiled function evaluates it, the variable is set to
  that value *after* the function's outputs are computed (Theano/Keras update
  semantics). ``K.update``/``K.update_add``/``K.update_sub`` build it.
* ``after(x, *controls)``: the value of ``x``, computed only once the ``controls`` are
  (what ``K.control_dependencies`` wraps around nodes created inside it).
* ``print_tensor(x)``: the value of ``x``; prints a message and the value each time
  it runs.
"""

from __future__ import annotations

import sys

import numpy as np

from ..core.shapes import shape_str, shapes_compatible
from ..core.tensor import Tensor, Variable
from ..errors import GraphError, ShapeError, op_error
from .registry import KERNEL, NOT_DIFFERENTIABLE, VIEW, Op, register


# -- assign ------------------------------------------------------------------------------
def _assign_infer(in_shapes, in_dtypes, attrs):
    var_shape, value_shape = in_shapes
    if value_shape is not None and value_shape != () and not shapes_compatible(var_shape,
                                                                              value_shape):
        raise ValueError(f"cannot assign a value of shape {shape_str(value_shape)} to a "
                         f"variable of shape {shape_str(var_shape)}")
    return tuple(var_shape), in_dtypes[0]


def _assign_value(arrays, attrs, out_shape, out_dtype):
    value = arrays[1]
    if value.shape == tuple(out_shape):
        return value  # no copy: the runtime copies (or takes over a fresh buffer) on assign
    return np.broadcast_to(value, out_shape)  # a 0-d value fills the variable's shape


ASSIGN = register(Op(
    "assign", VIEW, _assign_infer, _assign_value, data_inputs=(1,),
    kernel=lambda args, in_shapes, attrs, out_shape, out_dtype:
        _assign_value(args, attrs, out_shape, out_dtype),
    grad=NOT_DIFFERENTIABLE, extra={"effects": True},
    doc="the new value of a variable; evaluating it assigns the variable after the call"))


def assign(var: Variable, value: Tensor) -> Tensor:
    """The update op setting ``var`` to ``value`` (see the module docstring)."""
    if not isinstance(var, Variable):
        raise GraphError(f"updates need a variable (K.variable), got {var!r}")
    if value.dtype != var.dtype:
        from .elementwise import cast

        value = cast(value, var.dtype)
    if value.shape is not None and value.shape != () and not shapes_compatible(var.shape,
                                                                              value.shape):
        # a None dim is checked against the variable when the function runs
        raise op_error(ShapeError, "update", [var, value],
                       f"the new value's shape {shape_str(value.shape)} is not the "
                       f"variable's shape {shape_str(var.shape)}")
    # "instance": two update ops are two assignments, even with equal inputs
    return var.graph.make(ASSIGN, (var, value), {"instance": len(var.graph.nodes)})


def assigned_variable(node: Tensor) -> Variable | None:
    """The variable an update op writes, or None for any other node."""
    if node.op is ASSIGN:
        return node.inputs[0]
    return None


# -- after (control dependencies) ----------------------------------------------------------
AFTER = register(Op(
    "after", VIEW, lambda in_shapes, in_dtypes, attrs: (in_shapes[0], in_dtypes[0]),
    lambda arrays, attrs, out_shape, out_dtype: arrays[0],
    kernel=lambda args, in_shapes, attrs, out_shape, out_dtype: args[0],
    grad=lambda node, g: (g,) + (None,) * (len(node.inputs) - 1), extra={"effects": True},
    doc="the value of input 0, computed after the other inputs (control dependencies)"))


def after(x: Tensor, controls) -> Tensor:
    """``x``, ordered after ``controls`` (their values are computed, never read)."""
    controls = tuple(c for c in controls if c is not x)
    if not controls:
        return x
    return x.graph.make(AFTER, (x, *controls))


# -- print ---------------------------------------------------------------------------------
def _print_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    value = args[0]
    print(f"{attrs['message']}{value}", file=sys.stdout, flush=True)
    return np.array(value, copy=True)


PRINT = register(Op(
    "print_tensor", KERNEL, lambda in_shapes, in_dtypes, attrs: (in_shapes[0], in_dtypes[0]),
    lambda arrays, attrs, out_shape, out_dtype: np.array(arrays[0], copy=True),
    kernel=_print_kernel, grad=lambda node, g: (g,), extra={"effects": True},
    doc="the identity; prints a message and the value each time it runs"))


def print_tensor(x: Tensor, message: str) -> Tensor:
    return x.graph.make(PRINT, (x,), {"message": str(message),
                                      "instance": len(x.graph.nodes)})
