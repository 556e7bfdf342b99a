"""hpc: see docs/ARCHITECTURE.md."""
