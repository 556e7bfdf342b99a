"""The conformance classes this API advertises: only the ones its tests pass.

Checked by stac-api-validator (core, collections, features, item-search, fields,
sort, filter) in tests/api/test_stac_live.py; aggregation by
tests/api/test_stac_aggregate.py. Not advertised: query, transaction,
advanced comparison operators (LIKE/BETWEEN/IN work for our queryables, but the
validator probes a 'mission' property we do not have), spatial functions other
than S_INTERSECTS, arrays, arithmetic, property-property comparisons.
"""

from __future__ import annotations

CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf"
CONFORMS_TO = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#fields",
    "https://api.stacspec.org/v1.0.0/item-search#sort",
    "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    f"{CQL2}/cql2-text",
    f"{CQL2}/cql2-json",
    f"{CQL2}/basic-cql2",
    f"{CQL2}/basic-spatial-operators",
    f"{CQL2}/basic-spatial-functions",
    f"{CQL2}/temporal-operators",
    f"{CQL2}/temporal-functions",
    # stac-api-extensions/aggregation v0.3.0; its #filter: /aggregate takes CQL2 too.
    "https://api.stacspec.org/v0.3.0/aggregation",
    "https://api.stacspec.org/v0.3.0/aggregation#filter",
]
