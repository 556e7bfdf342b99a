"""The subsets API (/api/v1/subsets/): HTTP over subset.services, in api's layer above it."""
