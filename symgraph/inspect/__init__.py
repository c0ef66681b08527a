"""Looking at graphs: text listings, summaries, what the compiler made, exports and
pictures (see docs/inspecting.md).

Importing it lends a compiled function's views to the runtime below it
(``symgraph.core.services``)."""

from ..core import services
from . import compiled, profile, view
from .export import render, to_dot, to_json, to_model_explorer, to_networkx  # noqa: F401
from .html import show, to_html  # noqa: F401
from .svg import to_svg  # noqa: F401
from .tables import Summary, summary  # noqa: F401
from .text import format_graph  # noqa: F401
from .view import GraphView, Kernel, graph_view  # noqa: F401

# what Function.kernels(), .source(), .memory_plan(), .profile() and _repr_html_ call
services.lend(plan_kernels=view.plan_kernels, kernel_source=compiled.kernel_source,
              memory_plan=compiled.memory_plan, summary=summary, profile=profile.profile)
