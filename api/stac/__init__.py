"""STAC API 1.0 at /stac/: landing page, collections, items, item search, filter."""
