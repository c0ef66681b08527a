"""``K.rnn`` lifts a step's input-only work (``x_t @ W + b`` and its gate slices) out of
the loop (``symgraph.ops.loop_hoist``): fewer kernels per step, the same values and
gradients as the loop without it, and nothing lifted that reads a state or draws."""

import numpy as np
import pytest

import symgraph.backend as K
from symgraph import config
from symgraph.ops import control
from symgraph.runtime.reference import reference_eval

from .helpers import assert_close

U = 3


@pytest.fixture(autouse=True)
def fresh():
    K.clear_session()
    yield
    config.set_hoist_loops(None)


def loops_of(outputs):
    return [n for n in control.closure(outputs) if n.op.name == "scan"]


def matmuls_in(body):
    return sum(n.op.name == "matmul" for n in body.nodes)


def gru_model(hoist, dtype="float64", backwards=False, mask=False, extra=None):
    config.set_hoist_loops(hoist)
    rng = np.random.default_rng(0)
    x = K.placeholder((None, 4, 2), dtype=dtype)
    w = K.variable(rng.normal(size=(2, 3 * U)), dtype=dtype)
    u = K.variable(rng.normal(size=(U, 3 * U)) * 0.5, dtype=dtype)
    b = K.variable(rng.normal(size=(3 * U,)) * 0.1, dtype=dtype)

    def step(inputs, states):
        h = states[0]
        mx = K.bias_add(K.dot(inputs, w), b)
        mh = K.dot(h, u)
        z = K.sigmoid(mx[:, :U] + mh[:, :U])
        r = K.hard_sigmoid(mx[:, U:2 * U] + mh[:, U:2 * U])
        hh = K.tanh(mx[:, 2 * U:] + r * mh[:, 2 * U:])
        new = z * h + (1 - z) * hh
        out = new if extra is None else extra(new, inputs, mx)
        return out, [new]

    h0 = K.zeros_like(K.dot(x[:, 0], w[:, :U]))
    m = K.placeholder((None, 4), dtype="bool") if mask else None
    last, outputs, states = K.rnn(step, x, [h0], go_backwards=backwards, mask=m)
    loss = K.sum(K.square(outputs)) + K.sum(last * states[0])
    grads = K.gradients(loss, [x, w, u, b])
    inputs = [x] + ([m] if mask else [])
    gru_model.variables = [w, u, b]
    return inputs, [loss, outputs, *grads]


def feeds(mask=False):
    rng = np.random.default_rng(1)
    out = [rng.normal(size=(5, 4, 2))]
    if mask:
        out.append(rng.random((5, 4)) > 0.3)
    return out


@pytest.mark.parametrize("backwards,mask", [(False, False), (True, False), (False, True)])
def test_hoisted_loops_compute_what_the_step_does(backwards, mask):
    values = {}
    for hoist in (True, False):
        K.clear_session()
        inputs, outs = gru_model(hoist, backwards=backwards, mask=mask)
        (loop,) = loops_of(outs[:2])
        body = loop.attrs["body"]
        # the hoisted step keeps only h @ U; x @ W runs once, outside, over all steps
        assert matmuls_in(body) == (1 if hoist else 2)
        values[hoist] = K.function(inputs, outs)(feeds(mask))
        for got, ref in zip(values[hoist], reference_eval(outs, dict(zip(inputs,
                                                                         feeds(mask))))):
            assert_close(got, ref, rtol=1e-10, atol=1e-12)
    for a, b in zip(values[True], values[False]):
        assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_hoisted_gradients_pass_finite_differences():
    """float64 central differences for the input and the lifted matmul's weights."""
    inputs, outs = gru_model(True)
    w = gru_model.variables[0]
    f = K.function(inputs, [outs[0], outs[2], outs[3]])
    (x,) = feeds()
    _, grad_x, grad_w = f([x])
    h = 1e-6
    for index in [(0, 0, 0), (2, 3, 1), (4, 1, 0)]:
        plus, minus = x.copy(), x.copy()
        plus[index] += h
        minus[index] -= h
        numeric = (f([plus])[0] - f([minus])[0]) / (2 * h)
        assert abs(numeric - grad_x[index]) < 1e-6 * max(1.0, abs(numeric))
    w0 = K.get_value(w)
    for index in [(0, 0), (1, 4), (0, 8)]:
        losses = []
        for sign in (1, -1):
            moved = w0.copy()
            moved[index] += sign * h
            K.set_value(w, moved)
            losses.append(f([x])[0])
        K.set_value(w, w0)
        numeric = (losses[0] - losses[1]) / (2 * h)
        assert abs(numeric - grad_w[index]) < 1e-6 * max(1.0, abs(numeric))


def test_nothing_is_lifted_without_a_matmul_or_through_a_state():
    x = K.placeholder((None, 4, 2))
    w = K.variable(np.ones((2, 2), "float32"))

    def elementwise(inputs, states):
        new = K.tanh(inputs * 2.0) + states[0]
        return new, [new]

    def through_state(inputs, states):
        new = K.dot(states[0] + inputs, w)  # reads the state before the matmul
        return new, [new]

    h0 = K.zeros_like(x[:, 0])
    for step in (elementwise, through_state):
        _, outputs, _ = K.rnn(step, x, [h0])
        (loop,) = loops_of([outputs])
        body = loop.attrs["body"]
        assert len(body.seq_placeholders) == 1 and body.seq_placeholders[0].shape == (None, 2)


def test_steps_reading_the_lifted_values_directly_and_by_index():
    """A step output that is the lifted value itself, an int index and a newaxis."""
    def extra(new, inputs, mx):
        return new + mx[:, 0][:, None] + K.dot(inputs, K.ones_like(mx[:2, :U]))[:, :U]

    values = {}
    for hoist in (True, False):
        K.clear_session()
        inputs, outs = gru_model(hoist, extra=extra)
        values[hoist] = K.function(inputs, outs)(feeds())
    for a, b in zip(values[True], values[False]):
        assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_loops_with_random_draws_in_the_step_keep_them_inside():
    x = K.placeholder((None, 4, 2))
    w = K.variable(np.ones((2, 2), "float32"))

    def step(inputs, states):
        noisy = K.dot(inputs, w) * K.random_uniform((1, 2), seed=3)
        new = noisy + states[0]
        return new, [new]

    _, outputs, _ = K.rnn(step, x, [K.zeros_like(x[:, 0])])
    (loop,) = loops_of([outputs])
    body = loop.attrs["body"]
    assert matmuls_in(body) == 0  # the matmul alone is lifted; the draw stays per step
    assert body.randoms
    f = K.function([x], [outputs])
    a = f([np.ones((2, 4, 2), "float32")])[0]
    assert a.shape == (2, 4, 2) and not np.allclose(a[:, 1] - a[:, 0], a[:, 0])
