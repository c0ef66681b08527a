"""One-element fused groups run as NumPy calls in functions that compile array loops
anyway (symgraph.runtime.runner._numpy_group_lines): no numba compile for an
optimizer's scalar arithmetic, the same results as the loops."""

import warnings

import numpy as np
import pytest

import symgraph.backend as K
from symgraph import config
from symgraph.errors import ShapeError
from symgraph.kernels import cache
from symgraph.runtime import runner


@pytest.fixture(autouse=True)
def compiled_only():
    config.set_tiered(False)
    yield
    config.set_tiered(None)


@pytest.fixture
def loads(monkeypatch):
    """The sources of the kernels loaded (compiled or read from disk) during a test."""
    seen = []
    real = cache.load

    def load(source, *args, **kwargs):
        seen.append(source)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(cache, "load", load)
    return seen


def _scalar_math(dtype="float32"):
    """An Adam-like step size beside an array loop: lr * sqrt(1 - b2^t) / (1 - b1^t)."""
    x = K.placeholder((None, 5), dtype=dtype)
    t = K.variable(np.array(3.0, dtype), dtype=dtype)
    lr = K.variable(np.array(0.01, dtype), dtype=dtype)
    step = lr * K.sqrt(1.0 - K.pow(np.array(0.999, dtype), t)) / (1.0 - K.pow(
        np.array(0.9, dtype), t))
    return K.function([x], [K.exp(x) * 2.0 + 1.0, step, K.log(t) + K.exp(-t)])


@pytest.fixture
def numpy_groups(monkeypatch):
    """The root ops of the groups that took the NumPy path during a test."""
    seen = []
    real = runner._numpy_group_lines

    def lines(step, shapes, namespace):
        seen.append(step.node.op.name)
        return real(step, shapes, namespace)

    monkeypatch.setattr(runner, "_numpy_group_lines", lines)
    return seen


def test_scalar_groups_beside_array_loops_compile_no_kernel(loads, numpy_groups):
    f = _scalar_math()
    xv = np.linspace(-1, 1, 10, dtype="float32").reshape(2, 5)
    out = f([xv])
    assert sorted(numpy_groups) == ["add", "true_divide"]  # the two scalar outputs
    assert not any("[()]" in s for s in loads)  # no 0-d loop was loaded
    t = np.float64(3.0)
    np.testing.assert_allclose(out[1], 0.01 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t),
                               rtol=1e-4)  # float32: 1 - 0.999^t cancels
    np.testing.assert_allclose(out[2], np.log(t) + np.exp(-t), rtol=1e-6)
    assert all(type(v) is np.ndarray and v.dtype == np.float32 for v in out)
    assert out[1].shape == () and out[1].flags.writeable


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numpy_groups_agree_with_the_compiled_loops(dtype, monkeypatch):
    xv = np.linspace(-1, 1, 10, dtype=dtype).reshape(2, 5)
    numpy_out = _scalar_math(dtype)([xv])
    K.clear_session()
    monkeypatch.setattr(runner, "NUMPY_GROUP_MAX", 0)  # every group a numba loop
    loop_out = _scalar_math(dtype)([xv])
    for a, b in zip(numpy_out, loop_out):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=4 * np.finfo(dtype).eps)


def test_numpy_groups_neither_warn_nor_raise_on_special_values():
    x = K.placeholder((None, 3))
    s = K.placeholder(())
    f = K.function([x, s], [K.sum(x * 2.0), K.log(s) * 2.0 + K.sqrt(s) / s,
                            K.exp(s * 1000.0)])
    old = np.seterr(all="raise")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for value in (-1.0, 0.0, np.inf, np.nan):
                out = f([np.ones((2, 3), "float32"), np.float32(value)])
                with np.errstate(all="ignore"):
                    want = [np.log(np.float32(value)) * 2 + np.sqrt(np.float32(value)) /
                            np.float32(value), np.exp(np.float32(value) * 1000)]
                np.testing.assert_array_equal(out[1:], want)
    finally:
        np.seterr(**old)


def test_integer_errors_in_numpy_groups_name_the_op():
    x = K.placeholder((None, 2))
    i = K.placeholder((), dtype="int32")
    f = K.function([x, i], [x + 1.0, K.pow(i, i - 3)])
    assert f([np.zeros((1, 2), "float32"), np.int32(4)])[1] == 4
    with pytest.raises(ShapeError, match=r"power .*test_numpy_groups\.py"):
        f([np.zeros((1, 2), "float32"), np.int32(2)])


def test_functions_of_scalars_alone_and_float16_keep_their_loops(numpy_groups):
    a, b = K.placeholder(()), K.placeholder(())
    f = K.function([a, b], [a * b + 1.0])
    assert f([np.float32(2), np.float32(3)])[0] == 7  # the per-call cost is the loop's
    x = K.placeholder((None, 2), dtype="float16")
    h = K.placeholder((), dtype="float16")
    g = K.function([x, h], [x * 2.0, h * 3.0 + 1.0])
    out = g([np.ones((1, 2), "float16"), np.float16(2)])
    assert out[1] == np.float16(7) and out[1].dtype == np.float16
    assert numpy_groups == []
