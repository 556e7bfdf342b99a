"""catalog/: the source of truth: collections, swaths, stored copies, regions, products."""
