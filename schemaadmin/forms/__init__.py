"""Forms: every input is validated here before a view acts on it, one module per feature."""
