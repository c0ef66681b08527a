"""Graph passes, each alone and together: results never change (NaN included), the
rewrites happen, and nothing that must stay (effects, broadcasts, casts) is dropped."""

import numpy as np
import pytest

import symgraph.backend as K
from symgraph import ops
from symgraph.compiler import passes
from symgraph.core.graph import ancestors
from symgraph.runtime.function import Function
from symgraph.runtime.reference import reference_eval

from .helpers import assert_close, random_elementwise_graph

NAN_DATA = np.array([[1.5, -2.0, np.nan], [np.inf, -np.inf, 0.0]], dtype=np.float32)


def _ops_in(outputs):
    return {n.op.name for n in ancestors(outputs)}


def test_cse_merges_nodes_that_differ_only_by_name():
    x = K.placeholder((2,))
    a = K.identity(x, name="a")
    b = K.identity(x, name="b")
    assert a is not b
    (out,) = passes.cse([a * b])
    assert out.inputs[0] is out.inputs[1]
    r1 = K.random_uniform((2,), seed=1)
    r2 = K.random_uniform((2,), seed=1)
    (kept,) = passes.cse([r1 + r2])
    assert kept.inputs[0] is not kept.inputs[1]  # two draws stay two draws


@pytest.mark.parametrize("build,expected_op", [
    (lambda x: x * 1, "placeholder"),
    (lambda x: 1 * x, "placeholder"),
    (lambda x: x + 0, "placeholder"),
    (lambda x: x - 0.0, "placeholder"),
    (lambda x: x / 1, "placeholder"),
    (lambda x: ops.unary("negative", -x), "placeholder"),
    (lambda x: K.log(K.exp(x)), "placeholder"),
    (lambda x: K.transpose(K.transpose(x)), "placeholder"),
    (lambda x: x * K.ones_like(x), "placeholder"),
])
def test_simplify_removes_identities(build, expected_op):
    x = K.placeholder((None, 3))
    (out,) = passes.simplify([build(x)])
    assert out.op.name == expected_op
    f = K.function([x], [build(x)])
    assert f.n_kernels == 0
    assert_close(f([NAN_DATA])[0], NAN_DATA)


def test_simplify_keeps_what_changes_values_or_shapes():
    x = K.placeholder((None, 3))
    y = K.placeholder((None, 3))
    kept = [x * K.ones_like(y),           # may broadcast x's batch dim to y's
            x * K.ones((4, 1, 3)),        # broadcasts to a new leading axis
            x * 0,                        # float: NaN * 0 is NaN, not 0
            K.cast(x, "int32") * 1.0,     # changes the dtype
            K.log(K.exp(K.cast(x, "float64"))) + K.constant(0.0, dtype="float32")]
    outs = passes.simplify(kept)
    for before, after in zip(kept, outs):
        assert after.shape == before.shape and after.dtype == before.dtype
    assert outs[2].op.name == "multiply"
    zeros = passes.simplify([K.cast(x, "int32") * 0])[0]
    assert zeros.op.name == "fill"


def test_simplify_merges_transposes_reshapes_and_casts():
    x = K.placeholder((2, 3, 4))
    (t,) = passes.simplify([K.permute_dimensions(K.permute_dimensions(x, (1, 2, 0)), (1, 0, 2))])
    assert t.op.name == "transpose" and t.inputs[0] is x
    assert t.attrs["perm"] == (2, 1, 0)
    (r,) = passes.simplify([K.reshape(K.reshape(x, (6, 4)), (4, 6))])
    assert r.op.name == "reshape" and r.inputs[0] is x
    i = K.placeholder((3,), dtype="int16")
    (c,) = passes.simplify([K.cast(K.cast(i, "int32"), "float32")])
    assert c.op.name == "cast" and c.inputs[0] is i
    f = K.placeholder((3,))
    (lossy,) = passes.simplify([K.cast(K.cast(f, "int32"), "float32")])
    assert lossy.inputs[0].op.name == "cast"  # float -> int truncates: kept


def test_fold_constants_folds_scalar_arithmetic():
    momentum = K.constant(0.9)
    scale = 1 - momentum
    (folded,) = passes.fold_constants([scale])
    assert folded.op.name == "constant"
    assert_close(folded.value, np.float32(1) - np.float32(0.9))
    v = K.variable([1.0, 2.0])
    f = K.function([], [v * scale + K.constant(2.0) * K.constant(3.0)])
    assert _ops_in(f.plan.outputs) <= {"variable", "constant", "multiply", "add"}
    assert f.n_kernels == 1
    assert_close(f([])[0], [1.0 * 0.1 + 6.0, 2.0 * 0.1 + 6.0], rtol=1e-6)


def test_fold_constants_leaves_arrays_and_effects():
    big = K.constant(np.arange(4.0)) * 2
    (kept,) = passes.fold_constants([big])
    assert kept.op.name == "multiply"
    r = K.random_uniform((), seed=3) * 2
    (kept_random,) = passes.fold_constants([r])
    assert kept_random.op.name == "multiply"


def test_passes_keep_update_semantics():
    v = K.variable(2.0)
    step = K.function([], [v * 1], updates=[K.update_add(v, K.constant(1.0) * 3)])
    assert_close(step([])[0], 2.0)
    assert_close(K.get_value(v), 5.0)


def test_passes_fused_unfused_and_reference_agree_on_random_graphs():
    rng = np.random.default_rng(7)
    unary = [K.exp, K.tanh, lambda t: t * 1, lambda t: ops.unary("negative", -t),
             lambda t: K.log(K.exp(t)), lambda t: K.transpose(K.transpose(t)), K.abs,
             lambda t: t + 0]
    binary = [lambda a, b: a + b, lambda a, b: a * b, K.maximum,
              lambda a, b: a - b * K.constant(0.0)]
    for _ in range(10):
        K.clear_session()
        x, y, nodes = random_elementwise_graph(rng, unary, binary, 4)
        outs = [nodes[-1], nodes[-2] * nodes[-1]]
        feeds = [rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=4).astype("float32")]
        feeds[0][0, 0] = np.nan
        optimized = Function([x, y], outs)(feeds)
        plain = Function([x, y], outs, passes=(), fuse=False)(feeds)
        ref = reference_eval(outs, dict(zip([x, y], feeds)))
        for a, b, c in zip(optimized, plain, ref):
            np.testing.assert_allclose(a, c, rtol=2e-5, atol=1e-6, equal_nan=True)
            np.testing.assert_allclose(b, c, rtol=2e-5, atol=1e-6, equal_nan=True)


def test_rewritten_nodes_keep_the_users_location():
    x = K.placeholder((None, 3))
    y = K.transpose(K.transpose(x)) * 2  # the multiply is rebuilt on x
    (out,) = passes.simplify([y])
    assert out is not y and out.inputs[0] is x
    assert out.location == y.location and out.location[0].endswith("test_passes.py")


def test_each_pass_can_be_switched_off():
    x = K.placeholder((2,))
    out = x * 1
    assert Function([x], [out], passes=()).plan.outputs[0] is out
    assert Function([x], [out], passes=("simplify",)).plan.outputs[0] is x
    assert ops.as_tensor(1.0).op.name == "constant"


def test_simplify_drops_views_that_are_the_identity_at_static_shapes():
    """sum_to, broadcast_to and reshape of a fully known shape to that same shape are
    their input; with a None dim they stay (the run-time shapes may differ)."""
    from symgraph.ops import gradutil

    def sum_to(g, x):  # as a loop body specialized to static shapes has them
        return g.graph.make(gradutil.SUM_TO, (g, x))

    x = K.placeholder((4, 3))
    y = K.placeholder((4, 3))
    same = [sum_to(x * y, x), K.reshape(x, (4, 3)), ops.broadcast_to(x, (4, 3))]
    assert [n.op.name for n in same] == ["sum_to", "reshape", "broadcast_to"]
    assert [n.op.name for n in passes.simplify(same)] == \
        ["multiply", "placeholder", "placeholder"]
    assert passes.simplify([sum_to(x * y, K.placeholder((1, 3)))])[0].op.name == "sum_to"
    u = K.placeholder((None, 3))
    v = K.placeholder((None, 3))
    (kept,) = passes.simplify([sum_to(u * v, u)])
    assert kept.op.name == "sum_to"
    f = K.function([u, v], [sum_to(u * v, u)])
    a, b = np.ones((1, 3), "float32"), np.full((5, 3), 2.0, "float32")
    assert_close(f([a, b])[0], np.full((1, 3), 10.0, "float32"))  # summed over the 5 rows


@pytest.mark.parametrize("rows", [4, None])
def test_summed_scatters_that_tile_an_axis_become_a_concatenate(rows):
    """The gradient of slicing a (4, 9) tensor into three column blocks is their
    concatenation (also with a batch dim known only at run time); a gap or an overlap
    keeps the scatters."""
    from symgraph.ops import shape_grad

    m = K.placeholder((rows, 9))
    parts = [K.placeholder((rows, 3)) for _ in range(3)]
    index = lambda a, b: (("slice", None, None, 1), ("slice", a, b, 1))  # noqa: E731

    def scatter(p, a, b):
        return shape_grad.scatter_index(p, m, index(a, b))

    tiled = scatter(parts[2], 6, None) + (scatter(parts[0], None, 3) +
                                          scatter(parts[1], 3, 6))
    (out,) = passes.simplify([tiled])
    assert out.op.name == "concatenate"
    gap = scatter(parts[0], None, 3) + scatter(parts[1], 6, None)
    overlap = scatter(parts[0], None, 3) + scatter(parts[1], 2, 5) + scatter(parts[2], 6, 9)
    for kept in passes.simplify([gap, overlap]):
        assert kept.op.name == "add"
    values = [np.random.default_rng(k).normal(size=(4, 3)).astype("float32")
              for k in range(3)]
    f = K.function([m, *parts], [tiled, overlap])
    want_overlap = np.zeros((4, 9), "float32")
    for v, (a, b) in zip(values, [(0, 3), (2, 5), (6, 9)]):
        want_overlap[:, a:b] += v
    got = f([np.zeros((4, 9), "float32"), *values])
    assert_close(got[0], np.concatenate(values, axis=1))
    assert_close(got[1], want_overlap)
