"""Graph core: dtypes, static shapes, tensors and graphs."""
