"""GET/POST /stac/search/export: every match of a STAC search as a file (api.exports).

The search is /stac/search's own (the same parameters, CQL2 included, checked by the
same request models); `format` says which file, in the query string or, for POST, in
the body too. `limit` sizes nothing (an export has every match), and `token` and
`fields` are refused: an export starts at the first match and writes whole items.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request

from api import exports
from api.exceptions import QueryError
from api.requests import query_parameters
from api.search import SwathSearch
from api.stac import geoparquet, items, storeditems
from api.stac.docs import ERRORS
from api.stac.fields import FieldSpec
from api.stac.params import SearchBody, SearchQuery
from api.stac.views import StacView, search_page

FORMAT = OpenApiParameter(
    "format", OpenApiTypes.STR, enum=list(exports.FORMATS), required=True,
    description="parquet: stac-geoparquet; urls: one download URL a line (wget -i); "
                "sha256: `<sha256>  <filename>` lines (sha256sum -c); "
                "tsv: url, filename, size, sha256")
# POST may name the format in its body instead.
FORMAT_POST = OpenApiParameter(
    "format", OpenApiTypes.STR, enum=list(exports.FORMATS), required=False,
    description=FORMAT.description + "; or `format` in the JSON body")
EXPORT_RESPONSES = {
    (200, media.split(";")[0]): OpenApiResponse(OpenApiTypes.BINARY, description=fmt)
    for fmt, (media, _) in exports.FORMATS.items()
} | ERRORS


def _refuse_fields(spec: FieldSpec) -> None:
    if spec.active:
        raise QueryError("fields: an export writes whole items; drop the fields parameter")


class SearchExportView(StacView):
    post_is_read = True

    @extend_schema(operation_id="stac_search_export_get", tags=["stac"],
                   parameters=[FORMAT, *query_parameters(SearchQuery)],
                   responses=EXPORT_RESPONSES)
    def get(self, request: Request) -> Any:
        """Every match of a search (GET /stac/search's parameters) as one file."""
        params, fmt = exports.get_params(request)
        query = SearchQuery.parse(params)
        _refuse_fields(query.fields)
        return self.export(query.search(), fmt)

    @extend_schema(operation_id="stac_search_export_post", tags=["stac"],
                   parameters=[FORMAT_POST], request={"application/json": SearchBody},
                   responses=EXPORT_RESPONSES)
    def post(self, request: Request) -> Any:
        """Every match of a search (POST /stac/search's body, CQL2-JSON) as one file."""
        body, fmt = exports.post_body(request)
        query = SearchBody.parse(body)
        _refuse_fields(query.fields)
        return self.export(query.search(), fmt)

    def export(self, search: SwathSearch, fmt: str) -> Any:
        search = exports.export_search(search)
        if fmt != "parquet":
            return exports.manifest_response(search, fmt, self.url(""))
        pages = exports.primed(exports.batches(search, lambda s: search_page(self, s, FieldSpec())))
        return exports.streaming(fmt, geoparquet.write(self.item_texts(page) for page in pages))

    def item_texts(self, rows: list[Any]) -> list[str]:
        """A page's items as /stac/search serves them (its two renderings)."""
        if rows and "rendered" in rows[0]:
            return [storeditems.finish(r) for r in rows]
        return [items.dumps(items.item(r, self.url)).decode() for r in rows]
