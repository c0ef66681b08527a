"""Explicit SIMD vectors for numba kernels: a 16-lane float32 value type and the
handful of operations a register-tiled kernel needs.

Numba gives kernels neither vector types nor ``noalias``: a loop that keeps a tile of
accumulators across an inner loop is either not vectorized or reloads and stores the
tile on every step, because LLVM cannot prove the output does not alias the inputs
(``docs/performance-profiles.md``, the direct-convolution variants). A value of type
:data:`f32x16` is an LLVM ``<16 x float>`` held in a local variable, so LLVM keeps it in
registers (one zmm with AVX-512, two ymm with AVX2, four xmm with SSE: the width is
portable, only the speed differs).

Loads and stores take a 1-D float32 array and a flat element index; they are
unaligned and unchecked, so the caller must keep ``index + 16 <= arr.size`` (the
kernels that use them are generated with their bounds worked out and checked in
Python, see :mod:`symgraph.kernels.direct_conv`).
"""

from __future__ import annotations

import functools
import hashlib
import os

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

__all__ = ["LANES", "f32x16", "source_digest", "vadd", "vbroadcast", "vfma", "vlane", "vload",
           "vmax", "vsplat", "vstore", "vzero"]

#: float32 lanes of one vector
LANES = 16
_VECTOR = ir.VectorType(ir.FloatType(), LANES)
_INDEX32 = ir.IntType(32)


class F32x16(types.Type):
    """Numba type of a ``<16 x float>`` SIMD value."""

    def __init__(self):
        super().__init__(name="f32x16")


f32x16 = F32x16()


@register_model(F32x16)
class _VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VECTOR)


@functools.cache  # generated once: launches look it up per call
def source_digest() -> str:
    """Hash of this file: kernels inline these operations, so their generated source
    (the disk cache key) must change when this file does."""
    with open(os.path.abspath(__file__), "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:16]


def _vector_pointer(context, builder, array_type, array, index):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.bitcast(builder.gep(data, [index]), _VECTOR.as_pointer())


def _check_float32_array(arr) -> None:
    if not (isinstance(arr, types.Array) and arr.dtype == types.float32 and arr.ndim == 1):
        raise TypeError(f"simd loads and stores take 1-D float32 arrays, not {arr}")


@intrinsic
def vload(typingctx, arr, index):
    """``arr[index:index + 16]`` as a vector (unaligned, unchecked)."""
    _check_float32_array(arr)

    def codegen(context, builder, signature, args):
        return builder.load(_vector_pointer(context, builder, signature.args[0], *args),
                            align=4)
    return f32x16(arr, types.intp), codegen


@intrinsic
def vstore(typingctx, arr, index, vector):
    """``arr[index:index + 16] = vector`` (unaligned, unchecked)."""
    _check_float32_array(arr)

    def codegen(context, builder, signature, args):
        pointer = _vector_pointer(context, builder, signature.args[0], args[0], args[1])
        builder.store(args[2], pointer, align=4)
    return types.void(arr, types.intp, f32x16), codegen


@intrinsic
def vsplat(typingctx, value):
    """A vector with ``value`` (a float32) in every lane."""
    def codegen(context, builder, signature, args):
        one = builder.insert_element(ir.Constant(_VECTOR, ir.Undefined), args[0],
                                     ir.Constant(_INDEX32, 0))
        lanes = ir.Constant(ir.VectorType(_INDEX32, LANES), [0] * LANES)
        return builder.shuffle_vector(one, ir.Constant(_VECTOR, ir.Undefined), lanes)
    return f32x16(types.float32), codegen


@intrinsic
def vbroadcast(typingctx, arr, index):
    """A vector with ``arr[index]`` in every lane (unchecked; one broadcast load)."""
    _check_float32_array(arr)

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        value = builder.load(builder.gep(data, [args[1]]), align=4)
        one = builder.insert_element(ir.Constant(_VECTOR, ir.Undefined), value,
                                     ir.Constant(_INDEX32, 0))
        lanes = ir.Constant(ir.VectorType(_INDEX32, LANES), [0] * LANES)
        return builder.shuffle_vector(one, ir.Constant(_VECTOR, ir.Undefined), lanes)
    return f32x16(arr, types.intp), codegen


@intrinsic
def vzero(typingctx):
    """A vector of zeros."""
    def codegen(context, builder, signature, args):
        return ir.Constant(_VECTOR, [0.0] * LANES)
    return f32x16(), codegen


@intrinsic
def vfma(typingctx, a, b, c):
    """``a * b + c`` lane by lane, rounded once (``llvm.fma``)."""
    def codegen(context, builder, signature, args):
        fma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_VECTOR, [_VECTOR] * 3), "llvm.fma.v16f32")
        return builder.call(fma, list(args))
    return f32x16(f32x16, f32x16, f32x16), codegen


@intrinsic
def vadd(typingctx, a, b):
    """``a + b`` lane by lane."""
    def codegen(context, builder, signature, args):
        return builder.fadd(args[0], args[1])
    return f32x16(f32x16, f32x16), codegen


@intrinsic
def vmax(typingctx, a, b):
    """The larger of ``a`` and ``b`` lane by lane, NaN if either is (``llvm.maximum``,
    as ``np.maximum``; -0.0 counts as smaller than +0.0)."""
    def codegen(context, builder, signature, args):
        maximum = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_VECTOR, [_VECTOR] * 2), "llvm.maximum.v16f32")
        return builder.call(maximum, list(args))
    return f32x16(f32x16, f32x16), codegen


def _select_codegen(predicate: str):
    def codegen(context, builder, signature, args):
        a, b, x, y = args
        return builder.select(builder.fcmp_ordered(predicate, a, b), x, y)
    return codegen


@intrinsic
def vselect_gt(typingctx, a, b, x, y):
    """``x`` where ``a > b``, else ``y``, lane by lane (an ordered compare: false where
    ``a`` or ``b`` is NaN)."""
    return f32x16(f32x16, f32x16, f32x16, f32x16), _select_codegen(">")


@intrinsic
def vselect_eq(typingctx, a, b, x, y):
    """``x`` where ``a == b``, else ``y``, lane by lane (false where either is NaN)."""
    return f32x16(f32x16, f32x16, f32x16, f32x16), _select_codegen("==")


@intrinsic
def vlane(typingctx, vector, lane):
    """Lane ``lane`` of ``vector`` as a float32 (``0 <= lane < 16``, unchecked)."""
    def codegen(context, builder, signature, args):
        return builder.extract_element(args[0], args[1])
    return types.float32(f32x16, types.intp), codegen
