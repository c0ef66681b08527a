"""Learning phase, switch, update ops, control dependencies, print_tensor,
stop_gradient and the session-compat names."""

import threading

import numpy as np
import pytest

import symgraph.backend as K
from symgraph.errors import GraphError, ShapeError

from .helpers import assert_close


# -- learning phase and switch -----------------------------------------------------------
def test_learning_phase_is_a_feedable_placeholder_with_default_zero():
    lp = K.learning_phase()
    assert K.is_placeholder(lp) and K.dtype(lp) == "bool" and K.int_shape(lp) == ()
    assert K.learning_phase() is lp
    x = K.placeholder((None,))
    y = K.in_train_phase(x * 2, x - 1)
    assert getattr(y, "_uses_learning_phase", False)
    f = K.function([x, lp], [y])
    data = np.array([1.0, 2.0], dtype=np.float32)
    assert_close(f([data, 1])[0], data * 2)
    assert_close(f([data, 0])[0], data - 1)
    assert_close(f([data, True])[0], data * 2)
    assert_close(K.function([x], [y])([data])[0], data - 1)  # default: test phase
    with pytest.raises(ValueError, match="keras_learning_phase"):
        f([data, 2])


def test_learning_phase_is_named_outside_name_scopes():
    with K.name_scope("block"):
        lp = K.learning_phase()
    assert lp.name == "keras_learning_phase"


def test_set_learning_phase_picks_branches_statically():
    calls = []

    def train():
        calls.append("train")
        return K.constant(1.0)

    def test():
        calls.append("test")
        return K.constant(0.0)

    K.set_learning_phase(1)
    assert K.learning_phase() == 1
    assert K.eval(K.in_train_phase(train, test)) == 1.0
    assert calls == ["train"]
    assert K.eval(K.in_test_phase(train, test)) == 0.0
    with K.learning_phase_scope(0):
        assert K.learning_phase() == 0
        assert K.eval(K.in_train_phase(train, test)) == 0.0
    assert K.learning_phase() == 1
    with pytest.raises(ValueError, match="0 or 1"):
        K.set_learning_phase(2)
    K.clear_session()
    assert K.is_placeholder(K.learning_phase())


def test_switch_forms():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 3, 4)).astype(np.float32)
    b = rng.normal(size=(2, 3, 4)).astype(np.float32)
    x, y = K.constant(a), K.constant(b)
    c3 = a > 0
    assert_close(K.eval(K.switch(K.constant(c3, dtype="bool"), x, y)), np.where(c3, a, b))
    c2 = rng.normal(size=(2, 3)) > 0  # rank 2 < 3: trailing axes added
    assert_close(K.eval(K.switch(K.constant(c2, dtype="bool"), x, y)),
                 np.where(c2[..., None], a, b))
    c1 = rng.normal(size=(4,)) > 0  # rank 1: NumPy broadcasting from the right
    assert_close(K.eval(K.switch(K.constant(c1, dtype="bool"), x, y)), np.where(c1, a, b))
    cf = K.constant([1.0, 0.0, 2.0, 0.0])  # non-bool condition is cast
    assert_close(K.eval(K.switch(cf, x, y)), np.where([1, 0, 1, 0], a, b))
    flag = K.placeholder((), dtype="bool")
    f = K.function([flag], [K.switch(flag, lambda: x * 2, lambda: y)])
    assert_close(f([True])[0], a * 2)
    assert_close(f([False])[0], b)
    assert_close(K.eval(K.switch(True, x, y)), a)
    with pytest.raises(ShapeError, match="switch"):
        K.switch(K.constant(np.ones((2, 3, 4, 1)), dtype="bool"), x, y)


# -- updates -------------------------------------------------------------------------------
def test_update_ops_apply_once_per_evaluation():
    v = K.variable([1.0, 2.0])
    op = K.update_add(v, [1.0, 1.0])
    assert_close(K.eval(op), [2.0, 3.0])
    assert_close(K.get_value(v), [2.0, 3.0])
    assert_close(K.eval(op), [3.0, 4.0])  # evaluating again applies again
    assert_close(K.eval(K.update_sub(v, 3.0)), [0.0, 1.0])
    assert_close(K.eval(K.update(v, K.constant([7.0, 8.0]))), [7.0, 8.0])
    assert_close(K.get_value(v), [7.0, 8.0])


def test_updates_see_values_from_before_the_call():
    v = K.variable(1.0)
    w = K.variable(10.0)
    x = K.placeholder(())
    f = K.function([x], [v * x, w], updates=[K.update(v, v + w), (w, w * 2),
                                            K.moving_average_update(v, x, 0.5)])
    out, w_before = f([3.0])
    assert_close(out, 3.0)
    assert_close(w_before, 10.0)
    assert_close(K.get_value(w), 20.0)
    # two updates of v: both computed from v=1 (11 and 0.5*1+0.5*3=2); the later wins
    assert_close(K.get_value(v), 2.0)


def test_moving_average_update_formula():
    m = K.variable(np.array([0.0, 4.0], dtype=np.float64), dtype="float64")
    value = K.constant(np.array([10.0, 4.0]), dtype="float64")
    f = K.function([], [], updates=[K.moving_average_update(m, value, 0.9)])
    f([])
    f([])
    assert_close(K.get_value(m), [10 - 10 * 0.81, 4.0])


def test_update_errors():
    v = K.variable(np.zeros((2, 3)))
    with pytest.raises(ShapeError, match="update"):
        K.update(v, K.zeros((3, 2)))
    with pytest.raises(GraphError, match="variable"):
        K.update(K.constant(1.0), 2.0)
    with pytest.raises(GraphError, match="update"):
        K.function([], [v], updates=[(K.constant(1.0), 2.0)])


def test_concurrent_function_calls_with_updates():
    v = K.variable(0.0)
    f = K.function([], [v], updates=[K.update_add(v, 1.0)])
    threads = [threading.Thread(target=lambda: [f([]) for _ in range(50)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert K.get_value(v) == 200  # no update is lost


# -- control dependencies ---------------------------------------------------------------------
def test_control_dependencies_order_reads_after_updates():
    total = K.variable(0.0)
    count = K.variable(0.0)
    x = K.placeholder((None,))
    ops = [K.update_add(total, K.sum(x)), K.update_add(count, K.cast(K.shape(x)[0], "float32"))]
    with K.control_dependencies(ops):
        result = total / count
    f = K.function([x], [result])
    assert_close(f([np.array([1.0, 3.0], np.float32)])[0], 2.0)
    assert_close(f([np.array([8.0], np.float32)])[0], 4.0)
    assert_close(K.get_value(total), 12.0)
    assert_close(K.get_value(count), 3.0)
    outside = total * 1  # created outside: reads the variable as it is
    assert_close(K.eval(outside), 12.0)


def test_control_dependencies_on_plain_tensors_compute_them():
    p = K.print_tensor(K.constant([1.0]), message="dep: ")
    with K.control_dependencies([p]):
        y = K.constant(2.0) + 1
    assert y.op.name == "after"
    assert_close(K.eval(y), 3.0)
    with pytest.raises(GraphError):
        with K.control_dependencies([np.ones(2)]):
            pass


def test_print_tensor(capsys):
    x = K.placeholder((2,))
    y = K.print_tensor(x * 2, message="value: ")
    out = K.function([x], [y + 1])([np.array([1.0, 2.0], np.float32)])[0]
    assert_close(out, [3.0, 5.0])
    assert "value: [2. 4.]" in capsys.readouterr().out


def test_stop_gradient_values():
    x = K.constant([1.0, -2.0])
    assert_close(K.eval(K.stop_gradient(x) * 2), [2.0, -4.0])
    out = K.stop_gradient([x, x + 1])
    assert isinstance(out, list) and len(out) == 2
    assert_close(K.eval(out[1]), [2.0, -1.0])


# -- session-compat names -------------------------------------------------------------------
def test_session_runner_and_compat_names():
    x = K.placeholder((None,))
    sess = K.get_session()
    assert_close(sess.run(x * 2, feed_dict={x: [1.0, 2.0]}), [2.0, 4.0])
    a, b = sess.run((x + 1, K.constant(5.0)), feed_dict={x: [0.0]})
    assert_close(a, [1.0]) and assert_close(b, 5.0)
    K.set_session(sess)
    assert K.get_session() is sess
    with pytest.raises(TypeError):
        K.set_session(object())
    K.manual_variable_initialization(True)
    v = K.variable([1.0])
    assert_close(K.get_value(v), [1.0])  # variables hold data from creation regardless
    K.manual_variable_initialization(False)
    assert K.v1_variable_initialization() is None
    f = K.Function([x], [x * 3])
    assert_close(f([[1.0]])[0], [3.0])
    with pytest.raises(ValueError, match="unsupported"):
        K.Function([x], [x], options=1)


def test_eager_symbolic_and_dim_ordering():
    @K.eager
    def pair(v):
        return K.constant(v), [K.constant(v) * 2, 3]

    a, (b, c) = pair([1.0])
    assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and c == 3
    assert_close(b, [2.0])

    @K.symbolic
    def plus(t):
        return t + 1

    assert K.is_symbolic(plus(K.placeholder((1,))))
    assert not K.is_symbolic(1.0)
    assert K.image_dim_ordering() == "tf"
    K.set_image_dim_ordering("th")
    assert K.image_data_format() == "channels_first" and K.image_dim_ordering() == "th"
    with pytest.raises(ValueError):
        K.set_image_dim_ordering("xy")
    assert K.normalize_data_format("CHANNELS_LAST") == "channels_last"
    assert K.normalize_data_format(None) == "channels_first"
    with pytest.raises(ValueError, match="data_format"):
        K.normalize_data_format("nhwc")


def test_update_buffers_never_alias_outputs_or_each_other():
    v = K.variable([1.0, 2.0])
    w = K.variable([0.0, 0.0])
    new = v * 2
    f = K.function([], [new, K.reshape(new, (2, 1))],
                   updates=[K.update(v, new), K.update(w, new)])
    out, column = f([])
    out[0] = 100.0
    column[1, 0] = -100.0
    assert_close(K.get_value(v), [2.0, 4.0])
    assert_close(K.get_value(w), [2.0, 4.0])
    g = K.function([], [], updates=[K.update(v, v + 1), K.update(w, v + 1)])
    g([])
    stored_v, stored_w = K.get_value(v), K.get_value(w)
    assert_close(stored_v, [3.0, 5.0]) and assert_close(stored_w, [3.0, 5.0])
    v.value[0] = 7.0  # the two variables do not share storage
    assert_close(K.get_value(w), [3.0, 5.0])
