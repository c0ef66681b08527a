"""Max pooling of channels-last float32 arrays with SIMD vectors over the channels.

NumPy's route (``ops.pool.pool_channels_last``) takes the maximum of one strided view
per window offset, reading and writing a whole output-sized buffer per offset. This
kernel reads each window's rows as vectors of 16 channels and writes every output once
(``benchmarks/bench_conv.py``). Channels must be a multiple of 16 (every vector load
inside its pixel); the caller pads the input with -inf for 'same' windows and checks
the bounds here before the kernel runs.
"""

from __future__ import annotations

import functools

import numpy as np

from . import cache
from .parallelism import launch_loaders, threads_for

LANES = 16  # simd.LANES (simd imports numba, which this module leaves to first use)


@functools.cache  # generated once: launches look it up per call
def _source(parallel: bool) -> str:
    from .simd import source_digest

    loop = "prange" if parallel else "range"
    return (f"# simd {source_digest()}\nimport numpy as np\n"
            f"from numba import njit{', prange' if parallel else ''}\n"
            "from symgraph.kernels.simd import vload, vmax, vstore\n\n"
            f"@njit(cache=CACHE, nogil=True, error_model='numpy'"
            f"{', parallel=True' if parallel else ''})\n"
            "def maxpool(x, out, N, H, W, C, OH, OW, KH, KW, sh, sw):\n"
            f"    for n in {loop}(N):\n"
            "        for oh in range(OH):\n"
            "            for ow in range(OW):\n"
            "                ob = np.uintp(((n * OH + oh) * OW + ow) * C)\n"
            "                first = np.uintp(((n * H + oh * sh) * W + ow * sw) * C)\n"
            "                for cb in range(0, C, 16):\n"
            "                    acc = vload(x, first + cb)\n"
            "                    for kh in range(KH):\n"
            "                        row = np.uintp(((n * H + oh * sh + kh) * W + ow * sw) * C)\n"
            "                        for kw in range(KW):\n"
            "                            acc = vmax(acc, vload(x, row + kw * C + cb))\n"
            "                    vstore(out, ob + cb, acc)\n")


@functools.cache  # generated once: launches look it up per call
def _grad_source(parallel: bool) -> str:
    """``maxpool_grad(x, g, dx, dims)``: each window's ``g`` stored at its first maximum
    (row-major over the window; a later entry takes over only where it is greater, so
    a NaN never does, and one in the first place keeps it), 0 elsewhere in the window.
    Windows must not overlap: every ``dx`` entry is written at most once, so the
    parallel twin gives the same bits. Positions no window covers keep their zeros."""
    from .simd import source_digest

    loop = "prange" if parallel else "range"
    return (f"# simd {source_digest()}\nimport numpy as np\n"
            f"from numba import njit{', prange' if parallel else ''}\n"
            "from symgraph.kernels.simd import (vload, vselect_eq, vselect_gt, vsplat, "
            "vstore,\n    vzero)\n\n"
            f"@njit(cache=CACHE, nogil=True, error_model='numpy'"
            f"{', parallel=True' if parallel else ''})\n"
            "def maxpool_grad(x, g, dx, N, H, W, C, OH, OW, KH, KW, sh, sw):\n"
            "    row = np.uintp(W * C)\n"
            f"    for n in {loop}(N):\n"
            "        for oh in range(OH):\n"
            "            for ow in range(OW):\n"
            "                gi = np.uintp(((n * OH + oh) * OW + ow) * C)\n"
            "                first = np.uintp(((n * H + oh * sh) * W + ow * sw) * C)\n"
            "                for cb in range(0, C, 16):\n"
            "                    base = first + np.uintp(cb)\n"
            "                    best = vload(x, base)\n"
            "                    choice = vzero()\n"
            "                    for kh in range(KH):\n"
            "                        for kw in range(KW):\n"
            "                            if kh or kw:\n"
            "                                v = vload(x, base + kh * row + kw * C)\n"
            "                                k = vsplat(np.float32(kh * KW + kw))\n"
            "                                choice = vselect_gt(v, best, k, choice)\n"
            "                                best = vselect_gt(v, best, v, best)\n"
            "                    gv = vload(g, gi + np.uintp(cb))\n"
            "                    zero = vzero()\n"
            "                    for kh in range(KH):\n"
            "                        for kw in range(KW):\n"
            "                            k = vsplat(np.float32(kh * KW + kw))\n"
            "                            vstore(dx, base + kh * row + kw * C,\n"
            "                                   vselect_eq(choice, k, gv, zero))\n")


def grad_usable(dtype, channels: int, rank: int, pool_size, strides, pads) -> bool:
    """Whether :func:`max_pool_grad` takes this gradient: :func:`usable`'s dtypes and
    channels, windows that do not overlap (strides >= pool sizes) and no padding (a
    padded entry must never be chosen, which the kernel does not track)."""
    return usable(dtype, channels, rank) and \
        all(s >= k for s, k in zip(strides, pool_size)) and \
        not any(b or a for b, a in pads)


def max_pool_grad(x: np.ndarray, g: np.ndarray, pool_size, strides) -> np.ndarray:
    """Gradient of unpadded max pooling with windows that do not overlap.

    Args:
        x: the pooled input, (N, W, C) or (N, H, W, C) float32, C a multiple of 16.
        g: the output gradient, (N, *out, C) float32.
        pool_size, strides: per spatial dim; ``strides >= pool_size``.

    Returns:
        ``dx`` of ``x``'s shape: each window's ``g`` at its first maximum.

    Example:
        >>> x = np.zeros((1, 2, 2, 16), np.float32); x[0, 1, 0] = 5.0
        >>> dx = max_pool_grad(x, np.ones((1, 1, 1, 16), np.float32), (2, 2), (2, 2))
        >>> float(dx[0, 1, 0, 0]), float(dx[0, 0, 0, 0])
        (1.0, 0.0)
    """
    if x.ndim == 3:  # 1-D: one row
        return max_pool_grad(x[:, None], g[:, None], (1, *pool_size), (1, *strides))[:, 0]
    n, h, w, c = x.shape
    (kh, kw), (sh, sw) = pool_size, strides
    if not usable(x.dtype, c, 2) or g.dtype != np.float32 or sh < kh or sw < kw:
        raise ValueError(f"max_pool_grad takes float32 with a multiple of {LANES} "
                         f"channels and windows that do not overlap, got {x.dtype} with "
                         f"{c} channels, pool {tuple(pool_size)}, strides {tuple(strides)}")
    oh, ow = g.shape[1:3]
    if g.shape != (n, oh, ow, c) or (oh and (oh - 1) * sh + kh > h) or \
            (ow and (ow - 1) * sw + kw > w):
        raise ValueError(f"max_pool_grad: a gradient of shape {g.shape} does not fit "
                         f"pooling of {x.shape} with pool {tuple(pool_size)}, strides "
                         f"{tuple(strides)}")
    # windows tiling x exactly write every entry: no zeros first (a 9 MB np.zeros
    # costs its page faults again in every step)
    covers = (oh * sh, ow * sw, sh, sw) == (h, w, kh, kw)
    dx = (np.empty if covers and g.size else np.zeros)(x.shape, dtype=np.float32)
    if g.size:
        run = launch_loaders(threads_for(x.size),
                             lambda: cache.load(_grad_source(False)).maxpool_grad,
                             lambda: cache.load(_grad_source(True)).maxpool_grad)
        run(np.ascontiguousarray(x).reshape(-1), np.ascontiguousarray(g).reshape(-1),
            dx.reshape(-1), n, h, w, c, oh, ow, kh, kw, sh, sw)
    return dx


def usable(dtype, channels: int, rank: int) -> bool:
    """Whether :func:`max_pool` takes arrays of this dtype, channel count and rank."""
    return np.dtype(dtype) == np.float32 and channels % LANES == 0 and channels > 0 \
        and rank in (1, 2)


def max_pool(xp: np.ndarray, pool_size, strides, out_spatial) -> np.ndarray:
    """Max pooling of padded channels-last ``xp`` (N, W, C) or (N, H, W, C).

    Args:
        xp: float32, C a multiple of 16, padded with -inf where windows overhang.
        pool_size, strides: per spatial dim.
        out_spatial: the output's spatial shape (the caller's window plan).

    Returns:
        (N, *out_spatial, C) float32.

    Example:
        >>> x = np.arange(64, dtype=np.float32).reshape(1, 2, 2, 16)
        >>> float(max_pool(x, (2, 2), (2, 2), (1, 1))[0, 0, 0, 0])
        48.0
    """
    if xp.ndim == 3:  # 1-D: one row
        return max_pool(xp[:, None], (1, *pool_size), (1, *strides),
                        (1, *out_spatial))[:, 0]
    n, h, w, c = xp.shape
    (kh, kw), (sh, sw), (oh, ow) = pool_size, strides, out_spatial
    if not usable(xp.dtype, c, 2):
        raise ValueError(f"max_pool takes float32 with a multiple of {LANES} channels, "
                         f"got {xp.dtype} with {c}")
    if (oh and (oh - 1) * sh + kh > h) or (ow and (ow - 1) * sw + kw > w):
        raise ValueError(f"pooling windows of output {(oh, ow)} fall outside the padded "
                         f"input {xp.shape}")
    out = np.empty((n, oh, ow, c), dtype=np.float32)
    if out.size:
        run = launch_loaders(threads_for(out.size * kh * kw),
                             lambda: cache.load(_source(False)).maxpool,
                             lambda: cache.load(_source(True)).maxpool)
        run(np.ascontiguousarray(xp).reshape(-1), out.reshape(-1), n, h, w, c, oh, ow,
            kh, kw, sh, sw)
    return out
