"""The Keras backend API on symgraph graphs: ``import symgraph.backend as K``.

Every function builds graph nodes with static shapes and dtypes; nothing runs until
``K.eval`` or a ``K.function`` is called. See ``docs/api.md`` for the list of names.
"""

import sys as _sys

from ._compat import (  # noqa: F401
    Function,
    eager,
    get_session,
    image_dim_ordering,
    is_symbolic,
    manual_variable_initialization,
    set_image_dim_ordering,
    set_session,
    symbolic,
    v1_variable_initialization,
)
from ._control import foldl, foldr, map_fn, rnn  # noqa: F401
from ._conv import (  # noqa: F401
    conv1d,
    conv2d,
    conv2d_transpose,
    conv3d,
    conv3d_transpose,
    depthwise_conv2d,
    local_conv1d,
    local_conv2d,
    pool2d,
    pool3d,
    separable_conv1d,
    separable_conv2d,
)
from ._creation import (  # noqa: F401
    cast,
    cast_to_floatx,
    constant,
    eye,
    ones,
    ones_like,
    placeholder,
    random_bernoulli,
    random_binomial,
    random_normal,
    random_uniform,
    truncated_normal,
    variable,
    zeros,
    zeros_like,
)
from ._ctc import (  # noqa: F401
    ctc_batch_cost,
    ctc_cost,
    ctc_create_skip_idxs,
    ctc_decode,
    ctc_interleave_blanks,
    ctc_label_dense_to_sparse,
    ctc_path_probs,
    ctc_update_log_p,
)
from ._extra import (  # noqa: F401
    arange,
    get_uid,
    get_variable_shape,
    identity,
    is_keras_tensor,
    l2_normalize,
    one_hot,
    reset_uids,
    reverse,
    slice,
)
from ._gradients import gradients  # noqa: F401
from ._image import (  # noqa: F401
    normalize_data_format,
    resize_images,
    resize_volumes,
    spatial_2d_padding,
    spatial_3d_padding,
    temporal_padding,
)
from ._linalg import batch_dot, dot  # noqa: F401
from ._losses import (  # noqa: F401
    binary_crossentropy,
    categorical_crossentropy,
    in_top_k,
    sparse_categorical_crossentropy,
)
from ._math import (  # noqa: F401
    abs,
    clip,
    cos,
    equal,
    exp,
    greater,
    greater_equal,
    less,
    less_equal,
    log,
    maximum,
    minimum,
    not_equal,
    pow,
    round,
    sign,
    sin,
    sqrt,
    square,
)
from ._misc import (  # noqa: F401
    cumprod,
    cumsum,
    gather,
    pattern_broadcast,
    random_normal_variable,
    random_uniform_variable,
    size,
)
from ._nn import elu, hard_sigmoid, relu, sigmoid, softmax, softplus, softsign, tanh  # noqa: F401
from ._normalization import (  # noqa: F401
    batch_normalization,
    bias_add,
    dropout,
    normalize_batch_in_training,
)
from ._phase import (  # noqa: F401
    in_test_phase,
    in_train_phase,
    learning_phase,
    learning_phase_scope,
    set_learning_phase,
    switch,
)
from ._reduce import (  # noqa: F401
    all,
    any,
    argmax,
    argmin,
    logsumexp,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from ._session import (  # noqa: F401
    backend,
    batch_get_value,
    batch_set_value,
    clear_session,
    count_params,
    dtype,
    epsilon,
    eval,
    floatx,
    function,
    get_graph,
    get_value,
    image_data_format,
    int_shape,
    is_placeholder,
    is_tensor,
    is_variable,
    name_scope,
    ndim,
    set_epsilon,
    set_floatx,
    set_image_data_format,
    set_value,
)
from ._shape import (  # noqa: F401
    batch_flatten,
    concatenate,
    expand_dims,
    flatten,
    permute_dimensions,
    repeat,
    repeat_elements,
    reshape,
    shape,
    squeeze,
    stack,
    tile,
    transpose,
)
from ._sparse import is_sparse, to_dense  # noqa: F401
from ._updates import (  # noqa: F401
    control_dependencies,
    moving_average_update,
    print_tensor,
    stop_gradient,
    update,
    update_add,
    update_sub,
)


def _name_errors_after_the_caller() -> None:
    """Wrap every public backend function with ``errors.named_for_the_caller``."""
    from ..errors import named_for_the_caller

    namespace = globals()
    for name, value in list(namespace.items()):
        if name.startswith("_") or isinstance(value, type) or not callable(value):
            continue
        if getattr(value, "__module__", "").startswith("symgraph.backend."):
            namespace[name] = named_for_the_caller(name, value)


_name_errors_after_the_caller()

if "keras.backend.load_backend" in _sys.modules:  # Keras 2.3.1 is loading us as its backend
    from .. import keras2_compat  # noqa: F401,E402  (Python 3.11 / NumPy 2 / h5py 3 shims)
