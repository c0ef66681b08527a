"""symgraph.dask: compiled functions over dask arrays, threaded and on a real cluster."""

import hashlib
import logging
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REASON = "symgraph.dask needs dask and distributed: pip install 'symgraph[dask]'"
da = pytest.importorskip("dask.array", reason=REASON)
distributed = pytest.importorskip("distributed", reason=REASON)

import dask  # noqa: E402

import symgraph.backend as K  # noqa: E402
import symgraph.dask as sgd  # noqa: E402
from symgraph import config  # noqa: E402
from symgraph.errors import FeedError, ShapeError  # noqa: E402
from symgraph.runtime.function import LAUNCHES, Function  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _mlp(n_in: int = 8, n_hidden: int = 16, n_out: int = 4):
    """A small MLP with three outputs of different dtypes and ranks."""
    rng = np.random.default_rng(0)
    x = K.placeholder(shape=(None, n_in), name="x")
    w1 = K.variable(rng.normal(size=(n_in, n_hidden)), name="w1")
    w2 = K.variable(rng.normal(size=(n_hidden, n_out)), name="w2")
    h = K.relu(K.dot(x, w1))
    probs = K.softmax(K.dot(h, w2))
    return x, K.function([x], [probs, K.argmax(probs, axis=-1), K.sum(h, axis=1)])


def _serial(f, arrays, rows) -> list:
    """``f`` called on the same chunks one after another, outputs concatenated."""
    results, start = [], 0
    for n in rows:
        results.append(f([a[start:start + n] for a in arrays]))
        start += n
    return [np.concatenate([r[j] for r in results]) for j in range(len(results[0]))]


def _assert_identical(got, want) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        assert np.array_equal(g, w)  # bit for bit: no tolerance


def _data(rows: int, cols: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(rows, cols)).astype("float32")


# -- the threaded scheduler ------------------------------------------------------------------------
def test_several_outputs_with_an_uneven_last_chunk_match_serial_calls():
    _, f = _mlp()
    data = _data(100, 8)
    outs = sgd.map_blocks(f, da.from_array(data, chunks=(32, 8)))
    assert [o.chunks[0] for o in outs] == [(32, 32, 32, 4)] * 3
    assert [o.shape for o in outs] == [(100, 4), (100,), (100,)]
    assert [o.dtype for o in outs] == [np.float32, np.int64, np.float32]
    assert [o._meta.dtype for o in outs] == [o.dtype for o in outs]
    got = dask.compute(*outs, scheduler="threads")
    _assert_identical(got, _serial(f, [data], (32, 32, 32, 4)))


def test_two_inputs_match_serial_calls():
    a = K.placeholder(shape=(None, 3), name="a")
    b = K.placeholder(shape=(None, 3), dtype="float64", name="b")
    f = K.function([a, b], [K.exp(a) * b, K.max(a - b, axis=1)])
    x, y = _data(50, 3), _data(50, 3, seed=2).astype("float64")
    outs = f.to_dask(da.from_array(x, chunks=(20, -1)), da.from_array(y, chunks=(20, -1)))
    got = dask.compute(*outs, scheduler="threads")
    _assert_identical(got, _serial(f, [x, y], (20, 20, 10)))


def test_one_output_function_gives_one_array():
    x = K.placeholder(shape=(None, 2))
    single = K.function([x], x * 3.0)
    out = single.to_dask(da.ones((7, 2), chunks=(3, -1), dtype="float32"))
    assert isinstance(out, da.Array) and out.chunks == ((3, 3, 1), (2,))
    assert out.compute(scheduler="threads").tolist() == [[3.0, 3.0]] * 7
    assert isinstance(sgd.map_blocks(single.fn, da.ones((7, 2), chunks=(3, -1))), list)


def test_empty_chunks_run():
    x = K.placeholder(shape=(None, 3))
    f = K.function([x], [x + 1.0, K.sum(x, axis=1)])
    data = _data(8, 3)
    arr = da.from_array(data, chunks=((3, 0, 5), (3,)))
    outs = sgd.map_blocks(f, arr)
    assert outs[1].chunks == ((3, 0, 5),)
    _assert_identical(dask.compute(*outs, scheduler="threads"), _serial(f, [data], (3, 0, 5)))
    empty = sgd.map_blocks(f, da.zeros((0, 3), chunks=(4, 3)))
    assert [o.compute(scheduler="threads").shape for o in empty] == [(0, 3), (0,)]


def test_one_task_per_chunk_computes_every_output(monkeypatch):
    _, f = _mlp()
    calls = []
    call = sgd.FunctionTask.__call__

    def counting(self, *chunks):
        calls.append(chunks[0].shape[0])
        return call(self, *chunks)

    monkeypatch.setattr(sgd.FunctionTask, "__call__", counting)
    outs = sgd.map_blocks(f, da.from_array(_data(90, 8), chunks=(30, -1)))
    dask.compute(*outs, scheduler="threads")
    assert sorted(calls) == [30, 30, 30]  # not 3 calls per chunk
    layers = [{n for n in o.dask.layers if n.startswith("symgraph-call-")} for o in outs]
    assert len(layers[0]) == 1 and layers[0] == layers[1] == layers[2]


def test_building_runs_nothing(monkeypatch):
    _, f = _mlp()

    def refuse(self, inputs=None):
        raise AssertionError("map_blocks ran the function")

    monkeypatch.setattr(Function, "__call__", refuse)
    before = LAUNCHES.copy()
    outs = sgd.map_blocks(f, da.random.default_rng(0).random((10**6, 8), chunks=(10**5, 8)))
    assert LAUNCHES == before and outs[0].shape == (10**6, 4)


def test_output_shapes_need_no_data():
    x = K.placeholder(shape=(None, 3))
    f = K.function([x], [K.sum(x, axis=1), K.concatenate([x, x]), K.mean(x)])
    before = LAUNCHES.copy()
    assert f.output_shapes([(5, 3)]) == [(5,), (5, 6), ()]
    assert LAUNCHES == before
    with pytest.raises(FeedError, match="expects shape"):
        f.output_shapes([(5, 4)])
    with pytest.raises(FeedError, match="takes 1 inputs"):
        f.output_shapes([(5, 3), (5, 3)])


# -- errors ----------------------------------------------------------------------------------------
def _two_input_function():
    a = K.placeholder(shape=(None, 3), name="left")
    b = K.placeholder(shape=(None, 3), name="right")
    return K.function([a, b], [a + b])


def test_wrong_number_of_arrays():
    f = _two_input_function()
    with pytest.raises(FeedError, match=r"takes 2 inputs \('left', 'right'\), got 1"):
        sgd.map_blocks(f, da.ones((4, 3)))


def test_not_a_dask_array():
    f = _two_input_function()
    with pytest.raises(TypeError, match="'right'.*must be a dask array, got ndarray"):
        sgd.map_blocks(f, da.ones((4, 3)), np.ones((4, 3)))
    with pytest.raises(TypeError, match="compiled function"):
        sgd.map_blocks(lambda x: x, da.ones((4, 3)))


def test_chunks_along_another_axis():
    f = _two_input_function()
    with pytest.raises(ValueError, match=r"'right'.*chunked along axis 1 \(\(2, 1\)\)"):
        sgd.map_blocks(f, da.ones((4, 3), chunks=(2, 3)), da.ones((4, 3), chunks=(2, 2)))


def test_axis_0_chunks_disagree():
    f = _two_input_function()
    with pytest.raises(ValueError, match=r"'right'.*axis-0 chunks \(3, 1\).*'left'.* \(2, 2\)"):
        sgd.map_blocks(f, da.ones((4, 3), chunks=(2, 3)), da.ones((4, 3), chunks=(3, 3)))


@pytest.mark.parametrize("dtype", ["complex64", "float32"])
def test_dtype_that_cannot_be_fed(dtype):
    x = K.placeholder(shape=(None, 2), dtype="int32" if dtype == "float32" else "float32",
                      name="ids")
    f = K.function([x], [x * 2])
    with pytest.raises(FeedError, match=f"'ids'.*dtype {dtype} does not convert safely"):
        sgd.map_blocks(f, da.ones((4, 2), dtype=dtype))


def test_shape_that_does_not_fit():
    f = _two_input_function()
    with pytest.raises(FeedError, match=r"'left'.*expects shape \(None, 3\).*\(4, 5\)"):
        sgd.map_blocks(f, da.ones((4, 5)), da.ones((4, 5)))
    fixed = K.placeholder(shape=(4, 3), name="fixed")
    g = K.function([fixed], [fixed + 1.0])
    with pytest.raises(FeedError, match=r"'fixed'.*fixed batch of 4 rows.*\[2, 4\]"):
        sgd.map_blocks(g, da.ones((6, 3), chunks=((4, 2), (3,))))
    assert sgd.map_blocks(g, da.ones((8, 3), chunks=(4, -1)))[0].compute().shape == (8, 3)


def test_output_without_the_batch_axis():
    x = K.placeholder(shape=(None, 6), name="x")
    total = K.sum(x, axis=0)
    f = K.function([x], [x * 2.0, total])
    with pytest.raises(ShapeError, match=rf"output 1 \('{total.name}'.*not computed row by row"):
        sgd.map_blocks(f, da.ones((20, 6), chunks=(5, -1)))
    # chunks of 6 rows give the sum over the batch 6 entries too: the probe tells
    with pytest.raises(ShapeError, match="output 1"):
        sgd.map_blocks(f, da.ones((12, 6), chunks=(6, -1)))
    w = K.variable(np.ones((3, 6)), name="weights")
    with pytest.raises(ShapeError, match="output 0"):
        sgd.map_blocks(K.function([x], [w]), da.ones((12, 6), chunks=(6, -1)))


def test_impure_functions_are_refused():
    x = K.placeholder(shape=(None, 2))
    v = K.variable(np.zeros(2))
    with_updates = K.function([x], [x + 1.0], updates=[(v, v + 1.0)])
    with pytest.raises(ValueError, match="has updates.*must be pure"):
        sgd.map_blocks(with_updates, da.ones((4, 2)))
    noisy = K.function([x], [x + K.random_normal((2,))])
    with pytest.raises(ValueError, match="random op.*must be pure"):
        sgd.map_blocks(noisy, da.ones((4, 2)))


def test_warmup_needs_input_ranks():
    x = K.placeholder(name="anything")  # unknown rank
    f = K.function([x], [x * 2.0])
    with pytest.raises(FeedError, match="'anything'.*unknown rank"):
        sgd.warmup(None, f)
    with pytest.raises(ValueError, match="batch_rows"):
        sgd.warmup(None, f, batch_rows=0)


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


def test_dask_is_optional():
    done = _python("import sys, symgraph, symgraph.backend as K\n"
                   "x = K.placeholder(shape=(None, 2)); K.function([x], [x + 1])\n"
                   "print('dask' in sys.modules)")
    assert done.stdout.strip() == "False", done.stderr
    done = _python("import sys; sys.modules['dask'] = None\nimport symgraph.dask")
    assert "pip install 'symgraph[dask]'" in done.stderr


# -- how the function travels ------------------------------------------------------------------
def test_the_graph_file_is_one_key_of_the_dask_graph():
    """Chunk tasks refer to one key holding the function: distributed ships the graph
    file to each worker once, not inside each of the chunks' tasks."""
    _, f = _mlp()
    outs = sgd.map_blocks(f, da.from_array(_data(100, 8), chunks=(10, -1)))
    graph = dict(outs[0].__dask_graph__())
    holders = [k for k, v in graph.items() if isinstance(v, sgd.FunctionTask) or
               type(getattr(v, "value", None)) is sgd.FunctionTask]
    assert len(holders) == 1
    size = len(pickle.dumps(sgd.FunctionTask(f)))
    calls = [v for k, v in graph.items() if isinstance(k, tuple) and
             str(k[0]).startswith("symgraph-call")]
    assert len(calls) == 10
    assert all(len(pickle.dumps(c)) < size / 4 for c in calls)


def test_pickled_task_is_the_graph_file():
    _, f = _mlp(n_in=32, n_hidden=64)
    task = sgd.FunctionTask(f)
    blob = pickle.dumps(task)
    assert task.sha256 == hashlib.sha256(task.data).hexdigest()
    assert len(task.data) < len(blob) < len(task.data) + 300  # bytes + digest, nothing else
    assert b"numba" not in blob and b"Dispatcher" not in blob
    copy = pickle.loads(blob)
    chunk = _data(5, 32)
    _assert_identical(copy(chunk), f([chunk]))
    _assert_identical(copy(chunk), task(chunk))
    assert sgd.loaded_functions()[task.sha256] == 1  # the second call used the cache


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two worker processes with a private kernel cache."""
    cache = tmp_path_factory.mktemp("worker-kernels")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None, silence_logs=logging.ERROR,
                                  env={"SYMGRAPH_CACHE_DIR": str(cache)}) as local, \
            distributed.Client(local) as client:
        yield client, cache


def test_cluster_results_are_bit_identical_and_load_once_per_worker(cluster):
    client, cache = cluster
    _, f = _mlp()
    data = _data(600, 8)
    outs = sgd.map_blocks(f, da.from_array(data, chunks=(25, -1)))  # 24 chunks
    sha = sgd.FunctionTask(f).sha256
    got = client.compute(outs, sync=True)
    _assert_identical(got, _serial(f, [data], (25,) * 24))
    loads = client.run(sgd.loaded_functions)
    assert all(found.get(sha, 0) <= 1 for found in loads.values())  # 24 chunks, <= 1 load
    warm = sgd.warmup(client, f, batch_rows=3)
    assert set(warm) == set(client.scheduler_info()["workers"]) and len(warm) == 2
    assert all(isinstance(s, float) and s > 0 for s in warm.values())
    again = client.compute(sgd.map_blocks(f, da.from_array(data, chunks=(10, -1))), sync=True)
    _assert_identical(again, got)
    assert [found[sha] for found in client.run(sgd.loaded_functions).values()] == [1, 1]
    assert list(cache.glob("k_*.py"))  # the workers compiled into the private cache
    assert set(client.run(config.num_threads).values()) == {1}  # serial kernels


def test_cluster_runs_single_output_functions_with_two_inputs(cluster):
    client, _ = cluster
    a = K.placeholder(shape=(None, 4), name="a")
    b = K.placeholder(shape=(None, 4), name="b")
    f = K.function([a, b], K.tanh(a) * b)
    x, y = _data(45, 4), _data(45, 4, seed=3)
    out = f.to_dask(da.from_array(x, chunks=(10, -1)), da.from_array(y, chunks=(10, -1)))
    got = client.compute(out, sync=True)
    _assert_identical([got], [np.concatenate([f([x[i:i + 10], y[i:i + 10]])
                                              for i in range(0, 45, 10)])])


def test_example_reports_rows_per_second(tmp_path):
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "dask_mlp.py"), "--rows", "20000",
         "--chunk", "5000", "--workers", "1,2"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    rates = re.findall(r"^workers=(\d) rows/s=([\d,]+) warmup_s=", done.stdout, flags=re.M)
    assert [w for w, _ in rates] == ["1", "2"]
    assert all(int(r.replace(",", "")) > 0 for _, r in rates)
    counts = re.search(r"^class counts: \[(.*)\]$", done.stdout, flags=re.M)
    assert sum(int(c) for c in counts.group(1).split(",")) == 20000
