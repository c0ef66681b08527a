"""Op families. Importing this package fills the registry; the builders below are
what the backend and the Tensor operators call (lent to ``core``, which stands below
ops, through :mod:`symgraph.core.services`)."""

from ..core import services
from . import (  # noqa: F401 - the *_grad modules register the gradient rules
    control,
    conv,
    conv_grad,
    ctc,
    ctc_decode,
    elementwise,
    elementwise_grad,
    gradutil,
    image,
    indexing,
    leaves,
    linalg,
    pool,
    pool_grad,
    random,
    reduce,
    scan,
    shape,
    shape_defs,
    shape_grad,
    softmax,
    sparse,
    state,
    tensor_index,
)
from .elementwise import binary, cast, fill_like, unary, where  # noqa: F401
from .indexing import gather, pick  # noqa: F401
from .leaves import as_tensor, constant, placeholder, variable  # noqa: F401
from .linalg import matmul  # noqa: F401
from .registry import REGISTRY  # noqa: F401
from .shape import (  # noqa: F401
    broadcast_to,
    concatenate,
    getitem_parsed,
    reshape,
    shape_of,
    transpose,
)
from .shape_defs import resolve_target  # noqa: F401
from .tensor_index import getitem

# the builders of core's tensor operators and of a graph's control dependencies
services.lend(binary=binary, unary=unary, matmul=matmul, getitem=getitem,
              transpose=transpose, after=state.after, assigned_variable=state.assigned_variable)
