"""/api/v1/subsets/: ask for regional subsets, follow them, download the results.

Thin views: check the body (SubsetRequest), call subset.services, serialize. Errors, subset ones
included, answer through api/exceptions.py's one table.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from django.conf import settings
from django.http import HttpResponseRedirect, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.exceptions import Gone, NotDownloadable, NotRetryable
from api.permissions import PublicReads
from api.subsets.serializers import (
    SubsetErrorSerializer,
    SubsetEstimateSerializer,
    SubsetProductListSerializer,
    SubsetProductSerializer,
    SubsetRequest,
)
from archive.config import get_store
from archive.errors import ArchiveError
from archive.stores import MAX_PRESIGN_SECONDS
from catalog.models import Product
from subset.costs import estimate_request
from subset.services import retry_requested, submit_subset

CHUNK = 1 << 20


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(SubsetErrorSerializer, description=description)


UNAUTHENTICATED = {401: _error("not signed in (writes, or reads when API_PUBLIC_READS=0)"),
                   403: _error("signed in, but not allowed")}
NO_PRODUCT = {404: _error("no such product, or not the caller's (products are private)")}


class SubsetListView(APIView):
    """POST: queue one product per swath (the same request twice: the same products, a
    FAILED one cut again).

    The answer is 202 with the products QUEUED: they are cut by a worker (a broker's, or
    the web process's own thread without one), never in the request; poll their `url`.
    """

    permission_classes = [PublicReads]

    @extend_schema(
        operation_id="api_v1_subsets_list",
        description="The signed-in user's 100 newest products (none when anonymous).",
        responses={200: SubsetProductListSerializer, **UNAUTHENTICATED},
    )
    def get(self, request: Request) -> Response:
        rows = Product.objects.select_related("swath", "region")
        rows = rows.filter(owner=request.user) if request.user.is_authenticated else rows.none()
        data = SubsetProductSerializer(rows[:100], many=True,
                                       context={"request": request}).data
        return Response({"products": data, "count": len(data)})

    @extend_schema(
        operation_id="api_v1_subsets_create",
        request={"application/json": SubsetRequest},
        responses={
            202: OpenApiResponse(SubsetProductListSerializer,
                                 description="at least one product is new: QUEUED, to be cut "
                                             "by a worker; poll each product's url"),
            200: OpenApiResponse(SubsetProductListSerializer,
                                 description="the caller made the same request before: its "
                                             "products (a FAILED one is queued again, and "
                                             "the answer is then 202)"),
            400: _error("a bad body, or a subset over the size limit per product or in all "
                        "(with the estimate and the limit)"),
            404: _error("no such swath"),
            413: _error("the body is over DATA_UPLOAD_MAX_MEMORY_SIZE"),
            **UNAUTHENTICATED,
        },
    )
    def post(self, request: Request) -> Response:
        body = SubsetRequest.parse(request.data)
        made = submit_subset(body.spec(request.user), swath_uuid=body.swath,
                             search=body.search.query() if body.search else None,
                             owner_id=request.user.pk)
        data = SubsetProductSerializer([p for p, _ in made], many=True,
                                       context={"request": request}).data
        created = any(c for _, c in made)
        return Response({"products": data, "count": len(data)},
                        status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class SubsetEstimateView(APIView):
    """POST: what a subset request would read, write and take, without cutting anything."""

    permission_classes = [PublicReads]

    @extend_schema(
        operation_id="api_v1_subsets_estimate",
        request={"application/json": SubsetRequest},
        description="The body of a subset request (one swath, or a search). For each swath "
                    "the kernel's plan is made (the metadata and geolocation a cut reads "
                    "first) and the chunks the cut would read are looked up in the object's "
                    "chunk index: bytes read, bytes written (the subset file) and seconds "
                    "(bytes read at SUBSET_ESTIMATE_MB_PER_S). Nothing is cut or queued; the "
                    "size limits are not applied.",
        responses={
            200: SubsetEstimateSerializer,
            400: _error("a bad body (the subset request's own errors)"),
            404: _error("no such swath"),
            410: _error("a swath's object is gone (no VERIFIED copy left, or the swath is "
                        "LOST): the reason, copy by copy"),
            **UNAUTHENTICATED,
        },
    )
    def post(self, request: Request) -> Response:
        body = SubsetRequest.parse(request.data)
        cost = estimate_request(body.spec(request.user), swath_uuid=body.swath,
                                search=body.search.query() if body.search else None)
        return Response(SubsetEstimateSerializer(cost).data)


# A POST to /api/v1/subsets must not be redirected to the slash (the body would be lost),
# so the route exists twice; the schema documents it once, under the slash.
@extend_schema_view(get=extend_schema(exclude=True), post=extend_schema(exclude=True))
class SubsetListNoSlashView(SubsetListView):
    """/api/v1/subsets: the same as /api/v1/subsets/."""


class SubsetDetailView(APIView):
    """GET: state, timings, bytes read, result size and the download link (owner or staff)."""

    permission_classes = [PublicReads]

    @extend_schema(
        operation_id="api_v1_subsets_retrieve",
        responses={200: SubsetProductSerializer, **NO_PRODUCT, **UNAUTHENTICATED},
    )
    def get(self, request: Request, pk: int) -> Response:
        # Another user's product is answered as a missing one: 404, not 403.
        product = Product.objects.visible_to(request.user).select_related(
            "swath", "region").get(pk=pk)
        return Response(SubsetProductSerializer(product, context={"request": request}).data)


class SubsetRetryView(APIView):
    """POST: cut a FAILED product again (owner or staff); its earlier failures are kept."""

    permission_classes = [PublicReads]

    @extend_schema(
        operation_id="api_v1_subsets_retry",
        request=None,
        description="Queue a FAILED product for a new attempt. The failure moves to the "
                    "product's `failures`, and the product gets the automatic attempts of a "
                    "new request again (reconcile re-sends a failure while it has some).",
        responses={
            202: OpenApiResponse(SubsetProductSerializer,
                                 description="queued again: the product as it is now "
                                             "(QUEUED); poll its url"),
            409: _error("the product is not FAILED (DONE or EMPTY: nothing to retry; QUEUED "
                        "or RUNNING: an attempt is under way)"),
            410: _error("the swath's object is gone (no VERIFIED copy left, or the swath is "
                        "LOST): the reason, copy by copy; nothing is queued"),
            **NO_PRODUCT,
            **UNAUTHENTICATED,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        # Another user's product is answered as a missing one: 404, not 403.
        product = Product.objects.visible_to(request.user).only("pk").get(pk=pk)
        if not retry_requested(product.pk):
            state = Product.objects.filter(pk=pk).values_list("state", flat=True).first()
            raise NotRetryable(f"subset {pk} is {state}: only a FAILED product can be retried")
        product = Product.objects.select_related("swath", "region").get(pk=pk)
        return Response(SubsetProductSerializer(product, context={"request": request}).data,
                        status=status.HTTP_202_ACCEPTED)


class SubsetDownloadView(APIView):
    """GET: the result file, streamed through a SHA-256 check (or a presigned redirect);
    owner or staff."""

    permission_classes = [PublicReads]

    @extend_schema(
        operation_id="api_v1_subsets_download",
        responses={
            (200, "application/x-netcdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="the subset, a CF NetCDF4 file"),
            302: OpenApiResponse(description="redirect to a presigned URL "
                                             "(PRESIGN_DOWNLOADS, uncompressed results)"),
            409: _error("the product is not DONE: nothing to download"),
            410: _error("the result is missing from its store"),
            **NO_PRODUCT,
            **UNAUTHENTICATED,
        },
    )
    def get(self, request: Request, pk: int) -> Any:
        product = Product.objects.visible_to(request.user).select_related("result").get(pk=pk)
        if product.state != Product.State.DONE or product.result is None:
            raise NotDownloadable(f"subset {pk} is {product.state}: nothing to download")
        obj = product.result
        try:
            store = get_store(obj.store)
        except LookupError as e:
            raise Gone(f"subset {pk}: {e}") from e
        if store.head(obj.key) is None:
            raise Gone(f"subset {pk}: its result {obj.key} is missing from store {obj.store}")
        if settings.PRESIGN_DOWNLOADS and obj.codec == "none":
            url = store.presign(obj.key, min(settings.PRESIGN_MAX_SECONDS, MAX_PRESIGN_SECONDS))
            if url:
                return HttpResponseRedirect(url, headers={"Cache-Control": "no-store"})
        try:
            stream = store.open(obj.key, expected_sha256=obj.sha256 or None, codec=obj.codec)
        except ArchiveError as e:
            raise Gone(f"subset {pk}: {e}") from e
        name = f"subset-{pk}-{product.swath_id}.nc"
        response = StreamingHttpResponse(_chunks(stream), content_type="application/x-netcdf")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        if obj.size is not None:
            response["Content-Length"] = str(obj.size)
        response["ETag"] = f'"{obj.sha256}"'
        return response


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    try:
        while piece := stream.read(CHUNK):
            yield piece
    finally:
        stream.close()
