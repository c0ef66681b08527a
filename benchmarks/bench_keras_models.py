"""Real Keras models trained with ``model.fit``: Keras 2.3.1 on symgraph against tf_keras.

Six models, each trained on synthetic data that it can learn (fixed NumPy seeds, the
same data, batch size, optimizer and loss for both engines, ``verbose=0``):

* ``mlp``: Dense 784-512-512-10, softmax, categorical crossentropy, SGD with momentum;
* ``cnn``: MNIST-style, Conv2D 32 3x3 relu, Conv2D 64 3x3 relu, MaxPooling2D, Flatten,
  Dense 128 relu, Dense 10 softmax on 28x28x1, Adam;
* ``resblock``: functional API, Conv-BN-ReLU-Conv-BN plus the skip ``Add``, ReLU,
  GlobalAveragePooling2D, Dense 10 softmax on 32x32x16, SGD with momentum;
* ``conv1d``: Embedding, Conv1D 128x5 relu, GlobalMaxPooling1D, Dense 64 relu, Dense 1
  sigmoid (does the text hold one of a few "trigger" tokens?), Adam;
* ``bigru``: Embedding, Bidirectional(GRU 32, ``reset_after=True`` for both, tf_keras's
  default), Dense 1 sigmoid, the same task, Adam;
* ``seq2seq``: reverse a digit sequence; LSTM 64 encoder, RepeatVector, LSTM 64 decoder
  with ``return_sequences``, TimeDistributed(Dense softmax), Adam.

Every (model, engine) pair runs in a fresh subprocess of this file (``--child``), so
imports and compile caches are what a user pays. The child builds and compiles the
model, then calls ``model.fit(epochs=1)`` (the *first epoch*: for symgraph it includes
building the training graph and compiling its kernels) and then
``model.fit(epochs=N)`` whose epochs are timed by a callback (the *steady epochs*; the
median is reported). It also records the time from the process being started (by the
parent, just before ``subprocess.run``) to the model being built and compiled, and
checks that every loss is finite and that the last is below the first.

symgraph runs twice per model: *cold*, with ``SYMGRAPH_CACHE_DIR`` and
``NUMBA_CACHE_DIR`` in a new empty temporary directory, then *warm*, a second fresh
process with the same directories (the kernel caches on disk). Its steady epoch is the
warm process's: symgraph runs a new function's first calls interpreted while its kernels
compile in a background thread (``symgraph/runtime/tiered.py``), so in the cold process
the epochs after the first can still be slow; their median is reported separately, as a
multiple of the warm steady epoch. After its timed epochs the cold process waits (untimed)
for its background compiles to fill the caches: a process that exits does not wait for its
compile children (they finish on their own), and the warm process must not start while
they still run, or it would measure a compile racing a half-filled cache. tf_keras runs
once (it keeps no disk cache), in the interpreter given by ``--tf-python`` (default:
this one if it has tf_keras, else ``/tmp/benchvenv/bin/python`` if present, else
tf_keras is skipped).

By default every engine is pinned to one thread (``suite_engines.single_thread_env``
for BLAS/OpenMP/numba, plus ``SYMGRAPH_NUM_THREADS``, ``TF_NUM_INTRAOP_THREADS`` /
``TF_NUM_INTEROP_THREADS`` and ``tf.config.threading`` in the child); ``--threads N``
uses N, ``--threads default`` sets no limit at all.

    python benchmarks/bench_keras_models.py [--quick] [--only mlp,cnn,...]
        [--engines symgraph,tf_keras] [--epochs 3] [--threads 1|N|default]
        [--tf-python PATH] [--json PATH] [--write-docs [docs/performance.md]]

Run it with the interpreter that has symgraph and Keras 2.3.1 (``.venv/bin/python``).
The table reads: steady epoch times and their ratio (target <= 1.0x), first epoch
times with the ratio to the same engine's steady epoch (target <= 2x). The machine is
shared and noisy: read the ratios, re-run before trusting small differences.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from importlib.util import find_spec

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DOCS = os.path.join(ROOT, "docs", "performance.md")
DEFAULT_TF_PYTHON = "/tmp/benchvenv/bin/python"

MODELS = ("mlp", "cnn", "resblock", "conv1d", "bigru", "seq2seq")
ENGINES = ("symgraph", "tf_keras")
LABELS = {
    "mlp": "MLP 784-512-512-10",
    "cnn": "Conv2D MNIST-style",
    "resblock": "Conv2D+BN residual block",
    "conv1d": "Conv1D text",
    "bigru": "Bidirectional GRU text",
    "seq2seq": "LSTM seq2seq",
}
# per model: samples per epoch, batch size, and the size knobs of its data; (full, quick)
CONFIGS = {
    "mlp": ({"n": 8192, "batch": 128}, {"n": 512, "batch": 128}),
    "cnn": ({"n": 1024, "batch": 64}, {"n": 128, "batch": 64}),
    "resblock": ({"n": 2048, "batch": 64}, {"n": 128, "batch": 64}),
    "conv1d": ({"n": 4096, "batch": 64, "vocab": 2000, "length": 100},
               {"n": 256, "batch": 64, "vocab": 2000, "length": 50}),
    "bigru": ({"n": 2048, "batch": 64, "vocab": 2000, "length": 50},
              {"n": 128, "batch": 64, "vocab": 2000, "length": 20}),
    "seq2seq": ({"n": 4096, "batch": 64, "length": 12},
                {"n": 128, "batch": 64, "length": 6}),
}
RESULT_MARK = "BENCH_KERAS_RESULT "
SPAWN_VAR = "BENCH_KERAS_SPAWN_TIME"


# ---------------------------------------------------------------------------------------
# child: one model, one engine, in this process
# ---------------------------------------------------------------------------------------
def _onehot(labels, k):
    import numpy as np

    out = np.zeros(labels.shape + (k,), np.float32)
    np.put_along_axis(out, labels[..., None], 1.0, axis=-1)
    return out


def make_data(model: str, cfg: dict):
    """``(x, y)`` for ``model``: NumPy only, seeded, identical for both engines."""
    import numpy as np

    rng = np.random.default_rng(MODELS.index(model) + 1)
    n = cfg["n"]
    if model in ("mlp", "cnn"):
        shape = (n, 784) if model == "mlp" else (n, 28, 28, 1)
        x = rng.random(shape, dtype=np.float32)  # pixel-like values in [0, 1)
        teacher = rng.standard_normal((784, 10)).astype(np.float32)
        return x, _onehot(np.argmax((x.reshape(n, -1) - 0.5) @ teacher, axis=1), 10)
    if model == "resblock":
        x = rng.standard_normal((n, 32, 32, 16), dtype=np.float32)
        # the class follows the channel means: a conv net with global pooling can learn it
        teacher = rng.standard_normal((16, 10)).astype(np.float32)
        return x, _onehot(np.argmax(x.mean(axis=(1, 2)) @ teacher, axis=1), 10)
    if model in ("conv1d", "bigru"):
        vocab, length = cfg["vocab"], cfg["length"]
        x = rng.integers(1, vocab, size=(n, length)).astype(np.int32)
        # about half of the texts hold one of the trigger tokens
        triggers = max(1, round(vocab * (1 - 0.5 ** (1 / length))))
        y = (x <= triggers).any(axis=1).astype(np.float32)[:, None]
        return x, y
    if model == "seq2seq":
        digits = rng.integers(0, 10, size=(n, cfg["length"]))
        return _onehot(digits, 10), _onehot(digits[:, ::-1], 10)
    raise ValueError(model)


def build_model(model: str, keras, cfg: dict):
    """The compiled model; the same code for Keras 2.3.1 and tf_keras."""
    layers = keras.layers
    opt = keras.optimizers
    if model == "mlp":
        net = keras.models.Sequential([
            layers.Dense(512, activation="relu", input_shape=(784,)),
            layers.Dense(512, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ])
        net.compile(opt.SGD(learning_rate=0.01, momentum=0.9), "categorical_crossentropy",
                    metrics=["accuracy"])
    elif model == "cnn":
        net = keras.models.Sequential([
            layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ])
        net.compile(opt.Adam(learning_rate=1e-3), "categorical_crossentropy",
                    metrics=["accuracy"])
    elif model == "resblock":
        inp = layers.Input(shape=(32, 32, 16))
        h = layers.Conv2D(16, (3, 3), padding="same", use_bias=False)(inp)
        h = layers.BatchNormalization()(h)
        h = layers.Activation("relu")(h)
        h = layers.Conv2D(16, (3, 3), padding="same", use_bias=False)(h)
        h = layers.BatchNormalization()(h)
        h = layers.Add()([h, inp])
        h = layers.Activation("relu")(h)
        h = layers.GlobalAveragePooling2D()(h)
        out = layers.Dense(10, activation="softmax")(h)
        net = keras.models.Model(inp, out)
        net.compile(opt.SGD(learning_rate=0.05, momentum=0.9), "categorical_crossentropy",
                    metrics=["accuracy"])
    elif model == "conv1d":
        net = keras.models.Sequential([
            layers.Embedding(cfg["vocab"], 64, input_length=cfg["length"]),
            layers.Conv1D(128, 5, activation="relu"),
            layers.GlobalMaxPooling1D(),
            layers.Dense(64, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ])
        net.compile(opt.Adam(learning_rate=1e-3), "binary_crossentropy", metrics=["accuracy"])
    elif model == "bigru":
        net = keras.models.Sequential([
            layers.Embedding(cfg["vocab"], 32, input_length=cfg["length"]),
            layers.Bidirectional(layers.GRU(32, reset_after=True)),
            layers.Dense(1, activation="sigmoid"),
        ])
        net.compile(opt.Adam(learning_rate=3e-3), "binary_crossentropy", metrics=["accuracy"])
    elif model == "seq2seq":
        length = cfg["length"]
        net = keras.models.Sequential([
            layers.LSTM(64, input_shape=(length, 10)),
            layers.RepeatVector(length),
            layers.LSTM(64, return_sequences=True),
            layers.TimeDistributed(layers.Dense(10, activation="softmax")),
        ])
        net.compile(opt.Adam(learning_rate=3e-3), "categorical_crossentropy",
                    metrics=["accuracy"])
    else:
        raise ValueError(model)
    return net


def child(args) -> dict:
    spawned = float(os.environ.get(SPAWN_VAR, time.time()))
    start = time.perf_counter()
    import random

    import numpy as np

    threads = args.threads
    if args.engine == "tf_keras":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        if threads != "default":
            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
            tf.config.threading.set_inter_op_parallelism_threads(int(threads))
        import tf_keras as keras

        tf.random.set_seed(0)
        versions = {"tensorflow": tf.__version__, "tf_keras": keras.__version__}
    else:
        os.environ["KERAS_BACKEND"] = "symgraph.backend"
        import keras

        import symgraph

        versions = {"keras": keras.__version__,
                    "symgraph": getattr(symgraph, "__version__", "?")}
    versions["numpy"] = np.__version__
    imported = time.perf_counter() - start
    random.seed(0)
    np.random.seed(0)
    cfg = json.loads(args.config)
    x, y = make_data(args.child, cfg)
    net = build_model(args.child, keras, cfg)
    built_since_spawn = time.time() - spawned

    class EpochTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._start)

    t0 = time.perf_counter()
    first = net.fit(x, y, batch_size=cfg["batch"], epochs=1, verbose=0)
    first_epoch = time.perf_counter() - t0
    timer = EpochTimer()
    rest = net.fit(x, y, batch_size=cfg["batch"], epochs=args.epochs, verbose=0,
                   callbacks=[timer])
    losses = [float(v) for v in first.history["loss"] + rest.history["loss"]]
    compile_wait = 0.0
    if args.engine == "symgraph":  # untimed: the caches are full before the next process
        from symgraph.runtime import tiered

        t1 = time.perf_counter()
        tiered.wait_all()
        compile_wait = time.perf_counter() - t1
    return {
        "compile_wait_after": compile_wait,
        "import": imported,
        "built_since_start": built_since_spawn,
        "first_epoch": first_epoch,
        "steady_epochs": timer.times,
        "losses": losses,
        "params": int(net.count_params()),
        "versions": versions,
    }


# ---------------------------------------------------------------------------------------
# parent: fresh processes, table, docs
# ---------------------------------------------------------------------------------------
def child_env(threads: str, engine: str) -> dict:
    """The environment of a child: thread limits, the backend, no bytecode suppression."""
    from suite_engines import THREAD_VARS, single_thread_env

    if threads == "default":
        env = dict(os.environ)
    else:
        env = single_thread_env()
        for var in THREAD_VARS:
            env[var] = threads
        env["SYMGRAPH_NUM_THREADS"] = threads
        env["TF_NUM_INTRAOP_THREADS"] = threads
        env["TF_NUM_INTEROP_THREADS"] = threads
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as a normal install runs
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if engine == "symgraph":
        env["KERAS_BACKEND"] = "symgraph.backend"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    return env


def run_child(python: str, model: str, engine: str, args, env: dict) -> dict:
    cfg = CONFIGS[model][1 if args.quick else 0]
    cmd = [python, os.path.abspath(__file__), "--child", model, "--engine", engine,
           "--epochs", str(args.epochs), "--threads", args.threads,
           "--config", json.dumps(cfg)]
    env = dict(env)
    env[SPAWN_VAR] = repr(time.time())
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                              timeout=args.timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.timeout} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK) and proc.returncode == 0:
            return json.loads(line[len(RESULT_MARK):])
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-40:])
    return {"error": f"exit status {proc.returncode}\n{tail}"}


def has_tf_keras(python: str) -> bool:
    # always ask the interpreter: venvs share one realpath, not their site-packages
    try:
        proc = subprocess.run(
            [python, "-c", "import importlib.util as u, sys; "
             "sys.exit(u.find_spec('tf_keras') is None or u.find_spec('tensorflow') is None)"],
            capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def pick_tf_python(given: str | None) -> tuple[str | None, str | None]:
    """``(interpreter, None)`` or ``(None, why tf_keras is skipped)``."""
    if given:
        if has_tf_keras(given):
            return given, None
        return None, f"{given} has no tf_keras/tensorflow"
    if find_spec("tf_keras") is not None and find_spec("tensorflow") is not None:
        return sys.executable, None
    if os.path.exists(DEFAULT_TF_PYTHON) and has_tf_keras(DEFAULT_TF_PYTHON):
        return DEFAULT_TF_PYTHON, None
    return None, ("no interpreter with tf_keras (this one has none, nor "
                  f"{DEFAULT_TF_PYTHON}; pass --tf-python PATH)")


def loss_problem(run: dict) -> str | None:
    losses = run.get("losses") or []
    if not losses or not all(math.isfinite(v) for v in losses):
        return f"loss not finite ({losses})"
    if not losses[-1] < losses[0]:
        return f"loss did not decrease ({losses[0]:.4g} -> {losses[-1]:.4g})"
    return None


def summarize(model_res: dict) -> dict:
    """Derived numbers of one model: steady medians, first/steady ratios, checks."""
    out: dict = {}
    ok = {k: r for k, r in model_res.items() if k != "summary" and r and "error" not in r}
    for key, run in ok.items():
        out[f"{key}_steady"] = statistics.median(run["steady_epochs"])
    # symgraph's steady state is the warm process's: in the cold one, the epochs after
    # the first may still run interpreted (tier 0) while kernels compile in a thread
    for key in ("symgraph_warm", "symgraph_cold"):
        if f"{key}_steady" in out:
            out["symgraph_steady"] = out[f"{key}_steady"]
            break
    for key, run in ok.items():
        steady = out["tf_keras_steady" if key == "tf_keras" else "symgraph_steady"]
        out[f"{key}_first_x"] = run["first_epoch"] / steady
        problem = loss_problem(run)
        if problem:
            out.setdefault("warnings", []).append(f"{key}: {problem}")
    if "symgraph_steady" in out and "tf_keras_steady" in out:
        out["ratio"] = out["symgraph_steady"] / out["tf_keras_steady"]
    return out


def _secs(v: float) -> str:
    return f"{v:.3f} s" if v < 1 else f"{v:.2f} s"


def _times(v: float) -> str:
    return f"{v:.2f}x" if v < 10 else f"{v:.0f}x"


def _run_cell(model_res: dict, summary: dict, key: str, engines) -> str:
    run = model_res.get(key)
    engine = "tf_keras" if key == "tf_keras" else "symgraph"
    if engine not in engines:
        return "-"
    if run is None:
        return "skipped"
    if "error" in run:
        return "FAILED"
    return f"{_secs(run['first_epoch'])} ({_times(summary[key + '_first_x'])})"


def render_table(results: dict, engines) -> list[str]:
    lines = [
        "| model | symgraph steady epoch | tf_keras steady epoch | ratio symgraph/tf_keras "
        "(target <= 1.0) | symgraph first epoch cold (x its steady) | warm (x steady) | "
        "tf_keras first epoch (x steady) | target first <= 2x steady met? | loss check |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for model, res in results.items():
        s = res["summary"]
        cells = [LABELS[model]]
        for eng in ENGINES:
            if eng not in engines:
                cells.append("-")
            elif f"{eng}_steady" in s:
                cells.append(_secs(s[f"{eng}_steady"]))
            else:
                cells.append("FAILED" if res.get(eng if eng == "tf_keras" else
                                                  "symgraph_cold") else "skipped")
        ratio = s.get("ratio")
        cells.append(f"{ratio:.2f}x ({'met' if ratio <= 1.0 else 'not met'})"
                     if ratio is not None else "-")
        for key in ("symgraph_cold", "symgraph_warm", "tf_keras"):
            cells.append(_run_cell(res, s, key, engines))
        met = []
        for key, name in (("symgraph_cold", "cold"), ("symgraph_warm", "warm")):
            if f"{key}_first_x" in s:
                met.append(f"{name} {'yes' if s[key + '_first_x'] <= 2.0 else 'no'}")
        cells.append(", ".join(met) or "-")
        cells.append("WARNING: " + "; ".join(s["warnings"]) if s.get("warnings") else "ok")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_startup(results: dict, epochs: int) -> list[str]:
    lines = ["| model | parameters | start to built: symgraph cold | symgraph warm | tf_keras | "
             f"symgraph cold process, median of epochs 2-{epochs + 1} (x warm steady) |"
             if epochs > 1 else "symgraph cold process, epoch 2 (x warm steady) |",
             "|---|---|---|---|---|---|"]
    for model, res in results.items():
        cells, params = [], "-"
        for key in ("symgraph_cold", "symgraph_warm", "tf_keras"):
            run = res.get(key)
            if run and "error" not in run:
                cells.append(f"{run['built_since_start']:.2f} s")
                params = f"{run['params']:,}"
            else:
                cells.append("-")
        s = res["summary"]
        if "symgraph_cold_steady" in s and "symgraph_warm_steady" in s:
            cells.append(f"{_secs(s['symgraph_cold_steady'])} "
                         f"({_times(s['symgraph_cold_steady'] / s['symgraph_warm_steady'])})")
        else:
            cells.append("-")
        lines.append(f"| {LABELS[model]} | {params} | " + " | ".join(cells) + " |")
    return lines


def describe(args, results: dict, meta: dict) -> list[str]:
    sizes = []
    for model in results:
        cfg = CONFIGS[model][1 if args.quick else 0]
        extra = ", ".join(f"{k} {v}" for k, v in cfg.items() if k not in ("n", "batch"))
        sizes.append(f"{model} {cfg['n']} samples, batch {cfg['batch']}"
                     + (f" ({extra})" if extra else ""))
    threads = ("no thread limits" if args.threads == "default"
               else f"{args.threads} thread{'s' if args.threads != '1' else ''} per engine")
    vers = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    epochs = f"{args.epochs} steady epoch{'s' if args.epochs > 1 else ''}"
    paragraphs = [
        f"`model.fit` on synthetic data, {threads}, {meta['cores']} cores, "
        f"{epochs} after the first{' (--quick sizes)' if args.quick else ''}"
        f"; {vers}. Samples per epoch: " + "; ".join(sizes) + "."
        + "".join(f" Note: {note}." for note in meta["notes"]),
        "Each cell is one fresh process. First epoch: `model.fit(epochs=1)` (for symgraph "
        "this builds the training graph and compiles it: \"cold\" with empty "
        "`SYMGRAPH_CACHE_DIR`/`NUMBA_CACHE_DIR`, \"warm\" a second process with the same "
        "directories); steady: the median epoch of the following `model.fit(epochs=N)` "
        "(symgraph: in the warm process; in the cold one the next epochs may still run "
        "interpreted while kernels compile in a background thread, see the second table). "
        "The target of the last-but-one column is first epoch <= 2x steady epoch; "
        "\"loss check\": every loss finite and the last below the first.",
    ]
    lines: list[str] = []
    for text in paragraphs:
        lines += textwrap.wrap(text, 88, break_on_hyphens=False) + [""]
    return lines[:-1]


def write_docs(path: str, section: str) -> None:
    """Replace (or append) this benchmark's section of ``path`` (docs/performance.md)."""
    from report_sections import replace_section

    replace_section(path, "Real Keras models (", section)


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="much smaller data")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(MODELS)}")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="comma-separated subset of symgraph,tf_keras")
    parser.add_argument("--epochs", type=int, default=3,
                        help="steady epochs after the first (default 3)")
    parser.add_argument("--threads", default="1",
                        help="threads per engine: a number (default 1) or 'default' (no limit)")
    parser.add_argument("--tf-python", help="interpreter with tensorflow and tf_keras")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds allowed per child process")
    parser.add_argument("--json", help="write the raw numbers here")
    parser.add_argument("--write-docs", nargs="?", const=DOCS, metavar="PATH",
                        help=f"replace/append this benchmark's section in PATH "
                             f"(default {os.path.relpath(DOCS, ROOT)})")
    parser.add_argument("--child", choices=MODELS, help=argparse.SUPPRESS)
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads != "default" and not (args.threads.isdigit() and int(args.threads) > 0):
        parser.error("--threads takes a positive number or 'default'")
    if args.epochs < 1:
        parser.error("--epochs must be >= 1")
    if args.child:
        print(RESULT_MARK + json.dumps(child(args)), flush=True)
        return None

    models = MODELS if not args.only else tuple(m.strip() for m in args.only.split(","))
    engines = tuple(e.strip() for e in args.engines.split(","))
    for name, allowed in (("model", MODELS), ("engine", ENGINES)):
        bad = [v for v in (models if name == "model" else engines) if v not in allowed]
        if bad:
            parser.error(f"unknown {name} {bad}; choose from {','.join(allowed)}")
    tf_python, notes = None, []
    if "tf_keras" in engines:
        tf_python, why = pick_tf_python(args.tf_python)
        if tf_python is None:
            notes.append(f"tf_keras skipped: {why}")
            engines = tuple(e for e in engines if e != "tf_keras")
    if "symgraph" in engines and find_spec("keras") is None:
        notes.append(f"symgraph skipped: {sys.executable} has no keras "
                     "(pip install -e '.[keras2]')")
        engines = tuple(e for e in engines if e != "symgraph")
    for note in notes:
        print(f"note: {note}")
    if not engines:
        raise SystemExit("nothing to run")

    print(f"{len(models)} models, engines {','.join(engines)}, threads {args.threads}, "
          f"{args.epochs} steady epochs{', quick sizes' if args.quick else ''}"
          + (f"; tf_keras from {tf_python}" if tf_python else ""), flush=True)
    results: dict = {}
    versions: dict = {}
    for model in models:
        res: dict = {}
        runs = []
        if "symgraph" in engines:
            tmp = tempfile.mkdtemp(prefix="symgraph-keras-bench-")
            env = child_env(args.threads, "symgraph")
            env["SYMGRAPH_CACHE_DIR"] = os.path.join(tmp, "symgraph")
            env["NUMBA_CACHE_DIR"] = os.path.join(tmp, "numba")
            runs += [("symgraph_cold", sys.executable, "symgraph", env),
                     ("symgraph_warm", sys.executable, "symgraph", env)]
        if "tf_keras" in engines:
            runs.append(("tf_keras", tf_python, "tf_keras", child_env(args.threads, "tf_keras")))
        try:
            for key, python, engine, env in runs:
                if key in res:  # symgraph_warm after a failed cold run
                    continue
                run = run_child(python, model, engine, args, env)
                res[key] = run
                if "error" in run:
                    print(f"  {model:9s} {key:14s} FAILED: {run['error'].splitlines()[-1]}",
                          flush=True)
                    if key == "symgraph_cold":  # a warm run would only fail again
                        res["symgraph_warm"] = {"error": "skipped (the cold run failed)"}
                    continue
                versions.update(run["versions"])
                steady = statistics.median(run["steady_epochs"])
                problem = loss_problem(run)
                print(f"  {model:9s} {key:14s} built {run['built_since_start']:6.2f} s  "
                      f"first epoch {run['first_epoch']:7.2f} s  steady {steady:6.3f} s  "
                      f"loss {run['losses'][0]:.4g} -> {run['losses'][-1]:.4g}"
                      + (f"  WARNING: {problem}" if problem else ""), flush=True)
        finally:
            if "symgraph" in engines:
                shutil.rmtree(tmp, ignore_errors=True)
        res["summary"] = summarize(res)
        results[model] = res

    meta = {"date": datetime.date.today().isoformat(), "quick": args.quick,
            "threads": args.threads, "epochs": args.epochs, "engines": list(engines),
            "cores": len(os.sched_getaffinity(0)), "machine": platform.platform(),
            "python": platform.python_version(), "tf_python": tf_python,
            "versions": versions, "notes": notes,
            "configs": {m: CONFIGS[m][1 if args.quick else 0] for m in models}}
    table = render_table(results, engines)
    startup = render_startup(results, args.epochs)
    print()
    print("\n".join(table))
    print("\nprocess start -> model built and compiled; the cold process's later epochs:\n")
    print("\n".join(startup))
    failures = [(m, k, r["error"]) for m, res in results.items() for k, r in res.items()
                if k != "summary" and "error" in r and not r["error"].startswith("skipped")]
    for model, key, error in failures:
        print(f"\n{model} / {key} failed:\n{error}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"meta": meta, "results": results}, fh, indent=1)
        print(f"\nraw numbers: {args.json}")
    if args.write_docs:
        section = [f"## Real Keras models (`python benchmarks/bench_keras_models.py`, "
                   f"{meta['date']})", ""] + describe(args, results, meta) + [""] + table + [
            ""] + textwrap.wrap(
            "Time from the process being started to the model built and compiled (imports "
            "included), and how long the epochs after the first take in symgraph's cold "
            "process:", 88) + [""] + startup
        if failures:
            section += ["", "Failed: " + "; ".join(
                f"{m} / {k}: `{e.strip().splitlines()[-1]}`" for m, k, e in failures) + "."]
        write_docs(args.write_docs, "\n".join(section))
        print(f"wrote its section in {args.write_docs}")
    return {"meta": meta, "results": results}


if __name__ == "__main__":
    main()
