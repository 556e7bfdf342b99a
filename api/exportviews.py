"""REST exports (/api/v1/swaths/export) and the download URL that ends in the file's name.

GET takes /api/v1/swaths's parameters, POST /api/v1/swaths/search's body, each with
`format` (api.exports). The parquet format is stac-geoparquet of the STAC items, the
same as /stac/search/export's.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from api import exports
from api.downloads import download_response
from api.exceptions import QueryError
from api.filters import SwathBody, SwathQuery
from api.permissions import PublicReads
from api.requests import query_parameters
from api.search import SwathSearch
from api.stac.exportviews import EXPORT_RESPONSES, FORMAT, FORMAT_POST, SearchExportView
from catalog.models import Swath


class SwathExportView(SearchExportView):
    """The STAC export's writers over the REST search's parameters."""

    @extend_schema(operation_id="api_v1_swaths_export_get", tags=["api"],
                   parameters=[FORMAT, *query_parameters(SwathQuery)],
                   responses=EXPORT_RESPONSES)
    def get(self, request: Request) -> Any:
        """Every match of a swath search (GET /api/v1/swaths's parameters) as one file."""
        params, fmt = exports.get_params(request)
        query = SwathQuery.parse(params)
        if query.fields is not None:
            raise QueryError("fields: an export writes whole records; drop the fields parameter")
        return self.export(self._viewer(query.search()), fmt)

    @extend_schema(operation_id="api_v1_swaths_export_post", tags=["api"],
                   parameters=[FORMAT_POST], request={"application/json": SwathBody},
                   responses=EXPORT_RESPONSES)
    def post(self, request: Request) -> Any:
        """Every match of a swath search (POST /api/v1/swaths/search's body) as one file."""
        body, fmt = exports.post_body(request)
        query = SwathBody.parse(body)
        if query.fields is not None:
            raise QueryError("fields: an export writes whole records; drop the fields parameter")
        return self.export(self._viewer(query.search()), fmt)

    def _viewer(self, search: SwathSearch) -> SwathSearch:
        search.viewer = self.request.user  # region= names only regions the caller may see
        return search


class NamedDownloadView(APIView):
    """GET /api/v1/swaths/{uuid}/download/{filename}: the download, under a URL whose
    last segment is the file's name (what wget and curl -O save it as)."""

    permission_classes = [PublicReads]
    schema = None

    def get(self, request: Request, uuid: str, filename: str) -> Any:
        if not Swath.objects.filter(uuid=uuid, filename=filename).exists():
            raise Swath.DoesNotExist(f"no swath {uuid} with the file name {filename!r}")
        return download_response(request, uuid)
