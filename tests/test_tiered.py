"""Tiered execution (symgraph.runtime.tiered): the first calls of a function run its
plan with NumPy while its kernels compile in the background, then the kernels run."""

import multiprocessing
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import symgraph.backend as K
from symgraph import config
from symgraph.errors import ShapeError
from symgraph.runtime import function as function_module
from symgraph.runtime import tiered


@pytest.fixture(autouse=True)
def tiers_on():
    config.set_tiered(True)
    yield
    tiered.wait_all()
    config.set_tiered(None)


@pytest.fixture
def held_compiles(monkeypatch):
    """Background compiles wait until the test sets the returned event: a compile that
    only loads cached kernels can otherwise finish before the first call returns, and
    the tests that look at tier 0's answer need it to be tier 0's."""
    gate = threading.Event()
    real = tiered.TierUp.start

    def start(self, key, build):
        def held():
            gate.wait(120)
            return build()
        real(self, key, held)

    monkeypatch.setattr(tiered.TierUp, "start", start)
    yield gate
    gate.set()


def _mlp(seed=0):
    rng = np.random.default_rng(seed)
    x = K.placeholder((None, 6))
    y = K.placeholder((None, 3))
    w1 = K.variable(rng.normal(size=(6, 8)) * 0.3)
    b1 = K.variable(np.zeros(8))
    w2 = K.variable(rng.normal(size=(8, 3)) * 0.3)
    probs = K.softmax(K.dot(K.relu(K.dot(x, w1) + b1), w2))
    loss = K.mean(K.categorical_crossentropy(y, probs))
    grads = K.gradients(loss, [w1, b1, w2])
    updates = [(v, v - 0.1 * g) for v, g in zip([w1, b1, w2], grads)]
    return x, y, [w1, b1, w2], loss, updates


def _batches(n=6):
    rng = np.random.default_rng(1)
    return [(rng.normal(size=(5, 6)).astype("float32"),
             np.eye(3, dtype="float32")[rng.integers(0, 3, 5)]) for _ in range(n)]


def test_first_call_is_interpreted_and_the_kernels_are_swapped_in(held_compiles):
    x = K.placeholder((None, 4))
    y = K.sum(K.tanh(x * 0.5 + 1.0) * K.exp(-x), axis=1)
    f = K.function([x], [y])
    xv = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    first = f([xv])[0]
    assert f._prepared == {}  # the compiled runner is not in use yet
    held_compiles.set()
    assert f.wait_compiled()
    assert len(f._prepared) == 1
    second = f([xv])[0]
    expected = np.sum(np.tanh(xv * 0.5 + 1.0) * np.exp(-xv), axis=1)
    np.testing.assert_allclose(first, expected, rtol=1e-6)
    np.testing.assert_allclose(second, first, rtol=1e-6)
    assert first.dtype == second.dtype == np.float32


def test_new_shapes_compile_at_once_after_the_first_compile():
    x = K.placeholder((None, 2))
    f = K.function([x], [x * 2.0 + 1.0])
    f([np.ones((1, 2), "float32")])
    f.wait_compiled()
    out = f([np.ones((7, 2), "float32")])[0]
    assert len(f._prepared) == 2 and not f._interpreters
    np.testing.assert_array_equal(out, np.full((7, 2), 3.0, "float32"))


def test_training_through_the_tiers_matches_compiled_training():
    batches = _batches()
    results = {}
    for mode in (False, True):
        K.clear_session()
        config.set_tiered(mode)
        x, y, weights, loss, updates = _mlp()
        f = K.function([x, y], [loss], updates=updates)
        losses = [f([xb, yb])[0] for xb, yb in batches[:2]]
        f.wait_compiled()
        losses += [f([xb, yb])[0] for xb, yb in batches[2:]]
        results[mode] = (np.array(losses), [K.get_value(w) for w in weights])
    np.testing.assert_allclose(results[True][0], results[False][0], rtol=1e-5)
    for tiered_w, compiled_w in zip(results[True][1], results[False][1]):
        np.testing.assert_allclose(tiered_w, compiled_w, rtol=1e-5, atol=1e-7)


def test_random_draws_are_the_same_in_both_tiers_and_the_warm_up_draws_none():
    draws = {}
    for mode in (False, True):
        K.clear_session()
        config.set_tiered(mode)
        x = K.placeholder((None, 50))
        f = K.function([x], [K.dropout(x, 0.5, seed=3) + K.random_normal((50,), seed=4)])
        xv = np.ones((4, 50), "float32")
        seq = [f([xv])[0]]
        f.wait_compiled()
        seq += [f([xv])[0] for _ in range(3)]
        draws[mode] = seq
    for a, b in zip(draws[True], draws[False]):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(draws[True][0], draws[True][1])  # new draws per call


def test_printing_functions_never_run_tier_zero(capsys):
    x = K.placeholder((2,))
    f = K.function([x], [K.print_tensor(x * 2.0, message="value: ")])
    f([np.ones(2, "float32")])
    f.wait_compiled()
    assert f._tier is None
    assert capsys.readouterr().out.count("value: ") == 1


def test_a_function_without_inputs_compiles_only_when_called_again():
    v = K.variable(np.arange(3.0))
    f = K.function([], [K.exp(v) * 2.0])
    first = f([])[0]
    assert not f._tier._threads  # a one-off evaluation starts no compile
    f([])
    f.wait_compiled()
    assert f._tier._threads and f._prepared
    np.testing.assert_allclose(f([])[0], first, rtol=1e-6)


def test_switched_off_the_first_call_runs_the_kernels(monkeypatch):
    config.set_tiered(False)
    x = K.placeholder((3,))
    f = K.function([x], [x + 1.0])
    f([np.zeros(3, "float32")])
    assert f._tier is None and len(f._prepared) == 1
    for text, expected in (("0", False), ("off", False), ("1", True), ("", True)):
        config.set_tiered(None)
        monkeypatch.setenv("SYMGRAPH_TIERED", text)
        assert config.tiered() is expected


def test_errors_in_tier_zero_name_the_op_and_the_users_line():
    a = K.placeholder((3,), dtype="int32")
    b = K.placeholder((3,), dtype="int32")
    f = K.function([a, b], [K.pow(a, b)])
    with pytest.raises(ShapeError, match=r"power .*test_tiered\.py"):
        f([np.array([1, 2, 3], "int32"), np.array([1, -1, 2], "int32")])
    np.testing.assert_array_equal(
        f([np.array([1, 2, 3], "int32"), np.array([2, 2, 2], "int32")])[0], [1, 4, 9])


def test_outputs_are_fresh_arrays_not_the_feeds_or_the_variables():
    x = K.placeholder((3,))
    v = K.variable(np.ones(3))
    f = K.function([x], [K.identity(x), K.identity(v), K.reshape(x, (3, 1))])
    xv = np.zeros(3, "float32")
    outs = f([xv])
    for out in outs:
        assert not np.shares_memory(out, xv) and not np.shares_memory(out, v.value)
        assert out.flags.writeable
    outs[1][:] = 5
    np.testing.assert_array_equal(K.get_value(v), np.ones(3))


def test_data_dependent_shapes_in_tier_zero():
    x = K.placeholder((None,))
    n = K.cast(K.sum(x), "int32")
    f = K.function([x], [K.zeros(K.stack([n, 2]))])
    assert f([np.array([1.0, 2.0], "float32")])[0].shape == (3, 2)
    f.wait_compiled()
    assert f([np.array([4.0], "float32")])[0].shape == (4, 2)


def test_a_failed_background_compile_is_raised_by_the_next_call(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("compiler broke")

    monkeypatch.setattr(function_module, "build_runner", broken)
    x = K.placeholder((2,))
    f = K.function([x], [x * 3.0])
    np.testing.assert_array_equal(f([np.ones(2, "float32")])[0], [3.0, 3.0])
    f.wait_compiled()
    with pytest.raises(RuntimeError, match="compiler broke"):
        f([np.ones(2, "float32")])


def test_concurrent_calls_while_the_kernels_compile():
    x = K.placeholder((None, 8))
    f = K.function([x], [K.softmax(x * 2.0) + K.sigmoid(x)])
    xv = np.random.default_rng(2).normal(size=(16, 8)).astype("float32")
    expected = K.function([x], [K.softmax(x * 2.0) + K.sigmoid(x)])([xv])[0]
    errors = []

    def work():
        try:
            for _ in range(30):
                np.testing.assert_allclose(f([xv])[0], expected, rtol=1e-5, atol=1e-7)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert f.wait_compiled() and f._prepared


def _call_in_child(queue):
    x = K.placeholder((None, 3))
    f = K.function([x], [K.exp(x) + 1.0])
    queue.put(f([np.zeros((2, 3), "float32")])[0].tolist())


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_children_started_while_a_compile_runs(method):
    x = K.placeholder((None, 5))
    f = K.function([x], [K.tanh(x) * K.exp(x)])
    f([np.ones((2, 5), "float32")])  # starts the background compile
    ctx = multiprocessing.get_context(method)
    queue = ctx.Queue()
    child = ctx.Process(target=_call_in_child, args=(queue,))
    child.start()  # a fork first waits for the compile (runtime.tiered)
    assert queue.get(timeout=120) == [[2.0] * 3] * 2
    child.join(60)
    assert child.exitcode == 0


def test_exiting_while_a_compile_runs_is_clean(tmp_path):
    code = ("import numpy as np, symgraph.backend as K\n"
            "x = K.placeholder((None, 4))\n"
            "f = K.function([x], [K.sum(K.tanh(x) * K.exp(x), axis=1)])\n"
            "print(f([np.ones((2, 4), 'float32')])[0].tolist())\n")
    env = {**__import__("os").environ, "SYMGRAPH_TIERED": "1",
           "SYMGRAPH_CACHE_DIR": str(tmp_path), "NUMBA_CACHE_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    np.testing.assert_allclose(eval(proc.stdout), [4 * np.tanh(1) * np.e] * 2, rtol=1e-6)


@pytest.mark.parametrize("when", ["before the child starts", "while waiting for it"])
def test_exit_leaves_a_compile_in_its_child_process_to_finish(tmp_path, when):
    """A short script does not wait at exit for the kernels its child process compiles,
    whether it exits before the child is started or while its compile thread waits for
    it: the child (slowed down here by a ``sitecustomize`` that sleeps in it) finishes
    on its own, fills the caches and removes its temporary folder."""
    hooks, scratch, cache = tmp_path / "hooks", tmp_path / "tmp", tmp_path / "cache"
    for folder in (hooks, scratch, cache):
        folder.mkdir()
    done = tmp_path / "child-done"
    (hooks / "sitecustomize.py").write_text(
        "import atexit, os, pathlib, time\n"
        "if os.environ.get('SYMGRAPH_TIERED') == '0':  # the compile child, not the script\n"
        "    time.sleep(8)\n"
        f"    atexit.register(pathlib.Path({str(done)!r}).touch)\n")
    code = ("import numpy as np, symgraph.backend as K\n"
            "x = K.placeholder((None, 4))\n"
            "f = K.function([x], [K.sum(K.tanh(x) * K.exp(x), axis=1)])\n"
            "print(f([np.ones((2, 4), 'float32')])[0].tolist())\n")
    if when == "while waiting for it":
        code += ("import time\nfrom symgraph.runtime import tiered\n"
                 "end = time.monotonic() + 120\n"
                 "while not tiered._IN_CHILD and time.monotonic() < end:\n"
                 "    time.sleep(0.01)\n"
                 "assert tiered._IN_CHILD, 'no compile child started'\n")
    env = {**os.environ, "SYMGRAPH_TIERED": "1", "SYMGRAPH_CACHE_DIR": str(cache),
           "NUMBA_CACHE_DIR": str(cache), "TMPDIR": str(scratch),
           "PYTHONPATH": os.pathsep.join([str(hooks), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    np.testing.assert_allclose(eval(proc.stdout), [4 * np.tanh(1) * np.e] * 2, rtol=1e-6)
    assert not done.exists()  # the script ended while its child still slept
    deadline = time.monotonic() + 300
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert done.exists(), "the compile child did not finish"
    assert any(p.suffix == ".py" for p in cache.rglob("*"))  # it filled the kernel cache
    assert list(scratch.iterdir()) == []  # and removed the folder it was handed


def test_the_kernels_compile_in_a_child_process_that_fills_the_caches(tmp_path, monkeypatch):
    from symgraph.runtime import compile_worker

    monkeypatch.setenv("SYMGRAPH_CACHE_DIR", str(tmp_path))
    x = K.placeholder((None, 3))
    f = K.function([x], [K.sum(K.exp(x) * 2.0 + x, axis=1)])
    assert compile_worker.compile_in_child(f, [np.ones((2, 3), "float32")])
    assert any(p.suffix == ".py" for p in tmp_path.rglob("*"))  # kernel sources written
    monkeypatch.setenv("SYMGRAPH_COMPILE_WORKER", "0")
    assert not compile_worker.enabled()
    assert not compile_worker.compile_in_child(f, [np.ones((2, 3), "float32")])


def test_without_a_graph_file_the_thread_compiles(monkeypatch):
    from symgraph import io

    def no_file(*args, **kwargs):
        raise TypeError("not in a graph file")

    monkeypatch.setattr(io, "dumps", no_file)
    x = K.placeholder((None, 2))
    f = K.function([x], [K.tanh(x) + 1.0])
    first = f([np.zeros((1, 2), "float32")])[0]
    assert f.wait_compiled() and f._prepared
    np.testing.assert_array_equal(first, f([np.zeros((1, 2), "float32")])[0])


@pytest.mark.parametrize("rank,padding,strides,dilation,fmt", [
    (2, "same", 1, 1, "channels_last"), (2, "valid", 2, 1, "channels_first"),
    (2, "same", 1, 2, "channels_last"), (1, "causal", 1, 2, "channels_last"),
    (3, "same", 2, 1, "channels_last"), (1, "valid", 3, 1, "channels_first")])
def test_convolutions_run_their_kernels_in_tier_zero(rank, padding, strides, dilation, fmt,
                                                    held_compiles):
    rng = np.random.default_rng(7)
    spatial = (7, 6, 5)[:rank]
    shape = (2, *spatial, 3) if fmt == "channels_last" else (2, 3, *spatial)
    xv = rng.normal(size=shape).astype("float32")
    wv = rng.normal(size=(*(3,) * rank, 3, 4)).astype("float32")
    results = {}
    for mode in (False, True):
        K.clear_session()
        config.set_tiered(mode)
        x, w = K.placeholder(shape), K.variable(wv)
        conv = {1: K.conv1d, 2: K.conv2d, 3: K.conv3d}[rank]
        y = conv(x, w, strides=strides, padding=padding, data_format=fmt,
                 dilation_rate=dilation)
        if rank == 2:
            y = K.pool2d(K.relu(y), (2, 2), padding="same", data_format=fmt)
        loss = K.sum(K.square(y))
        f = K.function([x], [loss, *K.gradients(loss, [x, w])])
        results[mode] = f([xv])
        if mode:
            assert not f._prepared  # this was tier 0
            held_compiles.set()
    for tier0, compiled in zip(results[True], results[False]):
        np.testing.assert_allclose(tier0, compiled, rtol=2e-5, atol=1e-4)


def test_recurrent_loops_in_tier_zero_match_the_compiled_loops():
    rng = np.random.default_rng(3)
    xv = rng.normal(size=(4, 6, 3)).astype("float32")
    wv = rng.normal(size=(3, 5)).astype("float32") * 0.5
    uv = rng.normal(size=(5, 5)).astype("float32") * 0.5
    results = {}
    for mode in (False, True):
        K.clear_session()
        config.set_tiered(mode)
        x, w, u = K.placeholder((None, 6, 3)), K.variable(wv), K.variable(uv)

        def step(inputs, states, w=w, u=u):
            h = K.tanh(K.dot(inputs, w) + K.dot(states[0], u))
            return h, [h]

        last, outputs, _ = K.rnn(step, x, [K.zeros_like(K.dot(x[:, 0], w))])
        loss = K.sum(K.square(outputs)) + K.sum(last)
        f = K.function([x], [loss, *K.gradients(loss, [w, u])])
        results[mode] = [f([xv]) for _ in range(2)]
        f.wait_compiled()
        results[mode].append(f([xv]))
        if mode:  # step functions compile with their caller, never on their own
            bodies = [fn for s in f.plan.steps if s.node.op.name == "scan"
                      for fn in s.node.attrs["body"].functions()]
            assert bodies and all(b is not None and b._prepared and not b._tier._threads
                                  for b in bodies)
    for tier_calls, compiled_calls in zip(results[True], results[False]):
        for a, b in zip(tier_calls, compiled_calls):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_tier_zero_where_selects_the_same_bits_as_np_where(held_compiles):
    """Tier 0's ``where`` (``elementwise.select_bits``, no branch per element) gives
    np.where's bits: every dtype class, broadcasting, a 0-d condition, NaN payloads,
    -0.0 and infinities, and mixed operand dtypes (promoted, then cast, as the op)."""
    from symgraph.ops.elementwise import select_bits

    rng = np.random.default_rng(5)
    specials = np.array([np.nan, -0.0, np.inf, -np.inf, 1e-45, 3.0])
    for dtype in ["float16", "float32", "float64", "int8", "uint8", "int32", "int64"]:
        if dtype.startswith("float"):
            a = rng.choice(specials, size=(3, 1, 6)).astype(dtype)
            a.view(f"u{a.itemsize}")[0, 0, 0] |= 1  # a NaN payload bit
        else:
            a = rng.integers(0, 100, size=(3, 1, 6)).astype(dtype)
        b = (rng.normal(size=(4, 6)) * 50).astype(dtype)
        for cond in (rng.random((3, 4, 1)) > 0.5, np.array(True), rng.random(6) > 0.5):
            want = np.where(cond, a, b)
            got = select_bits(cond, a, b, str(want.dtype))
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))
    mixed = select_bits(np.array([True, False]), np.array([16777217], "int32"),
                        np.array([0.5, 0.25], "float32"), "float32")
    np.testing.assert_array_equal(mixed, np.where([True, False], np.int32(16777217),
                                                  np.float32([0.5, 0.25])).astype("float32"))
    # in a function: the first (tier 0) call equals the compiled kernel's
    x = K.placeholder((None, 64, 64))
    f = K.function([x], [K.switch(x > 0.0, x * 2.0, K.exp(x))])
    xv = rng.normal(size=(4, 64, 64)).astype("float32")
    first = f([xv])[0]
    assert f._prepared == {}  # tier 0 answered
    held_compiles.set()
    assert f.wait_compiled()
    np.testing.assert_allclose(f([xv])[0], first, rtol=1e-6)
    np.testing.assert_allclose(first, np.where(xv > 0, xv * 2, np.exp(xv)), rtol=1e-6)


def test_kernels_in_the_disk_cache_load_in_the_thread_without_a_child(tmp_path, monkeypatch):
    """A compile whose kernels are all on disk (a warm cache, a second process) loads
    them in its thread (``cache.cached_only``); only a missing kernel starts a child."""
    from symgraph.kernels import cache

    monkeypatch.setenv("SYMGRAPH_CACHE_DIR", str(tmp_path / "symgraph"))
    cache.reset()
    children = []
    real = tiered._compile_in_child

    def counted(fn, feeds):
        children.append(fn)
        real(fn, feeds)

    monkeypatch.setattr(tiered, "_compile_in_child", counted)
    try:
        x = K.placeholder((None, 3))
        expr = K.sum(K.exp(x) * 3.25 - x, axis=1)
        xv = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
        f = K.function([x], [expr])
        first = f([xv])[0]
        assert f.wait_compiled() and f._prepared
        assert len(children) == 1  # an empty cache: the child compiled
        with pytest.raises(cache.NotCachedError):
            with cache.cached_only():
                cache.load("def never_compiled():\n    return 1\n")
        cache.reset()  # as a new process: nothing in memory, everything on disk
        g = K.function([x], [expr])
        second = g([xv])[0]
        assert g.wait_compiled() and g._prepared
        assert len(children) == 1  # loaded from the disk caches in the thread
        np.testing.assert_allclose(first, second, rtol=1e-6)
        np.testing.assert_array_equal(g([xv])[0], f([xv])[0])
    finally:
        monkeypatch.undo()
        cache.reset()


def test_tier_zero_max_pool_gradient_through_the_maxima_is_the_general_paths(held_compiles):
    """The max-pool gradient by window maxima and byte masks gives the bits of the
    per-offset choice path (ties go to the first offset; +inf is a maximum like any),
    and leaves windows whose maximum is NaN or -inf to that path."""
    import itertools

    from symgraph.ops import pool_grad
    from symgraph.ops.conv import _plan

    rng = np.random.default_rng(11)
    fast = pool_grad._max_pool_grad_by_maxima
    used = 0
    for rank in (1, 2, 3):
        for size, stride in itertools.product(itertools.product((1, 2, 3), repeat=rank),
                                              [(1,) * rank, (2,) * rank, (3, 1, 2)[:rank]]):
            for padding in ("valid", "same"):
                shape = (2, *rng.integers(3, 7, rank), 3)
                x = rng.integers(0, 3, shape).astype("float32")  # many ties
                if rng.random() < 0.4:
                    x.flat[rng.integers(x.size)] = np.inf
                out, _ = _plan(shape[1:-1], size, stride, (1,) * rank, padding)
                g = rng.random((2, *out, 3)).astype("float32")
                got = fast(x, g, size, stride, padding)
                if got is None:
                    continue
                used += 1
                compiled = pool_grad.max_pool_grad_channels_last(x, g, size, stride, padding)
                np.testing.assert_allclose(got, compiled, rtol=1e-6, atol=1e-6)
                try:  # the general path (the same order of adds: the same bits)
                    pool_grad._max_pool_grad_by_maxima = lambda *args: None
                    want = pool_grad.max_pool_grad_strided(x, g, size, stride, padding)
                finally:
                    pool_grad._max_pool_grad_by_maxima = fast
                np.testing.assert_array_equal(got, want)
    assert used > 100
    g = np.ones((1, 2, 2, 2), "float32")
    for window in ((0, 0), (slice(0, 2), slice(0, 2))):  # one NaN; a window of -inf
        x = np.ones((1, 4, 4, 2), "float32")
        x[(0, *window, 0)] = np.nan if window == (0, 0) else -np.inf
        assert fast(x, g, (2, 2), (2, 2), "valid") is None
        np.testing.assert_array_equal(
            pool_grad.max_pool_grad_strided(x, g, (2, 2), (2, 2), "valid"),
            pool_grad.max_pool_grad_channels_last(x, g, (2, 2), (2, 2), "valid"))


def test_tier_zero_sums_and_means_in_float64_by_blas(held_compiles):
    """Sums over a leading or trailing run of axes go through float64 BLAS products
    (in chunks); other axes, strided or empty inputs take the reference."""
    from symgraph.ops import reduce as reduce_module

    rng = np.random.default_rng(2)
    x = (rng.normal(size=(6, 5, 4, 3)) * 1e4).astype("float32")
    exact = x.astype(np.float64)
    for axes in [(0,), (0, 1, 2), (3,), (2, 3), (0, 1, 2, 3)]:
        got = reduce_module._float64_sum(x, axes)
        np.testing.assert_allclose(got.reshape(-1), exact.sum(axis=axes).reshape(-1),
                                   rtol=1e-12)
    for axes in [(1,), (0, 2)]:
        assert reduce_module._float64_sum(x, axes) is None
    assert reduce_module._float64_sum(x[:, ::2], (0,)) is None
    assert reduce_module._float64_sum(np.zeros((0, 3), "float32"), (0,)) is None
    old = reduce_module.SUM_CHUNK
    try:
        reduce_module.SUM_CHUNK = 7  # several chunks each way
        np.testing.assert_allclose(reduce_module._float64_sum(x, (0, 1)), exact.sum((0, 1)).ravel(),
                                   rtol=1e-12)
        np.testing.assert_allclose(reduce_module._float64_sum(x, (3,)), exact.sum(3).ravel(),
                                   rtol=1e-12)
    finally:
        reduce_module.SUM_CHUNK = old
    # in a function: tier 0's statistics equal the compiled kernels' (float64 both)
    t = K.placeholder((None, 5, 4, 3))
    f = K.function([t], [K.mean(t, axis=[0, 1, 2], keepdims=True), K.sum(t, axis=-1),
                         K.mean(t, axis=1), K.sum(t * 1.0)])
    first = f([x])
    assert f._prepared == {}
    held_compiles.set()
    assert f.wait_compiled()
    for a, b, want in zip(first, f([x]), [exact.mean((0, 1, 2), keepdims=True),
                                         exact.sum(-1), exact.mean(1), exact.sum()]):
        assert a.dtype == b.dtype == np.float32 and a.shape == b.shape == want.shape
        np.testing.assert_allclose(a, want, rtol=1e-6)
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_tier_zero_calls_numpy_functions_directly_and_still_checks_them(held_compiles):
    """Elementwise steps call their NumPy function without the reference's wrapper:
    0-d operands still give arrays of the op's dtype, and a run-time broadcast error
    still names the op and the user's line."""
    s = K.placeholder(())
    f = K.function([s], [s * 2.0, K.exp(s), K.cast(s > 1.0, "float32")])
    out = f([np.float32(3)])
    assert f._prepared == {}
    assert all(type(v) is np.ndarray and v.dtype == np.float32 and v.shape == () for v in out)
    np.testing.assert_allclose(out, [6.0, np.exp(3.0), 1.0], rtol=1e-6)
    a, b = K.placeholder((None,)), K.placeholder((None,))
    g = K.function([a, b], [a * b + 1.0])
    with pytest.raises(ShapeError, match=r"multiply .*test_tiered\.py"):
        g([np.ones(2, "float32"), np.ones(3, "float32")])
