"""Looking at graphs: text listings (more views arrive with later work)."""

from .text import format_graph  # noqa: F401
