"""The pieces of the reference app, one module per feature area."""
