"""K.function and K.eval: compile once, run many times, share kernels, stay correct."""

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import symgraph.backend as K
from symgraph.errors import FeedError
from symgraph.kernels import cache as kernel_cache
from symgraph.runtime import runner as runner_module
from symgraph.runtime.function import Function
from symgraph.runtime.reference import reference_eval

from .helpers import random_elementwise_graph


def _mlp(n_in=8, hidden=16, n_out=4, seed=0):
    rng = np.random.default_rng(seed)
    x = K.placeholder((None, n_in))
    w1 = K.variable(rng.normal(size=(n_in, hidden)))
    b1 = K.variable(rng.normal(size=hidden))
    w2 = K.variable(rng.normal(size=(hidden, n_out)))
    b2 = K.variable(rng.normal(size=n_out))
    probs = K.softmax(K.dot(K.relu(K.dot(x, w1) + b1), w2) + b2)
    return x, probs, [w1, b1, w2, b2]


def _numpy_mlp(xs, params):
    w1, b1, w2, b2 = (K.get_value(p) for p in params)
    h = np.maximum(xs @ w1 + b1, 0)
    z = h @ w2 + b2
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _signature_count(fn):
    total = 0
    for step in fn.plan.steps:
        if step.kind == "group":
            for module in step.kernel._modules.values():
                total += sum(len(f.signatures) for f in vars(module).values()
                             if hasattr(f, "signatures"))
    return total


def test_mlp_forward_matches_numpy_over_batch_sizes_without_recompiling():
    x, probs, params = _mlp()
    f = K.function([x], [probs])
    rng = np.random.default_rng(1)
    f([rng.normal(size=(3, 8)).astype("float32")])
    loaded = kernel_cache.STATS["kernels_loaded"]
    signatures = _signature_count(f)
    for n in (1, 7, 64, 0):
        xs = rng.normal(size=(n, 8)).astype("float32")
        (p,) = f([xs])
        assert p.shape == (n, 4) and p.dtype == np.float32
        np.testing.assert_allclose(p, _numpy_mlp(xs, params), rtol=1e-5, atol=1e-6)
    assert kernel_cache.STATS["kernels_loaded"] == loaded
    assert _signature_count(f) == signatures


def test_mlp_forward_kernel_count():
    x, probs, _ = _mlp()
    f = K.function([x], [probs])
    # matmul, relu(+bias) loop, matmul, bias add loop, the row-wise softmax kernel
    assert f.n_kernels == 5


def test_same_structure_in_a_new_graph_reuses_kernels():
    x, probs, _ = _mlp(seed=0)
    K.function([x], [probs])([np.ones((2, 8), "float32")])
    loaded = kernel_cache.STATS["kernels_loaded"]
    K.clear_session()
    x, probs, params = _mlp(seed=5)
    (p,) = K.function([x], [probs])([np.ones((4, 8), "float32")])
    assert kernel_cache.STATS["kernels_loaded"] == loaded
    np.testing.assert_allclose(p, _numpy_mlp(np.ones((4, 8)), params), rtol=1e-5, atol=1e-6)


def test_eval_reuses_its_plan():
    v = K.variable(np.arange(6.0).reshape(2, 3))
    y = K.sum(K.exp(v), axis=0)
    first = K.eval(y)
    plan = v.graph.plan_cache[y.id]
    K.set_value(v, np.zeros((2, 3)))
    second = K.eval(y)
    assert v.graph.plan_cache[y.id] is plan
    np.testing.assert_allclose(first, np.exp(np.arange(6.0).reshape(2, 3)).sum(0), rtol=1e-6)
    np.testing.assert_allclose(second, [2, 2, 2])


@pytest.mark.parametrize("reuse_min", [None, 1], ids=["default", "reuse-every-buffer"])
def test_fused_unfused_and_reference_agree_on_random_graphs(reuse_min, monkeypatch):
    if reuse_min is not None:  # unfused graphs: every op a group, many dead buffers reused
        monkeypatch.setattr(runner_module, "REUSE_MIN_ELEMENTS", reuse_min)
    rng = np.random.default_rng(0)
    unary = [K.exp, K.tanh, K.sigmoid, K.square, K.abs, K.softsign, lambda t: K.relu(t)]
    binary = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b,
              K.maximum, K.minimum, lambda a, b: a / (K.abs(b) + 1)]
    for _ in range(12):
        K.clear_session()
        x, y, nodes = random_elementwise_graph(rng, unary, binary, 5)
        outs = [nodes[-1], nodes[-3] + nodes[-1]]
        feeds = [rng.normal(size=(3, 5)).astype("float32"),
                 rng.normal(size=5).astype("float32")]
        fused = Function([x, y], outs)(feeds)
        unfused = Function([x, y], outs, fuse=False)(feeds)
        ref = reference_eval(outs, dict(zip([x, y], feeds)))
        for a, b, c in zip(fused, unfused, ref):
            np.testing.assert_allclose(a, c, rtol=2e-5, atol=1e-6, equal_nan=True)
            np.testing.assert_allclose(b, c, rtol=2e-5, atol=1e-6, equal_nan=True)


def test_fusion_groups_a_chain_into_one_kernel():
    x = K.placeholder((None, 4))
    y = K.tanh(K.relu(x * 0.5 + 0.1) * K.sigmoid(x)) + K.square(K.tanh(x))
    f = K.function([x], [y])
    assert f.n_kernels == 1
    xs = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    expected = np.tanh(np.maximum(xs * 0.5 + 0.1, 0) / (1 + np.exp(-xs))) + np.tanh(xs) ** 2
    np.testing.assert_allclose(f([xs])[0], expected, rtol=1e-5, atol=1e-6)


def test_fills_inside_loops_are_scalars_not_arrays():
    x = K.placeholder((None, 3))
    y = K.exp(x) + K.ones_like(x) * 2
    f = K.function([x], [y])
    (step,) = [s for s in f.plan.steps if s.kind == "group"]
    assert [s.op.name for s in step.scalar_inputs].count("fill") == 1
    assert all(s.op.name != "fill" for s in step.array_inputs)
    assert not any(s.kind == "fill" for s in f.plan.steps)
    np.testing.assert_allclose(f([np.zeros((2, 3))])[0], np.full((2, 3), 3.0))


def test_intermediates_are_freed_after_last_use():
    x = K.placeholder((None, 3))
    a = K.sum(K.exp(x), axis=1, keepdims=True)
    b = K.max(x * a, axis=1)
    f = K.function([x], [b])
    freed = {i for s in f.plan.steps for i in s.free_after}
    assert a.id in freed and b.id not in freed


def test_outputs_never_alias_stored_data():
    v = K.variable(np.ones((2, 3)))
    got = K.eval(v)
    got[:] = 5
    np.testing.assert_array_equal(K.get_value(v), np.ones((2, 3)))
    x = K.placeholder((2, 3))
    feed = np.zeros((2, 3), np.float32)
    (t,) = K.function([x], [K.transpose(x)])([feed])
    t[:] = 7
    assert (feed == 0).all()
    (tv,) = K.function([], [K.transpose(v)])([])
    tv[:] = 9
    np.testing.assert_array_equal(K.get_value(v), np.ones((2, 3)))


def test_every_way_of_feeding_gives_the_same_result():
    """The checked fast entry (exact arrays in a list) and the general path (anything
    check_feed converts) agree, and a rejected feed still names its placeholder."""
    a, b = K.placeholder((4,), name="a"), K.placeholder((4,), name="b")
    f = K.function([a, b], [a * 2.0 + b])
    xa = np.arange(4, dtype=np.float32)
    xb = np.full(4, 0.5, np.float32)
    expected = xa * 2 + xb
    strided = np.arange(8, dtype=np.float32)[::2]
    feeds = [[xa, xb], (xa, xb), {a: xa, b: xb}, [xa.astype(np.float64), xb],
             [list(map(float, xa)), xb], [xa.astype(">f4"), xb], [strided, xb]]
    for feed in feeds:
        expect = strided * 2 + xb if isinstance(feed, list) and feed[0] is strided \
            else expected
        np.testing.assert_array_equal(f(feed)[0], expect)
    assert f._entry is not None  # the fast entry exists and fell back for the odd feeds
    with pytest.raises(FeedError, match="'a'"):
        f([np.zeros(5, np.float32), xb])
    with pytest.raises(FeedError, match="takes 2 inputs"):
        f([xa])


def test_small_groups_read_strided_and_broadcast_inputs():
    """The inline flat-kernel call falls back to the general loop for inputs it
    cannot take (a strided view, another layout)."""
    x = K.placeholder((8,))
    y = K.placeholder((2, 3))
    f = K.function([x, y], [x[::2] + 1.0, K.transpose(y) * 2.0 + 1.0, K.exp(y[:, 1])])
    xv = np.arange(8, dtype=np.float32)
    yv = np.arange(6, dtype=np.float32).reshape(2, 3)
    got = f([xv, yv])
    np.testing.assert_array_equal(got[0], xv[::2] + 1)
    np.testing.assert_array_equal(got[1], yv.T * 2 + 1)
    np.testing.assert_allclose(got[2], np.exp(yv[:, 1]), rtol=1e-6)


def test_bound_launchers_handle_broadcasts_views_and_run_time_sizes():
    """Runners bind each fused loop to its shapes once (flat, n-d with broadcast
    patterns, fused reductions); inputs that are views take 'A'-layout loops."""
    x = K.placeholder((None, 5))
    b = K.variable(np.linspace(-1, 1, 5))
    w = K.constant(np.arange(15, dtype=np.float32).reshape(3, 5))
    outs = [K.relu(x + b), K.transpose(x) * 2.0 + 1.0, K.mean(K.square(x - b), axis=0),
            K.sum(K.exp(x[:, ::2]), axis=1), K.cast(K.shape(x)[0], "float32") * x,
            K.dot(x, K.transpose(w)) + K.sum(w, axis=1)]
    f = K.function([x], outs)
    bv, wv = K.get_value(b), np.arange(15, dtype=np.float32).reshape(3, 5)
    for n in (4, 1, 7, 4):
        xv = np.random.default_rng(n).normal(size=(n, 5)).astype(np.float32)
        got = f([xv])
        expected = [np.maximum(xv + bv, 0), xv.T * 2 + 1, ((xv - bv) ** 2).mean(0),
                    np.exp(xv[:, ::2]).sum(1), n * xv, xv @ wv.T + wv.sum(1)]
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)
            assert g.dtype == np.float32


def _reused(f) -> list:
    """Names of the groups whose runner writes into a dead input's buffer."""
    runner = next(iter(f._prepared.values()))
    return [k for k, v in runner.__globals__.items()
            if callable(v) and "bind_inplace" in getattr(v, "__qualname__", "")]


def test_dead_buffers_are_reused_only_when_nothing_else_holds_them(monkeypatch):
    monkeypatch.setattr(runner_module, "REUSE_MIN_ELEMENTS", 1)
    x = K.placeholder((None, 6))
    w = K.variable(np.random.default_rng(1).normal(size=(6, 5)))
    b = K.variable(np.linspace(-1, 1, 5))
    h = K.dot(x, w)
    xv = np.random.default_rng(2).normal(size=(4, 6)).astype(np.float32)
    hv = xv @ K.get_value(w)
    cases = [  # (outputs, expected, reuse expected)
        ([K.relu(h + b)], [np.maximum(hv + K.get_value(b), 0)], True),
        ([K.softmax(h) * 2.0], [2 * np.exp(hv) / np.exp(hv).sum(1, keepdims=True)], True),
        ([h, K.relu(h + b)], [hv, np.maximum(hv + K.get_value(b), 0)], False),  # h handed out
        ([K.relu(h + b), h * 2.0], [np.maximum(hv + K.get_value(b), 0), 2 * hv], False),
        ([K.relu(h + b), K.sum(K.reshape(h, (-1,)))],  # a view of h is read later
         [np.maximum(hv + K.get_value(b), 0), hv.sum()], False),
        ([K.relu(K.dot(x, K.transpose(K.transpose(w))) + b)],
         [np.maximum(hv + K.get_value(b), 0)], True),
    ]
    for outs, expected, reuse in cases:
        f = K.function([x], outs)
        for _ in range(2):
            got = f([xv])
            for g, e in zip(got, expected):
                np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)
        assert bool(_reused(f)) == reuse, outs


def test_reused_buffers_in_parallel_loops_match_serial(monkeypatch):
    from symgraph import config
    from symgraph.kernels import parallelism

    monkeypatch.setattr(runner_module, "REUSE_MIN_ELEMENTS", 1)
    monkeypatch.setattr(parallelism, "PARALLEL_MIN", 1000)
    x = K.placeholder((None, 300))
    w = K.variable(np.random.default_rng(3).normal(size=(300, 300)) / 20)
    f = K.function([x], [K.tanh(K.dot(x, w)) * 0.5 + 0.25])
    xv = np.random.default_rng(4).normal(size=(40, 300)).astype(np.float32)
    old = config.num_threads()
    try:
        results = []
        for n in (1, 2):
            config.set_num_threads(n)
            results.append(f([xv])[0])
    finally:
        config.set_num_threads(old)
    assert _reused(f)
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_allclose(results[0], np.tanh(xv @ K.get_value(w)) * 0.5 + 0.25,
                               rtol=1e-5, atol=1e-6)


def test_zero_dim_and_scalar_calls():
    a, b = K.placeholder(()), K.placeholder(())
    f = K.function([a, b], [a + b, a * b - 1.0])
    for _ in range(3):
        s, p = f([np.float32(1.5), np.array(2.0, np.float32)])
        assert s.shape == () and s.dtype == np.float32 and s == 3.5 and p == 2.0


def test_numpy_scalar_feeds_take_the_fast_entry_and_others_convert():
    a, b = K.placeholder(()), K.placeholder(())
    f = K.function([a, b], [a + b, a])
    f([np.float32(0), np.float32(0)])
    taken = []
    entry = f._entry
    f._entry = lambda inputs: taken.append(entry(inputs)) or taken[-1]
    s, same = f([np.float32(1.5), np.float32(2.25)])
    assert taken[-1] is not None  # np.float32 scalars need no conversion
    assert s.shape == () and s.dtype == np.float32 and s == 3.75
    assert type(same) is np.ndarray and same == 1.5
    # another scalar type, a Python float, a 1-element array: the general path converts
    for x in (np.float64(0.1), 0.1, np.array([0.1], np.float32)):
        if np.ndim(x):
            with pytest.raises(FeedError, match="shape"):
                f([x, np.float32(1)])
            continue
        s, _ = f([x, np.float32(1)])
        assert taken[-1] is None and s.dtype == np.float32 and s == np.float32(0.1) + 1
    x = K.placeholder((None,))
    g = K.function([x], [x * 2])
    with pytest.raises(FeedError, match="shape"):  # a scalar is not a vector
        g([np.float32(1)])


def test_single_tensor_output_gives_a_single_array():
    x = K.placeholder((2,))
    f = K.function([x], x * 2)
    np.testing.assert_array_equal(f([np.ones(2)]), [2, 2])


def test_updates_use_values_from_before_the_call():
    v = K.variable(np.array([1.0, 2.0]))
    x = K.placeholder((2,))
    f = K.function([x], [v * x], updates=[(v, v + x)])
    (out,) = f([np.array([10.0, 10.0])])
    np.testing.assert_array_equal(out, [10, 20])
    np.testing.assert_array_equal(K.get_value(v), [11, 12])


def test_concurrent_calls_from_threads_are_correct():
    x, probs, params = _mlp()
    f = K.function([x], [probs])
    rng = np.random.default_rng(3)
    batches = [rng.normal(size=(int(n), 8)).astype("float32") for n in rng.integers(1, 50, 32)]
    expected = [_numpy_mlp(b, params) for b in batches]
    f([batches[0]])  # compile before the threads start
    errors = []

    def worker(k):
        for i in range(k, len(batches), 4):
            (p,) = f([batches[i]])
            if not np.allclose(p, expected[i], rtol=1e-5, atol=1e-6):
                errors.append(i)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


_SCRIPT = textwrap.dedent("""
    import numpy as np
    import symgraph.backend as K
    from symgraph.runtime.function import Function
    x = K.placeholder((None, 4))
    f = Function([x], [K.tanh(x * 2.0 + 1.0) * K.sigmoid(x)])
    f([np.ones((3, 4), 'float32')])
    (step,) = [s for s in f.plan.steps if s.kind == 'group']
    module = step.kernel.module(('flat', False))
    print(sum(module.flat.stats.cache_hits.values()))
""")


@pytest.mark.parametrize("readonly", [False, True])
def test_disk_cache_is_hit_by_a_second_process(tmp_path, readonly):
    cache = tmp_path / "cache"
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=str(cache))
    env.pop("NUMBA_CACHE_DIR", None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")

    def run():
        out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out

    first = run()
    assert first.stdout.strip() == "0"
    if readonly:
        cache.chmod(0o500)
        try:
            second = run()
        finally:
            cache.chmod(0o700)
        if os.geteuid() == 0:  # root writes anyway: nothing to fall back from
            return
        assert "not writable" in second.stderr or second.stdout.strip() == "0"
    else:
        second = run()
        assert second.stdout.strip() == "1", "second process should load, not compile"


def test_corrupt_cache_entry_is_rewritten(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMGRAPH_CACHE_DIR", str(tmp_path))
    kernel_cache.reset()
    try:
        source = "import numpy as np\nfrom numba import njit\nVALUE = 42\n"
        kernel_cache.load(source)
        (path,) = tmp_path.glob("k_*.py")
        path.write_text("garbage(")
        kernel_cache.reset()
        module = kernel_cache.load(source)
        assert module.VALUE == 42
    finally:
        kernel_cache.reset()


def test_unwritable_cache_falls_back_to_memory_with_one_warning(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("SYMGRAPH_CACHE_DIR", str(blocker / "sub"))
    kernel_cache.reset()
    try:
        with pytest.warns(UserWarning, match="not writable"):
            module = kernel_cache.load("VALUE = 7\n")
        assert module.VALUE == 7
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert kernel_cache.load("VALUE = 8\n").VALUE == 8
    finally:
        kernel_cache.reset()


def test_a_cache_directory_others_can_write_is_not_trusted(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("SYMGRAPH_CACHE_DIR", str(shared))
    kernel_cache.reset()
    try:
        with pytest.warns(UserWarning, match="writable by other users"):
            assert kernel_cache.load("VALUE = 9\n").VALUE == 9
        assert not list(shared.glob("k_*.py"))
    finally:
        kernel_cache.reset()


@pytest.mark.parametrize("batch", [1, 3, 0, 300])
def test_fused_loops_read_broadcasts_at_their_source_extent(monkeypatch, batch):
    """A broadcast_to view (gradients of means and sums) read by a fused loop is
    indexed at its source's extent (0 along the broadcast dims) instead of as a
    zero-stride 'A' array: results are the same for small (bound n-d loop), large
    (general path, 300 x 32 x 32 x 4 elements) and empty batches, for a source of
    lower rank and for dims the source and the target both have as 1."""
    from symgraph.ops.shape import broadcast_to
    from symgraph.runtime import runner

    seen = []
    original = runner._unbroadcast_index

    def spy(src, shapes, maybe_strided):
        found = original(src, shapes, maybe_strided)
        seen.append(found is not None)
        return found
    monkeypatch.setattr(runner, "_unbroadcast_index", spy)
    x = K.placeholder((None, 32, 32, 4))
    c = K.constant(np.arange(4, dtype="float32") + 1.0)
    gx = K.gradients(K.sum(K.mean(x, axis=(1, 2)) * c), x)[0]  # broadcast_to of (N,1,1,4)
    bias = broadcast_to(K.constant(np.arange(4, dtype="float32")), (1, 32, 4))
    y = K.placeholder((None, 1, 32, 4))
    f = K.function([x, y], [K.switch(x > 0.5, gx / 3.0, x), y * 2.0 + bias])
    rng = np.random.default_rng(0)
    xv = rng.random((batch, 32, 32, 4), dtype=np.float32)
    yv = rng.random((batch, 1, 32, 4), dtype=np.float32)
    got_x, got_y = f([xv, yv])
    want_x = np.where(xv > 0.5, np.broadcast_to((np.arange(4) + 1.0) / 1024 / 3, xv.shape), xv)
    np.testing.assert_allclose(got_x, want_x, rtol=1e-6)
    np.testing.assert_allclose(got_y, yv * 2.0 + np.arange(4, dtype="float32"), rtol=1e-6)
    assert got_x.shape == xv.shape and got_y.shape == yv.shape
    if batch:
        assert any(seen)  # the gradient's broadcast was read at its source's extent
