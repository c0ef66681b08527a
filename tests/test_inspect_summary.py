"""Text inspection: summary tables, kernel listings and sources, memory plans, and the
fused / shared markers of format_graph."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import symgraph
import symgraph.backend as K
from symgraph.inspect import compiled, format_graph, summary, tables, text, view


def _model():
    x = K.placeholder((None, 4), name="x")
    with K.name_scope("dense"):
        w = K.variable(np.ones((4, 3), "float32"), name="kernel")
        h = K.relu(K.dot(x, w) + K.variable(np.zeros(3, "float32"), name="bias"))
    with K.name_scope("head"):
        p = K.softmax(h)
    return x, p


GOLDEN = """\
name   op           output shape  dtype    bytes  params  FLOPs/row  FLOPs/batch  kernel
-----  -----------  ------------  -------  -----  ------  ---------  -----------  ------
x      placeholder  (10, 4)       float32    160       0          0            0
dense  (6 nodes)    (10, 3)       float32    120      15         30          300  k0, k1
head   (1 node)     (10, 3)       float32    120       0         15          150  k2
parameters: 15   FLOPs: 45 per row, 450 per batch of 10   kernels: 3   peak memory of the \
plan: 240 bytes"""


def test_summary_golden_collapsed_by_scope():
    x, p = _model()
    assert str(summary(K.function([x], [p]), batch_size=10)) == GOLDEN


def test_summary_expand_lists_a_scopes_nodes_with_their_kernels():
    x, p = _model()
    f = K.function([x], [p])
    lines = str(summary(f, batch_size=10, expand=True)).splitlines()
    rows = {ln.split()[0]: ln for ln in lines[2:-1]}
    assert {"kernel", "matmul", "bias", "add", "maximum", "softmax"} <= set(rows)
    assert rows["matmul"].split()[-1] == "k0" and "24" in rows["matmul"].split()
    assert rows["maximum"].split()[-1] == "k1" and rows["add"].split()[-1] == "k1"
    only_head = str(summary(f, batch_size=10, expand=["head"]))
    assert "  softmax" in only_head and "  matmul" not in only_head


def test_summary_takes_tensors_lists_functions_and_files(tmp_path):
    x, p = _model()
    path = tmp_path / "m.sg"
    symgraph.save(K.function([x], [p]), path)
    for thing in (p, [p], K.function([x], [p]), K.function([x], p), str(path), path):
        s = summary(thing, batch_size=10)
        assert (s.params, s.flops_row, s.flops_batch, s.kernels) == (15, 45, 450, 3)
    assert summary(path).title == str(path)
    page = summary(p)._repr_html_()
    assert page.startswith("<table") and page.count("<tr>") == 4 and "FLOPs/row" in page


def test_summary_counts_matmul_conv_and_loop_flops(monkeypatch):
    from symgraph import config

    monkeypatch.setattr(config, "_HOIST_LOOPS", [False])  # keep the matmul in the step
    x = K.placeholder((None, 5, 3), name="seq")
    w = K.variable(np.ones((3, 4), "float32"))

    def step(inp, states):
        h = K.tanh(K.dot(inp, w) + states[0])
        return h, [h]

    h0 = K.zeros_like(K.sum(x, axis=1)[:, :1]) * K.zeros((1, 4))
    last, _, _ = K.rnn(step, x, [h0])
    s = summary(last, batch_size=2, expand=True)
    scan = next(r for r in s.rows if r.op == "scan")
    # 5 steps x (matmul 2*2*4*3 + add 8 + tanh 8) at batch 2
    assert scan.flops_batch == 5 * (2 * 2 * 4 * 3 + 8 + 8)
    monkeypatch.setattr(config, "_HOIST_LOOPS", [True])  # the matmul runs before the loop
    last, _, _ = K.rnn(step, x, [h0])
    s = summary(last, batch_size=2, expand=True)
    assert next(r for r in s.rows if r.op == "scan").flops_batch == 5 * (8 + 8)
    assert sum(r.flops_batch for r in s.rows if r.op == "matmul") == 2 * 5 * 2 * 4 * 3
    img = K.placeholder((None, 6, 6, 2))
    conv = K.conv2d(img, K.variable(np.ones((3, 3, 2, 4), "float32")), padding="same")
    row = next(r for r in summary(conv, batch_size=1, expand=True).rows if r.op == "conv")
    assert row.flops_batch == 2 * (6 * 6 * 4) * (3 * 3 * 2)


def test_kernels_and_their_sources():
    x, p = _model()
    f = K.function([x], [p])
    kinds = [(k.name, k.kind, [m.op.name for m in k.members]) for k in f.kernels()]
    assert kinds == [("k0", "matmul (BLAS)", ["matmul"]),
                     ("k1", "fused elementwise", ["add", "maximum"]),
                     ("k2", "kernel", ["softmax"])]
    assert [i.name for i in f.kernels()[1].inputs] == ["dense/matmul", "dense/bias"]
    generic = f.source("k1")
    assert "@njit" in generic and "not run yet" in generic
    f([np.ones((2, 4), "float32")])
    used = f.source(f.kernels()[1])
    assert "not run yet" not in used and "def " in used
    assert f.source("dense/maximum") == used
    assert "BLAS" in f.source(0) and "def " in f.source("k2")
    with pytest.raises(KeyError, match="no kernel 'k9'.*it has 3"):
        f.source("k9")


def test_fused_reductions_have_their_source():
    x = K.placeholder((None, 8))
    f = K.function([x], [K.sum(K.exp(x) * 2.0, axis=1)])
    (k,) = f.kernels()
    assert k.kind == "fused reduction" and [m.op.name for m in k.members] == [
        "exp", "multiply", "sum"]
    assert "@njit" in f.source(k)


def test_memory_plan_lifetimes_reuse_and_peak():
    x = K.placeholder((None, 256), name="x")
    w = K.variable(np.ones((256, 256), "float32"), name="w")
    f = K.function([x], [K.tanh(K.dot(x, w)) * 2.0])
    plan = f.memory_plan(batch_size=128)
    matmul, group = plan.buffers
    assert matmul.nbytes == group.nbytes == 128 * 256 * 4
    assert group.reuses is matmul.node  # dead-buffer reuse: one buffer for both
    assert plan.peak_bytes == 128 * 256 * 4 and plan.output_bytes == 128 * 256 * 4
    assert matmul.dies is not None and group.dies is None
    small = f.memory_plan(batch_size=4)  # below the reuse threshold: two buffers
    assert small.buffers[1].reuses is None and small.peak_bytes == 2 * 4 * 256 * 4
    assert "reuses" in str(plan) and "w" not in [b.node.name for b in plan.buffers]
    assert f.memory_plan([(3, 256)]).input_shapes == [(3, 256)]
    with pytest.raises(ValueError, match="takes 1 inputs"):
        f.memory_plan([(3, 256), (3, 256)])


def test_format_graph_fused_and_shared_markers():
    x, p = _model()
    listing = format_graph(K.function([x], [p]), fused=True)
    assert "dense/maximum: (None, 3) float32 = maximum(dense/add, dense/constant)  [k1]" \
        in listing
    assert listing.splitlines()[-1].startswith("kernels: k0 matmul (BLAS) [matmul]")
    y = K.exp(x)
    assert "# shared by 2" in format_graph(y * y)
    assert "# shared" not in format_graph(y * y, shared=False)


@pytest.mark.parametrize("module", [view, compiled, tables, text])
def test_docstring_examples_run(module):
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags)
    assert result.failed == 0 and result.attempted > 0


def test_the_inspecting_guide_shows_what_the_code_prints():
    """docs/inspecting.md: its model, then its three text blocks, exactly."""
    import re
    from pathlib import Path

    guide = (Path(__file__).parent.parent / "docs" / "inspecting.md").read_text()
    intro = guide.split("## Summaries")[0]
    (code,) = re.findall(r"```python\n(.*?)```", intro, flags=re.S)
    scope: dict = {}
    exec(compile(code, "docs/inspecting.md", "exec"), scope)
    f = scope["f"]
    text = guide.split("## Summaries")[1].split("## Pictures")[0]
    blocks = re.findall(r"^```\n(.*?)\n```$", text, flags=re.S | re.M)
    assert blocks == [str(summary(f, batch_size=10)), format_graph(f, fused=True),
                      str(f.memory_plan(batch_size=10))]


def test_jupyter_shows_functions_as_their_summary():
    x, p = _model()
    f = K.function([x], [p])
    assert f._repr_html_() == summary(f)._repr_html_()
    assert K.function([x], p)._repr_html_().startswith("<table")
