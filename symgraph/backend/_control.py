"""Symbolic loops with TF 2.2 ``tf.keras.backend`` semantics: ``rnn``, ``map_fn``,
``foldl`` and ``foldr``.

Each builds one ``scan`` node (see :mod:`symgraph.ops.control`): the Python function
is called once, on placeholders, and the graph it builds runs once per step when the
loop is evaluated. Loop lengths may be unknown (``None``) until run time. Anything the
function reads from outside (weights, variables, other nodes), and anything it
computes from those alone, is computed once per call, outside the loop.

All four are differentiable (``K.gradients``) with respect to the sequences, the
initial states / initializer, the constants and every outer tensor the function reads
(weights), with masks, ``go_backwards``, ``time_major`` and unknown lengths: the
gradient runs a reverse loop over the steps (see :mod:`symgraph.ops.control`); an
unrolled ``rnn`` differentiates through its ordinary ops. Random draws inside the
function (dropout) are saved by the forward loop and reused by the gradient.
"""

from __future__ import annotations

import builtins

from .. import ops
from ..core import dtypes as _dtypes
from ..core.tensor import Tensor
from ..errors import DTypeError, GraphError, ShapeError, op_error
from ..ops.control import check_new_states, scan
from ._shape import stack

_py_slice = builtins.slice


# -- helpers ---------------------------------------------------------------------------
def _flatten(value, what: str) -> tuple[list, type | None]:
    """A tensor or a list/tuple of tensors as a flat list, and the container type."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise GraphError(f"{what} is an empty {type(value).__name__}")
        return [ops.as_tensor(v) for v in value], type(value)
    if value is None:
        raise GraphError(f"{what} is None; expected a tensor or a list of tensors")
    return [ops.as_tensor(value)], None


def _pack(flat: list, container):
    return flat[0] if container is None else container(flat)


def _swap01(x: Tensor) -> Tensor:
    perm = (1, 0, *range(2, len(x.shape)))
    return ops.transpose(x, perm)


def _reversed0(x: Tensor) -> Tensor:
    return ops.getitem(x, _py_slice(None, None, -1))


def _static_length(kind: str, seqs: list) -> int | None:
    length = None
    for s in seqs:
        d = s.shape[0]
        if d is not None:
            if length is not None and d != length:
                raise op_error(ShapeError, kind, seqs,
                               f"the sequences have different lengths ({length} and {d})")
            length = d
    return length


def _expand_mask(mask_t: Tensor, value: Tensor) -> Tensor:
    """A ``(batch,)`` bool mask reshaped to broadcast against ``value`` (batch, ...)."""
    if value.shape is None:
        raise op_error(ShapeError, "rnn", [value], "masking needs outputs and states of "
                       "known rank")
    extra = len(value.shape) - 1
    if extra <= 0:
        return mask_t
    return ops.reshape(mask_t, (((0, 0),), *([1] * extra)))


def _call_step(step_function, x_t: list, in_container, states: list, constants: list):
    """Call a Keras step function; return (flat outputs, output container, new states)."""
    result = step_function(_pack(x_t, in_container), list(states) + list(constants))
    if not isinstance(result, (list, tuple)) or len(result) != 2:
        raise GraphError("rnn: the step function must return (output, new_states), got "
                         f"{type(result).__name__}")
    output, new_states = result
    outs, out_container = _flatten(output, "the step function's output")
    if isinstance(new_states, (list, tuple)):
        new_states = [ops.as_tensor(s) for s in new_states]
    else:
        new_states = [ops.as_tensor(new_states)]
    return outs, out_container, new_states


# -- rnn -------------------------------------------------------------------------------
def rnn(step_function, inputs, initial_states, go_backwards: bool = False, mask=None,
        constants=None, unroll: bool = False, input_length=None, time_major: bool = False,
        zero_output_for_mask: bool = False):
    """Iterate over the time dimension of a tensor (TF 2.2 ``K.rnn``).

    Args:
        step_function: ``step_function(input_t, states + constants) ->
            (output_t, new_states)``. ``input_t`` is ``inputs`` at one time step
            (``(batch, ...)``; a list if ``inputs`` is a list), ``states`` a list of
            tensors, ``new_states`` a list of as many tensors with the states' shapes
            and dtypes. Called once, on placeholders: it builds the graph of one step.
        inputs: a tensor ``(batch, time, ...)`` of rank >= 3 (``(time, batch, ...)``
            when ``time_major``), or a list of such tensors.
        initial_states: list of tensors ``(batch, ...)``, the states before step 0.
        go_backwards: process the time steps in reverse order.
        mask: ``(batch, time)`` tensor (``(time, batch)`` when ``time_major``), cast
            to bool. Where it is False, the states are carried over unchanged and the
            output repeats the previous output (zeros before the first step), or is
            zeros when ``zero_output_for_mask``.
        constants: list of tensors passed to every step after the states.
        unroll: build a graph with one copy of the step per time step (needs a static
            time length) instead of one loop node. Both give the same results.
        input_length: informational (the static time length is read from ``inputs``).
        time_major: ``inputs`` and ``mask`` put time first.
        zero_output_for_mask: masked steps output zeros instead of repeating.

    Gradients flow to ``inputs``, ``initial_states``, ``constants`` and the tensors the
    step function reads (not to ``mask``); a rolled loop saves each step's states for
    them (memory: time steps x states).

    Masking without states is allowed (TF 2.2 refuses it in its while-loop path
    only). With ``go_backwards``, ``zero_output_for_mask`` zeroes the outputs of the
    masked steps in processing order, rolled or unrolled (TF 2.2's unrolled path
    applies the unreversed mask there, which disagrees with its own loop path).

    Returns:
        ``(last_output, outputs, new_states)``: the output of the last step
        ``(batch, ...)``; every step's output ``(batch, time, ...)`` (``(time, batch,
        ...)`` when ``time_major``) in **processing order** (reversed in time with
        ``go_backwards``); the list of states after the last step.

    Raises:
        ValueError: rank < 3 inputs, ``unroll`` without a static time length, a time
            length of 0 (at build time when static, else when run), or a step
            function whose new states differ in number, shape or dtype (TypeError).

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> x = K.placeholder((None, None, 1))  # (batch, time, features)
        >>> def step(x_t, states):
        ...     total = states[0] + x_t
        ...     return total * 10.0, [total]
        >>> last, outputs, states = K.rnn(step, x, [K.zeros((1, 1))])
        >>> f = K.function([x], [last, outputs, states[0]])
        >>> last_v, outputs_v, state_v = f([np.array([[[1.0], [2.0], [3.0]]])])
        >>> outputs_v.ravel()
        array([10., 30., 60.], dtype=float32)
        >>> last_v.ravel(), state_v.ravel()
        (array([60.], dtype=float32), array([6.], dtype=float32))
    """
    del input_length  # informational, as in TF 2.2's loop (lengths come from inputs)
    flat_inputs, in_container = _flatten(inputs, "rnn inputs")
    for x in flat_inputs:
        if x.shape is None or len(x.shape) < 3:
            raise op_error(ShapeError, "rnn", flat_inputs,
                           "inputs need rank >= 3: (batch, time, ...) or, time_major, "
                           "(time, batch, ...)")
    if initial_states is None:
        states = []
    elif isinstance(initial_states, Tensor):
        states = [initial_states]
    else:
        states = [ops.as_tensor(s) for s in initial_states]
    if isinstance(constants, Tensor):
        constants = [constants]
    constants = [ops.as_tensor(c) for c in (constants or [])]
    seqs = list(flat_inputs) if time_major else [_swap01(x) for x in flat_inputs]
    steps = _static_length("rnn", seqs)
    mask_tm = None
    if mask is not None:
        mask = ops.as_tensor(mask)
        if mask.dtype != "bool":
            mask = ops.cast(mask, "bool")
        if mask.shape is None or len(mask.shape) != 2:
            raise op_error(ShapeError, "rnn", [*flat_inputs, mask],
                           "the mask must have shape (batch, time) ((time, batch) when "
                           "time_major)")
        mask_tm = mask if time_major else ops.transpose(mask, (1, 0))
        for a, b in zip(mask_tm.shape, seqs[0].shape[:2]):
            if a is not None and b is not None and a != b:
                raise op_error(ShapeError, "rnn", [*flat_inputs, mask],
                               "the mask's (batch, time) dims differ from the inputs'")
    if go_backwards:
        seqs = [_reversed0(s) for s in seqs]
        mask_tm = None if mask_tm is None else _reversed0(mask_tm)
    if steps == 0:
        raise op_error(ShapeError, "rnn", flat_inputs,
                       "the inputs have 0 time steps; rnn needs at least one")
    everything = [*flat_inputs, *states]
    container = []  # the step output's container type, recorded by the first call
    uses_phase = []  # [True] once a step's output or state depends on the learning phase

    def one_step(x_t, mask_t, old_states, prev_outputs):
        outs, out_container, new_states = _call_step(step_function, x_t, in_container,
                                                     old_states, constants)
        container[:] = [out_container]
        if any(getattr(t, "_uses_learning_phase", False) for t in [*outs, *new_states]):
            uses_phase[:] = [True]  # a dropout in the step: Keras 2 asks the outputs
        check_new_states("rnn", old_states, new_states, everything)
        if mask_t is not None:
            if zero_output_for_mask:
                outs = [ops.where(_expand_mask(mask_t, o), o, 0) for o in outs]
            else:
                prev = prev_outputs or [ops.fill_like(o, 0) for o in outs]
                outs = [ops.where(_expand_mask(mask_t, o), o, p) for o, p in zip(outs, prev)]
            new_states = [ops.where(_expand_mask(mask_t, n), n, s)
                          for n, s in zip(new_states, old_states)]
        return outs, new_states

    if unroll:
        if steps is None:
            raise op_error(ShapeError, "rnn", flat_inputs,
                           "Unrolling requires a fixed number of timesteps.")
        per_step, current, prev = [], states, None
        for t in range(steps):
            mask_t = None if mask_tm is None else mask_tm[t]
            prev, current = one_step([s[t] for s in seqs], mask_t, current, prev)
            per_step.append(prev)
        outputs_tm = [stack([o[k] for o in per_step], axis=0)
                      for k in range(len(per_step[0]))]
        new_states = list(current)
    else:
        carry_prev = mask_tm is not None and not zero_output_for_mask
        prev_init = []
        if carry_prev:  # zeros shaped like a step's output (only its shape is computed)
            outs0, _, _ = _call_step(step_function, [s[0] for s in seqs], in_container,
                                     states, constants)
            prev_init = [ops.fill_like(o, 0) for o in outs0]
        n_in, n_states = len(seqs), len(states)

        def body(seq_phs, state_phs):
            mask_t = seq_phs[n_in] if mask_tm is not None else None
            prev = state_phs[n_states:] if carry_prev else None
            outs, new_states = one_step(seq_phs[:n_in], mask_t, state_phs[:n_states], prev)
            return outs, new_states + (outs if carry_prev else [])

        loop_seqs = seqs + ([mask_tm] if mask_tm is not None else [])
        outputs_tm, finals = scan("rnn", body, loop_seqs, states + prev_init, min_steps=1)
        new_states = finals[:n_states]
    last_output = [ops.getitem(o, -1) for o in outputs_tm]
    outputs = outputs_tm if time_major else [_swap01(o) for o in outputs_tm]
    out_container = container[0]
    if uses_phase:  # as Keras's own backends mark K.rnn's results
        for t in [*last_output, *outputs, *new_states]:
            t._uses_learning_phase = True
    return _pack(last_output, out_container), _pack(outputs, out_container), new_states


# -- map_fn / foldl / foldr ----------------------------------------------------------------
def _sequences(kind: str, elems) -> tuple[list, type | None]:
    flat, container = _flatten(elems, f"{kind} elems")
    for e in flat:
        if e.shape is None or len(e.shape) == 0:
            raise op_error(ShapeError, kind, flat,
                           "elems must have a known rank >= 1 (the loop runs over axis 0)")
    return flat, container


def map_fn(fn, elems, name: str | None = None, dtype=None):
    """Map ``fn`` over axis 0 of ``elems`` and stack the results (TF 2.2 ``K.map_fn``).

    Args:
        fn: called once, on a placeholder for one slice ``elems[i]`` (a tuple/list of
            slices when ``elems`` is a tuple/list); returns a tensor (or a list of
            tensors) built from backend ops.
        elems: a tensor (or a list/tuple of tensors of the same length) to map over.
        name: name of the loop node.
        dtype: the dtype of ``fn``'s result (a list for several results) when it
            differs from ``elems``'s; a result of another dtype is an error, as in TF.

    Returns:
        ``fn``'s results stacked along a new axis 0 (a list for several results). An
        empty ``elems`` gives an empty result of shape ``(0, *result_shape)``.

    Example:
        >>> import symgraph.backend as K
        >>> x = K.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        >>> K.eval(K.map_fn(lambda row: K.sum(row * row), x))
        array([ 5., 25., 61.], dtype=float32)
        >>> K.eval(K.map_fn(lambda row: K.argmax(row), x, dtype='int64'))
        array([1, 1, 1])
    """
    flat, container = _sequences("map_fn", elems)
    if dtype is None:
        expected = [e.dtype for e in flat]
        source = "elems"
    else:
        expected = [_dtypes.normalize(d) for d in
                    (dtype if isinstance(dtype, (list, tuple)) else [dtype])]
        source = "dtype"
    result_container = []

    def body(seq_phs, state_phs):
        outs, out_container = _flatten(fn(_pack(seq_phs, container)), "map_fn's fn result")
        result_container[:] = [out_container]
        if len(outs) != len(expected):
            raise op_error(GraphError, "map_fn", flat,
                           f"fn returned {len(outs)} tensor(s), but {source} declares "
                           f"{len(expected)} (pass dtype= for a different structure)")
        for k, (o, want) in enumerate(zip(outs, expected)):
            if o.dtype != want:
                raise op_error(DTypeError, "map_fn", flat,
                               f"fn's result {k} has dtype {o.dtype}, but {source} declares "
                               f"{want} (pass dtype='{o.dtype}' to map to another dtype)")
        return outs, []

    ys, _ = scan("map_fn", body, flat, [], name=name)
    return _pack(ys, result_container[0])


def _fold(kind: str, fn, elems, initializer, name, reverse: bool):
    flat, container = _sequences(kind, elems)
    if initializer is None:
        length = _static_length(kind, flat)
        if length == 0:
            raise op_error(ShapeError, kind, flat,
                           "elems is empty and there is no initializer to return")
        first = -1 if reverse else 0
        acc, acc_container = [ops.getitem(e, first) for e in flat], container
        rest = _py_slice(-2, None, -1) if reverse else _py_slice(1, None)
        seqs = [ops.getitem(e, rest) for e in flat]
    else:
        acc, acc_container = _flatten(initializer, f"{kind} initializer")
        seqs = [_reversed0(e) for e in flat] if reverse else flat

    def body(seq_phs, state_phs):
        new = fn(_pack(state_phs, acc_container), _pack(seq_phs, container))
        if isinstance(new, (list, tuple)):
            new = [ops.as_tensor(t) for t in new]
        else:
            new = [ops.as_tensor(new)]
        check_new_states(kind, state_phs, new, flat + acc, what="accumulator")
        return [], new

    _, finals = scan(kind, body, seqs, acc, name=name, what="accumulator")
    return _pack(finals, acc_container)


def foldl(fn, elems, initializer=None, name: str | None = None):
    """Reduce ``elems`` along axis 0 from the front: ``acc = fn(acc, elems[i])``.

    Args:
        fn: ``fn(accumulator, item) -> new accumulator`` with the accumulator's shape
            and dtype (called once, on placeholders).
        elems: a tensor (or a list/tuple of tensors of the same length).
        initializer: the first accumulator; ``None`` starts from ``elems[0]`` and
            folds the rest.
        name: name of the loop node.

    Returns:
        The last accumulator (the initializer itself when ``elems`` is empty; an empty
        ``elems`` without an initializer is an error).

    Example:
        >>> import symgraph.backend as K
        >>> x = K.constant([1.0, 2.0, 3.0])
        >>> K.eval(K.foldl(lambda acc, v: acc * 10.0 + v, x))
        array(123., dtype=float32)
        >>> K.eval(K.foldl(lambda acc, v: acc - v, x, initializer=K.constant(10.0)))
        array(4., dtype=float32)
    """
    return _fold("foldl", fn, elems, initializer, name, reverse=False)


def foldr(fn, elems, initializer=None, name: str | None = None):
    """Reduce ``elems`` along axis 0 from the back: ``acc = fn(acc, elems[i])`` for
    ``i`` from last to first.

    Args:
        fn: ``fn(accumulator, item) -> new accumulator`` with the accumulator's shape
            and dtype (called once, on placeholders).
        elems: a tensor (or a list/tuple of tensors of the same length).
        initializer: the first accumulator; ``None`` starts from ``elems[-1]`` and
            folds the rest.
        name: name of the loop node.

    Returns:
        The last accumulator (the initializer itself when ``elems`` is empty).

    Example:
        >>> import symgraph.backend as K
        >>> x = K.constant([1.0, 2.0, 3.0])
        >>> K.eval(K.foldr(lambda acc, v: acc * 10.0 + v, x))
        array(321., dtype=float32)
    """
    return _fold("foldr", fn, elems, initializer, name, reverse=True)
