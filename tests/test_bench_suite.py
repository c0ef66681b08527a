"""benchmarks/suite.py keeps working: every workload runs on tiny sizes, results are
checked against NumPy, the report renders. No timing is asserted."""

from __future__ import annotations

import importlib.util
import json
import os
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
sys.path.insert(0, BENCH)

import suite  # noqa: E402
import suite_cases  # noqa: E402
import suite_proc  # noqa: E402

TINY = {
    "chain_n": 1000, "zeros_n": 8, "mlp_batches": 2, "mlp_batch": 4, "train_steps": 2,
    "train_batch": 4, "reduce_n": 16, "cnn_batch": 2, "calls": 5, "build_ops": 100,
    "memory_n": 2_000_000, "compile_runs": 1, "import_runs": 1, "rounds": 1,
}
IN_PROCESS = ("chain", "zeros_like", "mlp", "train", "reduce", "cnn", "call", "build")


def _quiet(*_args, **_kwargs):
    pass


def test_every_workload_runs_and_matches_numpy(tmp_path, capsys):
    engines = ("numpy", "symgraph") + tuple(
        e for e in ("numexpr",) if importlib.util.find_spec(e) is not None)
    res = suite.run_suite(TINY, engines=engines, only=IN_PROCESS, log=_quiet, min_sample=0)
    keys = [r["key"] for r in res["timed"]]
    assert keys == ["chain", "zeros_like", "mlp", "train", "reduce_sum0", "reduce_sum1",
                    "reduce_mean", "reduce_max", "reduce_softmax", "cnn", "call_scalar",
                    "call_npscalar", "call_vec", "build"]
    for r in res["timed"]:
        assert r["wrong"] == {}, (r["key"], r["wrong"])
        assert "symgraph" in r["medians"], (r["key"], r["errors"])
        assert all(t > 0 for t in r["medians"].values())
        if r["key"] != "build":
            assert "numpy" in r["medians"]
    chain = res["timed"][0]
    assert "copy" in chain["medians"]
    if "numexpr" in engines:
        assert "numexpr" in chain["medians"]
    text = suite.render_markdown(res, quick=True)
    assert text.count("\n| ") == len(keys) + 3  # two headers, the rows, the copy floor
    assert "| elementwise chain" in text and "floor: a plain copy" in text
    assert "<= 0.25x" in text and "<= 2 us" in text
    saved = tmp_path / "res.json"
    with open(saved, "w") as fh:
        json.dump(suite._jsonable(res), fh, default=str)
    out = tmp_path / "perf.md"
    suite.main(["--from-json", str(saved), "--out", str(out)])
    assert out.read_text().split("## Machine")[1] == text.split("## Machine")[1]


@pytest.mark.parametrize("engine", ["jax", "pytensor_c", "pytensor_numba"])
def test_optional_engine_on_the_elementwise_chain(engine):
    pytest.importorskip("jax" if engine == "jax" else "pytensor")
    case = suite_cases.elementwise_chain(1000, ("numpy", engine))
    assert engine in case.impls, case.errors
    r = suite.time_case(case, rounds=1, log=_quiet, min_sample=0)
    assert r["wrong"] == {} and engine in r["medians"]


def test_an_engine_that_fails_is_reported_not_fatal():
    case = suite_cases.elementwise_chain(100, ("numpy",))

    def broken():
        raise RuntimeError("boom")

    case.impls["symgraph"] = broken
    case.impls["jax"] = lambda: case.impls["numpy"]() + 1  # a wrong answer
    r = suite.time_case(case, rounds=1, log=_quiet, min_sample=0)
    assert "boom" in r["errors"]["symgraph"] and "symgraph" not in r["medians"]
    assert "max abs error" in r["wrong"]["jax"]
    assert "WRONG" in suite._cell(r, "jax") and "error" in suite._cell(r, "symgraph")


def _result(kind, value, medians, wrong=None):
    return {"target": suite_cases.Target(kind, value, "t"), "medians": medians,
            "wrong": wrong or {}, "errors": {}, "unit": "ms"}


def test_target_verdicts():
    assert suite._met(_result("ratio", 0.25, {"numpy": 1.0, "symgraph": 0.2})) == "met"
    assert suite._met(_result("ratio", 0.25, {"numpy": 1.0, "symgraph": 0.3})) == "not met"
    assert suite._met(_result("abs", 2e-6, {"symgraph": 1.5e-6})) == "met"
    best = {"numpy": 1.0, "symgraph": 0.5, "jax": 0.4}
    assert suite._met(_result("best", 1.0, best)).startswith("not met (best 0.4x")
    assert suite._met(_result("best", 1.0, dict(best, symgraph=0.39))) == "met"
    # a wrong rival does not set the bar; a wrong symgraph never meets a target
    assert suite._met(_result("best", 1.0, best, wrong={"jax": "x"})) == "met"
    assert suite._met(_result("ratio", 9, {"numpy": 1.0, "symgraph": 0.1},
                              wrong={"symgraph": "x"})).startswith("not met")


def test_subprocess_measurements():
    times = suite_proc.import_time("symgraph.backend", 1)
    assert len(times) == 1 and times[0] > 0
    mem = suite_proc.peak_memory("numpy", TINY["memory_n"])
    assert mem["ok"] and mem["output"] == TINY["memory_n"] * 4
    assert mem["extra"] >= 0.9 * mem["output"]  # the output at least is new memory
    rows = suite._sub_rows({"memory": {"numpy": mem}, "import": {"symgraph": times}},
                           ["numpy", "symgraph"])
    assert len(rows) == 2 and "x output" in rows[0][1]


def test_cli_rejects_unknown_names():
    with pytest.raises(SystemExit):
        suite.main(["--only", "nonsense"])
    with pytest.raises(SystemExit):
        suite.main(["--engines", "tensorflow"])


def test_profiles_script_runs(capsys):
    """benchmarks/profiles.py (the profiles behind docs/performance-profiles.md) runs."""
    import profiles

    profiles.build_cost(200)
    profiles.compile_phases(runs=1)
    out = capsys.readouterr().out
    assert "us/op" in out and "numba CPU target init" in out and "same cache dirs" in out
