"""Elementary functions that LLVM's loop vectorizer can turn into SIMD code.

Generated elementwise loops call these instead of ``math.exp`` & co.: libm calls are
opaque to LLVM, so a loop holding one stays scalar, while these are straight-line
float/integer arithmetic that LLVM inlines into the loop, with special values
handled by selects, never by calls or data-dependent loops. float32 versions compute in float32
(eight or sixteen lanes per instruction); float64 versions in float64. ``fastmath``
stays off: NaN, infinities, signed zeros and subnormals behave as in NumPy.

Method (all functions):
- exp/expm1: ``k = round(x / ln2)``, ``r = x - k*ln2`` with ln2 split in two parts
  (Cody-Waite: ``k*LN2_HI`` is exact), ``expm1(r) = r + r^2/2 + r^3 P(r)`` on
  ``|r| <= ln2/2``, and the factor ``2^k`` built in the float's exponent bits, applied
  as ``2^(k//2) * 2^(k - k//2)`` so that overflow gives inf and results in the
  subnormal range are rounded once (no flush to zero).
- log: exponent and mantissa taken from the bits (subnormals pre-scaled by 2^25 /
  2^54), mantissa ``m`` in [sqrt(1/2), sqrt(2)), ``f = m - 1``, ``s = f / (2 + f)``,
  ``log(1+f) = f - (f^2/2 - s (f^2/2 + R))`` with ``R = s^2 Q(s^2)``
  (``2 atanh(s) = 2s + s R``), plus ``k*ln2`` in two parts.
- log1p(x) = log(u) + (x - (u - 1)) / u with ``u = 1 + x`` (the second term restores
  what rounding ``u`` lost).
- tanh(x) = sign(x) * e / (e + 2) with ``e = expm1(2|x|)``; ``x`` itself when tiny, ±1
  when large. sigmoid(x) = e / (1 + e) (x < 0) or 1 / (1 + e) with ``e = exp(-|x|)``
  (never overflows, exact down to subnormal outputs). softplus(x) = max(x, 0) +
  log1p(exp(-|x|)).
- pow (float32): ``x*x`` when the exponent is 2, else ``exp(y log|x|)`` evaluated with
  the float64 functions (|error of y log|x|| <= ~2e-14, far below a float32 ulp) and the
  C99 / NumPy special cases (negative bases with integer exponents, zeros, infinities,
  ``pow(x, 0) = pow(1, y) = 1``). float64 pow keeps libm except for the ``x*x`` path.

Polynomial coefficients P, Q are Chebyshev fits (near-minimax) of
``(e^r - 1 - r - r^2/2) / r^3`` on [-0.3467, 0.3467] and of ``(2 atanh(s)/s - 2) / s^2``
in ``z = s^2`` on [0, 0.0295], computed with 50-digit arithmetic by ``_fit_coefficients``
below (needs mpmath; ``python -m symgraph.kernels.vmath`` prints them).

Error bounds (max over dense sweeps, random and special inputs, vs float64 truth for
float32 and long double truth for float64; asserted in tests/test_vmath.py):
exp, log, log1p <= 2 ulp; expm1, tanh, sigmoid, softplus <= 3 ulp; pow (float32) <= 1 ulp.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Plain (not numba-inlined) functions: numba compiles each once per process (or loads it
# from its disk cache) and links it into the kernels calling it, where LLVM inlines it
# and vectorizes the loop. ``inline='always'`` gives the same machine code but makes
# every kernel compile 5-10x slower (numba-level IR inlining and typing).
_OPTIONS = dict(nogil=True, error_model="numpy", fastmath=False)


# True when this file is loaded through the kernel cache (``cached_vmath``, what kernels
# import): numba's cache files then go to symgraph's cache directory. Imported as a
# package module it is not cached, so nothing is ever written into the package.
CACHE = globals().get("CACHE", False)


def _inline(func):
    return njit(cache=CACHE, **_OPTIONS)(func)

F = np.float32
D = np.float64

# ---- float32 constants -------------------------------------------------------------------
ZERO_F, HALF_F, ONE_F, TWO_F = F(0.0), F(0.5), F(1.0), F(2.0)
INF_F, NAN_F = F(np.inf), F(np.nan)
LOG2E_F = F(1.4426950408889634)
LN2_HI_F = F(0.693145751953125)  # 16 significant bits: k * LN2_HI_F is exact for |k| < 2^8
LN2_LO_F = F(1.428606765330187e-06)
EXP_HI_F = F(89.0)  # exp overflows above 88.7228
EXP_LO_F = F(-104.0)  # exp rounds to 0 below -103.97
EXPM1_LO_F = F(-20.0)  # expm1 rounds to -1 below -17.4
EP_F = (F(0.16666630772822988), F(0.041666621814341734), F(0.008357217587497514),
        F(0.0013918735483342578))
LQ_F = (F(0.6666668515877068), F(0.3998873183116415), F(0.2958215894676855))
MIN_NORMAL_F = F(1.1754943508222875e-38)
TWO25_F = F(33554432.0)
M25_F = F(-25.0)
SQRTH_BITS_F = 0x3F3504F3  # bits of float32(sqrt(1/2))
TANH_BIG_F = F(10.0)  # tanh rounds to 1 above 9.01
TANH_TINY_F = F(2.0 ** -13)  # tanh(x) rounds to x below

# ---- float64 constants -------------------------------------------------------------------
ZERO_D, HALF_D, ONE_D, TWO_D = D(0.0), D(0.5), D(1.0), D(2.0)
INF_D, NAN_D = D(np.inf), D(np.nan)
LOG2E_D = D(1.4426950408889634)
LN2_HI_D = D(0.6931471805598903)  # 42 significant bits: exact products for |k| < 2^11
LN2_LO_D = D(5.497923018708371e-14)
EXP_HI_D = D(710.0)
EXP_LO_D = D(-746.0)
EXPM1_LO_D = D(-40.0)
EP_D = (D(0.16666666666666669), D(0.041666666666666664), D(0.008333333333330055),
        D(0.0013888888888886548), D(0.00019841269863088255), D(2.4801587317169235e-05),
        D(2.7557268406190795e-06), D(2.7557282931125736e-07), D(2.51004110820149e-08),
        D(2.091125490208877e-09))
LQ_D = (D(0.6666666666666666), D(0.4000000000000089), D(0.2857142857079543),
        D(0.2222222239356661), D(0.18181795442371984), D(0.1538625044794019),
        D(0.13268485680654427), D(0.13089629160674623))
MIN_NORMAL_D = D(2.2250738585072014e-308)
TWO54_D = D(18014398509481984.0)
M54_D = D(-54.0)
SQRTH_BITS_D = 0x3FE6A09E667F3BCD
MANT_MASK_D = 0xFFFFFFFFFFFFF
TANH_BIG_D = D(20.0)
TANH_TINY_D = D(2.0 ** -28)


# ============================== float32 ===================================================
@_inline
def _expm1_poly_f32(r):
    """expm1(r) for |r| <= ln2/2 (polynomial error < 2^-26 relative to e^r)."""
    p = EP_F[3]
    p = p * r + EP_F[2]
    p = p * r + EP_F[1]
    p = p * r + EP_F[0]
    return r + r * r * (HALF_F + r * p)


@_inline
def _pow2_f32(k):
    """2^k as float32 bits, for integral k in [-126, 127] (k an int)."""
    return np.int32((k + 127) << 23).view(np.float32)


@_inline
def _reduce_exp_f32(x, lo):
    """Clamp x to [lo, EXP_HI] (NaN -> EXP_HI) and split it as k*ln2 + r."""
    xc = x if x < EXP_HI_F else EXP_HI_F
    xc = xc if xc > lo else lo
    k = np.floor(xc * LOG2E_F + HALF_F)
    r = (xc - k * LN2_HI_F) - k * LN2_LO_F
    return k, r


@_inline
def exp_f32(x):
    k, r = _reduce_exp_f32(x, EXP_LO_F)
    ki = np.int32(k)
    k1 = ki >> 1
    y = (ONE_F + _expm1_poly_f32(r)) * _pow2_f32(k1) * _pow2_f32(ki - k1)
    return x if x != x else y


@_inline
def expm1_f32(x):
    k, r = _reduce_exp_f32(x, EXPM1_LO_F)
    q = _expm1_poly_f32(r)
    ki = np.int32(k)
    k1 = ki >> 1
    s1 = _pow2_f32(k1)
    s2 = _pow2_f32(ki - k1)
    t = s1 * s2  # 2^k, finite whenever it is used
    y = q * t + (t - ONE_F)
    big = (ONE_F + q) * s1 * s2
    y = big if k > F(30.0) else y
    y = x if x == ZERO_F else y  # keeps the sign of zero
    return x if x != x else y


@_inline
def _log_core_f32(x):
    """log(x) for x > 0 finite: normal or subnormal (no special values)."""
    sub = x < MIN_NORMAL_F
    xs = x * (TWO25_F if sub else ONE_F)
    kadj = M25_F if sub else ZERO_F
    ix = F(xs).view(np.int32) - SQRTH_BITS_F
    k = ix >> 23
    m = np.int32((ix & 0x7FFFFF) + SQRTH_BITS_F).view(np.float32)
    f = m - ONE_F
    s = f / (TWO_F + f)
    z = s * s
    big_r = z * (LQ_F[0] + z * (LQ_F[1] + z * LQ_F[2]))
    hfsq = HALF_F * f * f
    lg = f - (hfsq - s * (hfsq + big_r))
    kf = F(k) + kadj
    return kf * LN2_HI_F + (lg + kf * LN2_LO_F)


@_inline
def log_f32(x):
    y = _log_core_f32(x)
    y = INF_F if x == INF_F else y
    y = -INF_F if x == ZERO_F else y
    y = NAN_F if x < ZERO_F else y
    return x if x != x else y


@_inline
def log1p_f32(x):
    u = ONE_F + x
    y = _log_core_f32(u) + (x - (u - ONE_F)) / u
    y = x if x == ZERO_F else y
    y = INF_F if x == INF_F else y
    y = -INF_F if x == -ONE_F else y
    y = NAN_F if x < -ONE_F else y
    return x if x != x else y


@_inline
def _expm1_small_f32(v):
    """expm1(v) for 0 <= v <= 2 * TANH_BIG_F (no special values, 2^k stays normal)."""
    k = np.floor(v * LOG2E_F + HALF_F)
    r = (v - k * LN2_HI_F) - k * LN2_LO_F
    t = _pow2_f32(np.int32(k))
    return _expm1_poly_f32(r) * t + (t - ONE_F)


@_inline
def tanh_f32(x):
    a = abs(x)
    ac = a if a < TANH_BIG_F else TANH_BIG_F  # NaN -> TANH_BIG_F, fixed below
    e = _expm1_small_f32(ac + ac)
    t = e / (e + TWO_F)
    t = ONE_F if a >= TANH_BIG_F else t
    y = -t if x < ZERO_F else t
    y = x if a < TANH_TINY_F else y  # tiny, +-0 and subnormal inputs
    return x if x != x else y


@_inline
def _exp_nonpositive_f32(v):
    """exp(v) for v <= 0 (NaN gives a number: callers select it away)."""
    vc = v if v > EXP_LO_F else EXP_LO_F
    k = np.floor(vc * LOG2E_F + HALF_F)
    r = (vc - k * LN2_HI_F) - k * LN2_LO_F
    ki = np.int32(k)
    k1 = ki >> 1
    return (ONE_F + _expm1_poly_f32(r)) * _pow2_f32(k1) * _pow2_f32(ki - k1)


@_inline
def sigmoid_f32(x):
    e = _exp_nonpositive_f32(-abs(x))
    num = e if x < ZERO_F else ONE_F
    y = num / (ONE_F + e)
    return x if x != x else y


@_inline
def softplus_f32(x):
    pos = x if x > ZERO_F else ZERO_F
    y = pos + log1p_f32(_exp_nonpositive_f32(-abs(x)))
    return x if x != x else y


@_inline
def pow_f32(x, y):
    if y == TWO_F:  # loop-invariant in the common ``x ** 2``: LLVM unswitches it
        return x * x
    return F(_pow_core_f64(D(x), D(y)))


# ============================== float64 ===================================================
@_inline
def _expm1_poly_f64(r):
    p = EP_D[9]
    p = p * r + EP_D[8]
    p = p * r + EP_D[7]
    p = p * r + EP_D[6]
    p = p * r + EP_D[5]
    p = p * r + EP_D[4]
    p = p * r + EP_D[3]
    p = p * r + EP_D[2]
    p = p * r + EP_D[1]
    p = p * r + EP_D[0]
    return r + r * r * (HALF_D + r * p)


@_inline
def _pow2_f64(k):
    """2^k as float64 bits, for integral k in [-1022, 1023] (k an int)."""
    return np.int64((k + 1023) << 52).view(np.float64)


@_inline
def _reduce_exp_f64(x, lo):
    xc = x if x < EXP_HI_D else EXP_HI_D
    xc = xc if xc > lo else lo
    k = np.floor(xc * LOG2E_D + HALF_D)
    r = (xc - k * LN2_HI_D) - k * LN2_LO_D
    return k, r


@_inline
def exp_f64(x):
    k, r = _reduce_exp_f64(x, EXP_LO_D)
    ki = np.int64(k)
    k1 = ki >> 1
    y = (ONE_D + _expm1_poly_f64(r)) * _pow2_f64(k1) * _pow2_f64(ki - k1)
    return x if x != x else y


@_inline
def expm1_f64(x):
    k, r = _reduce_exp_f64(x, EXPM1_LO_D)
    q = _expm1_poly_f64(r)
    ki = np.int64(k)
    k1 = ki >> 1
    s1 = _pow2_f64(k1)
    s2 = _pow2_f64(ki - k1)
    t = s1 * s2
    y = q * t + (t - ONE_D)
    big = (ONE_D + q) * s1 * s2
    y = big if k > D(60.0) else y
    y = x if x == ZERO_D else y
    return x if x != x else y


@_inline
def _log_core_f64(x):
    sub = x < MIN_NORMAL_D
    xs = x * (TWO54_D if sub else ONE_D)
    kadj = M54_D if sub else ZERO_D
    ix = D(xs).view(np.int64) - SQRTH_BITS_D
    k = ix >> 52
    m = np.int64((ix & MANT_MASK_D) + SQRTH_BITS_D).view(np.float64)
    f = m - ONE_D
    s = f / (TWO_D + f)
    z = s * s
    q = LQ_D[7]
    q = q * z + LQ_D[6]
    q = q * z + LQ_D[5]
    q = q * z + LQ_D[4]
    q = q * z + LQ_D[3]
    q = q * z + LQ_D[2]
    q = q * z + LQ_D[1]
    q = q * z + LQ_D[0]
    big_r = z * q
    hfsq = HALF_D * f * f
    lg = f - (hfsq - s * (hfsq + big_r))
    kf = D(k) + kadj
    return kf * LN2_HI_D + (lg + kf * LN2_LO_D)


@_inline
def log_f64(x):
    y = _log_core_f64(x)
    y = INF_D if x == INF_D else y
    y = -INF_D if x == ZERO_D else y
    y = NAN_D if x < ZERO_D else y
    return x if x != x else y


@_inline
def log1p_f64(x):
    u = ONE_D + x
    y = _log_core_f64(u) + (x - (u - ONE_D)) / u
    y = x if x == ZERO_D else y
    y = INF_D if x == INF_D else y
    y = -INF_D if x == -ONE_D else y
    y = NAN_D if x < -ONE_D else y
    return x if x != x else y


@_inline
def tanh_f64(x):
    a = abs(x)
    ac = a if a < TANH_BIG_D else TANH_BIG_D
    e = expm1_f64(ac + ac)
    t = e / (e + TWO_D)
    t = ONE_D if a >= TANH_BIG_D else t
    y = -t if x < ZERO_D else t
    y = x if a < TANH_TINY_D else y
    return x if x != x else y


@_inline
def sigmoid_f64(x):
    e = exp_f64(-abs(x))
    num = e if x < ZERO_D else ONE_D
    return num / (ONE_D + e)


@_inline
def softplus_f64(x):
    pos = x if x > ZERO_D else ZERO_D
    return pos + log1p_f64(exp_f64(-abs(x)))


@_inline
def _pow_core_f64(x, y):
    """pow(x, y) = exp(y log|x|) with C99's special cases; accurate to ~2e-14 relative
    (enough for float32 results, not for float64 ones)."""
    mag = exp_f64(y * log_f64(abs(x)))
    yint = np.floor(y) == y  # true for +-inf (even), false for NaN
    half = y * HALF_D
    yodd = yint & (np.floor(half) != half)
    negative = D(x).view(np.int64) < 0  # sign bit, so -0.0 and -inf count
    r = -mag if negative & yodd else mag
    r = NAN_D if (x < ZERO_D) & (x > -INF_D) & (not yint) else r
    r = ONE_D if (x == -ONE_D) & (abs(y) == INF_D) else r
    return ONE_D if (y == ZERO_D) | (x == ONE_D) else r


@_inline
def pow_f64(x, y):
    if y == TWO_D:
        return x * x
    return x ** y


# ---- how the coefficients were computed ---------------------------------------------------
@_inline
def round_f16(x):
    """float32 ``x`` rounded to the nearest float16 value (ties to even), as a float32:
    what a float16 tensor holds between two fused ops (numba has no float16 scalars).
    NaN stays NaN; beyond float16's range gives +-inf."""
    a = abs(x)
    if not a < F(65520.0):  # the smallest float32 that float16 rounds to inf (or NaN)
        if x != x:
            return x
        return F(np.inf) if x > 0 else F(-np.inf)
    if a < F(6.103515625e-05):  # below float16's normals: a multiple of 2^-24
        return F(np.rint(x * F(16777216.0))) * F(5.960464477539063e-08)
    bits = F(x).view(np.int32)
    bits = bits + np.int32(0x0FFF) + ((bits >> 13) & 1)  # round the 13 dropped bits
    return np.int32(bits & np.int32(-8192)).view(np.float32)


@_inline
def ipow(x, y):
    """Integer power; a negative exponent is an error, as in NumPy and TF (an integer
    cannot hold 2 ** -1)."""
    if y < 0:
        raise ValueError("integers to negative integer powers are not allowed")
    return x ** y


def _fit_coefficients():  # pragma: no cover - documentation of the constants above
    import mpmath as mp

    mp.mp.dps = 50

    def fit(f, a, b, degree):
        coeffs = mp.chebyfit(f, [a, b], degree + 1)
        return [float(c) for c in coeffs[::-1]]  # lowest degree first

    def p_exp(r):
        if abs(r) < mp.mpf("1e-8"):
            return mp.mpf(1) / 6 + r / 24 + r * r / 120
        return (mp.exp(r) - 1 - r - r * r / 2) / r ** 3

    def q_log(z):
        if z < mp.mpf("1e-20"):
            return mp.mpf(2) / 3 + 2 * z / 5
        s = mp.sqrt(z)
        return (2 * mp.atanh(s) / s - 2) / z

    ln2 = mp.log(2)
    return {
        "EP_F": fit(p_exp, -0.3467, 0.3467, 3), "EP_D": fit(p_exp, -0.3467, 0.3467, 9),
        "LQ_F": fit(q_log, 0, 0.0295, 2), "LQ_D": fit(q_log, 0, 0.0295, 7),
        "LN2_HI_F": float(mp.nint(ln2 * 2 ** 16) / 2 ** 16),
        "LN2_HI_D": float(mp.nint(ln2 * 2 ** 42) / 2 ** 42),
        "LN2_LO_F": float(ln2 - mp.nint(ln2 * 2 ** 16) / 2 ** 16),
        "LN2_LO_D": float(ln2 - mp.nint(ln2 * 2 ** 42) / 2 ** 42),
    }


FUNCTIONS = {
    ("exp", "float32"): exp_f32, ("exp", "float64"): exp_f64,
    ("expm1", "float32"): expm1_f32, ("expm1", "float64"): expm1_f64,
    ("log", "float32"): log_f32, ("log", "float64"): log_f64,
    ("log1p", "float32"): log1p_f32, ("log1p", "float64"): log1p_f64,
    ("tanh", "float32"): tanh_f32, ("tanh", "float64"): tanh_f64,
    ("sigmoid", "float32"): sigmoid_f32, ("sigmoid", "float64"): sigmoid_f64,
    ("softplus", "float32"): softplus_f32, ("softplus", "float64"): softplus_f64,
    ("pow", "float32"): pow_f32, ("pow", "float64"): pow_f64,
}

if __name__ == "__main__":  # pragma: no cover
    for name, value in _fit_coefficients().items():
        print(name, value)
