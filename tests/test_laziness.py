"""Nothing is computed that the outputs do not need."""

import numpy as np
import pytest

import symgraph.backend as K
from symgraph.compiler.prune import prune
from symgraph.errors import FeedError
from symgraph.runtime.function import LAUNCHES


def _expensive(x):
    return K.exp(K.dot(x, K.transpose(x))) + K.sum(x)


def test_zeros_like_never_runs_its_input():
    x = K.variable(np.random.rand(200, 200))
    expensive = _expensive(x)
    before = LAUNCHES.copy()
    value = K.eval(K.zeros_like(expensive))
    assert LAUNCHES == before  # no kernel at all ran: the shape was known statically
    np.testing.assert_array_equal(value, np.zeros((200, 200), np.float32))


def test_zeros_like_of_a_branch_that_would_fail():
    """The input depends on an unfed placeholder: evaluating it would raise."""
    p = K.placeholder((4, 3))
    broken = K.sqrt(K.dot(p, K.variable(np.ones((3, 5)))))
    with pytest.raises(FeedError, match="placeholder"):
        K.eval(broken)
    np.testing.assert_array_equal(K.eval(K.ones_like(broken)), np.ones((4, 5), np.float32))


def test_shape_only_dependency_with_unknown_dims_reads_only_the_feed_shape():
    x = K.placeholder((None, 3))
    w = K.variable(np.random.rand(3, 7))
    z = K.zeros_like(K.exp(K.dot(x, w)))
    f = K.function([x], [z])
    before = LAUNCHES.copy()
    (out,) = f([np.random.rand(9, 3)])
    assert out.shape == (9, 7)
    assert LAUNCHES == before  # neither dot nor exp ran
    assert f.n_kernels == 0


def test_prune_separates_value_and_shape_needs():
    x = K.placeholder((None, 3))
    e = K.exp(x)
    value, shape = prune([K.zeros_like(e) + 1])
    assert e.id in shape and e.id not in value
    assert x.id in shape


def test_only_requested_outputs_are_computed():
    x = K.placeholder((None, 3))
    used = K.sum(x, axis=1)
    unused = K.max(K.exp(x), axis=0)  # noqa: F841 (in the graph, not requested)
    f = K.function([x], [used])
    before = LAUNCHES.copy()
    f([np.ones((2, 3))])
    ran = LAUNCHES - before
    assert set(ran) == {"sum"}


def test_k_shape_reads_no_data():
    x = K.placeholder((None, 5))
    f = K.function([x], [K.shape(K.exp(x))])
    before = LAUNCHES.copy()
    (s,) = f([np.zeros((3, 5))])
    np.testing.assert_array_equal(s, [3, 5])
    assert s.dtype == np.int32
    assert (LAUNCHES - before) == {"shape": 1}
