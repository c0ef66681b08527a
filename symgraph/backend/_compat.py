"""Names from TF1 sessions and older Keras backends, given their honest meaning on a
graph backend without sessions (see docs/api.md, "Session-specific names"):
``get_session``, ``set_session``, ``manual_variable_initialization``,
``v1_variable_initialization``, ``Function``, ``eager``, ``symbolic``,
``is_symbolic``, ``image_dim_ordering``, ``set_image_dim_ordering``.
"""

from __future__ import annotations

import functools

from .. import config
from ..core.tensor import Placeholder, Tensor
from ..runtime import function as _function
from ..runtime.evaluate import evaluate

_STATE = {"manual_init": False, "session": None}


class Session:
    """A TF1-style runner over symgraph graphs: ``run(fetches, feed_dict)`` compiles
    (once per set of fetches and fed placeholders) and calls a ``K.function``."""

    def __init__(self) -> None:
        self._functions: dict = {}

    def run(self, fetches, feed_dict=None):
        """Evaluate ``fetches`` (a tensor or a list/tuple of tensors) with
        ``feed_dict`` mapping placeholders to arrays; returns arrays in the same
        structure."""
        single = isinstance(fetches, Tensor)
        outputs = [fetches] if single else list(fetches)
        feed_dict = dict(feed_dict or {})
        for ph in feed_dict:
            if not isinstance(ph, Placeholder):
                raise TypeError(f"feed_dict keys must be placeholders, got {ph!r}")
        inputs = list(feed_dict)
        key = (tuple(t.id for t in outputs), tuple(t.id for t in inputs),
               outputs[0].graph if outputs else None)
        fn = self._functions.get(key)
        if fn is None:
            fn = self._functions[key] = _function.Function(inputs, outputs)
        values = fn([feed_dict[ph] for ph in inputs])
        if single:
            return values[0]
        return tuple(values) if isinstance(fetches, tuple) else values


def get_session(op_input_list=()) -> Session:
    """The session-like runner: ``get_session().run(fetches, feed_dict)``.

    symgraph has no sessions; this returns a :class:`Session` that evaluates
    fetches with compiled functions, so TF1-style code keeps working. Variables
    hold their values from creation, so there is nothing to initialize.

    Args:
        op_input_list: accepted for TF compatibility (unused: there is one graph).

    Example:
        >>> import symgraph.backend as K
        >>> x = K.placeholder((2,))
        >>> K.get_session().run(x * 2, feed_dict={x: [1., 2.]})
        array([2., 4.], dtype=float32)
    """
    if _STATE["session"] is None:
        _STATE["session"] = Session()
    return _STATE["session"]


def set_session(session: Session) -> None:
    """Make ``session`` (a :class:`Session`) the one :func:`get_session` returns.

    Raises:
        TypeError: for anything else (a ``tf.Session`` has no meaning here).

    Example:
        >>> import symgraph.backend as K
        >>> s = K.get_session()
        >>> K.set_session(s)
        >>> K.get_session() is s
        True
    """
    if not isinstance(session, Session):
        raise TypeError("set_session takes a symgraph Session (see K.get_session); "
                        f"got {type(session).__name__}")
    _STATE["session"] = session


def manual_variable_initialization(value: bool) -> None:
    """Record whether variables should be initialized manually.

    symgraph variables hold data from the moment they are created, so there is no
    initializer to run or skip: the flag is stored (``K.manual_variable_initialization``
    code keeps working) and has no effect on values.

    Example:
        >>> import symgraph.backend as K
        >>> K.manual_variable_initialization(True)
        >>> K.manual_variable_initialization(False)
    """
    _STATE["manual_init"] = bool(value)


def v1_variable_initialization() -> None:
    """Initialize variables not yet initialized. None ever are in symgraph
    (variables hold data from creation), so there is nothing to do.

    Example:
        >>> import symgraph.backend as K
        >>> K.v1_variable_initialization()
    """
    return None


class Function(_function.Function):
    """The class behind :func:`function` (Keras's Theano backend name): compiled
    once, called with a list of arrays, returns a list of arrays.

    Args:
        inputs: placeholders.
        outputs: tensors.
        updates: update ops or ``(variable, new_value)`` pairs.
        name: a label.

    Example:
        >>> import symgraph.backend as K
        >>> x = K.placeholder((None,))
        >>> K.Function([x], [x + 1])([[1., 2.]])
        [array([2., 3.], dtype=float32)]
    """

    def __init__(self, inputs, outputs, updates=(), name: str | None = None, **kwargs):
        if kwargs:
            raise ValueError(f"Function got unsupported arguments: {sorted(kwargs)}")
        super().__init__(inputs, outputs, list(updates or []), name)


def _evaluated(value):
    if isinstance(value, Tensor):
        return evaluate(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_evaluated(v) for v in value)
    return value


def eager(func):
    """Decorator: call ``func`` and evaluate the tensors it returns (lists and
    tuples of them too) into NumPy arrays — symgraph's meaning of "run eagerly".

    Example:
        >>> import symgraph.backend as K
        >>> @K.eager
        ... def double(v):
        ...     return K.constant(v) * 2
        >>> double([1.0, 2.0])
        array([2., 4.], dtype=float32)
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return _evaluated(func(*args, **kwargs))

    return wrapper


def symbolic(func):
    """Decorator: run ``func`` building nodes in the current default graph (every
    symgraph call already does; the decorator exists for Keras 2.3 code).

    Example:
        >>> import symgraph.backend as K
        >>> @K.symbolic
        ... def plus_one(t):
        ...     return t + 1
        >>> K.is_symbolic(plus_one(K.placeholder((2,))))
        True
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


def is_symbolic(x) -> bool:
    """Whether ``x`` is a graph (symbolic) tensor: True for every symgraph tensor.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> K.is_symbolic(K.constant(1.0)), K.is_symbolic(np.ones(2))
        (True, False)
    """
    return isinstance(x, Tensor)


def image_dim_ordering() -> str:
    """Keras 1 name of the image layout: 'tf' for channels_last, 'th' for
    channels_first.

    Example:
        >>> import symgraph.backend as K
        >>> K.image_dim_ordering()
        'tf'
    """
    return "tf" if config.image_data_format() == "channels_last" else "th"


def set_image_dim_ordering(dim_ordering: str) -> None:
    """Keras 1 setter: 'tf' selects channels_last, 'th' channels_first.

    Example:
        >>> import symgraph.backend as K
        >>> K.set_image_dim_ordering('th')
        >>> K.image_data_format()
        'channels_first'
        >>> K.set_image_dim_ordering('tf')
    """
    if dim_ordering not in ("tf", "th"):
        raise ValueError(f"Unknown dim_ordering: {dim_ordering!r} (expected 'tf' or 'th')")
    config.set_image_data_format("channels_last" if dim_ordering == "tf" else "channels_first")


def reset() -> None:
    """Forget the session object (``K.clear_session``)."""
    _STATE["session"] = None
