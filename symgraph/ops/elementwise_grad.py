"""The elementwise ops' gradient rules: ``rule(node, g)`` -> one gradient per input.

They stand here, above the ops they differentiate, because a broadcasting op's
gradients are summed back to each input's shape with ``unbroadcast``, which reduces
(``ops.gradutil``).
"""

from __future__ import annotations

from ..core import dtypes
from .elementwise import (
    ABS,
    ADD,
    CAST,
    COS,
    EXP,
    EXPM1,
    FLOOR_DIVIDE,
    IDENTITY,
    LOG,
    LOG1P,
    MAXIMUM,
    MINIMUM,
    MOD,
    MULTIPLY,
    NEGATIVE,
    POWER,
    ROUND,
    SIGMOID,
    SIGN,
    SIN,
    SOFTPLUS,
    SOFTSIGN,
    SQRT,
    SQUARE,
    SUBTRACT,
    TANH,
    TRUE_DIVIDE,
    WHERE,
    binary,
    cast,
    unary,
    where,
)
from .gradutil import unbroadcast, zeros_like
from .registry import NOT_DIFFERENTIABLE, define_grad


def _unary_rule(derivative):
    """Rule of a unary op whose derivative is ``derivative(x, y)`` (y: the output)."""
    return lambda node, g: (g * derivative(node.inputs[0], node),)


def _zero_rule(node, g):
    return (zeros_like(node.inputs[0]),)


def _binary_rule(ga, gb):
    """Rule of a broadcasting binary op: ``ga(a, b, y, g)``/``gb(...)`` give the
    gradients at the output's shape; they are summed back to each input's shape."""
    def rule(node, g):
        a, b = node.inputs
        return (unbroadcast(ga(a, b, node, g), a) if ga else None,
                unbroadcast(gb(a, b, node, g), b) if gb else None)
    return rule


def _cast_rule(node, g):
    src = node.inputs[0]
    return (cast(g, src.dtype) if dtypes.is_float(src.dtype) else None,)


def _where_rule(node, g):
    cond, a, b = node.inputs
    return (None, unbroadcast(where(cond, g, 0), a), unbroadcast(where(cond, 0, g), b))


def _log_positive(a):
    return where(a > 0, unary("log", where(a > 0, a, 1)), 0)


_RULES = {
    NEGATIVE: lambda node, g: (-g,),
    ABS: _unary_rule(lambda x, y: unary("sign", x)),
    SIGN: _zero_rule,
    ROUND: _zero_rule,
    SQUARE: _unary_rule(lambda x, y: x * 2),
    SQRT: _unary_rule(lambda x, y: 0.5 / y),
    EXP: _unary_rule(lambda x, y: y),
    EXPM1: _unary_rule(lambda x, y: y + 1),
    LOG: _unary_rule(lambda x, y: 1 / x),
    LOG1P: _unary_rule(lambda x, y: 1 / (x + 1)),
    SIN: _unary_rule(lambda x, y: unary("cos", x)),
    COS: _unary_rule(lambda x, y: -unary("sin", x)),
    TANH: _unary_rule(lambda x, y: 1 - y * y),
    SIGMOID: _unary_rule(lambda x, y: y * (1 - y)),
    SOFTPLUS: _unary_rule(lambda x, y: unary("sigmoid", x)),
    SOFTSIGN: _unary_rule(lambda x, y: 1 / unary("square", unary("abs", x) + 1)),
    IDENTITY: lambda node, g: (g,),
    CAST: _cast_rule,
    ADD: _binary_rule(lambda a, b, y, g: g, lambda a, b, y, g: g),
    SUBTRACT: _binary_rule(lambda a, b, y, g: g, lambda a, b, y, g: -g),
    MULTIPLY: _binary_rule(lambda a, b, y, g: g * b, lambda a, b, y, g: g * a),
    TRUE_DIVIDE: _binary_rule(lambda a, b, y, g: g / b, lambda a, b, y, g: -g * y / b),
    MOD: _binary_rule(lambda a, b, y, g: g,
                      lambda a, b, y, g: -g * binary("floor_divide", a, b)),
    POWER: _binary_rule(lambda a, b, y, g: g * b * binary("power", a, b - 1),
                        lambda a, b, y, g: g * y * _log_positive(a)),
    # ties send the gradient to the second operand: relu = maximum(x, 0) has relu'(0) = 0
    MAXIMUM: _binary_rule(lambda a, b, y, g: where(a > b, g, 0),
                          lambda a, b, y, g: where(a > b, 0, g)),
    MINIMUM: _binary_rule(lambda a, b, y, g: where(a < b, g, 0),
                          lambda a, b, y, g: where(a < b, 0, g)),
    WHERE: _where_rule,
}
for _op, _rule in _RULES.items():
    define_grad(_op, _rule)
define_grad(FLOOR_DIVIDE, NOT_DIFFERENTIABLE)  # piecewise constant: no gradient, as TF
