"""REST views (/api/v1/): parse, call a catalog queryset or api.search, serialize."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from api import coverage, features
from api.downloads import download_response
from api.filters import SwathBody, SwathQuery
from api.limits import check_body_size
from api.paging import IdCursorPagination
from api.permissions import IsOwnerOrStaff, PublicReads
from api.quicklooks import quicklook_response
from api.references import references_response
from api.renderers import FirstRenderer
from api.requests import query_parameters
from api.search import SearchPage
from api.serializers import (
    CollectionSerializer,
    IngestRunSerializer,
    ProductSerializer,
    SwathDetailSerializer,
    SwathFeatureSerializer,
)
from api.stac.itemdef import REFERENCES_TYPE
from catalog.models import Collection, IngestRun, Product, Swath


class NewestFirst(IdCursorPagination):
    """Keyset pages (an opaque cursor), newest first: never OFFSET."""


class CollectionViewSet(viewsets.ReadOnlyModelViewSet):
    """Product lines held by the archive."""

    queryset = Collection.objects.all()
    serializer_class = CollectionSerializer
    permission_classes = [PublicReads]
    lookup_field = "slug"


_STAFF_ONLY = {401: OpenApiResponse(description="not signed in"),
               403: OpenApiResponse(description="signed in, but not staff")}


@extend_schema_view(list=extend_schema(responses={200: IngestRunSerializer(many=True),
                                                  **_STAFF_ONLY}),
                    retrieve=extend_schema(responses={200: IngestRunSerializer,
                                                      **_STAFF_ONLY}))
class IngestRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Bulk ingest runs, newest first: staff only (they name server paths and OS errors)."""

    queryset = IngestRun.objects.select_related("collection")
    serializer_class = IngestRunSerializer
    permission_classes = [IsAdminUser]
    pagination_class = NewestFirst


class ProductViewSet(viewsets.ReadOnlyModelViewSet):
    """Regional subsets: the caller's own (all for staff); others' are 404 (POST /subsets/)."""

    serializer_class = ProductSerializer
    permission_classes = [IsOwnerOrStaff]
    pagination_class = NewestFirst

    def get_queryset(self) -> QuerySet[Product]:
        return Product.objects.visible_to(self.request.user).select_related("swath", "region")


class SwathViewSet(viewsets.ReadOnlyModelViewSet):
    """Swaths as GeoJSON Features; search by area, time, orbit and more."""

    serializer_class = SwathFeatureSerializer
    permission_classes = [PublicReads]
    lookup_field = "uuid"

    @property
    def post_is_read(self) -> bool:
        """POST search/ is a read with a GeoJSON body; other POSTs are writes."""
        return getattr(self, "action", None) == "search"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        check_body_size(request)
        super().initial(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Swath]:
        return Swath.objects.select_related("collection")

    def get_serializer_class(self) -> type[SwathFeatureSerializer]:
        if getattr(self, "action", None) == "retrieve":
            return SwathDetailSerializer
        return SwathFeatureSerializer

    def _page(self, search: Any) -> SearchPage:
        """One page of value rows (api.features renders them as the serializer would)."""
        search.viewer = self.request.user  # region= names only regions the caller may see
        return coverage.run_page(search, features.page_rows(self.get_queryset()),
                                 features.FEATURE_COLUMNS)

    def _page_response(self, page: SearchPage, fields: set[str] | None,
                       repairs: list[str]) -> Response:
        body: Any = features.feature_collection(page.rows)
        if fields is not None:
            for feature in body["features"]:
                feature["properties"] = {k: v for k, v in feature["properties"].items()
                                         if k in fields}
        body["numberReturned"] = len(page.rows)
        if page.matched is not None:
            body["numberMatched"] = page.matched
            body["numberMatchedEstimated"] = not page.exact
        if page.next_token:
            body["next"] = page.next_token
        if repairs:
            body["repairs"] = repairs
        return Response(body)

    def retrieve(self, request: Request, uuid: str) -> Response:
        """One swath of any state, with its stored copies and its footprint's geolocation."""
        return Response(features.detail(uuid, request.build_absolute_uri))

    @extend_schema(parameters=query_parameters(SwathQuery))
    def list(self, request: Request) -> Response:
        """Swaths as a GeoJSON FeatureCollection, newest first, keyset-paged."""
        query = SwathQuery.parse(request.query_params.dict())
        search = query.search()
        return self._page_response(self._page(search), query.fields, search.repairs)

    @extend_schema(request={"application/json": SwathBody},
                   description="The same filters as GET in a JSON body; `intersects` is "
                               "a GeoJSON geometry.")
    @action(detail=False, methods=["post"], url_path="search")
    def search(self, request: Request) -> Response:
        """Search with a JSON body (for GeoJSON areas too large for a URL)."""
        query = SwathBody.parse(request.data)
        search = query.search()
        return self._page_response(self._page(search), query.fields, search.repairs)

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"], url_path="download")
    def download(self, request: Request, uuid: str) -> Any:
        """The original bytes (Range, ETag, Repr-Digest), or a redirect to a presigned URL."""
        return download_response(request, uuid)

    # JSON errors whatever the Accept header (an <img> asks for image/*): never a 406.
    @extend_schema(operation_id="api_v1_swaths_quicklook_retrieve",
                   responses={(200, "image/png"): bytes})
    @action(detail=True, methods=["get"], url_path="quicklook.png",
            renderer_classes=[JSONRenderer], content_negotiation_class=FirstRenderer)
    def quicklook(self, request: Request, uuid: str) -> Any:
        """A PNG of the swath's main variable drawn at ingest (ETag); 404 when it has none."""
        return quicklook_response(request, uuid)

    @extend_schema(
        operation_id="api_v1_swaths_references_retrieve",
        responses={
            (200, REFERENCES_TYPE): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="kerchunk references (version 1) of every chunk of every "
                            "variable, `templates.u` set to the object's download URL (or a "
                            "presigned URL where downloads are presigned)"),
            404: OpenApiResponse(description="no such swath, or it has no references (why)"),
            409: OpenApiResponse(description="the swath is not VERIFIED"),
            410: OpenApiResponse(description="the references or the object they describe "
                                             "changed or cannot be read; never served"),
        })
    @action(detail=True, methods=["get"], url_path="references.json",
            renderer_classes=[JSONRenderer], content_negotiation_class=FirstRenderer)
    def references(self, request: Request, uuid: str) -> Any:
        """Chunk references for xarray + fsspec `reference://` (no download, no HDF5)."""
        return references_response(request, uuid)
