"""subset: see docs/ARCHITECTURE.md."""
