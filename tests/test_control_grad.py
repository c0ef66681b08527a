"""Gradients through symbolic loops (rnn, map_fn, foldl, foldr): central finite
differences in float64, rolled against unrolled, random draws, second order."""

import numpy as np
import pytest

import symgraph.backend as K
from symgraph.autodiff import GradientError
from symgraph.backend._control import foldl, foldr, map_fn, rnn
from symgraph.backend._updates import control_dependencies, update_add
from symgraph.runtime.reference import reference_eval
from tests.helpers import assert_close

F, U = 2, 3  # features, units
H = 1e-6
D = "float64"


def numeric_grads(f, arrays):
    """Central differences of ``f(arrays) -> scalar`` w.r.t. every entry of every array."""
    out = []
    for k, a in enumerate(arrays):
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            plus = [b.copy() for b in arrays]
            minus = [b.copy() for b in arrays]
            plus[k][i] += H
            minus[k][i] -= H
            g[i] = (f(plus) - f(minus)) / (2 * H)
        out.append(g)
    return out


def check_grads(inputs, loss, arrays, wrt=None):
    """Symbolic gradients of ``loss`` w.r.t. ``wrt`` (default: the inputs) against
    finite differences; returns the symbolic gradients."""
    wrt = inputs if wrt is None else wrt
    grads = K.gradients(loss, wrt)
    assert all(g is not None for g in grads)
    f = K.function(inputs, [loss] + grads)
    got = f(arrays)[1:]
    value = K.function(inputs, [loss])
    want = numeric_grads(lambda a: value(a)[0], arrays)
    for g, w, t in zip(got, want, wrt):
        assert g.shape == w.shape, (t.name, g.shape, w.shape)
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8, err_msg=t.name)
    return got


def rnn_graph(go_backwards, masked, time_major, batch, steps, unroll=False,
              zero_output=False):
    """A SimpleRNN-like loop over placeholders: x, h0, W, R, b, c (a constant), mask.
    The loss reads the outputs (projected), the last output and both final states."""
    xs = (steps, batch, F) if time_major else (batch, steps, F)
    x = K.placeholder(xs, dtype=D, name="x")
    h0 = K.placeholder((batch, U), dtype=D, name="h0")
    s0 = K.placeholder((batch, U), dtype=D, name="s0")
    w_in = K.placeholder((F, U), dtype=D, name="W")
    w_rec = K.placeholder((U, U), dtype=D, name="R")
    b = K.placeholder((U,), dtype=D, name="b")
    c = K.placeholder((U,), dtype=D, name="c")
    mask = None
    if masked:
        ms = (steps, batch) if time_major else (batch, steps)
        mask = K.placeholder(ms, dtype="bool", name="mask")

    def step(x_t, states):
        h, s, const = states
        h_new = K.tanh(K.dot(x_t, w_in) + K.dot(h, w_rec) + b + const)
        return h_new * 1.5, [h_new, s + h_new * h_new]

    last, outputs, new_states = rnn(step, x, [h0, s0], go_backwards=go_backwards, mask=mask,
                                    constants=[c], unroll=unroll, time_major=time_major,
                                    zero_output_for_mask=zero_output)
    proj = K.placeholder(outputs.shape, dtype=D, name="proj")
    loss = K.sum(outputs * proj) + K.sum(last) + K.sum(new_states[0] * new_states[1])
    params = [x, h0, s0, w_in, w_rec, b, c]
    return params, proj, mask, loss


def rnn_arrays(rng, go_backwards, masked, time_major, batch, steps):
    xs = (steps, batch, F) if time_major else (batch, steps, F)
    arrays = [rng.normal(size=xs), rng.normal(size=(batch, U)) * 0.5,
              rng.normal(size=(batch, U)), rng.normal(size=(F, U)) * 0.7,
              rng.normal(size=(U, U)) * 0.5, rng.normal(size=(U,)) * 0.3,
              rng.normal(size=(U,)) * 0.3]
    ys = (steps, batch, U) if time_major else (batch, steps, U)
    proj = rng.normal(size=ys)
    mask = None
    if masked:
        m = rng.random((batch, steps)) > 0.4
        m[0, 0] = False
        m[-1, -1] = False
        mask = m.T.copy() if time_major else m
    return arrays, proj, mask


RNN_CASES = [  # go_backwards, masked, time_major, zero_output
    (False, False, False, False),
    (False, True, False, False),
    (True, True, True, False),
    (False, True, False, True),
]


@pytest.mark.parametrize("go_backwards,masked,time_major,zero_output", RNN_CASES)
def test_rnn_gradients_match_finite_differences(go_backwards, masked, time_major, zero_output):
    rng = np.random.default_rng(1)
    batch, steps = 2, 3
    params, proj, mask, loss = rnn_graph(go_backwards, masked, time_major, None, steps,
                                         zero_output=zero_output)
    arrays, proj_v, mask_v = rnn_arrays(rng, go_backwards, masked, time_major, batch, steps)
    extra = [proj] + ([mask] if masked else [])
    extra_v = [proj_v] + ([mask_v] if masked else [])
    inputs = params + extra
    grads = K.gradients(loss, params)
    f = K.function(inputs, [loss] + grads)
    got = f(arrays + extra_v)[1:]
    value = K.function(inputs, [loss])
    want = numeric_grads(lambda a: value(a + extra_v)[0], arrays)
    for g, w, t in zip(got, want, params):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8, err_msg=t.name)

    # the unrolled graph differentiates through ordinary ops and agrees
    K.clear_session()
    params_u, proj_u, mask_u, loss_u = rnn_graph(go_backwards, masked, time_major, None,
                                                 steps, unroll=True, zero_output=zero_output)
    inputs_u = params_u + [proj_u] + ([mask_u] if masked else [])
    unrolled = K.function(inputs_u, K.gradients(loss_u, params_u))(arrays + extra_v)
    for g, u in zip(got, unrolled):
        assert_close(g, u, D, rtol=1e-10, atol=1e-12)


def test_rnn_gradients_with_unknown_time_and_batch():
    rng = np.random.default_rng(2)
    x = K.placeholder((None, None, F), dtype=D)
    h0 = K.placeholder((None, U), dtype=D)
    w_in = K.variable(rng.normal(size=(F, U)), dtype=D)
    w_rec = K.variable(rng.normal(size=(U, U)) * 0.5, dtype=D)

    def step(x_t, states):
        h = K.tanh(K.dot(x_t, w_in) + K.dot(states[0], w_rec))
        return h, [h]

    _, outputs, _ = rnn(step, x, [h0], go_backwards=True)
    loss = K.sum(K.square(outputs)) + K.sum(outputs[:, 0])
    gx, gh, gw, gr = K.gradients(loss, [x, h0, w_in, w_rec])
    assert gx.shape == (None, None, F) and gh.shape == (None, U)
    assert gw.shape == (F, U) and gr.shape == (U, U)
    f = K.function([x, h0], [loss, gx, gh, gw, gr])
    for batch, steps in ((2, 4), (1, 2)):  # new shapes, same compiled function
        xv, hv = rng.normal(size=(batch, steps, F)), rng.normal(size=(batch, U))
        got = f([xv, hv])
        want = numeric_grads(lambda a: f(a)[0], [xv, hv])
        np.testing.assert_allclose(got[1], want[0], rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(got[2], want[1], rtol=1e-6, atol=1e-8)
        # variable gradients against a NumPy loop of the same model
        wv, rv = K.get_value(w_in), K.get_value(w_rec)

        def np_loss(w_, r_, xv=xv, hv=hv, steps=steps):
            h_, total = hv, 0.0
            for k, t in enumerate(range(steps - 1, -1, -1)):
                h_ = np.tanh(xv[:, t] @ w_ + h_ @ r_)
                total += np.sum(h_ ** 2) + (np.sum(h_) if k == 0 else 0.0)
            return total

        np.testing.assert_allclose(got[0], np_loss(wv, rv), rtol=1e-12)
        want_w = numeric_grads(lambda a: np_loss(*a), [wv, rv])
        np.testing.assert_allclose(got[3], want_w[0], rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(got[4], want_w[1], rtol=1e-6, atol=1e-8)


def test_map_fn_gradients():
    rng = np.random.default_rng(3)
    x = K.placeholder((None, 3), dtype=D)
    a = K.placeholder((3,), dtype=D)
    y = map_fn(lambda row: K.sin(row) * a + K.sum(row * row), x)
    w = K.placeholder((None, 3), dtype=D)
    loss = K.sum(y * w)
    xv, av, wv = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=(4, 3))
    gx, ga = K.function([x, a, w], K.gradients(loss, [x, a]))([xv, av, wv])
    assert_close(gx, np.cos(xv) * av * wv + 2 * xv * wv.sum(axis=1, keepdims=True), D)
    assert_close(ga, (np.sin(xv) * wv).sum(axis=0), D)
    # a float constant read by the body is captured, so it has a gradient too
    c = K.constant([1.0, -2.0, 0.5], dtype=D)
    gc, = K.gradients(K.sum(map_fn(lambda row: row * c * 3.0, x)), [c])
    assert_close(K.function([x], [gc])([xv])[0], 3.0 * xv.sum(axis=0), D)
    # an empty sequence: zero gradients of the right shapes
    gx0, ga0 = K.function([x, a, w], K.gradients(loss, [x, a]))(
        [np.zeros((0, 3)), av, np.zeros((0, 3))])
    assert gx0.shape == (0, 3) and np.all(ga0 == 0)


@pytest.mark.parametrize("fold", [foldl, foldr])
def test_fold_gradients(fold):
    rng = np.random.default_rng(4)
    elems = K.placeholder((4, 2), dtype=D)
    init = K.placeholder((2,), dtype=D)
    scale = K.placeholder((), dtype=D)
    with_init = fold(lambda acc, v: K.tanh(acc * scale + v * v), elems, initializer=init)
    without = fold(lambda acc, v: acc * K.cos(v) + scale, elems)
    loss = K.sum(with_init * np.array([1.0, -2.0])) + K.sum(without)
    arrays = [rng.normal(size=(4, 2)), rng.normal(size=2), np.array(0.7)]
    check_grads([elems, init, scale], loss, arrays)


def test_fold_over_empty_elems_passes_the_initializer_gradient():
    elems = K.placeholder((None, 2), dtype=D)
    init = K.placeholder((2,), dtype=D)
    out = foldl(lambda acc, v: acc * v, elems, initializer=init)
    ge, gi = K.gradients(K.sum(out * np.array([3.0, 4.0])), [elems, init])
    f = K.function([elems, init], [ge, gi])
    ge_v, gi_v = f([np.zeros((0, 2)), np.ones(2)])
    assert ge_v.shape == (0, 2)
    assert_close(gi_v, np.array([3.0, 4.0]), D)
    ge_v, gi_v = f([np.array([[2.0, 5.0]]), np.ones(2)])
    assert_close(ge_v, np.array([[3.0, 4.0]]), D)
    assert_close(gi_v, np.array([6.0, 20.0]), D)


def test_random_draws_in_the_step_are_the_forward_ones():
    x = K.placeholder((5, 4), dtype=D)

    def step(x_t, states):
        noise = K.random_uniform((4,), 1.0, 2.0, dtype=D)
        h = states[0] * 0.5 + x_t * noise
        return h, [h]

    _, outputs, _ = rnn(step, K.expand_dims(x, 0), [K.zeros((1, 4), dtype=D)])
    y = map_fn(lambda row: row * K.random_uniform((4,), 1.0, 2.0, dtype=D), x)
    gx_rnn, = K.gradients(K.sum(outputs[0, :, 0]), [x])  # d h_t[0] / d x_t[0] = noise_t[0]
    gx_map, = K.gradients(K.sum(y), [x])
    f = K.function([x], [outputs, y, gx_rnn, gx_map])
    xv = np.random.default_rng(5).normal(size=(5, 4)) + 3.0
    for _ in range(2):  # new draws each call; the gradient follows them
        out_v, y_v, g_rnn, g_map = f([xv])
        assert_close(g_map, y_v / xv, D)
        h = out_v[0]
        noise = (h - np.vstack([np.zeros((1, 4)), h[:-1]]) * 0.5) / xv
        want = np.zeros((5, 4))
        for t in range(5):  # d sum_s h_s[0] / d x_t[0] = noise_t[0] * sum_{s>=t} 0.5^(s-t)
            want[t, 0] = noise[t, 0] * sum(0.5 ** (s - t) for s in range(t, 5))
        assert_close(g_rnn, want, D, rtol=1e-9)


def test_second_order_through_a_loop():
    x = K.placeholder((3,), dtype=D)
    y = map_fn(lambda v: v * v * v, x)
    g, = K.gradients(K.sum(y), [x])
    gg, = K.gradients(K.sum(g), [x])
    acc = foldl(lambda a, v: a * v, x, initializer=K.constant(1.0, dtype=D))
    ga, = K.gradients(acc, [x])
    gga, = K.gradients(ga[0], [x])  # d/dx (x1 x2) = (0, x2, x1)
    xv = np.array([0.5, -1.5, 2.0])
    g_v, gg_v, gga_v = K.function([x], [g, gg, gga])([xv])
    assert_close(g_v, 3 * xv ** 2, D)
    assert_close(gg_v, 6 * xv, D)
    assert_close(gga_v, np.array([0.0, xv[2], xv[1]]), D)


def test_gradient_graph_matches_the_reference_interpreter():
    rng = np.random.default_rng(6)
    params, proj, mask, loss = rnn_graph(True, True, True, None, 3)
    arrays, proj_v, mask_v = rnn_arrays(rng, True, True, True, 2, 3)
    grads = K.gradients(loss, params)
    inputs = params + [proj, mask]
    feeds = arrays + [proj_v, mask_v]
    compiled = K.function(inputs, grads)(feeds)
    ref = reference_eval(grads, dict(zip(inputs, feeds)))
    for c, r in zip(compiled, ref):
        assert_close(c, r, D, rtol=1e-10, atol=1e-12)


def test_gradients_inside_control_dependencies_and_integer_paths():
    x = K.placeholder((3, 2), dtype=D)
    v = K.variable(np.zeros(1), dtype=D)
    idx = K.placeholder((3,), dtype="int32")
    with control_dependencies([update_add(v, np.ones(1))]):
        y = map_fn(lambda e: (e[0] * K.cast(e[1], D) * e[0], e[1] * 2),
                   (x, idx), dtype=[D, "int32"])
        loss = K.sum(y[0])
        g, gi = K.gradients(loss, [x, idx])
    assert gi is None
    xv = np.arange(6.0).reshape(3, 2)
    got = K.function([x, idx], [g])([xv, np.array([1, 2, 3], "int32")])[0]
    assert_close(got, 2 * xv * np.array([1, 2, 3])[:, None], D)


def test_the_scan_buffer_itself_has_no_gradient():
    x = K.placeholder((3,), dtype=D)
    y = map_fn(lambda v: v * 2.0, x)
    scan_node = y.inputs[0]
    with pytest.raises(GradientError, match="scan_output"):
        scan_node.op.grad(scan_node, None)
