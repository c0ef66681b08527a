"""Looking at graphs: text listings, summaries, what the compiler made, exports."""

from .tables import Summary, summary  # noqa: F401
from .text import format_graph  # noqa: F401
from .view import GraphView, Kernel, graph_view  # noqa: F401
