"""The ``symgraph`` command on graph files: info, run, convert-keras, and its errors
(one line, a non-zero exit, never a traceback)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symgraph
import symgraph.backend as K

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT),
                                                       os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "symgraph", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A saved two-output model, its inputs as .npy and .npz, and the expected results."""
    K.clear_session()
    out = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(1)
    x = K.placeholder(shape=(None, 4), name="x")
    z = K.placeholder(shape=(None,), name="z")
    w = K.variable(rng.standard_normal((4, 3)).astype("float32"), name="w")
    with K.name_scope("dense"):
        p = K.softmax(K.dot(x, w))
    f = K.function([x, z], [p, K.sum(p, axis=1) + z])
    symgraph.save(f, out / "m.sg")
    xs = rng.standard_normal((1000, 4)).astype("float32")
    zs = rng.standard_normal(1000).astype("float32")
    np.save(out / "x.npy", xs)
    np.save(out / "z.npy", zs)
    np.savez(out / "in.npz", x=xs, z=zs)
    expected = [np.concatenate(parts) for parts in zip(*[f([xs[i:i + 300], zs[i:i + 300]])
                                                        for i in range(0, 1000, 300)])]
    return out, expected


def _one_line_error(proc, pattern: str):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "error:" in ln]
    assert len(lines) == 1, proc.stderr
    assert pattern in lines[0], lines[0]


def test_info_lists_inputs_outputs_and_parameters(model):
    out, _ = model
    proc = _cli("info", out / "m.sg")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "x " in text and "(None, 4)" in text and "float32" in text
    assert "dense/softmax" in text and "parameters: 12 in 1 variables" in text
    assert "name scope" in text and "dense" in text


def test_run_writes_npz_equal_to_a_serial_loop(model):
    out, expected = model
    for inputs in (["--input", out / "x.npy", "--input", out / "z.npy"],
                   ["--input", out / "in.npz"]):
        target = out / "result.npz"
        proc = _cli("run", out / "m.sg", *inputs, "--batch-size", 300, "--threads", 2,
                    "--out", target)
        assert proc.returncode == 0, proc.stderr
        assert "rows/s" in proc.stderr
        result = np.load(target)
        assert result["dense/softmax"].tobytes() == expected[0].tobytes()
        assert result["add"].tobytes() == expected[1].tobytes()


def test_run_prints_shapes_without_out(model):
    out, _ = model
    proc = _cli("run", out / "m.sg", "-i", out / "in.npz", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "dense/softmax: shape (1000, 3) float32" in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["run", "{d}/missing.sg", "-i", "{d}/x.npy"], "no such file"),
    (["run", "{d}/x.npy", "-i", "{d}/x.npy"], "not a symgraph graph file"),
    (["run", "{d}/m.sg", "-i", "{d}/x.npy"], "takes 2 input(s)"),
    (["run", "{d}/m.sg", "-i", "{d}/nothere.npy", "-i", "{d}/z.npy"], "no such file"),
    (["run", "{d}/m.sg", "-i", "{d}/m.sg"], ".npy files"),
    (["run", "{d}/m.sg", "-i", "{d}/in.npz", "--out", "{d}/o.csv"], "expected a .npz"),
    (["run", "{d}/m.sg", "-i", "{d}/in.npz", "--out", "{d}/o.npy"], "write them to .npz"),
    (["run", "{d}/m.sg", "-i", "{d}/in.npz", "--batch-size", "0"], "positive integer"),
    (["run", "{d}/m.sg", "-i", "{d}/in.npz", "--threads", "x"], "positive integer"),
    (["info", "{d}/garbage.sg"], "not a symgraph graph file"),
    (["info"], "required"),
    (["convert-keras", "{d}/missing.h5", "{d}/o.sg"], "no such file"),
])
def test_bad_arguments_and_files_give_one_line(model, args, message):
    out, _ = model
    (out / "garbage.sg").write_bytes(b"PK\x03\x04 not really")
    proc = _cli(*[a.format(d=out) for a in args])
    _one_line_error(proc, message)


def test_run_refuses_inputs_of_different_lengths(model, tmp_path):
    out, _ = model
    np.save(tmp_path / "short.npy", np.zeros(10, "float32"))
    proc = _cli("run", out / "m.sg", "-i", out / "x.npy", "-i", tmp_path / "short.npy")
    _one_line_error(proc, "z")


@pytest.mark.skipif(importlib.util.find_spec("keras") is None or
                    importlib.util.find_spec("h5py") is None, reason="needs keras 2.3.1")
def test_convert_keras(tmp_path):
    env = dict(os.environ, KERAS_BACKEND="symgraph.backend", KERAS_HOME=str(tmp_path),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    h5, expected = str(tmp_path / "m.h5"), str(tmp_path / "expected.npy")
    code = ("import numpy as np, keras; from keras import layers; "
            "m = keras.models.Sequential([layers.Dense(3, input_shape=(5,), "
            f"activation='relu'), layers.Dense(2)]); m.save({h5!r}); "
            f"np.save({expected!r}, m.predict(np.ones((4, 5), 'float32')))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = _cli("convert-keras", tmp_path / "m.h5", tmp_path / "m.sg")
    assert proc.returncode == 0, proc.stderr[-3000:]
    g = symgraph.load(tmp_path / "m.sg")
    np.testing.assert_allclose(g([np.ones((4, 5), "float32")])[0],
                               np.load(tmp_path / "expected.npy"), rtol=1e-6)
    (tmp_path / "bad.h5").write_bytes(b"not hdf5")
    _one_line_error(_cli("convert-keras", tmp_path / "bad.h5", tmp_path / "o.sg"),
                    "not a Keras model file")


@pytest.mark.parametrize("script, args, expected", [
    ("graph_files.py", [], "bit-identical to the saved one: True"),
    ("command_line.py", ["--rows", "5000"], "first batch equals f(batch): True"),
])
def test_examples_run(script, args, expected, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT),
                                                       os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / script), *args], env=env,
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert expected in proc.stdout


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None,
                    reason="needs the dask extra")
def test_run_on_a_local_dask_cluster_equals_threads(model, tmp_path):
    out, expected = model
    proc = _cli("run", out / "m.sg", "-i", out / "in.npz", "--scheduler", "distributed",
                "--workers", 1, "--batch-size", 300, "--out", tmp_path / "d.npz",
                "--no-progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = np.load(tmp_path / "d.npz")
    assert result["dense/softmax"].tobytes() == expected[0].tobytes()
    assert result["add"].tobytes() == expected[1].tobytes()


def test_summary_and_show_svg(model, tmp_path):
    out, _ = model
    proc = _cli("summary", out / "m.sg", "--batch-size", 8)
    assert proc.returncode == 0, proc.stderr
    assert "dense" in proc.stdout and "FLOPs/batch" in proc.stdout
    assert "parameters: 12" in proc.stdout
    proc = _cli("show", out / "m.sg", "-o", tmp_path / "g.svg", "--compiled")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "g.svg").read_text().startswith("<svg")
    _one_line_error(_cli("show", out / "m.sg", "-o", tmp_path / "g.txt"), "expected a .svg")
    (tmp_path / "bad.sg").write_bytes(b"not a zip")
    _one_line_error(_cli("summary", tmp_path / "bad.sg"), "not a symgraph graph file")


def test_show_writes_the_html_view(model, tmp_path):
    out, _ = model
    proc = _cli("show", out / "m.sg", "-o", tmp_path / "g.html", "--compiled")
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "g.html").read_text()
    assert page.lstrip().lower().startswith("<!doctype html") and "dense/softmax" in page
    env_display = {k: os.environ.pop(k) for k in ("DISPLAY", "WAYLAND_DISPLAY")
                   if k in os.environ}
    try:  # no browser to open: the path is printed
        proc = _cli("show", out / "m.sg")
    finally:
        os.environ.update(env_display)
    assert proc.returncode == 0, proc.stderr
    assert ".html" in proc.stdout + proc.stderr


def test_version_prints_the_versions_and_the_cpu_numba_compiles_for(capsys):
    import llvmlite
    import llvmlite.binding as ll
    import numba

    from symgraph.cli import main

    assert main(["version"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"symgraph {symgraph.__version__}"
    text = "\n".join(lines)
    for expected in (f"Python {sys.version.split()[0]}", f"numpy {np.__version__}",
                     f"numba {numba.__version__}", f"llvmlite {llvmlite.__version__}"):
        assert expected in text
    if os.environ.get("NUMBA_CPU_NAME") is None:
        assert f"CPU {ll.get_host_cpu_name()} (this machine" in text
    features = lines[-1].removeprefix("CPU features: ").split()
    assert features and not any(f.startswith(("+", "-")) for f in features)


def test_version_follows_numba_cpu_settings():
    """NUMBA_CPU_NAME / NUMBA_CPU_FEATURES are what numba compiles for: shown as such."""
    env = dict(os.environ, NUMBA_CPU_NAME="haswell", NUMBA_CPU_FEATURES="+avx,+avx2,-avx512f",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "symgraph", "version"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-2].endswith("CPU haswell (NUMBA_CPU_NAME, NUMBA_CPU_FEATURES)")
    assert lines[-1] == "CPU features: avx avx2"
    env.update(NUMBA_CPU_NAME="generic")
    env.pop("NUMBA_CPU_FEATURES")
    proc = subprocess.run([sys.executable, "-m", "symgraph", "version"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.splitlines()[-1] == "CPU features: none (generic code)"
