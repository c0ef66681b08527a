"""Loop bodies compiled for the concrete shapes they run at (``LoopBody.function_for``)
and fused loops reading small strided views as contiguous copies (``runtime.runner``):
fewer kernels, the same results."""

import numpy as np
import pytest

import symgraph.backend as K
from symgraph import config
from symgraph.ops import control
from symgraph.runtime import runner
from symgraph.runtime.reference import reference_eval

from .helpers import assert_close

U = 4  # units


@pytest.fixture(autouse=True)
def compiled_only():
    before = config.tiered()
    config.set_tiered(False)
    K.clear_session()
    yield
    config.set_tiered(before)


def gru_like(x, w, u, b, dropout=False):
    """A GRU-style step: gates from column slices of one matmul, as Keras builds them."""
    def step(inputs, states):
        h = states[0]
        mx = K.dot(inputs, w) + b
        mh = K.dot(h, u)
        z = K.sigmoid(mx[:, :U] + mh[:, :U])
        r = K.sigmoid(mx[:, U:2 * U] + mh[:, U:2 * U])
        hh = K.tanh(mx[:, 2 * U:] + r * mh[:, 2 * U:])
        if dropout:
            hh = K.dropout(hh, 0.5, seed=3)
        new = z * h + (1 - z) * hh
        return new, [new]

    h0 = K.zeros_like(K.dot(x[:, 0], w[:, :U]))
    last, outputs, _ = K.rnn(step, x, [h0])
    loss = K.sum(K.square(outputs)) + K.sum(last)
    return loss


def build(dropout=False):
    rng = np.random.default_rng(0)
    x = K.placeholder((None, 5, 3))
    w = K.variable(rng.normal(size=(3, 3 * U)).astype("float32") * 0.5)
    u = K.variable(rng.normal(size=(U, 3 * U)).astype("float32") * 0.5)
    b = K.variable(rng.normal(size=(1, 3 * U)).astype("float32") * 0.1)
    loss = gru_like(x, w, u, b, dropout)
    grads = K.gradients(loss, [x, w, u, b])
    return x, [loss, *grads]


def bodies_of(f):
    found, todo = [], [f]
    while todo:
        fn = todo.pop()
        for step in fn.plan.steps:
            body = step.node.attrs.get("body") if step.kind == "op" else None
            if isinstance(body, control.LoopBody) and body not in found:
                found.append(body)
                todo += body.functions()
    return found


def test_specialized_bodies_fuse_more_and_compute_the_same(monkeypatch):
    xv = np.random.default_rng(1).normal(size=(6, 5, 3)).astype("float32")
    x, outs = build()
    f = K.function([x], outs)
    got = f([xv])
    bodies = bodies_of(f)
    assert {b.kind for b in bodies} == {"rnn", "grad_rnn"}
    grad_body = next(b for b in bodies if b.kind == "grad_rnn")
    (special,) = grad_body._specialized.values()
    assert all(ph.shape is not None and None not in ph.shape for ph in special.inputs)
    assert grad_body._function is None  # the generic body was never compiled
    generic = grad_body.function()
    assert special.plan.n_kernels < generic.plan.n_kernels
    assert "sum_to" not in {s.node.op.name for s in special.plan.steps}

    K.clear_session()
    monkeypatch.setattr(control, "SPECIALIZED_LIMIT", 0)  # every body generic
    x2, outs2 = build()
    f2 = K.function([x2], outs2)
    assert all(not b._specialized for b in bodies_of(f2))
    for a, b in zip(got, f2([xv])):
        np.testing.assert_array_equal(a, b)
    for a, ref in zip(got, reference_eval(outs2, {x2: xv})):
        assert_close(a, ref, rtol=1e-4, atol=1e-5)


def test_each_shape_set_gets_its_function_up_to_the_limit(monkeypatch):
    monkeypatch.setattr(control, "SPECIALIZED_LIMIT", 2)
    x, outs = build()
    f = K.function([x], outs)
    rng = np.random.default_rng(2)
    for batch in (1, 3, 7, 3):
        xv = rng.normal(size=(batch, 5, 3)).astype("float32")
        for a, ref in zip(f([xv]), reference_eval(outs, {x: xv})):
            assert_close(a, ref, rtol=1e-4, atol=1e-5)
    for body in bodies_of(f):
        assert len(body._specialized) == 2  # batches 1 and 3; batch 7 ran generic
        assert body._function is not None


def test_bodies_that_draw_random_numbers_stay_generic():
    x, outs = build(dropout=True)
    f = K.function([x], outs)
    xv = np.random.default_rng(3).normal(size=(2, 5, 3)).astype("float32")
    loss, *grads = f([xv])
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads)
    forward = [b for b in bodies_of(f) if b.kind == "rnn"]
    assert forward and all(b.randoms and not b._specialized for b in forward)


@pytest.mark.parametrize("limit", [runner.CONTIGUOUS_VIEWS_MAX, 0])
def test_fused_loops_over_slices_and_0d_views(monkeypatch, limit):
    """Column slices (strided) and 0-d views feed fused loops, copied to C order
    (``limit`` large) or read in place as strided arrays (``limit`` 0): same values."""
    monkeypatch.setattr(runner, "CONTIGUOUS_VIEWS_MAX", limit)
    m = K.placeholder((None, 9))
    s = K.placeholder(())
    gates = K.sigmoid(m[:, :3] + m[:, 3:6]) * K.tanh(m[:, 6:])
    corner = m[1, 2] * 2.0 + s  # a 0-d view in a 0-d loop
    transposed = K.exp(K.transpose(m)) + 1.0
    f = K.function([m, s], [gates, corner, transposed])
    mv = np.random.default_rng(4).normal(size=(5, 9)).astype("float32")
    sv = np.float32(0.5)
    got = f([mv, sv])
    want = [1 / (1 + np.exp(-(mv[:, :3] + mv[:, 3:6]))) * np.tanh(mv[:, 6:]),
            np.float32(mv[1, 2] * 2 + sv), np.exp(mv.T) + 1]
    assert got[1].shape == ()
    for a, b in zip(got, want):
        assert_close(a, b, rtol=1e-5, atol=1e-6)
