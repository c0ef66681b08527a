"""Where a call's time goes: the median seconds of each kernel of a compiled function.

``Function.profile(inputs, repeat)`` is a thin method over :func:`profile`. It runs the
plan through a *profiling runner*: the same generated runner ordinary calls use (the
same bound launchers, the same memory plan), built once more with a timer around each
kernel step. Ordinary calls never see the timers: their runner is built without them.
"""

from __future__ import annotations

import statistics

from .view import plan_kernels


def profile(fn, inputs, repeat: int = 5) -> dict[str, float]:
    """Median seconds per kernel of ``fn`` over ``repeat`` calls on ``inputs``.

    One untimed call comes first (numba compiles or loads each loop on its first
    call). Update values are computed but not assigned, so profiling leaves the
    variables as they were (random ops do advance their draw counters).

    Args:
        fn: a compiled Function (or ``K.function``'s wrapper).
        inputs: the arrays to feed, as for a call (a list, one per input).
        repeat: how many timed calls the medians are over (at least 1).

    Returns:
        Kernel name (``'k0'``, ``'k1'``..., as in ``fn.kernels()``; for a function
        whose rank-0 bool inputs pick branches, as in
        ``fn.branch_for(inputs).kernels()``) -> seconds, in plan order.

    Example:
        >>> import numpy as np, symgraph.backend as K
        >>> x = K.placeholder((None, 100))
        >>> f = K.function([x], [K.sum(K.exp(x), axis=1) * 2.0])
        >>> times = profile(f, [np.ones((64, 100), np.float32)], repeat=3)
        >>> list(times) == [k.name for k in f.kernels()], all(t > 0 for t in times.values())
        (True, True)
    """
    from ..runtime.feeds import check_feed
    from ..runtime.runner import build_runner

    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    fn = getattr(fn, "fn", fn)
    fn = fn.branch_for(inputs)  # what a call with these inputs runs
    values = fn._as_input_list(inputs) if type(inputs) is not list else inputs
    if len(values) != len(fn.inputs):
        raise ValueError(f"this function takes {len(fn.inputs)} inputs, got {len(values)}")
    feeds = [check_feed(ph, v) for ph, v in zip(fn.inputs, values)]
    fed = dict(zip([ph.id for ph in fn.inputs], feeds))
    shapes = fn._concrete_shapes({**fed, **fn._defaults})
    kernels = plan_kernels(fn.plan)
    index_of = {id(step): i for i, step in enumerate(fn.plan.steps)}
    timings = {index_of[id(k.step)]: [] for k in kernels}
    runner = build_runner(fn.plan, shapes, list(fed), {**fn._constants, **fn._defaults},
                          fn._output_specs, fn._kept_ids, timings=timings)
    runner(*feeds)  # warm-up: compiles or loads the loops
    for times in timings.values():
        times.clear()
    for _ in range(repeat):
        runner(*feeds)
    return {k.name: statistics.median(timings[index_of[id(k.step)]]) for k in kernels}
