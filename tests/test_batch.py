"""Batched runs in one process: Function.map / Function.predict (runtime.batch), the
thread policy (runtime.threads) and the progress bars (runtime.progress)."""

import doctest
import inspect
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import symgraph.backend as K
from symgraph import config
from symgraph.errors import FeedError, ShapeError
from symgraph.kernels import parallelism
from symgraph.runtime import batch, progress, threads
from symgraph.runtime import function as function_module
from symgraph.runtime.function import Function

ROOT = Path(__file__).parent.parent


def _serial(fn, feeds):
    """The reference: a plain loop of ordinary calls, with single-threaded BLAS."""
    with threads.blas_threads(1):
        return [fn(feed) for feed in feeds]


def _splits(arrays, batch_size):
    n = len(arrays[0])
    return [[a[lo:lo + batch_size] for a in arrays] for lo in range(0, n, batch_size)]


def _stack(results):
    return [np.concatenate(parts) for parts in zip(*results)]


def _assert_same_bits(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a.dtype == e.dtype and a.shape == e.shape
        assert np.array_equal(a, e, equal_nan=True), np.abs(a - e).max()


def _graph(kind, rng):
    """(inputs, outputs, arrays): small graphs of each kind the batches must not change."""
    if kind == "mlp":  # Dense-like: matmul + bias + relu, then softmax
        x = K.placeholder((None, 20), name="x")
        w1 = K.variable(rng.normal(0, 0.3, (20, 32)).astype("float32"))
        b1 = K.variable(rng.normal(0, 0.1, 32).astype("float32"))
        w2 = K.variable(rng.normal(0, 0.3, (32, 5)).astype("float32"))
        b2 = K.variable(rng.normal(0, 0.1, 5).astype("float32"))
        hidden = K.relu(K.dot(x, w1) + b1)
        probs = K.softmax(K.dot(hidden, w2) + b2)
        return [x], [probs, hidden], [rng.normal(size=(203, 20)).astype("float32")]
    if kind == "elementwise":  # two inputs, a fused chain, three outputs
        a = K.placeholder((None, 7), name="a")
        b = K.placeholder((None, 7), name="b")
        y = K.tanh(a * 1.5 - b) * K.exp(-K.abs(b)) + K.sqrt(K.abs(a) + 1.0)
        return [a, b], [y, a * b, K.cast(a > b, "float32")], \
            [rng.normal(size=(150, 7)).astype("float32"),
             rng.normal(size=(150, 7)).astype("float32")]
    if kind == "reduce":  # reductions along non-batch axes, and a softmax over axis 1
        x = K.placeholder((None, 6, 9), name="x")
        return [x], [K.sum(x, axis=2), K.max(x, axis=(1, 2)), K.mean(K.square(x), axis=1),
                     K.softmax(x, axis=1)], [rng.normal(size=(77, 6, 9)).astype("float32")]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["mlp", "elementwise", "reduce"])
def test_predict_and_map_are_bit_identical_to_a_serial_loop_for_every_thread_count(kind):
    rng = np.random.default_rng(0)
    inputs, outputs, arrays = _graph(kind, rng)
    f = K.function(inputs, outputs)
    batch_size = 32  # uneven last batch: 203, 150 and 77 rows
    feeds = _splits(arrays, batch_size)
    expected = _stack(_serial(f, feeds))
    _assert_same_bits(_stack([f(feed) for feed in feeds]), expected)  # BLAS-free sizes
    for n_threads in (1, 2, 4):
        got = f.predict(arrays, batch_size=batch_size, threads=n_threads, progress=False)
        _assert_same_bits(got, expected)
        mapped = list(f.map(feeds, threads=n_threads, progress=False))
        _assert_same_bits(_stack(mapped), expected)
    _assert_same_bits(f.predict(arrays, batch_size=batch_size, progress=False), expected)


def test_a_blas_product_whose_bits_depend_on_openblas_threads_does_not_depend_on_threads():
    """OpenBLAS splits a (rows, 500) @ (500, n) float32 product differently with 1 and 2
    threads (the last bits differ); predict keeps BLAS at one thread per call for every
    ``threads``, so its results do not depend on ``threads``."""
    rng = np.random.default_rng(3)
    x = K.placeholder((None, 500))
    w = K.variable(rng.normal(size=(500, 256)).astype("float32"))
    f = K.function([x], K.dot(x, w))
    xs = rng.normal(size=(600, 500)).astype("float32")
    expected = np.concatenate(_serial(f, [xs[i:i + 256] for i in range(0, 600, 256)]))
    for n_threads in (1, 2, 3):
        got = f.predict(xs, batch_size=256, threads=n_threads, progress=False)
        assert np.array_equal(got, expected)


def test_large_kernels_give_the_same_bits_serial_or_parallel_under_the_cap(monkeypatch):
    """Above PARALLEL_MIN, a plain call runs the parallel twins and batched runs cap
    the kernels at one thread (serial twins): the same bits either way."""
    from symgraph.kernels import parallelism

    monkeypatch.setattr(parallelism, "PARALLEL_MIN", 1 << 18)
    rng = np.random.default_rng(4)
    x = K.placeholder((None, 512))
    y = K.exp(-K.square(x)) * 3.0 + K.tanh(x)
    f = K.function([x], [y, K.sum(y, axis=1), K.softmax(y)])
    xs = rng.normal(size=(1300, 512)).astype("float32")  # batches of 600 x 512 > 2**18
    expected = _stack(_serial(f, _splits([xs], 600)))
    for n_threads in (1, 2):
        _assert_same_bits(f.predict(xs, batch_size=600, threads=n_threads, progress=False),
                          expected)


def test_single_output_functions_return_arrays_and_dict_or_tuple_inputs_work():
    x = K.placeholder((None, 3), name="x")
    y = K.placeholder((None, 3), name="y")
    single = K.function([x], x * 2.0)
    xs = np.arange(30, dtype="float32").reshape(10, 3)
    out = single.predict(xs, batch_size=4, threads=2, progress=False)
    assert isinstance(out, np.ndarray) and np.array_equal(out, xs * 2)
    parts = list(single.map([xs[:4], xs[4:]], progress=False))
    assert all(isinstance(p, np.ndarray) for p in parts)
    assert np.array_equal(np.concatenate(parts), xs * 2)
    two = K.function([x, y], [x - y])
    ys = xs[::-1].copy()
    for given in ([xs, ys], (xs, ys), {x: xs, y: ys}):
        (got,) = two.predict(given, batch_size=3, progress=False)
        assert np.array_equal(got, xs - ys)


def test_zero_rows_and_one_row_and_batch_larger_than_the_data():
    x = K.placeholder((None, 4))
    f = K.function([x], [K.softmax(x), K.sum(x, axis=1)])
    probs, sums = f.predict(np.zeros((0, 4), "float32"), batch_size=8, progress=False)
    assert probs.shape == (0, 4) and sums.shape == (0,) and probs.dtype == np.float32
    xs = np.ones((3, 4), "float32")
    for batch_size in (1, 3, 100):
        probs, sums = f.predict(xs, batch_size=batch_size, progress=False)
        assert np.array_equal(probs, np.full((3, 4), 0.25, "float32"))
        assert np.array_equal(sums, np.full(3, 4.0, "float32"))


def test_outputs_without_a_batch_axis_are_named():
    x = K.placeholder((None, 4), name="x")
    w = K.variable(np.ones((4, 2)), name="w")
    xs = np.ones((10, 4), "float32")
    mean = K.mean(x)
    with pytest.raises(ShapeError, match="output 1 'mean.*has shape \\(\\)"):
        K.function([x], [x * 2.0, mean]).predict(xs, batch_size=4, progress=False)
    with pytest.raises(ShapeError, match="output 0 .*first dim"):  # (4, rows): dim 0 is 4
        K.function([x], K.transpose(x)).predict(xs, batch_size=4, progress=False)
    with pytest.raises(ShapeError, match="output 0 "):  # a variable: no rows at all
        K.function([x], [w]).predict(xs, batch_size=4, progress=False)
    with pytest.raises(ShapeError, match="output 0 "):  # one batch of 4 rows, 4 features
        K.function([x], K.transpose(x)).predict(np.ones((4, 4), "float32"), batch_size=4,
                                                progress=False)


def test_argument_errors_name_the_argument():
    x = K.placeholder((None, 2), name="feat")
    y = K.placeholder((None, 2), name="other")
    f = K.function([x, y], [x + y])
    xs = np.ones((5, 2), "float32")
    for bad in (0, -3):
        with pytest.raises(ValueError, match="batch_size"):
            f.predict([xs, xs], batch_size=bad)
    for bad in (1.5, True, "8", None):
        with pytest.raises(TypeError, match="batch_size"):
            f.predict([xs, xs], batch_size=bad)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="threads"):
            f.predict([xs, xs], threads=bad)
        with pytest.raises(ValueError, match="threads"):
            f.map([[xs, xs]], threads=bad)
    for bad in (2.0, True, "2"):
        with pytest.raises(TypeError, match="threads"):
            f.predict([xs, xs], threads=bad)
        with pytest.raises(TypeError, match="threads"):
            f.map([[xs, xs]], threads=bad)
    with pytest.raises(FeedError, match="inputs is empty.*'feat', 'other'"):
        f.predict([])
    with pytest.raises(FeedError, match="takes 2 input"):
        f.predict([xs])
    with pytest.raises(FeedError, match="placeholder 'other' differs.*'feat' has 5, 'other' "
                                        "has 4"):
        f.predict([xs, xs[:4]])
    with pytest.raises(FeedError, match="'feat'.*0-d"):
        f.predict([np.float32(1), xs])
    with pytest.raises(FeedError, match="'other'"):  # wrong rank: f's own feed check
        f.predict([xs, np.ones((5, 2, 1), "float32")])
    with pytest.raises(FeedError, match="no inputs"):
        K.function([], [K.constant(1.0)]).predict([])
    with pytest.raises(TypeError, match="iterable of feeds.*predict"):
        f.map(xs)
    with pytest.raises(TypeError, match="iterable"):
        f.map(3)
    with pytest.raises(TypeError, match="progress"):
        f.predict([xs, xs], progress="yes")
    fixed = K.placeholder((4, 2), name="fixed")
    with pytest.raises(FeedError, match="'fixed' has a fixed batch dimension 4"):
        K.function([fixed], [fixed * 2.0]).predict(np.ones((10, 2), "float32"), batch_size=4)
    got = K.function([fixed], [fixed * 2.0]).predict(np.ones((8, 2), "float32"), batch_size=4)
    assert np.array_equal(got[0], np.full((8, 2), 2.0, "float32"))


def test_the_default_batch_size_is_the_modules():
    x = K.placeholder((None, 1))
    for method in (Function.predict, K.function([x], x * 1.0).predict):
        default = inspect.signature(method).parameters["batch_size"].default
        assert default == batch.DEFAULT_BATCH_SIZE


def _batch_threads_alive():
    return [t for t in threading.enumerate() if t.name.startswith("symgraph-batch")]


def test_map_is_lazy_bounded_ordered_and_unordered():
    x = K.placeholder((None, 2))
    tag = K.placeholder((None,), name="tag")
    f = K.function([x, tag], [K.sum(x, axis=1), tag * 1.0])
    pulled = []

    def feeds(n):
        for i in range(n):
            pulled.append(i)
            yield [np.full((3, 2), i, "float32"), np.full(3, i, "float32")]

    n_threads = 2
    it = f.map(feeds(1000), threads=n_threads, progress=False)
    first = [next(it) for _ in range(5)]
    assert [int(r[1][0]) for r in first] == [0, 1, 2, 3, 4]
    assert len(pulled) <= 5 + 2 * n_threads  # never more than the window ahead
    it.close()
    assert len(pulled) <= 5 + 2 * n_threads and not _batch_threads_alive()
    assert list(f.map([], threads=2, progress=False)) == []
    unordered = list(f.map(feeds(40), threads=3, ordered=False, progress=False))
    tags = sorted(int(r[1][0]) for r in unordered)
    assert tags == list(range(40))
    for r in unordered:
        assert np.array_equal(r[0], np.full(3, 2 * r[1][0], "float32"))
    assert not _batch_threads_alive()


def test_breaking_out_of_map_runs_no_more_batches_and_leaks_no_threads():
    x = K.placeholder((None, 2))
    f = K.function([x], [x + 1.0])
    pulled = []

    def feeds():
        i = 0
        while True:  # endless: only laziness makes this finish
            pulled.append(i)
            yield np.full((2, 2), i, "float32")
            i += 1

    for k, _ in enumerate(f.map(feeds(), threads=2, progress=False)):
        if k == 3:
            break
    assert not _batch_threads_alive()
    assert len(pulled) <= 4 + 2 * 2
    with f.map(feeds(), threads=2, progress=False) as results:
        next(results)
    assert not _batch_threads_alive()


def test_a_failing_batch_raises_its_own_error_naming_the_batch_and_stops_the_rest():
    x = K.placeholder((None, 3), name="x")
    f = K.function([x], [x * 2.0])
    pulled = []

    def feeds():
        for i in range(100):
            pulled.append(i)
            yield np.ones((2, 4 if i == 5 else 3), "float32")  # batch 5 has 4 columns

    for n_threads in (1, 2):
        pulled.clear()
        with pytest.raises(FeedError, match="placeholder 'x'") as info:
            for _ in f.map(feeds(), threads=n_threads, progress=False):
                pass
        assert "batch 5 of" in info.value.batch
        assert any("batch 5 of" in note for note in getattr(info.value, "__notes__", [""]))
        assert len(pulled) <= 6 + 2 * n_threads
        assert not _batch_threads_alive()
    bad_rows = np.ones((10, 3), "float32")
    bad_rows[7] = np.nan  # no error: predict of NaNs is fine
    f.predict(bad_rows, batch_size=3, threads=2, progress=False)


def test_updates_run_in_order_and_refuse_threads():
    x = K.placeholder((None, 2))
    seen = K.variable(0.0, name="seen")
    step = K.function([x], [K.sum(x, axis=1) + seen], updates=[K.update_add(seen, K.sum(x))])
    xs = np.arange(20, dtype="float32").reshape(10, 2)
    with pytest.raises(ValueError, match="threads=2.*updates.*threads=1"):
        step.predict(xs, batch_size=3, threads=2)
    with pytest.raises(ValueError, match="updates"):
        step.map([xs], threads=4)
    expected = np.concatenate([step([xs[i:i + 3]])[0] for i in range(0, 10, 3)])
    after = K.get_value(seen)
    K.set_value(seen, 0.0)
    (got,) = step.predict(xs, batch_size=3, progress=False)  # threads=None: in order
    assert np.array_equal(got, expected) and K.get_value(seen) == after
    K.set_value(seen, 0.0)
    mapped = np.concatenate([r[0] for r in step.map(
        [xs[i:i + 3] for i in range(0, 10, 3)], threads=1, progress=False)])
    assert np.array_equal(mapped, expected) and K.get_value(seen) == after


def test_random_ops_run_serially_from_the_same_counters():
    """A random node takes the next value of its counter at each evaluation: batches
    run one at a time, in order, so results equal a serial loop from the same
    counters; threads > 1 is refused."""
    x = K.placeholder((None, 4))
    f = K.function([x], [x + K.random_uniform((4,), seed=7)])
    xs = np.zeros((10, 4), "float32")
    with pytest.raises(ValueError, match="random op"):
        f.predict(xs, batch_size=3, threads=2)
    with pytest.raises(ValueError, match="random op"):
        f.map([xs], threads=2)
    start = dict(f.graph.rng_counters)
    expected = np.concatenate([f([xs[i:i + 3]])[0] for i in range(0, 10, 3)])
    f.graph.rng_counters.clear()
    f.graph.rng_counters.update(start)
    (got,) = f.predict(xs, batch_size=3, progress=False)
    assert np.array_equal(got, expected)
    assert not np.array_equal(got[:3], got[3:6])  # each batch drew new numbers


def test_random_ops_inside_a_loop_body_count_as_random():
    x = K.placeholder((None, 3))
    scaled = K.map_fn(lambda row: row * K.random_uniform((3,), seed=1), x)
    assert "random op" in (batch.order_dependence(K.function([x], [scaled])) or "")
    assert batch.order_dependence(K.function([x], [x * 2.0])) is None


# -- the thread policy -------------------------------------------------------------------------
def test_the_policy_never_oversubscribes():
    cores = threads.available_cores()
    assert cores == len(os.sched_getaffinity(0))
    for workers in range(1, 2 * cores + 2):
        policy = threads.policy_for(workers)
        assert policy.workers * policy.kernel_threads <= max(cores, workers)
        assert policy.kernel_threads >= 1 and policy.blas_threads == 1
    # T threads in all: kernels stay serial, batches use the cores
    assert threads.kernel_threads(2, cores=2) == 1
    assert threads.kernel_threads(1, cores=2) == 1
    assert threads.kernel_threads(2, cores=16) == 1


def test_launch_honours_the_thread_local_cap():
    ran = []

    def loader(which):
        return lambda: (lambda *args: ran.append(which))

    config.set_kernel_thread_cap(1)
    try:
        parallelism.launch(2, loader("serial"), loader("parallel"))
        assert ran == ["serial"] and config.kernel_thread_cap() == 1
        other = threading.Thread(target=lambda: ran.append(config.kernel_thread_cap()))
        other.start()
        other.join()
        assert ran[-1] is None  # thread-local: the other thread has no cap
    finally:
        config.set_kernel_thread_cap(None)
    assert config.kernel_thread_cap() is None
    parallelism.launch(2, loader("serial"), loader("parallel"))  # no cap: the parallel twin
    assert ran[-1] == "parallel"
    with pytest.raises(ValueError):
        config.set_kernel_thread_cap(0)


def test_worker_threads_run_under_the_policys_limits():
    seen = []

    def call(job):
        seen.append((config.kernel_thread_cap(), threads.blas_get_threads()))
        return job

    blas_before = threads.blas_get_threads()
    for workers in (1, 2):
        policy = threads.policy_for(workers)
        jobs = ((i, 1, i) for i in range(6))
        results = [r for *_, r in batch._run_jobs(call, jobs, policy, True, str)]
        assert results == list(range(6))
        expected_blas = None if blas_before is None else 1
        assert set(seen) == {(policy.kernel_threads, expected_blas)}
        seen.clear()
    assert config.kernel_thread_cap() is None
    assert threads.blas_get_threads() == blas_before


def test_blas_limits_nest_and_restore():
    before = threads.blas_get_threads()
    if before is None:
        assert threads.blas_unavailable_reason()
        with threads.blas_threads(1) as found:
            assert found is False
        return
    assert threads.blas_unavailable_reason() == ""
    with threads.blas_threads(2) as found:
        assert found and threads.blas_get_threads() == min(2, max(before, 2))
        with threads.blas_threads(1):
            assert threads.blas_get_threads() == 1
        assert threads.blas_get_threads() == 2
    assert threads.blas_get_threads() == before
    with pytest.raises(ValueError):
        with threads.blas_threads(0):
            pass


# -- progress ----------------------------------------------------------------------------------
def _hide_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # `from tqdm import tqdm` fails


def test_the_fallback_bar_shows_rows_rate_and_eta(monkeypatch, capsys):
    _hide_tqdm(monkeypatch)
    x = K.placeholder((None, 3))
    f = K.function([x], [x * 2.0])
    f.predict(np.ones((1000, 3), "float32"), batch_size=100, threads=2, progress=True)
    err = capsys.readouterr().err
    assert err.startswith("\r") and err.endswith("\n") and err.count("\n") == 1
    assert "rows/s" in err and "ETA" in err and "1,000/1,000 rows (100%)" in err
    list(f.map((np.ones((5, 3), "float32") for _ in range(4)), progress=True))
    err = capsys.readouterr().err
    assert "20 rows" in err and "rows/s" in err and "/" not in err.replace("rows/s", "")
    list(f.map([np.ones((5, 3), "float32")] * 3, progress=True))  # a list: a total
    assert "15/15 rows" in capsys.readouterr().err


def test_progress_none_is_silent_off_a_terminal_and_false_is_silent(monkeypatch, capsys):
    x = K.placeholder((None, 3))
    f = K.function([x], [x * 2.0])
    xs = np.ones((50, 3), "float32")
    f.predict(xs, batch_size=10)  # stderr is captured: not a terminal
    f.predict(xs, batch_size=10, progress=False)
    list(f.map([xs], progress=False))
    assert capsys.readouterr().err == ""
    _hide_tqdm(monkeypatch)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    f.predict(xs, batch_size=10)
    assert "rows/s" in capsys.readouterr().err


def test_the_tqdm_bar_counts_rows(capsys):
    pytest.importorskip("tqdm")
    x = K.placeholder((None, 3))
    K.function([x], [x * 2.0]).predict(np.ones((40, 3), "float32"), batch_size=10,
                                       progress=True)
    err = capsys.readouterr().err
    assert "40/40" in err and "rows" in err


def test_text_bar_redraws_at_most_ten_times_a_second():
    class Sink:
        def __init__(self):
            self.writes = []

        def write(self, text):
            self.writes.append(text)

        def flush(self):
            pass

    sink = Sink()
    bar = progress.TextBar(total=10_000, desc="d", file=sink)
    for _ in range(10_000):
        bar.update(1)
    bar.close()
    assert len(sink.writes) <= 3  # a fast loop: the first draw, maybe one more, the end
    assert sink.writes[-1].endswith("\n") and "10,000/10,000 rows" in sink.writes[-1]


# -- docs and the example ---------------------------------------------------------------------
@pytest.mark.parametrize("module", [threads, function_module], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.failed == 0 and result.attempted > 0


def test_the_batch_doc_has_its_section():
    text = (ROOT / "docs" / "batch-evaluation.md").read_text()
    assert text.startswith("# Batch evaluation\n")
    assert "## Batched runs in one process" in text
    assert "python benchmarks/bench_batch.py" in text


def test_the_batch_predict_example_runs():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "batch_predict.py"),
                           "--rows", "3000", "--batch-size", "512"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert "identical to the serial loop: True" in done.stdout
    assert "rows/s" in done.stdout


def test_the_load_policy_counts_only_other_processes(monkeypatch):
    from symgraph.kernels import load

    monitor = load._Monitor()
    monitor.cpus, monitor.tick = [0, 1], 100
    samples = iter([(1000, 50), (1000 + 50 + 25, 50 + 25)])  # 0.5 s: we used 25 ticks
    monkeypatch.setattr(monitor, "sample", lambda: next(samples))
    assert monitor.look(10.0) == 2  # the first look only sets the baseline
    assert monitor.look(10.5) == 1  # others kept one core busy: one is left
    samples = iter([(2000, 100), (2000 + 60, 100 + 50)])  # our own 50 ticks, others 10
    monitor.last = None
    monkeypatch.setattr(monitor, "sample", lambda: next(samples))
    monitor.look(20.0)
    assert monitor.look(20.5) == 2


def test_the_load_policy_sizes_blas_unless_pinned(monkeypatch):
    from symgraph.kernels import blas

    if blas.blas_unavailable_reason():
        pytest.skip(blas.blas_unavailable_reason())
    before = blas.blas_get_threads()
    for name in blas.PIN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    try:
        assert blas.adapt(1) and blas.blas_get_threads() == 1
        with blas.blas_threads(1):  # a batched run's own limit wins
            assert not blas.adapt(2)
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
        assert not blas.adapt(2) and blas.blas_get_threads() == 1
    finally:
        blas.blas_set_threads(before)
