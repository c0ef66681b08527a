"""A text description of a loaded graph file: what ``symgraph info`` prints."""

from __future__ import annotations

from ..core.shapes import shape_str


def parameter_count(fn) -> int:
    """Elements held by the variables a function reads."""
    return sum(int(s.node.value.size) for s in fn.plan.steps if s.kind == "variable")


def describe(fn, label: str = "") -> str:
    """Inputs, outputs, parameter count and the summary table (by name scope) of a Function.

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
    from ..inspect import summary  # the same table as `symgraph summary FILE`

    lines += ["", "by name scope (a batch of 32):", str(summary(fn, batch_size=32))]
    return "\n".join(lines)


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
