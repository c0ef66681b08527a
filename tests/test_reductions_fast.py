"""The vectorized reduction kernels (kernels/reductions.py), the parallel twins of
reductions and elementwise loops, and reductions fused with their elementwise input,
against NumPy references written here."""

import itertools

import numpy as np
import pytest

import symgraph.backend as K
from symgraph import config
from symgraph.kernels import parallelism, reductions
from symgraph.kernels.reductions import run_reduction
from symgraph.runtime.function import Function

RNG = np.random.default_rng(11)
NP = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min, "mean": np.mean,
      "any": np.any, "all": np.all}


def _expected(kind, x, axes, keepdims=False):
    if kind in ("any", "all"):
        return NP[kind](x, axis=axes, keepdims=keepdims)
    if kind == "mean" and x.dtype.kind in "iu":
        total = np.sum(x, axis=axes, keepdims=keepdims, dtype=np.int64)
        count = int(np.prod([x.shape[a] for a in axes]))
        return np.trunc(total / count).astype(x.dtype)
    if kind in ("max", "min"):
        if x.dtype.kind == "f":
            fill = -np.inf if kind == "max" else np.inf
        elif x.dtype.kind == "b":
            fill = kind == "min"
        else:
            info = np.iinfo(x.dtype)
            fill = info.min if kind == "max" else info.max
        return NP[kind](x, axis=axes, keepdims=keepdims, initial=fill)
    wide = x.astype(np.float64) if x.dtype.kind == "f" else x.astype(np.int64)
    with np.errstate(all="ignore"):
        return NP[kind](wide, axis=axes, keepdims=keepdims)


def _check(kind, x, axes, keepdims=False):
    out_dtype = {"any": "bool", "all": "bool"}.get(kind, "int64" if x.dtype == bool and kind
                                                   in ("sum", "prod") else x.dtype.name)
    got = run_reduction(kind, x, tuple(sorted(axes)), keepdims, out_dtype)
    exp = np.asarray(_expected(kind, x, tuple(axes), keepdims))
    assert got.shape == exp.shape and got.dtype == np.dtype(out_dtype)
    if x.dtype.kind == "f":
        tol = {"float16": 2e-3, "float32": 2e-6, "float64": 1e-12}[x.dtype.name]
        np.testing.assert_allclose(got.astype(np.float64), exp.astype(np.float64), rtol=tol,
                                   atol=tol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, exp.astype(out_dtype))


SHAPES = [(1,), (7,), (3, 5), (2, 3, 4), (40003,), (3, 33000), (33000, 3), (2, 1, 5, 3)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("kind", ["sum", "max", "min", "mean", "prod"])
def test_every_axis_set_and_layout_matches_numpy(shape, kind):
    x = RNG.normal(size=shape).astype(np.float32)
    if kind == "prod":
        x = (1 + 0.001 * x).astype(np.float32)
    nd = len(shape)
    for r in range(1, nd + 1):
        for axes in itertools.combinations(range(nd), r):
            _check(kind, x, axes)
            _check(kind, x.T, tuple(nd - 1 - a for a in axes))  # transposed view
            if shape[-1] > 2:
                _check(kind, x[..., ::2], axes)  # strided, not contiguous
                _check(kind, x[..., ::-1], axes, keepdims=True)  # negative strides


# bool mean is excluded: Keras casts bool to floatx before a mean (tested elsewhere)
@pytest.mark.parametrize("dtype,kind", [
    (d, k) for d in ["float64", "float16", "int8", "int32", "int64", "uint8", "bool"]
    for k in ["sum", "max", "min", "prod", "any", "all", "mean"]
    if not (d == "bool" and k == "mean")])
def test_dtypes(dtype, kind):
    if dtype == "bool":
        x = RNG.random((5, 37)) > 0.5
    elif dtype.startswith("float"):
        x = RNG.normal(size=(5, 37)).astype(dtype)
    else:
        x = RNG.integers(0, 4 if kind == "prod" else 100, size=(5, 37)).astype(dtype)
    for axes in [(0,), (1,), (0, 1)]:
        _check(kind, x, axes)
        _check(kind, x, axes, keepdims=True)


def test_empty_inputs():
    for kind in ["sum", "prod", "max", "min", "any", "all"]:
        for shape, axes in [((0,), (0,)), ((0, 3), (0,)), ((3, 0), (1,)), ((0, 3), (1,))]:
            _check(kind, np.zeros(shape, np.float32), axes)
    got = run_reduction("mean", np.zeros((0, 3), np.float32), (0,), False, "float32")
    assert np.isnan(got).all() and got.shape == (3,)


@pytest.mark.parametrize("kind", ["max", "min", "sum"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nan_and_inf_propagate(kind, dtype):
    n = 70001  # several chunks, not a multiple of any vector width
    for pos in (0, 5, 40000, n - 1):
        for bad in (np.nan, -np.nan, np.inf, -np.inf):
            x = RNG.normal(size=n).astype(dtype)
            x[pos] = bad
            _check(kind, x, (0,))
            _check(kind, x.reshape(1, n), (1,))
            col = x.reshape(n, 1)
            _check(kind, np.concatenate([col, col], 1), (0,))  # column reduction
    both = np.array([np.inf, -np.inf, 1.0], dtype)
    _check(kind, both, (0,))  # inf + -inf is NaN; max/min pick the infinities


def test_negative_axes_and_keepdims_through_the_backend():
    data = RNG.normal(size=(4, 5, 6)).astype(np.float32)
    x = K.placeholder((None, 5, 6))
    outs = [K.sum(x, axis=-1), K.max(x, axis=(-3, -1), keepdims=True), K.mean(x, axis=-2)]
    got = K.function([x], outs)([data])
    np.testing.assert_allclose(got[0], data.sum(-1), rtol=1e-5)
    np.testing.assert_array_equal(got[1], data.max(axis=(0, 2), keepdims=True))
    np.testing.assert_allclose(got[2], data.mean(-2), rtol=1e-5)


@pytest.fixture
def small_parallel(monkeypatch):
    """Parallel twins from small sizes on, so the tests reach them quickly."""
    monkeypatch.setattr(parallelism, "PARALLEL_MIN", 1000)
    monkeypatch.setattr(reductions, "CHUNK", 512)
    old = config.num_threads()
    yield
    config.set_num_threads(old)


def test_thread_counts_give_identical_results(small_parallel):
    import numba

    assert numba.config.NUMBA_NUM_THREADS >= 2  # conftest sizes the pool for this test
    x = RNG.normal(size=(37, 2003)).astype(np.float32)
    y = RNG.normal(size=(37, 2003)).astype(np.float32)
    cases = [("sum", (1,)), ("sum", (0,)), ("sum", (0, 1)), ("max", (0, 1))]
    results = {}
    for n in (1, 2):
        config.set_num_threads(n)
        results[n] = [run_reduction(k, x, a, False, "float32") for k, a in cases]
        p, q = K.placeholder((None, 2003)), K.placeholder((None, 2003))
        f = Function([p, q], [K.softmax(p), K.tanh(p) * q + 1.0])
        results[n] += f([x, y])
        if n == 2:  # the prange twins ran
            assert all(k[-1] for s in f.plan.steps if s.kind == "group"
                       for k in s.kernel._modules)
    for a, b in zip(results[1], results[2]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(results[1][0], x.astype(np.float64).sum(1), rtol=1e-6)


def test_set_num_threads_validates():
    with pytest.raises(ValueError):
        config.set_num_threads(0)
    old = config.num_threads()
    config.set_num_threads(10 ** 6)  # capped at numba's pool
    import numba

    assert config.num_threads() == numba.config.NUMBA_NUM_THREADS
    config.set_num_threads(old)


def _fused_vs_unfused(outs, inputs, feeds):
    fused = Function(inputs, outs)
    unfused = Function(inputs, outs, fuse=False)
    a, b = fused(feeds), unfused(feeds)
    for u, v in zip(a, b):
        assert u.shape == v.shape and u.dtype == v.dtype
        np.testing.assert_allclose(u, v, rtol=2e-6, atol=1e-7, equal_nan=True)
    return fused, a


def test_softmax_fuses_exp_into_the_sum_and_recomputes_it_in_the_divide():
    # softmax written with ops (K.softmax itself is one kernel, ops/softmax.py)
    x = K.placeholder((None, None))
    e = K.exp(x - K.max(x, axis=1, keepdims=True))
    f, (sm,) = _fused_vs_unfused([e / K.sum(e, axis=1, keepdims=True)], [x],
                                 [RNG.normal(size=(9, 13)).astype(np.float32)])
    lines = f.plan.describe().splitlines()
    assert any("fused[subtract, exp, sum]" in line for line in lines)
    assert any("fused[subtract, exp, true_divide]" in line for line in lines)
    assert not any(line.startswith("exp") for line in lines)  # never stored
    np.testing.assert_allclose(sm.sum(1), 1, rtol=1e-6)


@pytest.mark.parametrize("shape", [(5, 7), (0, 3), (1, 1), (3, 1), (2, 3, 4), (40001,)],
                         ids=str)
def test_fused_reductions_equal_unfused(shape):
    x, y = K.placeholder(shape), K.placeholder(shape)
    nd = len(shape)
    outs = [K.mean(K.square(x - y)), K.sum(K.exp(x) * 2.0, axis=0),
            K.max(K.abs(x) - y, axis=-1, keepdims=True), K.min(x * y, axis=0),
            K.prod(1.0 + 0.01 * x, axis=-1)]
    if nd > 1:
        outs += [K.sum(x - K.max(y, axis=1, keepdims=True), axis=(0, nd - 1)),
                 K.mean(K.zeros_like(x) + y, axis=1)]
    data = [RNG.normal(size=shape).astype(np.float32) for _ in range(2)]
    f, got = _fused_vs_unfused(outs, [x, y], data)
    assert f.n_kernels < Function([x, y], outs, fuse=False).n_kernels
    np.testing.assert_allclose(got[0], np.mean((data[0] - data[1]).astype(np.float64) ** 2)
                               if data[0].size else np.nan, rtol=1e-6, equal_nan=True)


def test_fused_reduction_with_nan_and_broadcast_float64():
    x = K.placeholder((None, 6), dtype="float64")
    b = K.placeholder((6,), dtype="float64")
    data = RNG.normal(size=(4, 6))
    data[2, 3] = np.nan
    bias = RNG.normal(size=6)
    outs = [K.max(x + b, axis=1), K.sum(K.exp(x + b), axis=0), K.min(x * b, axis=1)]
    _, got = _fused_vs_unfused(outs, [x, b], [data, bias])
    np.testing.assert_array_equal(np.isnan(got[0]), [False, False, True, False])
    assert np.isnan(got[1][3]) and not np.isnan(got[1][[0, 1, 2, 4, 5]]).any()


def test_a_fill_larger_than_the_arrays_along_a_reduced_axis_is_not_fused():
    x = K.placeholder((None, 3))
    row = K.placeholder((1, 3))
    out = K.sum(K.ones_like(x) * row, axis=0)  # extent along axis 0 comes from the fill only
    f = Function([x, row], [out])
    got = f([np.zeros((5, 3), np.float32), np.array([[1, 2, 3]], np.float32)])[0]
    np.testing.assert_array_equal(got, [5, 10, 15])


@pytest.mark.parametrize("kind", ["sum", "mean", "prod", "max", "min", "any", "all"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8", "bool"])
def test_bound_reductions_match_the_general_path_bit_for_bit(kind, dtype):
    """``bind_reduction`` plans a reduction once per shape (what compiled functions
    call); every result is ``run_reduction``'s, NaN and infinities included, and inputs
    it was not planned for (strided, another shape or dtype) take the general path."""
    for shape, axes in [((64, 96), (0,)), ((64, 96), (1,)), ((3, 4, 5), (0, 2)),
                        ((7,), (0,)), ((2, 1, 6), (1,)), ((5, 6), (0, 1))]:
        x = (RNG.normal(size=shape) * 3).astype(dtype) if dtype != "bool" else \
            RNG.random(shape) > 0.5
        if dtype.startswith("float"):
            x.flat[::7] = np.nan
            x.flat[3::11] = np.inf
        out_dtype = "float64" if kind == "mean" and dtype == "bool" else (
            "bool" if kind in ("any", "all") else dtype)
        for keepdims in (False, True):
            bound = reductions.bind_reduction(kind, shape, dtype, axes, keepdims, out_dtype)
            assert bound is not None
            want = run_reduction(kind, x, axes, keepdims, out_dtype)
            got = bound(x)
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)
            strided = np.repeat(x, 2, axis=-1)[..., ::2]
            np.testing.assert_array_equal(bound(strided), want)
    bound = reductions.bind_reduction(kind, (4, 3), dtype, (0,), False, out_dtype)
    other = np.ones((5, 3), dtype=dtype)
    np.testing.assert_array_equal(bound(other), run_reduction(kind, other, (0,), False,
                                                              out_dtype))


def test_reductions_that_bind_does_not_plan():
    assert reductions.bind_reduction("argmax", (4, 3), "float32", (0,), False, "int64") is None
    assert reductions.bind_reduction("sum", (0, 3), "float32", (0,), False, "float32") is None
    assert reductions.bind_reduction("sum", (4, 3), "float16", (0,), False, "float16") is None
    big = (parallelism.PARALLEL_MIN * 4,)
    if reductions.threads_for(big[0]) > 1:
        assert reductions.bind_reduction("sum", big, "float32", (0,), False, "float32") is None
