"""The row-wise softmax kernel (ops/softmax.py) against NumPy."""

import numpy as np
import pytest

import symgraph.backend as K
from symgraph import config
from symgraph.kernels import parallelism
from symgraph.runtime.function import LAUNCHES

from .helpers import assert_close

RNG = np.random.default_rng(7)


def np_softmax(x, axis):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("width", [1, 2, 15, 16, 17, 33, 100, 1000])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rows_of_every_width_against_numpy(width, dtype):
    x = (RNG.normal(size=(5, width)) * 5).astype(dtype)
    got = K.eval(K.softmax(K.constant(x, dtype=dtype)))
    assert got.dtype == np.dtype(dtype)
    assert_close(got, np_softmax(x, -1), rtol=2e-6 if dtype == "float32" else 1e-13)


@pytest.mark.parametrize("shape,axis", [((3, 4, 5), 1), ((3, 4, 5), -3), ((3, 4, 5), 0),
                                        ((2, 3, 4, 5), 2), ((7,), 0), ((7,), -1)])
def test_any_axis(shape, axis):
    x = RNG.normal(size=shape).astype(np.float64)
    got = K.eval(K.softmax(K.constant(x, dtype="float64"), axis=axis))
    assert_close(got, np_softmax(x, axis), rtol=1e-13)


def test_one_kernel_and_no_temporaries():
    x = K.placeholder((None, 10))
    f = K.function([x], [K.softmax(x)])
    assert f.n_kernels == 1
    before = LAUNCHES.copy()
    f([np.zeros((3, 10), np.float32)])
    assert LAUNCHES - before == {"softmax": 1}


def test_unknown_dims_fed_at_run_time_and_empty_dims():
    x = K.placeholder((None, None))
    f = K.function([x], [K.softmax(x)])
    for shape in [(4, 9), (1, 1), (2, 40), (0, 5), (3, 0)]:
        a = RNG.normal(size=shape).astype(np.float32)
        got = f([a])[0]
        assert got.shape == shape and got.dtype == np.float32
        assert_close(got, np_softmax(a, -1) if a.size else a)


def test_special_values_follow_the_composition():
    x = np.array([[1.0, np.nan, 2.0], [1.0, np.inf, 2.0], [-np.inf] * 3,
                  [0.0, -np.inf, 1.0], [1000.0, 1000.0, -1000.0], [-1e30, 0.0, 1e30]],
                 dtype=np.float32)
    with np.errstate(invalid="ignore"):
        expected = np_softmax(x, -1)
    got = K.eval(K.softmax(K.constant(x)))
    assert_close(got, expected)
    assert np.isnan(got[:3]).all() and got[3, 1] == 0.0


def test_float16_computes_in_float32():
    x = RNG.normal(size=(4, 37)).astype(np.float16)
    got = K.eval(K.softmax(K.constant(x, dtype="float16")))
    assert got.dtype == np.float16
    assert_close(got, np_softmax(x, -1).astype(np.float16), rtol=2e-3, atol=1e-3)


def test_int_input_keeps_the_composition_rule():
    got = K.eval(K.softmax(K.constant([[1, 2, 3]], dtype="int32")))
    assert_close(got, np_softmax(np.array([[1, 2, 3]]), -1), rtol=1e-6)


def test_thread_counts_give_identical_results(monkeypatch):
    import numba

    assert numba.config.NUMBA_NUM_THREADS >= 2
    monkeypatch.setattr(parallelism, "PARALLEL_MIN", 1000)
    x = RNG.normal(size=(64, 301)).astype(np.float32)
    p = K.placeholder((None, 301))
    f = K.function([p], [K.softmax(p)])
    old = config.num_threads()
    try:
        results = []
        for n in (1, 2):
            config.set_num_threads(n)
            results.append(f([x])[0])
    finally:
        config.set_num_threads(old)
    np.testing.assert_array_equal(results[0], results[1])
    assert_close(results[0], np_softmax(x, -1), rtol=2e-6)


def test_crossentropy_still_reads_the_logits_back():
    logits = K.constant([[1000.0, 0.0]])
    loss = K.categorical_crossentropy(K.constant([[0.0, 1.0]]), K.softmax(logits))
    assert np.isfinite(K.eval(loss)).all()
    np.testing.assert_allclose(K.eval(loss), [1000.0], rtol=1e-6)


def test_bad_axis_is_a_build_time_error():
    with pytest.raises(Exception, match="softmax"):
        K.softmax(K.placeholder((None, 3)), axis=2)
