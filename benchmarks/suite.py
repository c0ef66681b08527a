"""symgraph against NumPy eager, PyTensor (C and NUMBA modes), JAX jit and numexpr.

One command runs every workload of issue 5 on one thread, in one process (plus fresh
subprocesses for compile latency, import time and peak memory), with the engines
interleaved round by round, and reports medians and ratios to NumPy next to the
targets:

    python benchmarks/suite.py [--quick] [--out docs/performance.md] [--json FILE]
                               [--real-models]   # and Keras 2.3.1 models vs tf_keras
                               [--rounds N] [--only chain,mlp,...] [--engines numpy,...]

Engines that are not installed are skipped (``pip install pytensor jax jaxlib numexpr``).
The thread pools of every library are pinned to one thread before anything is imported.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
if os.path.dirname(HERE) not in sys.path:
    sys.path.insert(0, os.path.dirname(HERE))

import suite_engines  # noqa: E402  (imports nothing heavy)

if __name__ == "__main__":
    suite_engines.pin_single_thread()

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import suite_cases as cases  # noqa: E402
import suite_proc as proc  # noqa: E402
from report_sections import write_keeping_other_sections  # noqa: E402
from suite_engines import ENGINES, LABELS  # noqa: E402

FULL = {
    "chain_n": 10_000_000, "zeros_n": 2000, "mlp_batches": 200, "mlp_batch": 256,
    "train_steps": 100, "train_batch": 128, "reduce_n": 4096, "cnn_batch": 64,
    "calls": 20_000, "build_ops": 10_000, "memory_n": 50_000_000, "compile_runs": 3,
    "import_runs": 7, "rounds": 7,
}
QUICK = {
    "chain_n": 1_000_000, "zeros_n": 500, "mlp_batches": 20, "mlp_batch": 256,
    "train_steps": 10, "train_batch": 128, "reduce_n": 1024, "cnn_batch": 64,
    "calls": 5_000, "build_ops": 10_000, "memory_n": 5_000_000, "compile_runs": 1,
    "import_runs": 3, "rounds": 3,
}
ALL_CASES = ("chain", "zeros_like", "mlp", "train", "reduce", "cnn", "call", "build",
             "compile", "memory", "import")


# ---------------------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------------------

def _check(ref, value, rtol, atol) -> str | None:
    """None when ``value`` matches NumPy's ``ref``, else a short description."""
    try:
        a, b = np.asarray(ref), np.asarray(value)
        if a.shape != b.shape:
            return f"shape {b.shape} != {a.shape}"
        if not np.allclose(b.astype(np.float64), a.astype(np.float64), rtol=rtol, atol=atol):
            err = np.max(np.abs(b.astype(np.float64) - a.astype(np.float64)))
            return f"max abs error {err:.3g}"
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    return None


def _settle_tiers() -> None:
    """symgraph functions compile their kernels in the background after their first
    call (tiered execution): wait for that, so steady-state timings time the kernels."""
    tiered = sys.modules.get("symgraph.runtime.tiered")
    if tiered is not None:
        tiered.wait_all()


def time_case(case: cases.Case, rounds: int, log=print, budget: float = 60.0,
              min_sample: float = 0.02) -> dict:
    """Warm up and check every engine (the first call's result is checked, a second call
    is timed to size the rounds), then ``rounds`` interleaved rounds (the engine order
    rotates each round), fewer (but at least 3) when a round would take more than
    ``budget / rounds`` seconds. A sample of a call shorter than ``min_sample`` seconds
    repeats the call (up to 1000 times) and is divided by the repetitions. Returns
    per-engine medians (seconds per unit of work)."""
    result = {"key": case.key, "title": case.title, "target": case.target,
              "errors": dict(case.errors), "medians": {}, "wrong": {}, "unit": case.unit}
    runners = dict(case.impls)
    if case.floor is not None and "numpy" in runners:
        runners["copy"] = case.floor
    ref = None
    warm: dict[str, float] = {}
    for name in list(runners):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = runners[name]()  # compiles; this result is checked
                _settle_tiers()
                start = time.perf_counter()
                runners[name]()
                warm[name] = time.perf_counter() - start
        except Exception as exc:  # noqa: BLE001 - keep going with the other engines
            result["errors"][name] = f"run failed: {type(exc).__name__}: {exc}".splitlines()[0]
            del runners[name]
            continue
        if name == "numpy":
            ref = value
        elif name != "copy" and ref is not None:
            problem = _check(ref, value, case.rtol, case.atol)
            if problem:
                result["wrong"][name] = problem
    samples: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    # a sample of a fast engine repeats its call so that it lasts about min_sample
    inner = {name: max(1, min(1000, int(min_sample / max(warm.get(name, 0.0), 1e-7))))
             for name in names}
    per_round = sum(warm.get(name, 0.0) * inner[name] for name in names)
    if per_round * rounds > budget:  # slow engines: fewer rounds, never below 3
        rounds = max(3, min(rounds, int(budget / max(per_round, 1e-9))))
    result["rounds"] = rounds
    for r in range(rounds):
        shift = r % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            run, reps = runners[name], inner[name]
            start = time.perf_counter()
            for _ in range(reps):
                run()
            samples[name].append((time.perf_counter() - start) / (case.per * reps))
    result["medians"] = {name: statistics.median(s) for name, s in samples.items() if s}
    result["samples"] = samples
    log(_summary_line(result))
    return result


def _summary_line(result) -> str:
    base = result["medians"].get("numpy")
    parts = []
    for name, sec in result["medians"].items():
        ratio = f" {sec / base:.3g}x" if base else ""
        parts.append(f"{name} {_fmt_time(sec, result['unit'])}{ratio}")
    return f"  {result['title']} ({result.get('rounds')} rounds): " + ", ".join(parts)


def build_cases(sizes, engines, only):
    """(key, builder) pairs of the in-process cases selected by ``only``."""
    out = []
    if "chain" in only:
        out.append(lambda: cases.elementwise_chain(sizes["chain_n"], engines))
    if "zeros_like" in only:
        out.append(lambda: cases.zeros_like_expensive(sizes["zeros_n"], engines))
    if "mlp" in only:
        out.append(lambda: cases.mlp_inference(sizes["mlp_batches"], sizes["mlp_batch"],
                                               engines))
    if "train" in only:
        out.append(lambda: cases.mlp_training(sizes["train_steps"], sizes["train_batch"],
                                              engines))
    if "reduce" in only:
        for kind in cases.REDUCTIONS:
            out.append(lambda kind=kind: cases.reduction(kind, sizes["reduce_n"], engines))
    if "cnn" in only:
        out.append(lambda: cases.cnn_forward(sizes["cnn_batch"], engines))
    if "call" in only:
        out.append(lambda: cases.call_cost((), sizes["calls"], engines))
        out.append(lambda: cases.call_cost((), sizes["calls"], engines, numpy_scalars=True))
        out.append(lambda: cases.call_cost((4,), sizes["calls"], engines))
    if "build" in only:
        out.append(lambda: cases.graph_build(sizes["build_ops"], engines))
    return out


def run_subprocess_cases(sizes, engines, only, log=print) -> dict:
    out: dict = {}
    if "compile" in only:
        out["compile"] = {}
        for engine in engines:
            if engine in ("numpy", "numexpr"):
                continue
            try:
                out["compile"][engine] = proc.compile_latency(engine, sizes["compile_runs"])
            except Exception as exc:  # noqa: BLE001
                out["compile"][engine] = {"error": f"{type(exc).__name__}: {exc}"}
            log(f"  compile {proc.COMPILE_OPS}-op graph, {engine}: {out['compile'][engine]}")
        out["compile_train"] = {}
        for engine in engines:
            if engine in ("numpy", "numexpr"):
                continue
            try:
                out["compile_train"][engine] = proc.compile_latency(
                    engine, sizes["compile_runs"], workload="train")
            except Exception as exc:  # noqa: BLE001
                out["compile_train"][engine] = {"error": f"{type(exc).__name__}: {exc}"}
            log(f"  first result, MLP training step, {engine}: "
                f"{out['compile_train'][engine]}")
    if "memory" in only:
        out["memory"] = {}
        for engine in ("numpy", "symgraph"):
            if engine not in engines:
                continue
            try:
                out["memory"][engine] = proc.peak_memory(engine, sizes["memory_n"])
            except Exception as exc:  # noqa: BLE001
                out["memory"][engine] = {"error": f"{type(exc).__name__}: {exc}"}
            log(f"  peak memory 20-op chain, {engine}: {out['memory'][engine]}")
    if "import" in only:
        out["import"] = {}
        for module in ("numpy", "symgraph", "symgraph.backend"):
            try:
                out["import"][module] = proc.import_time(module, sizes["import_runs"])
            except Exception as exc:  # noqa: BLE001
                out["import"][module] = {"error": f"{type(exc).__name__}: {exc}"}
            log(f"  import {module}: {out['import'][module]}")
    return out


def run_suite(sizes: dict, engines=ENGINES, only=ALL_CASES, rounds: int | None = None,
              log=print, min_sample: float = 0.02) -> dict:
    """Run everything selected; returns the raw results (see :func:`render_markdown`)."""
    avail = suite_engines.availability(engines)
    usable = [e for e in engines if avail[e] is None]
    for engine, why in avail.items():
        if why:
            log(f"skipping {engine}: {why}")
    rounds = rounds or sizes["rounds"]
    timed = []
    for make in build_cases(sizes, usable, only):
        case = make()
        log(f"{case.title} ...")
        timed.append(time_case(case, rounds, log=log, min_sample=min_sample))
    sub = run_subprocess_cases(sizes, usable, only, log=log)
    return {"sizes": sizes, "rounds": rounds, "engines": usable, "skipped": avail,
            "timed": timed, "sub": sub, "machine": machine_info(),
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}


# ---------------------------------------------------------------------------------------
# reporting
# ---------------------------------------------------------------------------------------

def machine_info() -> dict:
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    blas = "unknown"
    try:
        cfg = np.show_config(mode="dicts")
        blas_cfg = cfg["Build Dependencies"]["blas"]
        blas = f"{blas_cfg.get('name')} {blas_cfg.get('version', '')}".strip()
    except Exception:  # noqa: BLE001
        pass
    return {"cpu": model, "cores": os.cpu_count(), "usable_cores": affinity,
            "python": platform.python_version(), "platform": platform.platform(),
            "numpy_blas": blas, "versions": suite_engines.versions()}


def _fmt_time(sec: float, unit: str = "ms") -> str:
    if unit == "us" or sec < 1e-3:
        return f"{sec * 1e6:.2f} us"
    if sec < 1:
        return f"{sec * 1e3:.1f} ms" if sec >= 0.01 else f"{sec * 1e3:.3f} ms"
    return f"{sec:.2f} s"


def _cell(result, engine) -> str:
    if engine in result["errors"]:
        why = result["errors"][engine]
        return "n/a" if why == "n/a" else f"error ({why[:60]})"
    if engine not in result["medians"]:
        return "-"
    sec = result["medians"][engine]
    base = result["medians"].get("numpy")
    text = _fmt_time(sec, result["unit"])
    if base and result["target"] is not None and result["target"].kind != "abs":
        text = f"{sec / base:.3g}x ({text})"
    if engine in result["wrong"]:
        text += f" WRONG: {result['wrong'][engine]}"
    return text


def _met(result) -> str:
    target, med = result["target"], result["medians"]
    if target is None or "symgraph" not in med:
        return "-"
    if "symgraph" in result["wrong"]:
        return "not met (wrong result)"
    sym = med["symgraph"]
    if target.kind == "abs":
        return "met" if sym <= target.value else "not met"
    base = med.get("numpy")
    if not base:
        return "-"
    ratio = sym / base
    if target.kind == "ratio":
        return "met" if ratio <= target.value else "not met"
    rivals = [med[e] / base for e in ("numpy", "pytensor_c", "pytensor_numba", "jax")
              if e in med and e not in result["wrong"]]
    best = min(rivals)
    return "met" if ratio <= best else f"not met (best {best:.3g}x)"


def _table(header, rows) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows]
    return lines


def _latency_rows(comp: dict, what_graph: str, targets: tuple, row) -> None:
    """Rows of graph-built-to-first-result latency, cold and from the disk cache."""
    if not comp:
        return
    for phase, target in zip(("cold", "cached"), targets):
        cells, met = {}, "-"
        for engine, res in comp.items():
            if "error" in res:
                cells[engine] = f"error ({res['error'][:60]})"
                continue
            values = res.get(phase)
            if not values:
                cells[engine] = "no disk cache" if phase == "cached" else "-"
                continue
            cells[engine] = _fmt_time(proc.median(values)) + ("" if res["ok"] else " WRONG")
            if engine == "symgraph":
                ok = proc.median(values) <= target and res["ok"]
                met = "met" if ok else "not met"
        what = ("empty cache dirs" if phase == "cold"
                else "second process, same cache dirs")
        row(f"graph built to first result, {what_graph}, fresh process, {what}",
            cells, f"<= {target * 1e3:.0f} ms", met)


def _sub_rows(sub, engines) -> list[list[str]]:
    rows = []
    cols = len(engines)

    def row(label, cells: dict, target, met):
        rows.append([label] + [cells.get(e, "-") for e in engines] + [target, met])

    for what_graph, key, targets in (
            (f"a {proc.COMPILE_OPS}-op graph", "compile", (0.100, 0.030)),
            ("the MLP 784-512-512-10 training step", "compile_train", (0.250, 0.100))):
        _latency_rows(sub.get(key, {}), what_graph, targets, row)
    mem = sub.get("memory", {})
    if mem:
        cells, met = {}, "-"
        for engine, res in mem.items():
            if "error" in res:
                cells[engine] = f"error ({res['error'][:60]})"
                continue
            mult = res["extra"] / res["output"]
            cells[engine] = (f"{res['extra'] / 2**20:.0f} MiB ({mult:.2f}x output)"
                             + ("" if res["ok"] else " WRONG"))
            if engine == "symgraph":
                met = "met" if mult <= 1.10 and res["ok"] else "not met"
        any_res = next(iter(mem.values()))
        n = any_res.get("output", 0) // 4
        row(f"peak extra memory, 20-op chain on {n:,} float32", cells,
            "= output only (<= 1.1x)", met)
    imp = sub.get("import", {})
    if imp:
        for module, values in imp.items():
            if isinstance(values, dict):
                text = f"error ({values['error'][:60]})"
                met = "-"
            else:
                text = _fmt_time(proc.median(values))
                met = "met" if proc.median(values) <= 0.2 else "not met"
            if module == "numpy":
                row("`import numpy`, fresh process (for reference)", {"numpy": text}, "-", "-")
            else:
                row(f"`import {module}`, fresh process", {"symgraph": text}, "<= 200 ms", met)
    assert all(len(r) == cols + 3 for r in rows)
    return rows


METHOD = """\
## Method

* One command: `python benchmarks/suite.py` (`--quick` for small sizes, `--only` and
  `--engines` to select, `--json` for the raw samples). Everything runs in one Python
  process except compile latency, import time and peak memory, which need fresh
  processes.
* One thread everywhere: before anything is imported the suite sets
  `OMP/MKL/OPENBLAS/NUMBA/NUMEXPR_NUM_THREADS=1` and
  `XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`;
  subprocesses inherit the same environment.
* Every engine is warmed up (compiled) first, and its result is checked against NumPy's
  (a mismatch is printed as WRONG next to the time). Then the engines run in
  interleaved rounds, one call each per round with the order rotated every round, so
  background load hits all of them alike. Each cell is the **median** over the rounds;
  ratios are to NumPy's median in the same run (below 1 = faster than NumPy).
* Throughput cells read `ratio (median time per call of the whole workload)`; per-call
  costs are the median over rounds of (time of N calls) / N. JAX inputs are placed on
  its device once; its timings include `block_until_ready`.
* Compile latency: the time from "graph built" to "first result" of a 30-op graph
  (29 elementwise chain steps and a row sum on a (None, 64) float32 input) in a new
  interpreter. "Cold": `SYMGRAPH_CACHE_DIR` and `NUMBA_CACHE_DIR` (PyTensor:
  `compiledir`) point at a new empty temporary directory; "cached": a second new process
  with the same directories. JAX keeps no disk cache by default.
* Peak memory: in a subprocess, after the input is made and the kernels are compiled on
  a small input, the resident-set high-water mark is reset (`/proc/self/clear_refs`),
  the 20-op chain runs once, and the extra is `VmHWM - VmRSS(before)`. "Output only"
  means the extra is the output array (met: <= 1.1x its bytes).
* Targets are issue 5's, for symgraph, one thread. "Best of" (reductions): symgraph's
  ratio must not exceed the best ratio of NumPy/PyTensor/JAX in the same run.
* The machine is a shared, noisy virtual machine: absolute times move by 10-30 %
  between runs, and ratios of fast cases (< 1 ms) are the least stable. Read the
  ratios, re-run before drawing conclusions from small differences.
"""


def _notes(res: dict) -> list[str]:
    notes = ["Graph building (the 10k-op row) is the same for both PyTensor modes and is "
             "shown under PyTensor C; JAX's number is tracing with `jax.make_jaxpr`.",
             "`import symgraph` alone loads almost nothing (the package imports lazily); "
             "`import symgraph.backend` is what a user pays, NumPy's import included. "
             "Imports are timed with Python's bytecode cache on (written by an untimed "
             "first import), as a normal install has it: with PYTHONDONTWRITEBYTECODE=1 "
             "(set on this VM) every import recompiles symgraph's sources, ~2x slower.",
             "Why the unmet targets are unmet (profiles, what was tried): "
             "docs/performance-profiles.md; `python benchmarks/profiles.py all` "
             "reproduces its numbers.",
             "NumPy's elementwise chain allocates about ten fresh 40 MB temporaries per "
             "call at 10M elements; on this VM their page faults make NumPy's time swing "
             "with background load far more than the fused engines' (NumPy alone with "
             "symgraph, unloaded: ~100 ms; in a loaded full run up to ~5x that). Ratios "
             "of the chain row are only as good as that NumPy median: check "
             "`--only chain --engines numpy,symgraph` on a quiet machine.",
             "Training: symgraph uses `K.gradients` and `K.function(updates=...)`, NumPy a "
             "hand-written backward pass, PyTensor `pytensor.grad` with shared-variable "
             "updates, JAX `jax.value_and_grad` in one jitted step returning new weights."]
    if any(e.startswith("pytensor") for e in res["engines"]):
        notes.append("PyTensor 3 has no NN conv2d op; its CNN row uses "
                     "`pytensor.tensor.signal.convolve2d` batched over (batch, filters) "
                     "(one input channel, kernel flipped), which is not built for this: read "
                     "that cell as 'no fast route', not as PyTensor's best.")
        try:
            import importlib.metadata as md

            import pytensor

            if not pytensor.config.blas__ldflags:
                notes.append("PyTensor found no BLAS library to link its C code against "
                             "(a pip install) and warns that BLAS-based ops may be slower.")
            need = [r for r in md.requires("pytensor") or [] if r.startswith("numba")
                    and "extra" not in r]
            if need:
                notes.append(f"PyTensor {pytensor.__version__} declares `{need[0]}`; it ran "
                             f"with numba {res['machine']['versions'].get('numba')} here.")
        except Exception:  # noqa: BLE001
            pass
    return notes


def render_markdown(res: dict, quick: bool = False) -> str:
    engines = [e for e in ENGINES if e in res["engines"]]
    m = res["machine"]
    lines = ["# Performance", "",
             f"Generated by `python benchmarks/suite.py{' --quick' if quick else ''}` on "
             f"{res['date']}." + (" **Quick run: reduced sizes.**" if quick else ""), "",
             "## Machine", "",
             f"* CPU: {m['cpu']}, {m['cores']} logical cores ({m['usable_cores']} usable); "
             "every engine runs on one thread",
             f"* Python {m['python']} on {m['platform']}; NumPy BLAS: {m['numpy_blas']}",
             "* " + ", ".join(f"{k} {v}" for k, v in m["versions"].items())]
    skipped = {e: why for e, why in res["skipped"].items() if why}
    if skipped:
        lines.append("* not measured: " + "; ".join(f"{LABELS[e]} ({why})"
                                                    for e, why in skipped.items()))
    used = sorted({r.get("rounds", res["rounds"]) for r in res["timed"]})
    lines += ["", f"Medians of {res['rounds']} interleaved rounds per workload"
              + (f" ({min(used)} for the slowest)" if used and min(used) < res["rounds"] else "")
              + ".", "",
              "## Throughput (ratio to NumPy eager in the same run; below 1 is faster)", ""]
    header = ["workload"] + [LABELS[e] for e in engines] + ["symgraph target", "met"]
    rows, abs_rows = [], []
    for r in res["timed"]:
        row = [r["title"]] + [_cell(r, e) for e in engines]
        row += [r["target"].text if r["target"] else "-", _met(r)]
        (abs_rows if r["target"] is not None and r["target"].kind == "abs" else rows).append(row)
        if "copy" in r["medians"] and r["medians"].get("numpy"):
            floor = r["medians"]["copy"]
            cells = ["-"] * len(engines)
            cells[engines.index("numpy")] = (f"{floor / r['medians']['numpy']:.3g}x "
                                             f"({_fmt_time(floor)})")
            rows.append(["  floor: a plain copy of the same bytes (`x.copy()`)"] + cells
                        + ["-", "-"])
    lines += _table(header, rows)
    lines += ["", "## Latency and memory (absolute)", ""]
    lines += _table(header, abs_rows + _sub_rows(res["sub"], engines))
    lines += ["", "## Notes", ""] + [f"* {note}" for note in _notes(res)] + ["", METHOD]
    return "\n".join(lines) + "\n"


def _jsonable(res: dict) -> dict:
    out = dict(res)
    out["timed"] = []
    for r in res["timed"]:
        r = dict(r)
        t = r["target"]
        r["target"] = None if t is None else {"kind": t.kind, "value": t.value, "text": t.text}
        out["timed"].append(r)
    return out


def _load_json(path: str) -> dict:
    with open(path) as fh:
        res = json.load(fh)
    for r in res["timed"]:
        if r["target"] is not None:
            r["target"] = cases.Target(**r["target"])
    return res


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer rounds")
    parser.add_argument("--out", help="write the markdown report here")
    parser.add_argument("--json", help="write the raw results (medians, samples) here")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per workload")
    parser.add_argument("--from-json", help="render the report of an earlier --json run")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(ALL_CASES)}")
    parser.add_argument("--engines", help=f"comma-separated subset of {','.join(ENGINES)}")
    parser.add_argument("--real-models", action="store_true",
                        help="then run the real Keras models against tf_keras "
                             "(benchmarks/bench_keras_models.py; its section goes to --out)")
    args = parser.parse_args(argv)
    sizes = dict(QUICK if args.quick else FULL)
    only = tuple(args.only.split(",")) if args.only else ALL_CASES
    unknown = set(only) - set(ALL_CASES)
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}")
    engines = tuple(args.engines.split(",")) if args.engines else ENGINES
    if set(engines) - set(ENGINES):
        parser.error(f"unknown engines {sorted(set(engines) - set(ENGINES))}")
    engines = tuple(dict.fromkeys(("numpy",) + engines))  # NumPy is the baseline
    if args.from_json:
        res = _load_json(args.from_json)
    else:
        res = run_suite(sizes, engines, only, args.rounds)
    text = render_markdown(res, quick=args.quick or res["sizes"] == QUICK)
    print()
    print(text)
    if args.out:
        write_keeping_other_sections(args.out, text)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(_jsonable(res), fh, indent=1, default=str)
    if args.real_models:  # in its own processes: one fresh process per model and engine
        import bench_keras_models

        bench_keras_models.main((["--quick"] if args.quick else []) +
                                (["--write-docs", args.out] if args.out else []))
    return res


if __name__ == "__main__":
    main()
