"""Schema changes: migrations, their SQL and lint, drift, shadow databases, apply, the diagram."""
