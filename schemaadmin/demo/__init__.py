"""A deterministic, realistic demo data set for the chat product's tables, loaded fast with COPY."""

from __future__ import annotations

from schemaadmin.demo.loader import DemoConflict, LoadSummary, load_demo
from schemaadmin.demo.sizes import DEFAULT_SIZES, DemoSizes

__all__ = ["DEFAULT_SIZES", "DemoConflict", "DemoSizes", "LoadSummary", "load_demo"]
