"""The EXPLAIN console: the allowlist, presets, running a plan and summarising it."""
