"""Compile outputs into a :class:`Plan`: prune, sort, fuse, generate kernels, and
decide when each intermediate value can be freed. Everything graph-shaped happens
here, once; running a plan does no graph analysis."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.shapes import is_fully_known
from ..core.tensor import Placeholder, Variable
from ..errors import GraphError
from ..ops.registry import ELEMENTWISE, LEAF
from .codegen import CompiledGroup, build_group_spec
from .fuse import fuse_with_reductions, is_scalar_source
from .fused_reduce import CompiledReduceGroup
from .passes import DEFAULT_PASSES, run_passes
from .prune import prune


@dataclass
class Step:
    """One thing the runtime does: produce the value of ``node``."""

    kind: str  # 'placeholder' | 'variable' | 'constant' | 'fill' | 'group' | 'op'
    node: object
    array_inputs: list = field(default_factory=list)  # nodes read as arrays
    scalar_inputs: list = field(default_factory=list)  # nodes read as scalars
    members: list = field(default_factory=list)  # fused nodes (group steps)
    kernel: object = None
    free_after: list = field(default_factory=list)  # node ids dead after this step


@dataclass
class Plan:
    outputs: list
    steps: list
    shape_order: list  # every node whose concrete shape is needed, topologically
    placeholders: list  # placeholders whose value or shape must be fed
    n_kernels: int  # fused elementwise kernels + reductions + other kernels

    def describe(self) -> str:
        """A text listing of the steps and what was fused into each."""
        lines = []
        for s in self.steps:
            if s.kind == "group":
                names = ", ".join(f"{m.op.name}" for m in s.members)
                lines.append(f"{s.node.name}: fused[{names}]")
            else:
                lines.append(f"{s.node.name}: {s.kind} {s.node.op.name}")
        return "\n".join(lines)


def compile_plan(outputs, fuse_elementwise: bool = True, passes=DEFAULT_PASSES) -> Plan:
    """Build the execution plan of ``outputs`` (a list of tensors), after running the
    graph ``passes`` (see ``compiler.passes``). ``Plan.outputs`` are the rewritten
    outputs, in the same order."""
    outputs = run_passes(list(outputs), passes)

    value_nodes, shape_nodes = prune(outputs)
    needed = {**shape_nodes, **value_nodes}
    # A node's inputs exist before it, so ids (creation order) are a topological order,
    # and ascending ids is the lexicographically smallest one: what networkx's
    # lexicographical_topological_sort returns, without importing networkx (~140 ms)
    # on the compile path.
    order = [needed[i] for i in sorted(needed)]
    if any(s.id >= n.id for n in order for s in n.inputs):  # an invariant of Graph.make
        raise GraphError("internal error: a node was created before one of its inputs")
    value_order = [n for n in order if n.id in value_nodes]
    output_ids = {t.id for t in outputs}
    group_of, absorbed = fuse_with_reductions(value_order, value_nodes, output_ids,
                                              enabled=fuse_elementwise)

    data_consumers: dict[int, list] = {}
    for node in value_order:
        for i, src in enumerate(node.inputs):
            if node.op.reads_data(i):
                data_consumers.setdefault(src.id, []).append(node)

    steps: list[Step] = []
    n_kernels = 0
    for node in value_order:
        if node.op.kind == LEAF:
            kind = ("placeholder" if isinstance(node, Placeholder) else
                    "variable" if isinstance(node, Variable) else "constant")
            steps.append(Step(kind, node))
        elif node.op.name == "fill":
            consumers = data_consumers.get(node.id, [])
            if node.id in output_ids or any(c.op.kind != ELEMENTWISE for c in consumers):
                steps.append(Step("fill", node))
        elif node.op.kind == ELEMENTWISE:
            if group_of[node.id] != node.id:
                continue  # computed inside its root's loop
            if node.id not in output_ids and all(
                    c.id in absorbed for c in data_consumers.get(node.id, [])):
                continue  # computed only inside the reductions that absorbed it
            steps.append(_group_step(node, value_order, group_of))
            n_kernels += 1
        elif node.id in absorbed:
            steps.append(_fused_reduce_step(node, absorbed[node.id], value_order, group_of))
            n_kernels += 1
        else:
            steps.append(Step("op", node, array_inputs=[
                src for i, src in enumerate(node.inputs) if node.op.reads_data(i)]))
            if node.op.kind != "view":
                n_kernels += 1
    _plan_frees(steps, output_ids)
    placeholders = [n for n in order if isinstance(n, Placeholder) and
                    (n.id in value_nodes or not is_fully_known(n.shape))]
    return Plan(list(outputs), steps, order, placeholders, n_kernels)


def _group_step(root, value_order, group_of) -> Step:
    members = [n for n in value_order if group_of.get(n.id) == root.id and n.op.name != "fill"]
    arrays, scalars = _external_inputs(members, {m.id for m in members})
    spec = build_group_spec(members, arrays, scalars)
    ndim = None if root.shape is None else len(root.shape)
    return Step("group", root, array_inputs=arrays, scalar_inputs=scalars, members=members,
                kernel=CompiledGroup(spec, ndim, [a.shape for a in arrays]))


def _external_inputs(members, inside: set) -> tuple[list, list]:
    """The nodes a fused loop over ``members`` reads from outside (ids ``inside``), each
    once, in order: ``(arrays read per element, scalar sources)``."""
    arrays, scalars, seen = [], [], set()
    for m in members:
        for src in m.inputs:
            if src.id in inside or src.id in seen:
                continue
            seen.add(src.id)
            (scalars if is_scalar_source(src) else arrays).append(src)
    return arrays, scalars


def _fused_reduce_step(red, src, value_order, group_of) -> Step:
    """A reduction computing its elementwise input ``src`` in its own loop: the members
    are the nodes of ``src``'s group that ``src`` is computed from (itself included)."""
    group = {n.id for n in value_order if group_of.get(n.id) == group_of[src.id]}
    cone, stack = {src.id}, [src]
    while stack:
        for s in stack.pop().inputs:
            if s.id in group and s.id not in cone and s.op.name != "fill":
                cone.add(s.id)
                stack.append(s)
    members = [n for n in value_order if n.id in cone]
    arrays, scalars = _external_inputs(members, cone)
    spec = build_group_spec(members, arrays, scalars)
    kernel = CompiledReduceGroup(spec, red.op.name, red.attrs["axes"], red.attrs["keepdims"],
                                 len(src.shape), red.dtype, [a.shape for a in arrays])
    return Step("group", red, array_inputs=arrays, scalar_inputs=scalars,
                members=[*members, red], kernel=kernel)


def _plan_frees(steps, output_ids) -> None:
    """After each step, list the values no later step reads (memory plan)."""
    last_use: dict[int, int] = {}
    for k, step in enumerate(steps):
        for src in step.array_inputs:
            last_use[src.id] = k
    for node_id, k in last_use.items():
        if node_id not in output_ids:
            steps[k].free_after.append(node_id)

