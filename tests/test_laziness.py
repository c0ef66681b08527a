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


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
def test_large_zero_outputs_are_mapped_lazily_and_are_ordinary_arrays(dtype):
    """Zero fills over LAZY_ZEROS_MIN bytes come from an anonymous mapping: still a
    writable, correctly typed array of zeros, independent between calls."""
    from symgraph.runtime.runner import LAZY_ZEROS_MIN

    n = LAZY_ZEROS_MIN // np.dtype(dtype).itemsize + 3
    x = K.placeholder((None,), dtype=dtype)
    f = K.function([x], [K.zeros_like(x), K.zeros_like(x[:2])])
    feed = np.ones(n, dtype)
    big, small = f([feed])
    again, _ = f([feed])
    assert big.shape == (n,) and big.dtype == np.dtype(dtype) and small.shape == (2,)
    assert not big.any() and big.flags.writeable and big.flags.c_contiguous
    big[:5] = 1
    assert not again.any()  # each call gets its own buffer
    np.testing.assert_array_equal(big[:5], np.ones(5, dtype))


def test_negative_zero_fill_keeps_its_sign():
    got = K.eval(-K.zeros_like(K.constant(np.ones(3))))
    assert np.signbit(got).all()


def test_importing_the_backend_and_building_graphs_loads_no_compiler():
    # numba and llvmlite cost ~0.3 s to import: a graph is built without them, and the
    # first compile (or a tier-0 call) pays for them
    import subprocess
    import sys

    code = ("import sys, symgraph.backend as K; x = K.placeholder((None, 8, 8, 16)); "
            "w = K.variable(__import__('numpy').ones((3, 3, 16, 16), 'float32')); "
            "y = K.conv2d(x, w); K.gradients(K.sum(y), [x, w]); "
            "print(sorted(m for m in ('numba', 'llvmlite') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
