"""A text description of a loaded graph file: what ``symgraph info`` prints."""

from __future__ import annotations

from collections import defaultdict

from ..core.shapes import shape_str


def parameter_count(fn) -> int:
    """Elements held by the variables a function reads."""
    return sum(int(s.node.value.size) for s in fn.plan.steps if s.kind == "variable")


def describe(fn, label: str = "") -> str:
    """Inputs, outputs, parameter count and a per-name-scope table of a Function.

    Args:
        fn: a compiled Function (for instance what :func:`symgraph.load` returns).
        label: a title line (the file name).

    Returns:
        The text, several lines.
    """
    fn = getattr(fn, "fn", fn)
    lines = [label] if label else []
    lines.append("inputs:")
    lines += [f"  {t.name:<30} {shape_str(t.shape):<18} {t.dtype}" for t in fn.inputs] or \
        ["  (none)"]
    lines.append("outputs:")
    lines += [f"  {t.name:<30} {shape_str(t.shape):<18} {t.dtype}" for t in fn.outputs]
    if fn.updates or fn.update_ops:
        lines.append(f"updates: {len(fn.updates) + len(fn.update_ops)} (a training step)")
    variables = [s.node for s in fn.plan.steps if s.kind == "variable"]
    params = parameter_count(fn)
    nbytes = sum(int(v.value.nbytes) for v in variables)
    lines.append(f"parameters: {params:,} in {len(variables)} variables ({_bytes(nbytes)})")
    lines.append(f"plan: {len(fn.plan.steps)} steps, {fn.n_kernels} kernels")
    rows: dict[str, list] = defaultdict(lambda: [0, 0, 0])
    for step in fn.plan.steps:
        node = step.node
        scope = node.name.rpartition("/")[0] or "(top level)"
        row = rows[scope.split("/")[0] if scope != "(top level)" else scope]
        row[0] += 1 + max(len(step.members) - 1, 0)
        if step.kind == "variable":
            row[1] += int(node.value.size)
            row[2] += int(node.value.nbytes)
    width = max([len("name scope")] + [len(k) for k in rows])
    lines.append("")
    lines.append(f"{'name scope':<{width}}  {'nodes':>6}  {'parameters':>12}  {'bytes':>10}")
    for scope, (count, p, b) in rows.items():
        lines.append(f"{scope:<{width}}  {count:>6}  {p:>12,}  {_bytes(b):>10}")
    return "\n".join(lines)


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
