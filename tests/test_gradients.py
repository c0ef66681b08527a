"""K.gradients against central finite differences in float64, op by op, plus the
rules Keras relies on (None for unrelated variables, relu'(0) = 0, tied maxima
share the gradient, stop_gradient, second order for elementwise ops)."""

import numpy as np
import pytest

import symgraph.backend as K
from symgraph import ops
from symgraph.autodiff import GradientError
from symgraph.ops.registry import GRAD_PENDING, NOT_DIFFERENTIABLE, REGISTRY

from .helpers import assert_close

H = 1e-6


def numeric_grads(f, arrays):
    """Central differences of the scalar function ``f(list of arrays)``."""
    grads = []
    for k, a in enumerate(arrays):
        g = np.zeros_like(a)
        for idx in np.ndindex(*a.shape):
            args = [b.copy() for b in arrays]
            args[k][idx] += H
            up = f(args)
            args[k][idx] -= 2 * H
            down = f(args)
            g[idx] = (up - down) / (2 * H)
        grads.append(g)
    return grads


def check_grad(build, arrays, shapes=None, rtol=1e-5, atol=1e-7, seed=0):
    """Compare K.gradients of ``sum(build(*xs) * w)`` with finite differences.
    ``shapes``: static placeholder shapes (None dims allowed), default the arrays'."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    shapes = shapes or [a.shape for a in arrays]
    xs = [K.placeholder(s, dtype="float64") for s in shapes]
    out = build(*xs)
    probe = K.function(xs, [out])(arrays)[0]
    w = K.constant(np.random.default_rng(seed).normal(size=probe.shape), dtype="float64")
    loss = K.sum(out * w)
    grads = K.gradients(loss, xs)
    f = K.function(xs, [loss] + [g if g is not None else K.zeros_like(x)
                                 for g, x in zip(grads, xs)])
    values = f(arrays)
    expected = numeric_grads(lambda args: float(f(args)[0]), arrays)
    for got, exp in zip(values[1:], expected):
        assert got.shape == exp.shape
        np.testing.assert_allclose(got, exp, rtol=rtol, atol=atol)
    return grads


RNG = np.random.default_rng(42)


def away_from(values, points, margin=0.1):
    """``values`` nudged away from kinks at ``points``."""
    v = np.array(values, dtype=np.float64)
    for p in points:
        close = np.abs(v - p) < margin
        v[close] = p + np.where(v[close] >= p, margin, -margin)
    return v


# -- elementwise ---------------------------------------------------------------------------
UNARY = {
    "negative": (lambda x: -x, None),
    "abs": (K.abs, [0.0]),
    "square": (K.square, None),
    "sqrt": (lambda x: ops.unary("sqrt", x), "positive"),
    "exp": (K.exp, None),
    "expm1": (lambda x: ops.unary("expm1", x), None),
    "log": (K.log, "positive"),
    "log1p": (lambda x: ops.unary("log1p", x), "positive"),
    "sin": (K.sin, None),
    "cos": (K.cos, None),
    "tanh": (K.tanh, None),
    "sigmoid": (K.sigmoid, None),
    "softplus": (K.softplus, None),
    "softsign": (K.softsign, [0.0]),
    "identity": (K.identity, None),
    "cast": (lambda x: K.cast(K.cast(x, "float32"), "float64") * 0 + K.cast(x, "float64"),
             None),
    "relu": (lambda x: K.relu(x, alpha=0.1, max_value=1.5, threshold=0.2), [0.2, 1.5]),
    "elu": (K.elu, [0.0]),
    "hard_sigmoid": (K.hard_sigmoid, [-2.5, 2.5]),
    "clip": (lambda x: K.clip(x, -0.5, 0.7), [-0.5, 0.7]),
    "K.sqrt": (K.sqrt, "positive"),
    "K.pow": (lambda x: K.pow(x, 3), None),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradients(name):
    fn, kinks = UNARY[name]
    x = RNG.normal(size=(3, 4))
    if kinks == "positive":
        x = np.abs(x) + 0.2
    elif kinks:
        x = away_from(x, kinks)
    check_grad(fn, [x])


BINARY = {
    "add": lambda a, b: a + b,
    "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / b,
    "mod": lambda a, b: a % b,
    "power": lambda a, b: K.pow(a, b),
    "maximum": K.maximum,
    "minimum": K.minimum,
}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)),
                                    ((2, 3, 4), ())])
def test_binary_gradients_with_broadcasting(name, shapes):
    a = RNG.normal(size=shapes[0])
    b = RNG.normal(size=shapes[1])
    if name in ("divide", "mod"):
        b = np.abs(b) + 0.5
        a = a if name == "divide" else away_from(a, [k * 0.5 for k in range(-10, 11)], 0.05)
    if name == "mod":  # away from the jumps of a mod b
        q = a / b
        a = np.where(np.abs(q - np.round(q)) < 0.05, a + 0.1 * b, a)
    if name == "power":
        a = np.abs(a) + 0.5
    if name in ("maximum", "minimum"):
        b = b + np.where(np.abs(np.broadcast_to(a, np.broadcast_shapes(a.shape, b.shape)).mean()
                                - b) < 0.1, 0.3, 0.0)
        a = a + 0.05  # no exact ties
    check_grad(BINARY[name], [a, b])


def test_broadcast_gradients_with_none_dims():
    a = RNG.normal(size=(4, 3))
    b = RNG.normal(size=(1, 3))
    check_grad(lambda x, y: x * y + x, [a, b], shapes=[(None, 3), (None, 3)])
    check_grad(lambda x, y: x * y, [a, b[0]], shapes=[(None, None), (None,)])


def test_where_and_switch_gradients():
    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=(4,))
    cond = K.constant(RNG.normal(size=(3, 4)) > 0, dtype="bool")
    check_grad(lambda x, y: K.switch(cond, x * 2, y), [a, b])


# -- reductions ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["sum", "mean", "max", "min", "prod", "var", "std",
                                  "logsumexp"])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (1, False), (-1, True), ((0, 2), False)])
def test_reduction_gradients(kind, axis, keepdims):
    x = RNG.normal(size=(2, 3, 4))
    if kind == "prod":
        x = np.sign(x) * (np.abs(x) + 0.5)
    fn = getattr(K, kind)
    check_grad(lambda t: fn(t, axis=axis, keepdims=keepdims), [x],
               shapes=[(None, 3, 4)])


def test_prod_gradient_with_zeros():
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [1.0, 2.0, 5.0]])
    t = K.constant(x, dtype="float64")
    g = K.eval(K.gradients(K.sum(K.prod(t, axis=1)), [t])[0])
    assert_close(g, [[6.0, 0.0, 0.0], [0.0, 0.0, 0.0], [10.0, 5.0, 2.0]])


def test_tied_maxima_share_the_gradient():
    t = K.constant([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], dtype="float64")
    g = K.eval(K.gradients(K.sum(K.max(t, axis=1)), [t])[0])
    assert_close(g, [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])


def test_relu_gradient_at_zero_is_zero():
    t = K.constant([-1.0, 0.0, 2.0], dtype="float64")
    assert_close(K.eval(K.gradients(K.sum(K.relu(t)), [t])[0]), [0.0, 0.0, 1.0])
    assert_close(K.eval(K.gradients(K.sum(K.relu(t, max_value=2.0)), [t])[0]), [0.0, 0.0, 0.0])


# -- linear algebra and shapes -------------------------------------------------------------------
@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)),
                                   ((2, 3, 4), (2, 4, 5))])
def test_matmul_gradients(sa, sb):
    check_grad(lambda a, b: ops.matmul(a, b), [RNG.normal(size=sa), RNG.normal(size=sb)])


@pytest.mark.parametrize("sa,sb", [((3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5))])
def test_dot_nd_gradients(sa, sb):
    check_grad(K.dot, [RNG.normal(size=sa), RNG.normal(size=sb)])


@pytest.mark.parametrize("sa,sb,axes", [((2, 3), (2, 3), None), ((2, 3, 4), (2, 4), None),
                                        ((2, 3, 4), (2, 4, 5), (2, 1))])
def test_batch_dot_gradients(sa, sb, axes):
    check_grad(lambda a, b: K.batch_dot(a, b, axes=axes),
               [RNG.normal(size=sa), RNG.normal(size=sb)], shapes=[(None,) + sa[1:],
                                                                    (None,) + sb[1:]])


SHAPE_FNS = {
    "reshape": lambda x: K.reshape(x, (4, 6)),
    "reshape_none": lambda x: K.reshape(x, (-1, 4)),
    "transpose": K.transpose,
    "permute": lambda x: K.permute_dimensions(x, (2, 0, 1)),
    "getitem": lambda x: x[1:, ::-2, None, 2],
    "getitem_int": lambda x: x[0],
    "concatenate": lambda x: K.concatenate([x, x * 2, x[:, :1]], axis=1),
    "concatenate_neg": lambda x: K.concatenate([x, K.exp(x)], axis=-1),
    "stack": lambda x: K.stack([x, x * 3], axis=1),
    "tile": lambda x: K.tile(x, (2, 1, 3)),
    "repeat_elements": lambda x: K.repeat_elements(x, 2, axis=2),
    "expand_squeeze": lambda x: K.squeeze(K.expand_dims(x, 1), 1) * 2,
    "batch_flatten": K.batch_flatten,
    "flatten": K.flatten,
    "reverse": lambda x: K.reverse(x, [0, 2]),
    "slice": lambda x: K.slice(x, (0, 1, 1), (2, 2, 2)),
    "broadcast": lambda x: x[:, :1, :] + K.zeros((2, 3, 4), dtype="float64"),
    "cumsum": lambda x: K.cumsum(x, axis=1),
    "cumprod": lambda x: K.cumprod(x, axis=-1),
    "temporal_padding": lambda x: K.temporal_padding(x, (1, 2)),
}


@pytest.mark.parametrize("name", sorted(SHAPE_FNS))
def test_shape_op_gradients(name):
    x = RNG.normal(size=(2, 3, 4))
    shapes = [(None, 3, 4)] if name not in ("reshape", "tile", "slice", "broadcast") else None
    check_grad(SHAPE_FNS[name], [x], shapes=shapes)


def test_concatenate_gradient_with_unknown_dims():
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 5))
    check_grad(lambda x, y: K.concatenate([x, y * y], axis=1), [a, b],
               shapes=[(None, None), (None, None)])


def test_gather_gradient_adds_duplicates():
    table = RNG.normal(size=(5, 3))
    idx = K.constant([4, 0, 4, 2], dtype="int32")
    check_grad(lambda t: K.gather(t, idx), [table], shapes=[(None, 3)])
    t = K.variable(np.zeros((3, 2)), dtype="float64")
    g = K.eval(K.gradients(K.sum(K.gather(t, K.constant([1, 1, 2], dtype="int32"))), [t])[0])
    assert_close(g, [[0.0, 0.0], [2.0, 2.0], [1.0, 1.0]])


def test_resize_bilinear_and_padding_gradients():
    x = RNG.normal(size=(1, 2, 3, 2))
    check_grad(lambda t: K.resize_images(t, 2, 2, "channels_last", "bilinear"), [x])
    check_grad(lambda t: K.resize_images(t, 2, 3, "channels_first"), [x])
    check_grad(lambda t: K.spatial_2d_padding(t, ((1, 0), (2, 1))), [x])


# -- activations, losses, normalization ----------------------------------------------------------
def test_softmax_and_loss_gradients():
    logits = RNG.normal(size=(3, 4))
    target = np.abs(RNG.normal(size=(3, 4)))
    target /= target.sum(axis=1, keepdims=True)
    t = K.constant(target, dtype="float64")
    check_grad(lambda x: K.softmax(x), [logits])
    check_grad(lambda x: K.softmax(x, axis=0), [logits])
    check_grad(lambda x: K.categorical_crossentropy(t, K.softmax(x)), [logits])
    check_grad(lambda x: K.categorical_crossentropy(t, x, from_logits=True, axis=-1), [logits])
    probs = np.abs(logits) + 0.1
    check_grad(lambda x: K.categorical_crossentropy(t, x), [probs])
    labels = K.constant([0, 3, 1], dtype="int32")
    check_grad(lambda x: K.sparse_categorical_crossentropy(labels, x, from_logits=True),
               [logits])
    check_grad(lambda x: K.sparse_categorical_crossentropy(labels, K.softmax(x)), [logits])
    bt = K.constant((target > 0.25).astype(float), dtype="float64")
    check_grad(lambda x: K.binary_crossentropy(bt, K.sigmoid(x)), [logits])
    check_grad(lambda x: K.binary_crossentropy(bt, x, from_logits=True), [logits])
    check_grad(lambda x: K.binary_crossentropy(bt, x), [1 / (1 + np.exp(-logits))])


def test_normalization_gradients():
    x = RNG.normal(size=(4, 3))
    gamma, beta = RNG.normal(size=3), RNG.normal(size=3)
    check_grad(lambda t, g, b: K.normalize_batch_in_training(t, g, b, [0])[0],
               [x, gamma, beta], shapes=[(None, 3), (3,), (3,)])
    check_grad(lambda t, m, v: K.batch_normalization(t, m, v, None, None),
               [x, RNG.normal(size=3), np.abs(RNG.normal(size=3)) + 0.5])
    check_grad(lambda t: K.l2_normalize(t, axis=1), [x])
    check_grad(lambda t: K.bias_add(t, t[0]), [x])


def test_gradients_through_update_free_helpers():
    x = RNG.normal(size=(3,))
    check_grad(lambda t: K.print_tensor(t * 2, message="") + 1, [x])
    v = K.variable(0.0, dtype="float64")
    with K.control_dependencies([K.update_add(v, 1.0)]):
        check_grad(lambda t: K.exp(t), [x])


# -- Keras rules ---------------------------------------------------------------------------------
def test_none_for_unrelated_and_non_float_paths():
    w = K.variable([1.0, 2.0])
    other = K.variable([3.0])
    loss = K.sum(w * 2)
    g_w, g_other = K.gradients(loss, [w, other])
    assert g_other is None
    assert_close(K.eval(g_w), [2.0, 2.0])
    through_int = K.sum(K.cast(K.cast(w, "int32"), "float32"))
    assert K.gradients(through_int, [w]) == [None]
    assert K.gradients(K.sum(K.stop_gradient(w) * w), [w])[0] is not None
    assert_close(K.eval(K.gradients(K.sum(K.stop_gradient(w) * w), [w])[0]), [1.0, 2.0])
    assert K.gradients(K.sum(K.stop_gradient(w)), [w]) == [None]
    assert_close(K.eval(K.gradients(w * 3, w)[0]), [3.0, 3.0])  # non-scalar loss is summed
    with pytest.raises(GradientError, match="float"):
        K.gradients(K.sum(K.cast(w, "int32")), [w])


def test_second_order_elementwise():
    x = K.placeholder((3,), dtype="float64")
    y = K.sum(K.sin(x) * x * x + K.exp(x) / (1 + x * x))
    (g,) = K.gradients(y, [x])
    (h,) = K.gradients(K.sum(g), [x])
    data = np.array([0.3, -0.7, 1.1])
    f = K.function([x], [g, h])
    got_g, got_h = f([data])
    dg = lambda v: np.cos(v) * v * v + 2 * v * np.sin(v) + np.exp(v) / (1 + v * v) \
        - np.exp(v) * 2 * v / (1 + v * v) ** 2  # noqa: E731
    assert_close(got_g, dg(data))
    assert_close(got_h, (dg(data + H) - dg(data - H)) / (2 * H), rtol=1e-6, atol=1e-6)


def test_gradients_are_graph_nodes_that_compile_once():
    x = K.placeholder((None, 4))
    w = K.variable(RNG.normal(size=(4, 3)))
    loss = K.mean(K.square(K.dot(x, w)))
    (g,) = K.gradients(loss, [w])
    assert K.int_shape(g) == (4, 3) and K.dtype(g) == "float32"
    f = K.function([x], [g])
    a = RNG.normal(size=(5, 4)).astype(np.float32)
    expected = 2 * a.T @ (a @ K.get_value(w)) / (5 * 3)
    assert_close(f([a])[0], expected, rtol=1e-4, atol=1e-5)
    assert_close(f([a[:2]])[0], 2 * a[:2].T @ (a[:2] @ K.get_value(w)) / 6, rtol=1e-4,
                 atol=1e-5)


def test_every_op_has_a_gradient_rule_or_is_marked():
    pending = [name for name, op in REGISTRY.items() if op.grad is GRAD_PENDING]
    assert not pending, f"ops without a gradient rule or NOT_DIFFERENTIABLE mark: {pending}"
    for op in REGISTRY.values():
        assert op.grad is NOT_DIFFERENTIABLE or callable(op.grad)


SECOND_ORDER = {
    "getitem": lambda x: x[1:, ::2] * x[1:, ::2],
    "concatenate": lambda x: K.concatenate([x * x, x], axis=-1),
    "gather": lambda x: K.gather(x * x, K.constant([0, 2, 2], dtype="int32")),
    "pick": lambda x: K.sparse_categorical_crossentropy(K.constant([1, 0, 3], dtype="int32"),
                                                        x, from_logits=True),
    "resize_bilinear": lambda x: K.square(K.resize_images(x[None, :, :, None], 2, 2,
                                                          "channels_last", "bilinear")),
    "broadcast": lambda x: K.square(x + K.sum(x, axis=0)),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_order_through_gradient_ops(name):
    """The gradient ops (scatters, concat parts, the resize adjoint, sum_to) are
    differentiable too: check the gradient of a gradient by finite differences."""
    fn = SECOND_ORDER[name]

    def first_grad(x):
        return K.gradients(K.sum(K.sin(fn(x))), [x])[0]

    check_grad(first_grad, [RNG.normal(size=(3, 4))], shapes=[(None, 4)], rtol=1e-5,
               atol=1e-6)
