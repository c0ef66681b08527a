"""Whole-branch selection (symgraph.compiler.branches): a function whose rank-0 bool
input picks branches (K.switch / K.in_train_phase on the learning phase) runs a plan
per value that computes only the branch taken, with the same results."""

import numpy as np
import pytest

import symgraph.backend as K

RNG = np.random.default_rng(3)


def _x(shape=(4, 3)):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.fixture(autouse=True)
def _fresh_session():
    K.clear_session()
    yield
    K.clear_session()


def test_only_the_branch_taken_is_computed():
    phase = K.placeholder((), dtype="bool")
    x = K.placeholder((None, 3))
    y = K.switch(phase, K.exp(x) * 2.0, K.tanh(x) + 1.0)
    f = K.function([x, phase], [y])
    xv = _x()
    for value, expected in ((True, np.exp(xv) * 2), (False, np.tanh(xv) + 1)):
        branch = f.branch_for([xv, value])
        assert branch is not f and branch is f.branch_for([xv, np.bool_(value)])
        ops = {m.op.name for k in branch.kernels() for m in k.members}
        assert ("exp" in ops) == value and ("tanh" in ops) != value
        np.testing.assert_allclose(f([xv, value])[0], expected, rtol=1e-6)


def test_results_match_the_plan_computing_both():
    phase = K.placeholder((), dtype="bool")
    x = K.placeholder((None, 5))
    y = K.switch(phase, K.sigmoid(x) * x, x * 0.5) + K.sum(x, axis=1, keepdims=True)
    f = K.function([x, phase], [y])
    xv = _x((6, 5))
    for value in (True, False):
        general = f([xv, value])[0]
        f._selectors, kept = [], f._selectors  # the plan computing both branches
        try:
            both = f([xv, value])[0]
        finally:
            f._selectors = kept
        assert np.array_equal(general, both)


def test_a_branch_that_broadcasts_keeps_the_where_shape():
    phase = K.placeholder((), dtype="bool")
    small = K.placeholder((None, 1))
    big = K.placeholder((None, 3))
    f = K.function([small, big, phase], [K.switch(phase, small * 1.0, big * 1.0)])
    s, b = _x((2, 1)), _x((2, 3))
    out = f([s, b, True])[0]
    assert out.shape == (2, 3)
    np.testing.assert_array_equal(out, np.broadcast_to(s, (2, 3)))
    # run-time sizes decide: a batch of one broadcasts against the other
    out = f([_x((1, 1)), _x((1, 3)), False])[0]
    assert out.shape == (1, 3)


def _batch_norm_graph(moving_var):
    """x -> in_train_phase(batch statistics, moving statistics) -> loss, and the
    gradients with respect to x, gamma and beta."""
    x = K.placeholder((None, 4, 3))
    gamma = K.variable(np.linspace(0.5, 1.5, 3).astype(np.float32))
    beta = K.variable(np.linspace(-1, 1, 3).astype(np.float32))
    moving_mean = K.variable(np.zeros(3, np.float32))
    moving_variance = K.variable(moving_var.astype(np.float32))
    train, _, _ = K.normalize_batch_in_training(x, gamma, beta, [0, 1])
    infer = K.batch_normalization(x, moving_mean, moving_variance, beta, gamma)
    y = K.in_train_phase(train, infer)
    loss = K.sum(K.square(y) * K.constant(np.arange(3, dtype=np.float32)))
    grads = K.gradients(loss, [x, gamma, beta])
    return K.function([x, K.learning_phase()], [y, *grads])


def test_gradients_of_the_branch_not_taken_are_dropped():
    f = _batch_norm_graph(np.ones(3))
    xv = _x((5, 4, 3))
    for value in (1, 0):
        branch = f.branch_for([xv, value])
        assert branch.n_kernels < f.n_kernels
        f._selectors, kept = [], f._selectors
        try:
            both = f([xv, value])
        finally:
            f._selectors = kept
        for a, b in zip(f([xv, value]), both):
            np.testing.assert_array_equal(a, b)


def test_a_nan_in_the_branch_not_taken_does_not_reach_the_gradients():
    # a negative moving variance makes the inference branch NaN: TF's cond never runs
    # it in training, and neither does the training plan here
    f = _batch_norm_graph(-np.ones(3))
    xv = _x((5, 4, 3))
    outputs = f([xv, 1])
    assert all(np.isfinite(o).all() for o in outputs)
    reference = _batch_norm_graph(np.ones(3))([xv, 1])
    for a, b in zip(outputs, reference):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert np.isnan(f([xv, 0])[0]).all()  # inference really reads that variance


def test_a_branch_with_random_draws_is_kept():
    phase = K.placeholder((), dtype="bool")
    x = K.placeholder((None, 8))
    y = K.switch(phase, x * 1.0, K.dropout(x, 0.5))
    f = K.function([x, phase], [y])
    branch = f.branch_for([_x((2, 8)), True])
    assert any(m.op.name == "where" for k in branch.kernels() for m in k.members)
    assert np.array_equal(f([np.ones((2, 8), np.float32), True])[0], np.ones((2, 8)))


def test_functions_without_selectors_are_their_own_branch():
    x = K.placeholder((None, 2))
    mask = K.placeholder((None, 2), dtype="bool")  # entrywise: not a whole-branch pick
    f = K.function([x, mask], [K.switch(mask, x, -x)])
    assert f.branch_for([_x((1, 2)), np.ones((1, 2), bool)]) is f


def test_a_compile_child_gets_the_selected_graph():
    # the compile child rebuilds the function from a graph file, which does not record
    # which nodes gradients() built: it is given the selected graph itself, and must
    # plan the same kernels as the branch it compiles for
    from symgraph import io

    f = _batch_norm_graph(np.ones(3))
    xv = _x((5, 4, 3))
    branch = f.branch_for([xv, 1])
    form = branch._compile_form()
    assert form is not branch and f._compile_form() is f
    loaded = io.loads(io.dumps(form))
    child = loaded.branch_for([xv, 1])
    assert [k.kind for k in child.kernels()] == [k.kind for k in branch.kernels()]
    for a, b in zip(loaded([xv, 1]), branch([xv, 1])):
        np.testing.assert_array_equal(a, b)
