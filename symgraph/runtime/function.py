"""Compiled functions: ``K.function(inputs, outputs)`` and what ``K.eval`` runs.

A :class:`Function` compiles its plan once. A call validates the feeds, finds the
concrete shape of every needed node (cached per distinct set of fed shapes, so a
new batch size costs one pass of shape rules and never a recompile), runs the
steps, frees each intermediate after its last use, and returns NumPy arrays. All
call state is local, so several threads can call one function at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from .. import config
from ..compiler.branches import select_branches, selector_inputs
from ..compiler.passes import DEFAULT_PASSES
from ..compiler.plan import compile_plan
from ..core import services
from ..core.shapes import dims_compatible, is_fully_known, shape_str
from ..core.tensor import Placeholder, Tensor, Variable
from ..errors import FeedError, GraphError, ShapeError, created_at, docs_hint
from ..ops import dims
from .feeds import check_feed
from .runner import LAUNCHES, build_entry, build_runner, owned_values
from .shapes import Shaped, concrete_shapes
from .tiered import TierUp, in_compile_thread, in_interpreter, tier_zero_allowed, tier_zero_runner

__all__ = ["LAUNCHES", "Function", "function"]

_SHAPE_CACHE_LIMIT = 64


class Function:
    """A compiled graph: call it with a list of arrays, one per input placeholder.

    Args:
        inputs: placeholders, fed in this order on every call.
        outputs: tensors to compute (a single tensor gives a single-item list).
        updates: ``(variable, new_value)`` pairs or update ops (``K.update``,
            ``K.update_add``...), computed from the values before the call and
            assigned after the outputs are computed.
        name: a label for inspection.
        fuse: fuse elementwise chains into single loops (off only to test fusion).
        inner: the step function of a loop op: interpreted (tier 0) only while the
            function calling it is, and compiled when that function's kernels are
            (``runtime.tiered``), never on a schedule of its own.

    Example:
        >>> import numpy as np, symgraph.backend as K
        >>> x = K.placeholder(shape=(None, 3))
        >>> f = Function([x], [x * 2.0, K.sum(x, axis=1)])
        >>> f([np.ones((2, 3), "float32")])
        [array([[2., 2., 2.],
               [2., 2., 2.]], dtype=float32), array([3., 3.], dtype=float32)]
    """

    def __init__(self, inputs, outputs, updates=None, name: str | None = None,
                 fuse: bool = True, passes=None, inner: bool = False,
                 selected: dict | None = None):
        self.inputs = list(inputs or [])
        self.outputs = list(outputs)
        self.name = name
        self.fuse = fuse
        self.passes = None if passes is None else tuple(passes)
        for t in self.inputs:
            if not isinstance(t, Placeholder):
                raise GraphError(f"K.function inputs must be placeholders, got {t!r}")
        if len({t.id for t in self.inputs}) != len(self.inputs):
            raise GraphError("K.function inputs contain the same placeholder twice")
        for t in self.outputs:
            if not isinstance(t, Tensor):
                raise GraphError(f"K.function outputs must be tensors, got {type(t).__name__}")
        self.updates = []
        update_ops = []  # K.update* nodes: applied like any assign the plan reaches
        for pair in updates or []:
            if isinstance(pair, Tensor):  # an update op (or a node ordered after one)
                update_ops.append(pair)
                continue
            try:
                var, value = pair
            except (TypeError, ValueError):
                raise GraphError(
                    f"an update must be a (variable, new_value) pair, got {pair!r}") from None
            if not isinstance(var, Variable):
                raise GraphError(f"update target must be a variable, got {var!r}")
            value = _as_update_value(value, var)
            self.updates.append((var, value))
        self.update_ops = update_ops
        targets = self.outputs + [v for _, v in self.updates] + update_ops
        graphs = {t.graph for t in targets + self.inputs}
        if len(graphs) > 1:
            raise GraphError("K.function got tensors from different graphs "
                             "(some were created before K.clear_session()?)")
        self.graph = graphs.pop() if graphs else None
        passes = DEFAULT_PASSES if passes is None else tuple(passes)
        self._selected = selected
        if selected:  # a branch of a function with selector inputs: see branch_for
            targets = select_branches(targets, selected)
        self._targets = targets
        self.plan = compile_plan(targets, fuse_elementwise=fuse, passes=passes)
        # update ops (K.update*, reached from the outputs or updates) take effect
        # after the call; their values must survive the memory plan
        assigns = [s.node for s in self.plan.steps if s.node.op.name == "assign"]
        target_ids = {t.id for t in self.plan.outputs}
        if any(a.id not in target_ids for a in assigns):
            targets = targets + [a for a in assigns if a.id not in target_ids]
            self.plan = compile_plan(targets, fuse_elementwise=fuse, passes=passes)
        # rank-0 bool inputs that pick whole branches (K.in_train_phase): each value
        # they are fed gets a plan computing only its branches (compiler.branches)
        self._selectors = [] if selected is not None else selector_inputs(self.inputs,
                                                                         targets)
        self._branches: dict[tuple, Function] = {}
        self._assigns = assigns
        # what each output / update value became after the graph passes
        rewritten = self.plan.outputs
        self._output_nodes = rewritten[:len(self.outputs)]
        self._update_nodes = rewritten[len(self.outputs):len(self.outputs) + len(self.updates)]
        fed = {t.id for t in self.inputs}
        self._defaults = {}
        for ph in self.plan.placeholders:
            if ph.id not in fed and ph.default is not None:
                self._defaults[ph.id] = ph.default
            elif ph.id not in fed:
                needed_by = ", ".join(f"'{t.name}'" for t in self.outputs[:3])
                raise FeedError(
                    f"placeholder '{ph.name}' (shape {shape_str(ph.shape)}, {ph.dtype})"
                    f"{created_at(ph)} must be fed to compute {needed_by}; "
                    f"pass it in the inputs of K.function; {docs_hint('errors', 'feeds')}")
        self._prepared: dict[tuple, object] = {}  # feed shapes -> generated runner
        self._constants = {s.node.id: s.node.value for s in self.plan.steps
                           if s.kind == "constant"}
        self._owned = owned_values(self.plan.steps)
        self._feed_specs = [(ph, np.dtype(ph.dtype), ph.shape) for ph in self.inputs]
        self._static_runner = None  # the runner, when every input's shape is known
        self._entry = None  # its checked fast entry, when a call updates nothing
        # how each output leaves a call: as it is (a fresh buffer of the call), as it
        # is unless read-only (an op's result), or copied (a view of stored data)
        fresh = {s.node.id for s in self.plan.steps if s.kind in ("group", "fill")}
        self._output_specs = [
            (t.id, "fresh" if t.id in fresh else "owned" if t.id in self._owned else "copy",
             np.dtype(t.dtype)) for t in self._output_nodes]
        self._kept_ids = [t.id for t in self._update_nodes] + [a.id for a in self._assigns]
        self._init_value_shapes()
        self._output_ids = {t.id for t in self._output_nodes} | \
            {t.id for t in self._update_nodes}
        # tier 0 (runtime.tiered): the first calls interpret the plan with NumPy while
        # a background thread compiles the kernels; not inside a compile thread (loop
        # bodies compiled there compile at once)
        self._tier = TierUp(self._install) if (
            config.tiered() and tier_zero_allowed(self.plan) and not in_compile_thread()) \
            else None
        self._interpreters: dict[tuple, object] = {}  # feed shapes -> tier-0 runner
        self._inner = inner

    @property
    def n_kernels(self) -> int:
        """How many kernels (fused loops, reductions, BLAS calls...) a call runs.

        Example:
            >>> import symgraph.backend as K
            >>> x = K.placeholder(shape=(None, 3))
            >>> K.function([x], [K.sum(K.exp(x) * 2.0, axis=1)]).n_kernels  # one fused loop
            1
        """
        return self.plan.n_kernels

    # -- calling ----------------------------------------------------------------------
    def __call__(self, inputs=None) -> list:
        """Run the function: feed the inputs, return the outputs, apply the updates.

        Args:
            inputs: one array (or array-like) per input placeholder, in order: a list
                or tuple, a dict mapping placeholders to arrays, or one array for a
                one-input function; ``None`` when there are no inputs.

        Returns:
            A list of NumPy arrays, one per output. Updates are applied after the
            outputs are computed, all from the values before the call.

        Raises:
            FeedError: a placeholder not fed, or fed an array of the wrong shape or
                dtype (checked before any kernel runs).

        Example:
            >>> import numpy as np, symgraph.backend as K
            >>> x = K.placeholder(shape=(None, 2))
            >>> f = K.function([x], [x + 1.0])
            >>> f([np.zeros((1, 2), "float32")]), f({x: [[1.0, 2.0]]})
            ([array([[1., 1.]], dtype=float32)], [array([[2., 3.]], dtype=float32)])
        """
        entry = self._entry
        if entry is not None:
            outputs = entry(inputs)
            if outputs is not None:
                return outputs
        if self._selectors:
            branch = self.branch_for(inputs)
            if branch is not self:
                return branch(inputs)
        if type(inputs) is not list:
            inputs = self._as_input_list(inputs)
        specs = self._feed_specs
        if len(inputs) != len(specs):
            raise FeedError(f"this function takes {len(self.inputs)} inputs "
                            f"({', '.join(t.name for t in self.inputs)}), got {len(inputs)}; "
                            f"{docs_hint('errors', 'feeds')}")
        feeds = inputs
        for (_ph, dtype, shape), value in zip(specs, inputs):
            # the common case in a few attribute reads; check_feed explains the rest
            if not (type(value) is np.ndarray and value.dtype is dtype and
                    value.shape == shape and value.flags.c_contiguous):
                feeds = [check_feed(p, v) for (p, _, _), v in zip(specs, inputs)]
                runner = self._runner_for(feeds)
                break
        else:  # every feed has its placeholder's static shape
            runner = self._static_runner or self._runner_for(feeds)
        if not self._kept_ids:
            return runner(*feeds)
        # read-compute-assign must not interleave with another updating call, or an
        # update computed from a stale value would overwrite one (a lost update)
        with self.graph.lock:
            results, kept = runner(*feeds)
            n_updates = len(self.updates)
            for (var, _), new in zip(self.updates, kept[:n_updates]):
                var.assign(new)
            # buffers handed to the caller (or their owners) must not become storage
            taken = {id(r) for r in results} | {id(r.base) for r in results}
            for node, value in zip(self._assigns, kept[n_updates:]):
                # a fresh buffer of this call that no output or other variable holds
                take = node.id in self._owned and node.id not in self._output_ids and \
                    id(value) not in taken
                taken.add(id(value))
                node.inputs[0].assign(value, take=take)
        return results

    def branch_for(self, inputs) -> Function:
        """The function that runs for these inputs: for a function with rank-0 bool
        inputs that pick whole branches (``K.switch`` / ``K.in_train_phase`` on
        ``K.learning_phase()``), the one compiled for the values they are fed, which
        computes only the branches those values take; else this function.

        Its ``kernels()``, ``profile()`` and ``summary()`` show what such a call runs
        (this function's show both branches). Compiled on first use and kept.

        Example:
            >>> import numpy as np, symgraph.backend as K
            >>> phase = K.placeholder((), dtype="bool")
            >>> x = K.placeholder((None, 3))
            >>> f = K.function([x, phase], [K.switch(phase, x * 2.0, K.exp(x) + 1.0)])
            >>> f.n_kernels, f.branch_for([np.ones((2, 3), "float32"), True]).n_kernels
            (1, 1)
            >>> f([np.ones((1, 3), "float32"), True])
            [array([[2., 2., 2.]], dtype=float32)]
        """
        if not self._selectors:
            return self
        values = inputs if type(inputs) is list else self._as_input_list(inputs)
        if len(values) != len(self.inputs):
            return self  # the ordinary path raises the feed error
        key = tuple(bool(check_feed(self.inputs[i], values[i])) for i in self._selectors)
        branch = self._branches.get(key)
        if branch is None:
            selected = {self.inputs[i].id: v for i, v in zip(self._selectors, key)}
            branch = self._with(self.outputs, self.updates, self.update_ops, selected)
            self._branches[key] = branch
        return branch

    def _with(self, outputs, updates, update_ops, selected=None) -> Function:
        """A function of the same inputs and options computing these targets."""
        return Function(self.inputs, outputs, list(updates) + list(update_ops), self.name,
                        self.fuse, self.passes, self._inner, selected=selected)

    def _compile_form(self) -> Function:
        """A function computing what this one's plan computes, from its own graph: this
        function, or for a branch (:meth:`branch_for`) one over the selected graph, so
        that a compile child given its graph file builds the same kernels
        (``runtime.compile_worker``; the selection itself needs what only this
        process knows: which nodes ``gradients()`` built)."""
        if not self._selected:
            return self
        n_out, n_up = len(self.outputs), len(self.updates)
        values = self._targets[n_out:n_out + n_up]
        return self._with(self._targets[:n_out],
                          [(var, value) for (var, _), value in zip(self.updates, values)],
                          self._targets[n_out + n_up:n_out + n_up + len(self.update_ops)])

    # -- batched runs (runtime.batch) -------------------------------------------------
    def map(self, batches: Iterable, *, threads: int | None = None,
            progress: bool | None = None, ordered: bool = True) -> Iterator[list]:
        """Call this function on every feed of ``batches``, several at once, and
        iterate over the results.

        Each batch is an ordinary call ``self(feed)``, run on a thread pool (the
        kernels release the GIL). ``batches`` is consumed lazily and at most
        ``2 x threads`` batches are in flight, so a generator of a million batches
        runs in bounded memory. Results are bit-identical to a serial loop
        ``[f(b) for b in batches]`` run with single-threaded BLAS, whatever
        ``threads`` (numba kernels never depend on their thread count; BLAS is kept
        at one thread per call, see ``symgraph.runtime.threads``).

        Args:
            batches: an iterable of feeds, each what ``self(...)`` accepts (a list
                of arrays, one per input, or one array for a one-input function).
            threads: batches run at once (``None``: the cores available,
                ``len(os.sched_getaffinity(0))``). Each call's numba kernels and
                BLAS run on one thread, so ``threads`` is the threads in all and
                the cores are never oversubscribed. A function with updates or random ops runs
                its batches one at a time, in order; ``threads > 1`` is refused.
            progress: a progress bar on stderr counted in rows (dim 0 of each
                feed's first input): ``None`` shows it when stderr is a terminal,
                ``True`` always, ``False`` never. Lists and tuples of feeds show a
                total; other iterables show rows and rows/s.
            ordered: yield results in the order of ``batches`` (``False``: as they
                complete).

        Returns:
            An iterator of what ``self(feed)`` returns for each batch. Closing it
            (``close()``, ``with``, or dropping it after ``break``) runs no further
            batches and stops its threads. An exception of a batch is raised by
            the iterator as it is, with a note naming the batch.

        Raises:
            TypeError: ``batches`` is not iterable (or is one array), or a bad
                ``threads`` / ``ordered``.
            ValueError: ``threads < 1``, or ``threads > 1`` for a function with
                updates or random ops.

        Example:
            >>> import numpy as np
            >>> import symgraph.backend as K
            >>> x = K.placeholder(shape=(None, 3))
            >>> f = K.function([x], [K.sum(x * 2.0, axis=1)])
            >>> feeds = ([np.full((2, 3), i, "float32")] for i in range(3))
            >>> [out[0].tolist() for out in f.map(feeds, threads=2, progress=False)]
            [[0.0, 0.0], [6.0, 6.0], [12.0, 12.0]]
        """
        from .batch import map_batches

        return map_batches(self, batches, threads=threads, progress=progress,
                           ordered=ordered)

    def predict(self, inputs, *, batch_size: int = 1024, threads: int | None = None,
                progress: bool | None = None) -> list:
        """Run this function over arrays split along axis 0, and stack the outputs.

        ``inputs`` are cut into batches of ``batch_size`` rows (the last one may be
        shorter), each an ordinary call ``self(batch)`` on a thread pool; each
        batch's outputs are written straight into result arrays allocated before
        any batch runs (their shapes come from the function's run-time shape
        propagation, which needs no data), so memory is the results plus a few
        batches. Results are bit-identical to a serial loop over the same batches
        run with single-threaded BLAS, whatever ``threads`` (see :meth:`map`).

        Args:
            inputs: one array per input placeholder (a list, a tuple or a dict
                keyed by placeholder), or one array for a one-input function; all
                with the same number of rows.
            batch_size: rows per call (``>= 1``).
            threads: batches run at once (``None``: the cores available); the
                thread policy of :meth:`map`.
            progress: a progress bar in rows (``None``: when stderr is a terminal).

        Returns:
            One array per output, each with the inputs' rows as its dim 0.

        Raises:
            FeedError: no inputs, the wrong number of them, inputs of different
                lengths (naming the placeholder), or a fixed batch dim that the
                batches do not match.
            ShapeError: an output whose dim 0 is not the batch's rows (a mean, a
                variable...); use :meth:`map` for those.
            TypeError, ValueError: a bad ``batch_size`` or ``threads``.

        Example:
            >>> import numpy as np
            >>> import symgraph.backend as K
            >>> x = K.placeholder(shape=(None, 2))
            >>> f = K.function([x], [x + 1.0, K.sum(x, axis=1)])
            >>> plus, sums = f.predict(np.ones((5, 2), "float32"), batch_size=2,
            ...                        progress=False)
            >>> plus.shape, sums.tolist()
            ((5, 2), [2.0, 2.0, 2.0, 2.0, 2.0])
        """
        from .batch import predict

        return predict(self, inputs, batch_size=batch_size, threads=threads,
                       progress=progress)

    def output_shapes(self, input_shapes) -> list[tuple]:
        """Return the shape of each output for inputs of ``input_shapes``, from the
        shape rules alone (the run-time shape propagation of a call): no kernel runs
        and no data is needed.

        Args:
            input_shapes: one shape (a sequence of ints) per input placeholder, in the
                order of ``inputs``.

        Returns:
            One tuple of ints per output, in the order of ``outputs``.

        Raises:
            FeedError: when the number of shapes differs from the inputs, or a shape
                does not fit its placeholder (naming the placeholder).
            ShapeError: when the shapes do not work together (naming the node).

        Example:
            >>> import symgraph.backend as K
            >>> x = K.placeholder(shape=(None, 3))
            >>> f = K.function([x], [K.sum(x, axis=1), K.concatenate([x, x])])
            >>> f.output_shapes([(5, 3)])
            [(5,), (5, 6)]
        """
        input_shapes = list(input_shapes)
        if len(input_shapes) != len(self.inputs):
            raise FeedError(f"this function takes {len(self.inputs)} inputs "
                            f"({', '.join(t.name for t in self.inputs)}), "
                            f"got {len(input_shapes)} shapes")
        fed = {}
        for ph, shape in zip(self.inputs, input_shapes):
            shape = tuple(int(d) for d in shape)
            if any(d < 0 for d in shape) or not dims_compatible(ph.shape, shape):
                raise FeedError(f"placeholder '{ph.name}'{created_at(ph)} expects shape "
                                f"{shape_str(ph.shape)}; got shape {shape_str(shape)}; "
                                f"{docs_hint('errors', 'feeds')}")
            fed[ph.id] = Shaped(shape)  # the shape rules read feeds' shapes only
        shapes = self._concrete_shapes({**fed, **self._defaults})
        return [tuple(shapes[t.id]) for t in self._output_nodes]

    def to_dask(self, *arrays):
        """Lazy dask arrays of the outputs over dask arrays chunked along axis 0, one
        task per chunk (see :func:`symgraph.dask.map_blocks`; needs
        ``pip install 'symgraph[dask]'``).

        Args:
            *arrays: one dask array per input placeholder.

        Returns:
            A list with one dask array per output.

        Example:
            >>> import dask.array as da, symgraph.backend as K
            >>> x = K.placeholder(shape=(None, 3))
            >>> f = K.function([x], [x * 2.0])
            >>> [y] = f.to_dask(da.ones((10, 3), chunks=(4, 3), dtype="float32"))
            >>> y.chunks, y.sum().compute(scheduler="sync")
            (((4, 4, 2), (3,)), np.float32(60.0))
        """
        return services.map_blocks(self, *arrays)  # dask is an optional dependency

    # -- what the compiler made: symgraph.inspect's views, reached through core.services
    # (inspect stands above the runtime) ---------------------------------------------
    def kernels(self) -> list:
        """The compiled plan's kernels in execution order: each fused loop, reduction,
        BLAS call or op kernel with its member nodes, inputs and kind.

        Returns:
            A list of :class:`symgraph.inspect.view.Kernel` (``k0``, ``k1``...).

        Example:
            >>> import symgraph.backend as K
            >>> x = K.placeholder((None, 4))
            >>> f = K.function([x], [K.sum(K.relu(x * 2.0), axis=1)])
            >>> [(k.name, k.kind, [m.op.name for m in k.members]) for k in f.kernels()]
            [('k0', 'fused reduction', ['multiply', 'maximum', 'sum'])]
        """
        return services.plan_kernels(self.plan)

    def source(self, kernel) -> str:
        """The generated numba source of one kernel (a :class:`Kernel`, its index, its
        name ``'k0'`` or the name of the node it stores); for an op's hand-written
        kernel, its Python source.

        Example:
            >>> import symgraph.backend as K
            >>> x = K.placeholder((None, 4))
            >>> "@njit" in K.function([x], [K.exp(x) + 1.0]).source("k0")
            True
        """
        return services.kernel_source(self, kernel)

    def memory_plan(self, input_shapes=None, *, batch_size: int = 1):
        """The buffers one call allocates for these input shapes: sizes, lifetimes
        (plan steps), dead-buffer reuse and the peak bytes; no kernel runs.

        Args:
            input_shapes: one concrete shape per input (default: ``None`` dims set to
                ``batch_size``).
            batch_size: the size of ``None`` dims when ``input_shapes`` is not given.

        Returns:
            A :class:`symgraph.inspect.compiled.MemoryPlan` (``str()`` is a table).

        Example:
            >>> import symgraph.backend as K
            >>> x = K.placeholder((None, 10))
            >>> K.function([x], [K.tanh(x) * 3.0]).memory_plan(batch_size=8).peak_bytes
            320
        """
        return services.memory_plan(self, input_shapes, batch_size)

    def _repr_html_(self) -> str:
        """Jupyter shows a compiled function as its summary table (see
        :func:`symgraph.inspect.summary`; ``symgraph.inspect.show(f)`` opens the view)."""
        return services.summary(self)._repr_html_()

    def profile(self, inputs, repeat: int = 5) -> dict:
        """Median seconds per kernel over ``repeat`` calls on ``inputs`` (a separate,
        timed runner: ordinary calls carry no timer; updates are not applied).

        Returns:
            ``{kernel name: seconds}`` for the kernels of :meth:`kernels`.

        Example:
            >>> import numpy as np, symgraph.backend as K
            >>> x = K.placeholder((None, 4))
            >>> f = K.function([x], [K.exp(x) * 2.0])
            >>> list(f.profile([np.ones((8, 4), "float32")], repeat=2))
            ['k0']
        """
        return services.profile(self, inputs, repeat)

    def _as_input_list(self, inputs) -> list:
        if inputs is None:
            return []
        if isinstance(inputs, dict):
            missing = [t for t in self.inputs if t not in inputs]
            if missing:
                names = ", ".join(f"'{t.name}' {shape_str(t.shape)} {t.dtype}"
                                  f"{created_at(t)}" for t in missing)
                raise FeedError(f"the feed dict has no value for placeholder(s) {names}; "
                                f"{docs_hint('errors', 'feeds')}")
            return [inputs[t] for t in self.inputs]
        if isinstance(inputs, tuple):
            return list(inputs)
        return [inputs]

    def _init_value_shapes(self) -> None:
        """Shapes that depend on data (``("value", ...)`` dim entries): the tensors they
        read are computed first by a function of their own, on every call."""
        sources: dict[int, Tensor] = {}
        self._value_nodes = {}  # node id -> {input index: source id}
        for node in self.plan.shape_order:
            wanted = dims.value_inputs(node.attrs) if node.attrs else ()
            if wanted:
                self._value_nodes[node.id] = {i: node.inputs[i].id for i in wanted}
                for i in wanted:
                    sources[node.inputs[i].id] = node.inputs[i]
        self._value_sources = list(sources.values())
        self._values_fn = None
        if self._value_sources:
            self._values_fn = Function(self.inputs, self._value_sources, fuse=self.fuse,
                                       passes=self.passes)

    def _runner_for(self, feeds: list, compiled: bool = False):
        """The runner for these (checked) feeds' shapes: the compiled one, built once,
        or while that compiles in the background (tier 0), the NumPy interpreter.
        ``compiled``: always the compiled runner (built here if need be)."""
        key = tuple([a.shape for a in feeds])
        values = None
        if self._values_fn is not None:  # data-dependent shapes: values are in the key
            computed = self._values_fn(feeds)
            values = {n.id: v for n, v in zip(self._value_sources, computed)}
            key = (key, tuple(v.tobytes() for v in computed))
        runner = self._prepared.get(key)
        if runner is not None:
            return runner
        tier = self._tier
        if tier is not None and not compiled and not tier.hot and key not in tier.failed \
                and not in_compile_thread() and (not self._inner or in_interpreter()):
            return self._tier_zero(key, feeds, values)
        runner = self._build_compiled(key, feeds, values)
        self._install(key, runner)
        return runner

    def _shapes_for(self, feeds, values):
        """Concrete shapes of every needed node for these (checked) feeds."""
        fed = dict(zip([ph.id for ph in self.inputs], feeds))
        return self._concrete_shapes({**fed, **self._defaults}, values)

    def _build_compiled(self, key, feeds, values):
        runner = build_runner(self.plan, self._shapes_for(feeds, values),
                              [ph.id for ph in self.inputs],
                              {**self._constants, **self._defaults}, self._output_specs,
                              self._kept_ids)
        runner.static = values is None and all(is_fully_known(ph.shape) for ph in self.inputs)
        return runner

    def _install(self, key, runner) -> None:
        """Make ``runner`` the one calls with ``key``'s shapes take from now on."""
        if len(self._prepared) < _SHAPE_CACHE_LIMIT:
            self._prepared[key] = runner
        if runner.static:
            self._static_runner = runner  # the only shapes these feeds can have
            if not self._kept_ids:
                self._entry = build_entry(self._feed_specs, runner)
        self._interpreters.pop(key, None)

    def _tier_zero(self, key, feeds, values):
        """The NumPy interpreter for ``key`` (``runtime.tiered.tier_zero_runner``)."""
        interpreter = self._interpreters.get(key)
        if interpreter is None:
            interpreter = tier_zero_runner(self, key, feeds, values)
            if len(self._interpreters) < _SHAPE_CACHE_LIMIT:
                self._interpreters[key] = interpreter
        return interpreter

    def wait_compiled(self, timeout: float | None = None) -> bool:
        """Wait until the kernels compiling in the background (tier 0, see
        ``symgraph.runtime.tiered``) are swapped in.

        Args:
            timeout: seconds to wait at most (None: as long as it takes).

        Returns:
            True when no compile of this function is running any more.

        Example:
            >>> import numpy as np, symgraph.backend as K
            >>> x = K.placeholder((2,))
            >>> f = K.function([x], [K.exp(x)])
            >>> _ = f([np.zeros(2, 'float32')])
            >>> f.wait_compiled()
            True
        """
        return True if self._tier is None else self._tier.wait(timeout)

    def _concrete_shapes(self, feeds, values: dict | None = None) -> dict:
        """Every needed node's concrete shape for these feeds (``runtime.shapes``)."""
        return concrete_shapes(self.plan, self._value_nodes, feeds, values)


def _as_update_value(value, var):
    from ..ops import as_tensor, cast

    value = as_tensor(value, like=var)
    if value.dtype != var.dtype:
        value = cast(value, var.dtype)
    if value.shape is not None and not dims_compatible(value.shape, var.shape) and \
            value.shape != ():
        raise ShapeError(f"update of variable '{var.name}' {shape_str(var.shape)} with a value "
                         f"of shape {shape_str(value.shape)}; {docs_hint('errors', 'shapes')}")
    return value


def function(inputs, outputs, updates=None, name: str | None = None, **kwargs) -> Function:
    """Compile ``inputs -> outputs`` (see :class:`Function`): ``symgraph.function``,
    the function behind ``K.function``.

    Example:
        >>> import numpy as np, symgraph, symgraph.backend as K
        >>> x = K.placeholder(shape=(None, 3))
        >>> f = symgraph.function([x], [K.relu(x)])
        >>> f([np.array([[-1.0, 2.0, 0.0]], "float32")])
        [array([[0., 2., 0.]], dtype=float32)]
    """
    if kwargs:
        raise ValueError(f"K.function got unsupported arguments: {sorted(kwargs)} "
                         "(TensorFlow session options have no meaning in symgraph)")
    if isinstance(outputs, Tensor):
        return _Single(Function(inputs, [outputs], updates, name))
    return Function(inputs, outputs, updates, name)


class _Single:
    """A function compiled from one output tensor: returns one array, not a list."""

    def __init__(self, fn: Function):
        self.fn = fn

    def __call__(self, inputs=None):
        return self.fn(inputs)[0]

    def to_dask(self, *arrays):
        """The lazy dask array of the one output (see :meth:`Function.to_dask`)."""
        return services.map_blocks(self, *arrays)

    def map(self, batches: Iterable, *, threads: int | None = None,
            progress: bool | None = None, ordered: bool = True) -> Iterator[np.ndarray]:
        """:meth:`Function.map`, yielding one array per batch (not a list)."""
        from .batch import map_batches

        return map_batches(self.fn, batches, threads=threads, progress=progress,
                           ordered=ordered, single=True)

    def predict(self, inputs, *, batch_size: int = 1024, threads: int | None = None,
                progress: bool | None = None) -> np.ndarray:
        """:meth:`Function.predict`, returning one array (not a list)."""
        from .batch import predict

        return predict(self.fn, inputs, batch_size=batch_size, threads=threads,
                       progress=progress, single=True)

    def __getattr__(self, name):
        return getattr(self.fn, name)
