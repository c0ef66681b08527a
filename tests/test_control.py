"""Symbolic loops (rnn, map_fn, foldl, foldr) against NumPy loops written here."""

import doctest
import threading

import numpy as np
import pytest

import symgraph.backend as K
from symgraph.backend import _control
from symgraph.backend._control import foldl, foldr, map_fn, rnn
from symgraph.errors import DTypeError, FeedError, GraphError, ShapeError
from symgraph.ops.control import LoopBody
from symgraph.runtime.reference import reference_eval
from tests.helpers import assert_close

F, U = 3, 4  # features, units


# -- NumPy references ------------------------------------------------------------------
def np_rnn(step, x, states, go_backwards=False, mask=None, constants=(), time_major=False,
           zero_output_for_mask=False):
    """Keras rnn semantics as a plain loop (batch-major internally)."""
    if time_major:
        x = np.swapaxes(x, 0, 1)
        mask = None if mask is None else mask.T
    steps = x.shape[1]
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    outs, prev, states = [], None, list(states)
    for t in order:
        out, new = step(x[:, t], states + list(constants))
        if mask is not None:
            m = mask[:, t].astype(bool)

            def expand(v, m=m):
                return m.reshape((-1,) + (1,) * (v.ndim - 1))

            if zero_output_for_mask:
                out = np.where(expand(out), out, 0)
            else:
                out = np.where(expand(out), out, prev if prev is not None else 0)
            new = [np.where(expand(n), n, s) for n, s in zip(new, states)]
        outs.append(out)
        prev, states = out, list(new)
    outputs = np.stack(outs, axis=0 if time_major else 1)
    return outs[-1], outputs, states


def make_weights(rng, dtype):
    return {"W": rng.normal(size=(F, U)).astype(dtype) * 0.5,
            "U": rng.normal(size=(U, U)).astype(dtype) * 0.5,
            "b": rng.normal(size=(U,)).astype(dtype),
            "c": rng.normal(size=(U,)).astype(dtype)}


def np_step(w):
    """SimpleRNN-like step with three states: h, a running sum of h, a (batch,) total."""
    def step(x_t, states):
        h, acc, total, c = states
        h_new = np.tanh(x_t @ w["W"] + h @ w["U"] + w["b"] + c)
        return h_new * 2, [h_new, acc + h_new, total + x_t.sum(axis=-1)]
    return step


def k_step(w):
    w_in, w_rec, b = K.variable(w["W"]), K.variable(w["U"]), K.variable(w["b"])

    def step(x_t, states):
        h, acc, total, c = states
        h_new = K.tanh(K.dot(x_t, w_in) + K.dot(h, w_rec) + b + c)
        return h_new * 2, [h_new, acc + h_new, total + K.sum(x_t, axis=-1)]
    return step


def initial_states(rng, batch, dtype):
    return [rng.normal(size=(batch, U)).astype(dtype), np.zeros((batch, U), dtype),
            rng.normal(size=(batch,)).astype(dtype)]


def body_of(t):
    """The LoopBody of the scan that ``t`` reads (through views)."""
    while t.op.name != "scan_output":
        t = t.inputs[0]
    return t.attrs["body"]


# -- rnn ---------------------------------------------------------------------------------
CASES = [  # go_backwards, masked, zero_output_for_mask, time_major
    (False, False, False, False),
    (True, False, False, False),
    (False, True, False, False),
    (False, True, True, False),
    (True, True, False, True),
    (True, True, True, False),
    (False, False, False, True),
]


@pytest.mark.parametrize("go_backwards,masked,zero_output,time_major", CASES)
def test_rnn_matches_numpy_rolled_and_unrolled(go_backwards, masked, zero_output, time_major):
    rng = np.random.default_rng(0)
    dtype, batch, steps = "float32", 2, 5
    w = make_weights(rng, dtype)
    x = rng.normal(size=(batch, steps, F)).astype(dtype)
    mask = rng.random((batch, steps)) > 0.4 if masked else None
    if masked:
        mask[0, 0] = False  # a masked first step repeats zeros
        mask[1, -1] = False  # a masked last step
    s0 = initial_states(rng, batch, dtype)
    xt = np.swapaxes(x, 0, 1).copy() if time_major else x
    mt = None if mask is None else (mask.T.copy() if time_major else mask)
    expected = np_rnn(np_step(w), xt, s0, go_backwards, mt, [w["c"]], time_major, zero_output)

    step = k_step(w)
    results = []
    for unroll in (False, True):
        last, outputs, states = rnn(
            step, K.constant(xt), [K.constant(s) for s in s0], go_backwards=go_backwards,
            mask=None if mt is None else K.constant(mt, dtype="bool"),
            constants=[K.constant(w["c"])], unroll=unroll, time_major=time_major,
            zero_output_for_mask=zero_output)
        assert K.int_shape(outputs) == xt.shape[:2] + (U,)
        assert K.int_shape(last) == (batch, U)
        f = K.function([], [last, outputs, *states])
        results.append(f([]))
        if not unroll:
            ref = reference_eval([last, outputs, *states])
            for a, b in zip(results[-1], ref):
                assert_close(a, b, dtype)
    for got in results:
        assert_close(got[0], expected[0], dtype)
        assert_close(got[1], expected[1], dtype)
        for a, b in zip(got[2:], expected[2]):
            assert_close(a, b, dtype)


def test_rnn_none_batch_and_time_fed_at_run_time_float64():
    K.set_floatx("float64")
    rng = np.random.default_rng(1)
    w = make_weights(rng, "float64")
    x = K.placeholder((None, None, F))
    m = K.placeholder((None, None), dtype="bool")
    h0, a0, t0 = K.placeholder((None, U)), K.placeholder((None, U)), K.placeholder((None,))
    last, outputs, states = rnn(k_step(w), x, [h0, a0, t0], mask=m,
                                constants=[K.constant(w["c"])])
    assert K.int_shape(outputs) == (None, None, U)
    f = K.function([x, m, h0, a0, t0], [last, outputs, *states])
    for batch, steps in ((2, 5), (3, 8), (1, 1)):
        xv = rng.normal(size=(batch, steps, F))
        mv = rng.random((batch, steps)) > 0.3
        s0 = initial_states(rng, batch, "float64")
        got = f([xv, mv, *s0])
        exp = np_rnn(np_step(w), xv, s0, mask=mv, constants=[w["c"]])
        assert_close(got[0], exp[0], "float64")
        assert_close(got[1], exp[1], "float64")
        for a, b in zip(got[2:], exp[2]):
            assert_close(a, b, "float64")
    assert [p.name for p in f.plan.placeholders] == [t.name for t in (x, m, h0, a0, t0)]


def test_rnn_inputs_list_outputs_list_and_int_mask():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(2, 4, 3)).astype("float32")
    b = rng.normal(size=(2, 4, 1)).astype("float32")
    mask = np.array([[1, 1, 0, 1], [0, 1, 1, 1]], dtype="int32")

    def step(inp, states):
        x1, x2 = inp
        s = states[0] + K.sum(x1, axis=-1, keepdims=True) * x2
        return [s, s * -1.0], [s]

    def np_step2(inp, states):
        s = states[0] + inp[:, :3].sum(-1, keepdims=True) * inp[:, 3:]
        return s, [s]

    last, outputs, states = rnn(step, [K.constant(a), K.constant(b)], [K.zeros((2, 1))],
                                mask=K.constant(mask, dtype="int32"))
    assert isinstance(last, list) and isinstance(outputs, list) and len(outputs) == 2
    got = K.function([], [*last, *outputs, states[0]])([])
    exp = np_rnn(np_step2, np.concatenate([a, b], -1), [np.zeros((2, 1), "float32")],
                 mask=mask)
    assert_close(got[0], exp[0], "float32")
    assert_close(got[1], -exp[0], "float32")
    assert_close(got[2], exp[1], "float32")
    assert_close(got[3], -exp[1], "float32")
    assert_close(got[4], exp[2][0], "float32")


def test_captures_are_loop_inputs_and_inner_placeholders_stay_inside(monkeypatch):
    from symgraph import config

    # the step's work reads no state: hoisting (tests/test_loop_hoist.py) would lift
    # all of it out of the loop, and this test is about what stays inside
    monkeypatch.setattr(config, "_HOIST_LOOPS", [False])
    x = K.placeholder((None, None, F))
    scale = K.placeholder((), name="scale")  # an outer placeholder read by the step
    w_in = K.variable(np.ones((F, U)))
    c = K.constant(np.arange(U, dtype="float32"))

    def step(x_t, states):
        hoisted = K.exp(c) * scale  # loop-invariant: computed once, outside the loop
        h = states[0] + K.dot(x_t, w_in) * hoisted
        return h, [h]

    last, outputs, states = rnn(step, x, [K.zeros((2, U))])
    body = body_of(outputs)
    assert isinstance(body, LoopBody)
    _, again, _ = rnn(step, x, [K.zeros((2, U))])  # the same step again: a new body
    assert body_of(again) is not body and body_of(again) != body
    assert any(cap.op.name == "multiply" and scale in cap.inputs for cap in body.captures)
    assert w_in in body.captures and scale not in body.captures
    assert all(ph.op.name == "placeholder" for ph in body.leaves)
    with pytest.raises(FeedError, match="scale"):
        K.function([x], [outputs])
    f = K.function([x, scale], [outputs])
    assert {p.name for p in f.plan.placeholders} == {x.name, scale.name}
    xv = np.ones((2, 3, F), "float32")
    got = f([xv, 2.0])[0]
    per_step = F * np.exp(np.arange(U)) * 2.0
    assert_close(got, np.cumsum(np.broadcast_to(per_step, (2, 3, U)), axis=1), "float32",
                 rtol=1e-5)
    K.set_value(w_in, np.zeros((F, U)))  # captured variables are read on every call
    assert_close(f([xv, 2.0])[0], np.zeros((2, 3, U)), "float32")


def test_rnn_zero_steps_is_an_error():
    with pytest.raises(ShapeError, match="at least one"):
        rnn(lambda x, s: (x, s), K.zeros((2, 0, 3)), [K.zeros((2, 3))])
    x = K.placeholder((None, None, 3))
    last, outputs, _ = rnn(lambda x_t, s: (x_t + s[0], [x_t + s[0]]), x, [K.zeros((2, 3))])
    f = K.function([x], [last])
    assert f([np.ones((2, 1, 3))])[0].shape == (2, 3)
    with pytest.raises(ShapeError, match="at least 1 step"):
        f([np.ones((2, 0, 3))])


def test_rnn_build_time_errors():
    x = K.placeholder((None, 5, 3))
    h = K.zeros((2, 4))
    with pytest.raises(ShapeError, match="new state 0 has shape"):
        rnn(lambda x_t, s: (x_t, [x_t]), x, [h])
    with pytest.raises(DTypeError, match="new state 0 has dtype float64"):
        rnn(lambda x_t, s: (s[0], [K.cast(s[0], "float64")]), x, [h])
    with pytest.raises(GraphError, match="1 new state"):
        rnn(lambda x_t, s: (s[0], [s[0]]), x, [h, h])
    with pytest.raises(GraphError, match=r"\(output, new_states\)"):
        rnn(lambda x_t, s: s[0], x, [h])
    with pytest.raises(ShapeError, match="rank >= 3"):
        rnn(lambda x_t, s: (x_t, s), K.placeholder((None, 5)), [h])
    with pytest.raises(ShapeError, match="fixed number of timesteps"):
        rnn(lambda x_t, s: (s[0], s), K.placeholder((None, None, 3)), [h], unroll=True)
    with pytest.raises(ShapeError, match="mask"):
        rnn(lambda x_t, s: (s[0], s), x, [h], mask=K.placeholder((None, 4), dtype="bool"))
    with pytest.raises(ShapeError, match="test_control.py"):  # names the user's line
        rnn(lambda x_t, s: (x_t, [x_t]), x, [h])


def test_run_time_state_shape_change_is_an_error():
    h = K.placeholder((None, None))  # the step keeps the rank but changes a dim

    def step(x_t, states):
        return x_t, [K.concatenate([states[0], states[0]], axis=-1)[:, :3]]

    x = K.placeholder((None, None, 3))
    _, outputs, states = rnn(step, x, [h])
    f = K.function([x, h], [states[0]])
    assert f([np.ones((2, 2, 3)), np.ones((2, 3))])[0].shape == (2, 3)
    with pytest.raises(ShapeError, match="turns state 0"):
        f([np.ones((2, 2, 3)), np.ones((2, 2))])


# -- map_fn ------------------------------------------------------------------------------
def test_map_fn_captures_none_dims_dtype_and_empty():
    rng = np.random.default_rng(3)
    w_in = K.variable(rng.normal(size=(3, 2)))
    x = K.placeholder((None, 3))
    y = map_fn(lambda r: K.tanh(K.dot(K.expand_dims(r, 0), w_in))[0], x)
    assert K.int_shape(y) == (None, 2)
    f = K.function([x], [y])
    for n in (4, 1, 0):
        xv = rng.normal(size=(n, 3)).astype("float32")
        assert_close(f([xv])[0], np.tanh(xv @ K.get_value(w_in)), "float32")
    idx = map_fn(lambda r: K.argmax(r), x, dtype="int64")
    xv = rng.normal(size=(5, 3)).astype("float32")
    assert_close(K.function([x], [idx])([xv])[0], xv.argmax(-1), "int64")
    with pytest.raises(DTypeError, match="dtype="):
        map_fn(lambda r: K.argmax(r), x)


def test_map_fn_tuple_elems_and_results_and_reference():
    a = np.arange(6, dtype="float32").reshape(3, 2)
    b = np.arange(3, dtype="float32")
    outs = map_fn(lambda e: (e[0] * e[1], K.sum(e[0])), (K.constant(a), K.constant(b)),
                  dtype=("float32", "float32"))
    assert isinstance(outs, tuple) and len(outs) == 2
    got = K.function([], list(outs))([])
    ref = reference_eval(list(outs))
    for g, r, e in zip(got, ref, (a * b[:, None], a.sum(-1))):
        assert_close(g, e, "float32")
        assert_close(r, e, "float32")


def test_scalar_capture_read_directly():
    x = K.placeholder((None, 2))
    scale = K.placeholder((), name="scale")
    y = map_fn(lambda r: r * scale, x)
    z = foldl(lambda acc, v: acc + scale, x, initializer=K.constant(0.0))
    xv = np.arange(6, dtype="float32").reshape(3, 2)
    got = K.function([x, scale], [y, z])([xv, 3.0])
    assert_close(got[0], xv * 3, "float32")
    assert_close(got[1], np.array(9.0), "float32")


def test_nested_map_fn():
    x = K.placeholder((None, None))
    y = map_fn(lambda row: map_fn(lambda v: v * v + 1.0, row), x)
    xv = np.arange(6, dtype="float32").reshape(2, 3)
    assert_close(K.function([x], [y])([xv])[0], xv * xv + 1, "float32")


# -- foldl / foldr -----------------------------------------------------------------------
def np_fold(fn, elems, init, reverse):
    items = list(elems[::-1] if reverse else elems)
    if init is None:
        init, items = items[0], items[1:]
    acc = init
    for v in items:
        acc = fn(acc, v)
    return acc


@pytest.mark.parametrize("fold,reverse", [(foldl, False), (foldr, True)])
def test_folds_with_and_without_initializer(fold, reverse):
    rng = np.random.default_rng(4)
    x = K.placeholder((None, 2))
    init = K.placeholder((2,))

    def fn(acc, v):
        return acc * 0.5 + v * v

    no_init = fold(fn, x)
    with_init = fold(fn, x, initializer=init)
    assert K.int_shape(no_init) == (2,) and K.int_shape(with_init) == (2,)
    f = K.function([x, init], [no_init, with_init])
    for n in (5, 2, 1):
        xv = rng.normal(size=(n, 2)).astype("float32")
        iv = rng.normal(size=(2,)).astype("float32")
        got = f([xv, iv])
        np_fn = lambda a, v: a * 0.5 + v * v  # noqa: E731
        assert_close(got[0], np_fold(np_fn, xv, None, reverse), "float32")
        assert_close(got[1], np_fold(np_fn, xv, iv, reverse), "float32")
    # empty elems: the initializer comes back; without one it is a run-time error
    g = K.function([x, init], [with_init])
    assert_close(g([np.zeros((0, 2)), [1.0, 2.0]])[0], np.array([1.0, 2.0]), "float32")
    h = K.function([x], [no_init])
    with pytest.raises(ShapeError, match="out of bounds"):
        h([np.zeros((0, 2))])
    with pytest.raises(ShapeError, match="no initializer"):
        fold(fn, K.zeros((0, 2)))


def test_fold_tuple_accumulator_ints_and_errors():
    x = K.constant(np.arange(1, 6), dtype="int32")
    s, p = foldl(lambda acc, v: (acc[0] + v, acc[1] * v), x,
                 initializer=(K.constant(0, dtype="int32"), K.constant(1, dtype="int32")))
    assert K.eval(s) == 15 and K.eval(p) == 120
    assert K.eval(foldr(lambda acc, v: acc * 10 + v, x)) == 54321
    with pytest.raises(DTypeError, match="accumulator 0 has dtype"):
        foldl(lambda acc, v: K.cast(acc, "float32"), x)
    with pytest.raises(ShapeError, match="accumulator 0 has shape"):
        foldl(lambda acc, v: K.stack([acc, v]), x)


# -- machinery ---------------------------------------------------------------------------
def test_concurrent_calls_compile_the_body_once():
    x = K.placeholder((None, None, 2))
    w_in = K.variable(np.eye(2))
    _, outputs, _ = rnn(lambda x_t, s: (K.dot(s[0], w_in) + x_t, [K.dot(s[0], w_in) + x_t]),
                        x, [K.zeros((3, 2))])
    f = K.function([x], [outputs])
    body = body_of(outputs)
    xv = np.ones((3, 6, 2), "float32")
    expected = np.cumsum(xv, axis=1)
    errors, results = [], []

    def worker():
        try:
            results.append(f([xv])[0])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 6
    for r in results:
        assert_close(r, expected, "float32")
    fn = body.function()
    assert fn is body.function()


def test_docstring_examples_run(monkeypatch):
    for name in ("rnn", "map_fn", "foldl", "foldr"):
        monkeypatch.setattr(K, name, getattr(_control, name), raising=False)
    result = doctest.testmod(_control, optionflags=doctest.ELLIPSIS |
                             doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0 and result.attempted >= 15
