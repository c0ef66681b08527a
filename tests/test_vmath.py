"""Accuracy and special values of the vectorizable math in ``kernels.vmath``, that
generated kernels use it and vectorize, and that a second process loads them from the
disk cache.

Truth: float64 NumPy for float32 results, long double NumPy for float64 results.
Errors are measured in ulps of the truth rounded to the result dtype (subnormal
results: ulps of the smallest subnormal)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba import njit

from symgraph.compiler import codegen
from symgraph.kernels import vmath

# the bounds stated in vmath's docstring
BOUNDS = {"exp": 2.0, "log": 2.0, "log1p": 2.0, "sigmoid": 3.0,
          "expm1": 3.0, "tanh": 3.0, "softplus": 3.0}
POW_BOUND_F32 = 1.0

TRUTH = {
    "exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "tanh": np.tanh,
    "sigmoid": lambda x: np.where(x < 0, np.exp(x) / (1 + np.exp(x)), 1 / (1 + np.exp(-x))),
    "softplus": lambda x: np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))),
}
WIDER = {"float32": np.float64, "float64": np.longdouble}


def _unary_loop(fn):
    @njit(error_model="numpy")
    def run(out, a):
        for i in range(out.shape[0]):
            out[i] = fn(a[i])
    return run


def _binary_loop(fn):
    @njit(error_model="numpy")
    def run(out, a, b):
        for i in range(out.shape[0]):
            out[i] = fn(a[i], b[i])
    return run


_LOOPS: dict = {}


def vm(name: str, dtype: str, *args: np.ndarray) -> np.ndarray:
    key = (name, dtype)
    if key not in _LOOPS:
        fn = vmath.FUNCTIONS[key]
        _LOOPS[key] = _unary_loop(fn) if len(args) == 1 else _binary_loop(fn)
    args = [np.ascontiguousarray(a, dtype=dtype) for a in args]
    out = np.empty_like(args[0])
    _LOOPS[key](out, *args)
    return out


def ulp_errors(got: np.ndarray, truth: np.ndarray, dtype: str) -> np.ndarray:
    """|got - truth| in ulps of truth's rounding to ``dtype``; 0 where both agree
    exactly (same infinity, both NaN); inf where exactly one is NaN or infinite."""
    with np.errstate(all="ignore"):
        rounded = truth.astype(dtype)
        same = (got == rounded) | (np.isnan(got) & np.isnan(rounded))
        spacing = np.spacing(np.abs(rounded)).astype(truth.dtype)
        err = np.abs(got.astype(truth.dtype) - truth) / spacing
    err = np.where(same, 0.0, err)
    err = np.where(~same & ~(np.isfinite(got) & np.isfinite(rounded)), np.inf, err)
    return err


def specials(dtype: str) -> np.ndarray:
    info = np.finfo(dtype)
    vals = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 2.0, 0.5, info.max, -info.max,
            info.tiny, -info.tiny, info.smallest_subnormal, -info.smallest_subnormal,
            info.tiny / 3, -info.tiny / 7, info.eps, -info.eps, 1e-30, -1e-30, 1e30, -1e30,
            np.nextafter(np.array(1.0, dtype), 0), np.nextafter(np.array(1.0, dtype), 2),
            np.nextafter(np.array(-1.0, dtype), 0), np.nextafter(np.array(-1.0, dtype), -2)]
    # around exp's overflow and underflow thresholds and tanh's saturation
    edges = {"float32": [88.72, 88.7228, 88.7229, 88.73, 89.0, -87.3, -103.2, -103.9, -103.98,
                         -104.0, -150.0, 9.0, 9.1, -17.3, -17.4, 1e-4, 3e-4],
             "float64": [709.78, 709.7827, 709.7828, 710.0, -708.4, -744.4, -745.1, -745.14,
                         -746.0, -1100.0, 19.0, 19.1, -37.4, -37.5, 1e-8, 4e-9]}[dtype]
    return np.array(vals + edges + [-v for v in edges], dtype=dtype)


def sweep(dtype: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    span = 760.0 if dtype == "float64" else 110.0
    log_hi = 709.0 if dtype == "float64" else 88.0
    log_lo = -745.0 if dtype == "float64" else -103.0
    parts = [
        np.linspace(-span, span, 200_001),  # dense over exp's whole range
        np.linspace(-2.0, 2.0, 100_001),  # where polynomials and reductions switch
        rng.standard_normal(100_000) * 4,
        np.exp(rng.uniform(log_lo, log_hi, 100_000)) * rng.choice([-1.0, 1.0], 100_000),
        rng.uniform(-1.0, 1.0, 50_000) * 2.0 ** rng.integers(-40, 3, 50_000),  # small
    ]
    return np.concatenate([p.astype(dtype) for p in parts] + [specials(dtype)])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_accuracy_and_special_values(name, dtype):
    x = sweep(dtype)
    got = vm(name, dtype, x)
    assert got.dtype == np.dtype(dtype)
    with np.errstate(all="ignore"):
        truth = TRUTH[name](x.astype(WIDER[dtype]))
    err = ulp_errors(got, truth, dtype)
    worst = int(np.argmax(err))
    assert err[worst] <= BOUNDS[name], (
        f"{name} {dtype}: {err[worst]:.3f} ulp at x={x[worst]!r}: got {got[worst]!r}, "
        f"truth {truth[worst]!r}")
    # special values exactly as NumPy gives them (NaN, infinities, signed zeros)
    s = specials(dtype)
    mine = vm(name, dtype, s)
    with np.errstate(all="ignore"):
        ref = TRUTH[name](s.astype(WIDER[dtype])).astype(dtype)
    exact = ~np.isfinite(ref) | (ref == 0)
    np.testing.assert_array_equal(mine[exact], ref[exact])
    zeros = ref == 0  # (the sign of a NaN means nothing)
    assert (np.signbit(mine[zeros]) == np.signbit(ref[zeros])).all(), s[zeros]


def test_signed_zeros_subnormals_and_domains():
    for dtype in ("float32", "float64"):
        tiny = np.finfo(dtype).smallest_subnormal
        z = np.array([0.0, -0.0, tiny, -tiny], dtype)
        for name in ("expm1", "log1p", "tanh"):  # f(x) = x for tiny x, keeping the sign
            out = vm(name, dtype, z)
            assert np.array_equal(out, z) and (np.signbit(out) == np.signbit(z)).all(), name
        np.testing.assert_array_equal(vm("exp", dtype, np.array([-0.0, 0.0], dtype)), [1, 1])
        logs = vm("log", dtype, np.array([0.0, -0.0, -1.0, -np.inf, np.inf, np.nan, tiny], dtype))
        assert logs[0] == -np.inf and logs[1] == -np.inf and np.isnan(logs[2:4]).all()
        assert logs[4] == np.inf and np.isnan(logs[5])
        assert logs[6] == np.log(np.array(tiny, WIDER[dtype])).astype(dtype)
        l1p = vm("log1p", dtype, np.array([-1.0, -1.5, -np.inf], dtype))
        assert l1p[0] == -np.inf and np.isnan(l1p[1:]).all()
        # results in the subnormal range are rounded, not flushed
        lo = {"float32": -100.0, "float64": -740.0}[dtype]
        x = np.linspace(lo, lo - 3.5, 1001).astype(dtype)
        got = vm("exp", dtype, x)
        assert (got > 0).all() and (got < np.finfo(dtype).tiny).all()
        err = ulp_errors(got, np.exp(x.astype(WIDER[dtype])), dtype)
        assert err.max() <= 1.0
        sig = vm("sigmoid", dtype, x)
        assert (sig > 0).all() and ulp_errors(sig, np.exp(x.astype(WIDER[dtype])),
                                              dtype).max() <= 1.0


def pow_truth(x, y):
    with np.errstate(all="ignore"):
        return np.power(x.astype(np.float64), y.astype(np.float64))


def test_pow_float32_accuracy_and_special_cases():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(0, 10, 20_000), np.exp(rng.uniform(-80, 80, 20_000)),
                        -rng.uniform(0, 10, 20_000)]).astype(np.float32)
    y = np.concatenate([rng.uniform(-10, 10, 20_000), rng.uniform(-1, 1, 20_000),
                        rng.integers(-9, 10, 20_000)]).astype(np.float32)
    got = vm("pow", "float32", x, y)
    err = ulp_errors(got, pow_truth(x, y), "float32")
    assert err.max() <= POW_BOUND_F32, (err.max(), x[err.argmax()], y[err.argmax()])
    # C99 / NumPy special cases: every pair of special values
    sv = np.array([0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0, 2.5, -2.5, np.inf,
                   -np.inf, np.nan, 1e-45, 1e30, -1e30], np.float32)
    xs, ys = [a.ravel() for a in np.meshgrid(sv, sv)]
    got = vm("pow", "float32", xs, ys)
    with np.errstate(all="ignore"):
        ref = np.power(xs, ys)
    special = ~np.isfinite(ref) | (ref == 0) | (ref == 1)
    same = (got == ref) | (np.isnan(got) & np.isnan(ref))
    assert same[special].all(), list(zip(xs[~same & special], ys[~same & special],
                                        got[~same & special], ref[~same & special]))
    assert (np.signbit(got[ref == 0]) == np.signbit(ref[ref == 0])).all()
    assert ulp_errors(got, pow_truth(xs, ys), "float32").max() <= POW_BOUND_F32


def test_pow_float64_keeps_libm_and_squares_exactly():
    rng = np.random.default_rng(4)
    x = rng.uniform(-5, 5, 1000)
    y = np.where(rng.random(1000) < 0.5, 2.0, rng.uniform(-3, 3, 1000))
    got = vm("pow", "float64", x, y)
    with np.errstate(all="ignore"):
        truth = np.power(x.astype(np.longdouble), y.astype(np.longdouble))
    assert ulp_errors(got, truth, "float64").max() <= 1.0
    np.testing.assert_array_equal(got[y == 2], x[y == 2] * x[y == 2])


def test_generated_kernel_uses_vmath_and_vectorizes(tmp_path, monkeypatch):
    import symgraph.backend as K
    from symgraph.kernels import cache as kernel_cache

    # a private, empty cache: the kernel is compiled here, so its LLVM IR exists (one
    # loaded from numba's disk cache, e.g. written by another test, carries none)
    monkeypatch.setenv("SYMGRAPH_CACHE_DIR", str(tmp_path))
    kernel_cache.reset()
    x = K.placeholder(shape=(None,), dtype="float32")
    y = K.relu(x * 0.5 + 0.1) * K.sigmoid(x) + K.tanh(x) ** 2
    f = K.function([x], [y])
    data = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    data[:4] = [np.nan, np.inf, -np.inf, -0.0]
    got = f([data])[0]
    with np.errstate(all="ignore"):
        d = data.astype(np.float64)
        want = np.maximum(d * 0.5 + 0.1, 0) * (1 / (1 + np.exp(-d))) + np.tanh(d) ** 2
    np.testing.assert_allclose(got, want.astype(np.float32), rtol=2e-6, atol=0)
    modules = [m for m in kernel_cache._memory.values() if hasattr(m, "flat")]
    module = next(m for m in modules if any("vmath.tanh_f32" in line for line in
                                            _source_lines(m)))
    ir = "\n".join(module.flat.inspect_llvm().values())
    assert re.search(r"<(8|16) x float>", ir), "the fused loop was not vectorized"
    for libm in ("@expf", "@tanhf", "@powf", "@llvm.pow", "@llvm.exp"):
        assert libm not in ir


def _source_lines(module):
    path = getattr(module, "__file__", None)
    if path:
        with open(path, encoding="utf-8") as fh:
            return fh.read().splitlines()
    return []


def test_square_variant_of_scalar_powers():
    cond, lines = codegen.square_variant(
        ["t1 = np.float32(vmath.pow_f32(x0, s0))",
         "t2 = np.float64(vmath.pow_f64(np.float64(t1), np.float64(s1)))",
         "t3 = np.float32(vmath.pow_f32(x0, x1))"])
    assert cond == "s0 == 2 and np.float64(s1) == 2"
    assert lines == ["t1 = np.float32((x0 * x0))",
                     "t2 = np.float64((np.float64(t1) * np.float64(t1)))",
                     "t3 = np.float32(vmath.pow_f32(x0, x1))"]
    assert codegen.square_variant(["t0 = np.float32(vmath.exp_f32(x0))"]) is None


@pytest.mark.parametrize("exponent", [2.0, 3.0, 0.5])
def test_power_by_scalar_both_loop_versions(exponent):
    import symgraph.backend as K

    x = K.placeholder(shape=(None, 3), dtype="float32")
    f = K.function([x], [K.pow(K.tanh(x), exponent)])
    data = np.random.default_rng(1).uniform(0.1, 3, (5, 3)).astype(np.float32)
    with np.errstate(all="ignore"):
        want = np.power(np.tanh(data.astype(np.float64)), exponent).astype(np.float32)
    np.testing.assert_allclose(f([data])[0], want, rtol=1e-6)
    # strided input: the nd loop
    np.testing.assert_allclose(f([data[::2]])[0], want[::2], rtol=1e-6)


def test_second_process_loads_vmath_kernels_from_disk_cache(tmp_path):
    script = textwrap.dedent("""
        import numpy as np
        import numba.core.caching as caching
        import symgraph.backend as K
        loads = []
        original = caching.Cache.load_overload
        def spy(self, *args, **kwargs):
            result = original(self, *args, **kwargs)
            if self._py_func.__module__.startswith("symgraph_kernel_"):  # not vmath's own
                loads.append(result is not None)
            return result
        caching.Cache.load_overload = spy
        x = K.placeholder(shape=(None,), dtype="float32")
        y = K.sigmoid(x) * K.tanh(x) + K.log(K.exp(x) + 1.0) - K.softplus(x)
        out = K.function([x], [y])([np.linspace(-3, 3, 7, dtype=np.float32)])[0]
        print(sum(loads), len(loads), float(np.abs(out).sum()))
    """)
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, timeout=300) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
    first, second = (run.stdout.split() for run in runs)
    assert first[0] == "0"  # compiled
    assert int(second[0]) >= 1 and second[0] == second[1]  # every kernel loaded from disk
    assert first[2] == second[2]
    sources = [p.read_text() for p in (tmp_path / "cache").glob("k_*.py")]
    assert any("from symgraph.kernels.cached_vmath import vmath" in s and "# vmath " in s
               for s in sources)
