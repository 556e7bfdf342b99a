"""/api/v1/regions/: named areas, and the standing orders users place on them.

GET lists the regions a caller may see: the shared ones (made by staff, no owner), the
caller's own orders, every one for staff; `region=<slug>` on swath searches uses them.
POST places a standing order (every swath VERIFIED over the region from then on gets a
product, owned by the caller and listed in GET /api/v1/subsets/); POST {slug}/backfill
gives it the swaths archived before; POST {slug}/resume starts again an order stopped
because its region could not be cut (checked again first); DELETE cancels it. Thin
views: check the body (a request model, api.requests), call subset.orders, serialize.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from django.db.models import QuerySet
from django.utils.text import slugify
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from pydantic import Field, model_validator
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.exceptions import QueryError
from api.params import clean_text, parse_list
from api.permissions import IsOwnerOrStaff
from api.requests import RequestModel, rule
from api.serializers import RegionSerializer
from api.subsets.serializers import (
    BOX,
    SKIP,
    WHEN,
    Area,
    Box,
    Interval,
    Names,
    SubsetErrorSerializer,
    parse_variables,
)
from catalog.models import Region
from eo.times import parse_interval
from subset.orders import (
    ORDER_MAX_AREA_KM2,
    ORDER_MAX_VERTICES,
    backfill_order,
    cancel_order,
    create_order,
    orders_visible_to,
    resume_order,
)
from subset.region import Region as KernelRegion
from subset.region import parse_bbox, parse_geometry

LIMITS = (f"an order's region may have at most {ORDER_MAX_VERTICES:,} vertices and cover "
          f"at most {ORDER_MAX_AREA_KM2:,} km2")


def _slug(value: Any) -> str:
    text = clean_text(value, "slug", 100)
    if not text or slugify(text) != text:
        raise QueryError(f"slug={text!r:.80} must be lower-case letters, digits, - and _")
    return text


class OrderRequest(RequestModel):
    """A standing order: exactly one of bbox or geometry; slug, or a name to make it from."""

    what: ClassVar[str] = "the body"
    slug: Annotated[str | None, rule(_slug, str, SKIP)] = Field(
        None, description="the order's handle in URLs (default: made from name)")
    name: Annotated[str | None, rule(lambda v: clean_text(v, "name", 200), str, SKIP)] = None
    description: Annotated[str, rule(lambda v: clean_text(v, "description", 2000), str,
                                     SKIP)] = ""
    bbox: Annotated[KernelRegion | None, rule(parse_bbox, Box, SKIP)] = Field(
        None, description=f"{BOX}; {LIMITS}")
    geometry: Annotated[KernelRegion | None, rule(parse_geometry, Area, SKIP)] = Field(
        None, description=f"GeoJSON Polygon/MultiPolygon or WKT; {LIMITS}")
    collections: Annotated[list[str], rule(
        lambda v: parse_list(v, "collections"), Names, SKIP)] = Field(
        [], description="collection slugs (default: every collection)")
    variables: Annotated[list[str], rule(parse_variables, Names, SKIP)] = Field(
        [], description="variables to cut (default: every variable)")

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, values: Any) -> Any:
        if isinstance(values, dict) and sum(bool(values.get(k)) for k in ("bbox", "geometry")) != 1:
            raise QueryError("give exactly one of bbox or geometry")
        return values

    @model_validator(mode="after")
    def _named(self) -> Any:
        if not self.slug and not slugify(self.name or ""):
            raise QueryError("slug: give a slug, or a name to make it from")
        return self

    def field(self) -> str:
        """The field the region came in (named by the order's own limits)."""
        return "bbox" if self.bbox is not None else "geometry"


class BackfillRequest(RequestModel):
    """The archive window to backfill; without one, the whole archive."""

    what: ClassVar[str] = "the body"
    datetime: Annotated[Interval | None, rule(parse_interval, str, SKIP)] = Field(
        None, description=f"swaths observed in this {WHEN} (default: every swath)")


class OrderSerializer(RegionSerializer):
    """A region with its order: owner, and why it stopped if its region cannot be cut."""

    owner = serializers.SlugRelatedField(source="order_owner", slug_field="username",
                                         read_only=True, allow_null=True,
                                         help_text="who the order's products belong to")
    order_problem = serializers.CharField(
        read_only=True, help_text="why the order makes no products (its region cannot be "
                                  "cut); empty while it works")

    class Meta(RegionSerializer.Meta):
        fields = [*RegionSerializer.Meta.fields, "owner", "order_problem", "order_problem_at"]


class BackfillSerializer(serializers.Serializer):
    """What a backfill did."""

    created = serializers.IntegerField(help_text="products made (QUEUED) by this call")
    existing = serializers.IntegerField(help_text="swaths in the window that had theirs")
    sent = serializers.IntegerField(help_text="products sent to the workers now (the rest "
                                              "are picked up by the next sweep)")
    seconds = serializers.FloatField()


class ResumeSerializer(serializers.Serializer):
    """A resumed order."""

    resumed = serializers.BooleanField(help_text="false: the order was not stopped")
    stopped_since = serializers.DateTimeField(
        allow_null=True, help_text="when it stopped (null: it was not); a backfill gives it "
                                   "the swaths archived meanwhile")
    order = OrderSerializer()


class CancelSerializer(serializers.Serializer):
    """A cancelled order."""

    deleted = serializers.CharField(help_text="the region's slug")
    dropped = serializers.IntegerField(help_text="its products not yet started, dropped")


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(SubsetErrorSerializer, description=description)


NOT_YOURS = {401: _error("not signed in"),
             403: _error("a shared region, or another user's order: staff only"),
             404: _error("no such region visible to the caller")}


@extend_schema_view(
    create=extend_schema(
        request={"application/json": OrderRequest},
        responses={201: OrderSerializer,
                   400: _error(f"a bad body, naming the field: a region refused, or over the "
                               f"limits ({LIMITS}), a slug taken, an unknown collection"),
                   401: _error("not signed in")}),
    destroy=extend_schema(responses={200: CancelSerializer, **NOT_YOURS}),
    backfill=extend_schema(
        request={"application/json": BackfillRequest},
        responses={200: BackfillSerializer,
                   400: _error("a bad window, a cancelled order, or one whose region "
                               "cannot be cut"), **NOT_YOURS}),
    resume=extend_schema(
        request=None,
        responses={200: ResumeSerializer,
                   400: _error("its region still cannot be cut (the reason), or a cancelled "
                               "order"), **NOT_YOURS}),
)
class RegionViewSet(viewsets.GenericViewSet):
    """Named areas (GeoJSON) and standing orders; `region=<slug>` on swath searches uses them."""

    serializer_class = OrderSerializer
    # Changing an order (DELETE, backfill, resume) is for its owner or staff.
    permission_classes = [IsOwnerOrStaff]
    owner_field = "order_owner_id"
    owner_message = "only the order's owner or staff may change it"
    lookup_field = "slug"
    pagination_class = None

    def get_queryset(self) -> QuerySet[Region]:
        return orders_visible_to(self.request.user)

    def list(self, request: Request) -> Response:
        return Response(self.get_serializer(self.get_queryset(), many=True).data)

    def retrieve(self, request: Request, slug: str) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def create(self, request: Request) -> Response:
        body = OrderRequest.parse(request.data)
        region = body.bbox or body.geometry
        if region is None:  # the request model refuses it; said again for the type
            raise QueryError("give exactly one of bbox or geometry")
        order = create_order(
            slug=body.slug or slugify(body.name or "")[:100], name=body.name or "",
            region=region, owner_id=request.user.pk, description=body.description,
            collections=body.collections, variables=body.variables, field=body.field())
        order = self.get_queryset().get(pk=order.pk)
        return Response(self.get_serializer(order).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, slug: str) -> Response:
        order = self.get_object()
        dropped = cancel_order(order.pk, delete=True)
        return Response({"deleted": order.slug, "dropped": dropped})

    @action(detail=True, methods=["post"])
    def backfill(self, request: Request, slug: str) -> Response:
        """Make the order's products for swaths archived before it, in a window; a second
        call makes only those of swaths archived since."""
        body = BackfillRequest.parse(request.data or {})
        order = self.get_object()
        start, end = body.datetime or (None, None)
        result = backfill_order(order.pk, start, end)
        return Response({"created": result.created, "existing": result.existing,
                         "sent": result.sent, "seconds": round(result.seconds, 3)})

    @action(detail=True, methods=["post"])
    def resume(self, request: Request, slug: str) -> Response:
        """Start again an order stopped because its region could not be cut; its region is
        checked first, and the reason given if it still cannot be."""
        order = self.get_object()
        stopped = resume_order(order.pk)
        order = self.get_queryset().get(pk=order.pk)
        return Response(ResumeSerializer(
            {"resumed": stopped is not None, "stopped_since": stopped, "order": order},
            context=self.get_serializer_context()).data)
