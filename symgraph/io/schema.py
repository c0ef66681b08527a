"""The graph file format's name, version and limits (documented in docs/graph-files.md)."""

FORMAT = "symgraph.graph"  #: graph.json's "format" field
VERSION = 1  #: the newest format version this symgraph writes and reads
MAX_NODES = 10_000_000  #: nodes in one file
MAX_RANK = 32  #: dims of one shape
MAX_NAME = 1_000  #: characters of a node name
DEFAULT_MAX_BYTES = 16 << 30  #: default limit on the bytes of a file's arrays (16 GiB)
