"""api/: REST (/api/v1/) and STAC (/stac/) over the catalog."""
