"""Direct float32 convolutions with SIMD register tiles (forward and kernel gradient).

im2col turns a convolution into one GEMM, but with few output channels that GEMM is
skinny (16 columns for the residual block of ``benchmarks/bench_keras_models.py``): BLAS
runs it at ~20-30 GFLOP/s and the patch matrix costs a copy of nine times the input.
These kernels compute the correlation in place instead: a tile of ``P`` output
pixels times ``16 * B`` output channels lives in ``P * B`` vector registers
(:mod:`.simd`) while the loops over kernel taps and input channels broadcast one
input value per pixel against a vector of weights. Measured on the models' layers (one
thread, AVX-512 VM of ``docs/performance.md``): 32x32x16 -> 16, 3x3, batch 64: forward
18 -> 4.5 ms, kernel gradient 27 -> 4 ms (``benchmarks/bench_conv.py``).

The kernels take channels-last arrays already padded (``xp``: (N, H, W, C)) and 2-D
kernels (``w``: (KH, KW, C, O)); 1-D convolutions are the 2-D case with H = KH = 1.
Output channels are padded to whole tiles where needed: the weights and the output
(forward) or the output gradient (kernel gradient) get a zero-padded width, so every
vector load and store stays inside its array, and the padding lanes are cut off after.
Every bound is checked here before a kernel runs. Parallel twins split the forward pass
by image and the kernel gradient by kernel tap, so each output element is summed in the
same order by either twin: they give identical bits.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import cache
from .parallelism import launch_loaders, threads_for

#: float32 lanes of a vector (``simd.LANES``; that module imports numba, which this one
#: leaves to the kernels' first use)
LANES = 16

__all__ = ["correlate", "kernel_gradient", "tile_for"]

#: pixels per register tile by the number of 16-lane channel blocks in it (P * B
#: accumulators of the 32 AVX-512 registers; from a sweep over the benchmark models'
#: layers, one thread)
_PIXELS = {1: 8, 2: 8, 3: 5, 4: 4}
#: input channels per kernel-gradient tile, by channel blocks (the same sweep)
_CHANNELS = {1: 8, 2: 8, 3: 6, 4: 6}


def tile_for(out_channels: int) -> tuple[int, int]:
    """``(blocks, padded)``: 16-lane channel blocks per tile (1-4, the largest that
    divides the vectors ``out_channels`` needs) and the channel count padded to whole
    tiles."""
    vectors = -(-out_channels // LANES)
    blocks = next(b for b in (4, 3, 2, 1) if vectors % b == 0)
    return blocks, vectors * LANES


def _header(parallel: bool) -> str:
    from .simd import source_digest

    jit = "njit, prange" if parallel else "njit"
    return (f"# simd {source_digest()}\nimport numpy as np\nfrom numba import {jit}\n"
            "from symgraph.kernels.simd import vadd, vbroadcast, vfma, vload, vstore, vzero\n\n")


def _decorator(parallel: bool) -> str:
    par = ", parallel=True" if parallel else ""
    return f"@njit(cache=CACHE, nogil=True, error_model='numpy'{par})\n"


@functools.cache  # generated once: launches look it up per call
def _forward_source(blocks: int, parallel: bool) -> str:
    """``conv(x, w, out, dims)``: x (N*H*W*C,), w (KH*KW*C*OP,), out (N*OH*OW*OP,).
    Offsets are unsigned and stepped by addition, so the inner loop is the loads and
    FMAs only (signed indices cost a negative-index fix-up per load)."""
    pixels = _PIXELS[blocks]
    lines = [_header(parallel), _decorator(parallel),
             "def conv(x, w, out, N, H, W, C, OH, OW, OP, KH, KW, sh, sw, dh, dw):\n",
             "    sc = np.uintp(sw * C)\n",
             *[f"    s{p} = np.uintp({p}) * sc\n" for p in range(1, pixels)],
             "    one = np.uintp(1)\n    step = np.uintp(OP)\n",
             # unit dilation along W: a kernel row's taps and channels are one run in
             # both x and w, so one loop covers them (3 taps of 1 channel: 3 steps, not
             # 3 loops of one)
             "    taps = KW if dw == 1 else 1\n    run = C * taps\n",
             f"    for n in {'prange' if parallel else 'range'}(N):\n",
             "        for oh in range(OH):\n",
             f"            for cb in range(0, OP, {LANES * blocks}):\n",
             "                ow = 0\n"]

    def tile(count: int, pad: str) -> None:
        lines.extend(f"{pad}a{p}_{b} = vzero()\n" for p in range(count) for b in range(blocks))
        lines.append(f"{pad}for kh in range(KH):\n"
                     f"{pad}    row = (n * H + oh * sh + kh * dh) * W\n"
                     f"{pad}    for kw in range(0, KW, taps):\n"
                     f"{pad}        xi = np.uintp((row + ow * sw + kw * dw) * C)\n"
                     f"{pad}        wi = np.uintp((kh * KW + kw) * C * OP + cb)\n"
                     f"{pad}        for ci in range(run):\n")
        inner = pad + " " * 12
        lines.extend(f"{inner}w{b} = vload(w, wi{f' + {LANES * b}' if b else ''})\n"
                     for b in range(blocks))
        for p in range(count):
            at = f"xi + s{p}" if p else "xi"
            lines.append(f"{inner}v = vbroadcast(x, {at})\n")
            lines.extend(f"{inner}a{p}_{b} = vfma(v, w{b}, a{p}_{b})\n" for b in range(blocks))
        lines.append(f"{inner}xi += one\n{inner}wi += step\n")
        lines.append(f"{pad}ob = ((n * OH + oh) * OW + ow) * OP + cb\n")
        lines.extend(f"{pad}vstore(out, ob + {p} * OP + {LANES * b}, a{p}_{b})\n"
                     for p in range(count) for b in range(blocks))

    # full tiles, then one of half width for the row's tail, then single pixels
    sizes = [pixels] + [p for p in (pixels // 2,) if p > 1]
    for k, size in enumerate(sizes):
        lines.append(f"                {'while' if k == 0 else 'if'} ow + {size} <= OW:\n")
        tile(size, " " * 20)
        lines.append(f"                    ow += {size}\n")
    lines.append("                while ow < OW:\n")
    tile(1, " " * 20)
    lines.append("                    ow += 1\n")
    return "".join(lines)


@functools.cache  # generated once: launches look it up per call
def _kernel_grad_source(blocks: int, parallel: bool) -> str:
    """``kgrad(x, g, dw, dims)``: x (N*H*W*C,), g (N*OH*OW*OP,), dw (KH*KW*C*OP,)
    zeros. Every dw entry is summed over (n, oh) in that order by either twin: the
    serial one runs the taps innermost (an image row of x and g is read from cache for
    all of them), the parallel one splits the taps between threads."""
    channels = _CHANNELS[blocks]
    if parallel:
        loops = ["    for tap in prange(KH * KW):\n", "        for n in range(N):\n",
                 "            for oh in range(OH):\n"]
    else:
        loops = ["    for n in range(N):\n", "        for oh in range(OH):\n",
                 "            for tap in range(KH * KW):\n"]
    lines = [_header(parallel), _decorator(parallel),
             "def kgrad(x, g, dwt, N, H, W, C, OH, OW, OP, KH, KW, sh, sw, dh, dw):\n",
             "    sc = np.uintp(sw * C)\n    step = np.uintp(OP)\n", *loops,
             "                kh = tap // KW\n                kw = tap - kh * KW\n",
             "                row = (n * H + oh * sh + kh * dh) * W\n",
             f"                for cb in range(0, OP, {LANES * blocks}):\n",
             "                    c0 = 0\n"]

    def tile(count: int, pad: str) -> None:
        lines.extend(f"{pad}a{c}_{b} = vzero()\n" for c in range(count) for b in range(blocks))
        lines.append(f"{pad}gi = np.uintp((n * OH + oh) * OW * OP + cb)\n"
                     f"{pad}xi = np.uintp((row + kw * dw) * C + c0)\n"
                     f"{pad}for ow in range(OW):\n")
        inner = pad + "    "
        lines.extend(f"{inner}g{b} = vload(g, gi{f' + {LANES * b}' if b else ''})\n"
                     for b in range(blocks))
        for c in range(count):
            lines.append(f"{inner}v = vbroadcast(x, xi{f' + {c}' if c else ''})\n")
            lines.extend(f"{inner}a{c}_{b} = vfma(v, g{b}, a{c}_{b})\n" for b in range(blocks))
        lines.append(f"{inner}gi += step\n{inner}xi += sc\n")
        lines.append(f"{pad}wb = (tap * C + c0) * OP + cb\n")
        for c in range(count):
            for b in range(blocks):
                at = f"wb + {c} * OP + {LANES * b}"
                lines.append(f"{pad}vstore(dwt, {at}, vadd(vload(dwt, {at}), a{c}_{b}))\n")

    lines.append(f"                    while c0 + {channels} <= C:\n")
    tile(channels, " " * 24)
    lines.append(f"                        c0 += {channels}\n                    while c0 < C:\n")
    tile(1, " " * 24)
    lines.append("                        c0 += 1\n")
    return "".join(lines)


def _loader(make_source, blocks: int, parallel: bool, name: str):
    return lambda: getattr(cache.load(make_source(blocks, parallel)), name)


def _check_windows(xp_shape, out_spatial, ksize, strides, dilation) -> None:
    """Every window the kernels read lies inside the padded input."""
    for size, out, k, s, d in zip(xp_shape[1:3], out_spatial, ksize, strides, dilation):
        if out and (out - 1) * s + (k - 1) * d >= size:
            raise ValueError(f"direct convolution: windows of output {tuple(out_spatial)} "
                             f"fall outside the padded input {tuple(xp_shape)}")


def _as_2d(xp, strides, dilation, ksize):
    if xp.ndim == 3:  # 1-D: one row
        return xp[:, None], (1, *strides), (1, *dilation), (1, *ksize)
    return xp, tuple(strides), tuple(dilation), tuple(ksize)


def correlate(xp: np.ndarray, w: np.ndarray, out_spatial, strides, dilation) -> np.ndarray:
    """Cross-correlation of padded channels-last float32 ``xp`` with ``w``.

    Args:
        xp: (N, W, C) or (N, H, W, C) float32, already padded.
        w: (KW, C, O) or (KH, KW, C, O) float32.
        out_spatial: the output's spatial shape (the caller's window plan).
        strides, dilation: per spatial dim.

    Returns:
        (N, *out_spatial, O) float32.

    Example:
        >>> x = np.ones((1, 4, 4, 4), np.float32); w = np.ones((3, 3, 4, 16), np.float32)
        >>> float(correlate(x, w, (2, 2), (1, 1), (1, 1))[0, 0, 0, 0])
        36.0
    """
    rank = xp.ndim - 2
    o = w.shape[-1]
    ksize = w.shape[:rank]
    blocks, padded = tile_for(o)
    # whole vectors of output channels; a width that is not one is cut after the kernel
    result = np.empty((xp.shape[0], *out_spatial, padded), dtype=np.float32)
    if result.size == 0:
        return result[..., :o]
    x2, strides2, dilation2, ksize2 = _as_2d(xp, strides, dilation, ksize)
    out2 = (1, *out_spatial) if rank == 1 else tuple(out_spatial)
    _check_windows(x2.shape, out2, ksize2, strides2, dilation2)
    n, h, width, c = x2.shape
    w2 = np.ascontiguousarray(w, dtype=np.float32).reshape(*ksize2, c, o)
    if padded != o:  # whole vectors of weights; the extra lanes are never stored
        wide = np.zeros((*ksize2, c, padded), dtype=np.float32)
        wide[..., :o] = w2
        w2 = wide
    work = result.size * c * math.prod(ksize2) // LANES
    run = launch_loaders(threads_for(work),
                         _loader(_forward_source, blocks, False, "conv"),
                         _loader(_forward_source, blocks, True, "conv"))
    run(np.ascontiguousarray(x2, dtype=np.float32).reshape(-1), w2.reshape(-1),
        result.reshape(-1), n, h, width, c, *out2, padded, *ksize2, *strides2, *dilation2)
    return result if padded == o else np.ascontiguousarray(result[..., :o])


def kernel_gradient(xp: np.ndarray, g: np.ndarray, ksize, strides, dilation) -> np.ndarray:
    """Gradient of :func:`correlate` with respect to its kernel.

    Args:
        xp: the padded input, (N, W, C) or (N, H, W, C) float32.
        g: the output gradient, (N, *out_spatial, O) float32.
        ksize: the kernel's spatial shape; strides, dilation: per spatial dim.

    Returns:
        (*ksize, C, O) float32: ``sum over n and output positions of x * g``.

    Example:
        >>> x = np.ones((1, 4, 4, 4), np.float32); g = np.ones((1, 2, 2, 16), np.float32)
        >>> float(kernel_gradient(x, g, (3, 3), (1, 1), (1, 1))[0, 0, 0, 0])
        4.0
    """
    rank = xp.ndim - 2
    c, o = xp.shape[-1], g.shape[-1]
    x2, strides2, dilation2, ksize2 = _as_2d(xp, strides, dilation, tuple(ksize))
    g2 = g[:, None] if rank == 1 else g
    blocks, padded = tile_for(o)
    dw = np.zeros((math.prod(ksize2) * c, padded), dtype=np.float32)
    if g.size and c:
        _check_windows(x2.shape, g2.shape[1:3], ksize2, strides2, dilation2)
        if padded != o:  # whole vectors of the output gradient
            wide = np.zeros((*g2.shape[:-1], padded), dtype=np.float32)
            wide[..., :o] = g2
            g2 = wide
        n, h, width, _ = x2.shape
        work = g2.size * c * math.prod(ksize2) // LANES
        run = launch_loaders(threads_for(work),
                             _loader(_kernel_grad_source, blocks, False, "kgrad"),
                             _loader(_kernel_grad_source, blocks, True, "kgrad"))
        run(np.ascontiguousarray(x2, dtype=np.float32).reshape(-1),
            np.ascontiguousarray(g2, dtype=np.float32).reshape(-1), dw.reshape(-1),
            n, h, width, c, g2.shape[1], g2.shape[2], padded, *ksize2, *strides2,
            *dilation2)
    return np.ascontiguousarray(dw[:, :o]).reshape(*ksize, c, o)
