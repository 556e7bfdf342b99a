"""/api/v1/subsets/: the request models (check and document a body) and the serializers.

SubsetRequest and SubsetSearch are request models (api.requests): each field is checked
by its one rule (eo's box, time and geometry rules through subset.region, api.params),
whose error names the field, and the OpenAPI body is made from them. The serializers
render products.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, ClassVar

from drf_spectacular.utils import extend_schema_field
from pydantic import Field, model_validator
from rest_framework import serializers
from rest_framework.reverse import reverse

from api.exceptions import QueryError, too_large_body
from api.params import MAX_LIST_ITEMS, clean_text, parse_list
from api.requests import RequestModel, rule
from catalog.models import Product, Region
from eo.times import parse_interval
from subset.costs import RequestCost
from subset.orders import region_visible
from subset.region import Region as KernelRegion
from subset.region import parse_bbox, parse_geometry
from subset.services import SubsetSpec, attempts_left, region_spec

SKIP = (None, "")
Box = list[float] | str  # 4 numbers (or 6 with heights, ignored), or "W,S,E,N"
Area = dict[str, Any] | str  # GeoJSON Polygon/MultiPolygon (Feature, collection), or WKT
Names = list[str] | str  # or one comma-separated string
Interval = tuple[Any, Any]
BOX = "W,S,E,N in degrees; W>E crosses the antimeridian"
WHEN = "RFC 3339 instant or start/end; '..' is open"


def parse_variables(value: Any) -> list[str]:
    """The variables of a subset request or a standing order (api.regions)."""
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise QueryError("variables must be a list of variable names")
    if len(value) > MAX_LIST_ITEMS:
        raise QueryError(f"variables: at most {MAX_LIST_ITEMS} names")
    return [clean_text(v, "variables", 255).strip() for v in value]


def _fill(value: Any) -> bool:
    if not isinstance(value, bool):
        raise QueryError("fill_outside must be true or false")
    return value


def _uuid(value: Any) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as e:
        raise QueryError(f"swath={value!r} is not a uuid") from e


def _one_of(values: Any, names: tuple[str, ...], message: str) -> None:
    if isinstance(values, dict) and sum(bool(values.get(k)) for k in names) != 1:
        raise QueryError(message)


class SubsetSearch(RequestModel):
    """The swaths to cut: VERIFIED ones matching every given filter."""

    bbox: Annotated[KernelRegion | None, rule(parse_bbox, Box, SKIP)] = Field(
        None, description=BOX)
    intersects: Annotated[KernelRegion | None, rule(
        lambda v: parse_geometry(v, "intersects"), Area, SKIP)] = Field(
        None, description="used when bbox is not given")
    datetime: Annotated[Interval | None, rule(parse_interval, str, SKIP)] = Field(
        None, description=WHEN)
    collections: Annotated[list[str], rule(
        lambda v: parse_list(v, "search.collections"), Names, SKIP)] = Field(
        [], description="collection slugs")

    def query(self) -> dict[str, Any]:
        """The search as subset.services.submit_subset takes it."""
        out: dict[str, Any] = {"collections": self.collections}
        if self.bbox or self.intersects:
            out["region"] = self.bbox or self.intersects
        if self.datetime:
            out["start"], out["end"] = self.datetime
        return out


class SubsetRequest(RequestModel):
    """Exactly one of bbox, geometry or region; exactly one of swath or search."""

    what: ClassVar[str] = "the body"
    bbox: Annotated[KernelRegion | None, rule(parse_bbox, Box, SKIP)] = Field(
        None, description=BOX)
    geometry: Annotated[KernelRegion | None, rule(parse_geometry, Area, SKIP)] = None
    # clean_text: PostgreSQL refuses a NUL in a query (a 500 until refused here).
    region: Annotated[str | None, rule(lambda v: clean_text(v, "region", 100), str, SKIP)] = \
        Field(None, description="slug of a named region")
    variables: Annotated[list[str], rule(parse_variables, Names, SKIP)] = Field(
        [], description="variables to cut (default: every variable)")
    datetime: Annotated[Interval | None, rule(parse_interval, str, SKIP)] = Field(
        None, description="keep only pixels observed in this " + WHEN)
    fill_outside: Annotated[bool, rule(_fill, bool, ())] = Field(
        False, description="set pixels of the window outside the region to _FillValue")
    swath: Annotated[str | None, rule(_uuid, uuid.UUID, SKIP)] = Field(
        None, description="the one swath to cut")
    search: SubsetSearch | None = None

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, values: Any) -> Any:
        _one_of(values, ("bbox", "geometry", "region"), "give exactly one of bbox, geometry "
                                                         "or region")
        return values

    @model_validator(mode="after")
    def _swath_or_search(self) -> Any:
        if bool(self.swath) == bool(self.search):
            raise QueryError("give exactly one of swath (a uuid) or search")
        return self

    def spec(self, viewer: Any) -> SubsetSpec:
        """The subset spec; raises QueryError for a region unknown to ``viewer`` (the
        requesting user: another user's order is as unknown as a missing slug)."""
        region, slug = self.bbox or self.geometry, None
        if region is None:
            unknown = QueryError(f"no region named {self.region!r}")
            if not region_visible(self.region or "", viewer):
                raise unknown
            try:
                region, slug = region_spec(self.region or "")
            except Region.DoesNotExist as e:  # deleted since
                raise unknown from e
        start, end = self.datetime or (None, None)
        return SubsetSpec(region, slug, self.variables, start, end, self.fill_outside)


class ProductFailureSerializer(serializers.Serializer):
    """One earlier attempt of a product that FAILED."""

    attempt = serializers.IntegerField(help_text="its number, counting every attempt")
    at = serializers.DateTimeField(allow_null=True, help_text="when it failed")
    error = serializers.CharField(help_text="why")


class SubsetProductSerializer(serializers.ModelSerializer):
    """One product (a subset of one swath): state, timings, sizes and links."""

    swath = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    region = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True,
        help_text="the named region's slug; null for a bbox or geometry")
    variables = serializers.ListField(child=serializers.CharField(), read_only=True)
    params = serializers.DictField(read_only=True,
                                   help_text="the canonical parameters the product was cut with")
    failures = ProductFailureSerializer(
        many=True, read_only=True,
        help_text="earlier attempts that FAILED, oldest first (the latest attempt's reason "
                  "is `error`)")
    attempts_left = serializers.SerializerMethodField(
        help_text="automatic attempts still allowed (broker redeliveries, reconcile); a "
                  "retry by a person gives a product its full count again")
    queued_seconds = serializers.SerializerMethodField()
    run_seconds = serializers.SerializerMethodField()
    download = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = ["id", "url", "state", "swath", "region", "variables", "params", "error",
                  "attempts", "attempts_left", "failures", "created_at", "started_at",
                  "finished_at", "queued_seconds", "run_seconds", "bytes_read", "result_size",
                  "download"]
        read_only_fields = fields  # output only: requests are SubsetRequest

    def get_attempts_left(self, obj: Product) -> int:
        return attempts_left(obj)

    def get_queued_seconds(self, obj: Product) -> float | None:
        if obj.started_at is None:
            return None
        return (obj.started_at - obj.created_at).total_seconds()

    def get_run_seconds(self, obj: Product) -> float | None:
        if obj.started_at is None or obj.finished_at is None:
            return None
        return (obj.finished_at - obj.started_at).total_seconds()

    def get_url(self, obj: Product) -> str:
        return reverse("subset:detail", args=[obj.pk], request=self.context.get("request"))

    def get_download(self, obj: Product) -> str | None:
        if obj.state != Product.State.DONE:
            return None
        return reverse("subset:download", args=[obj.pk], request=self.context.get("request"))


class SubsetProductListSerializer(serializers.Serializer):
    """Products and how many there are."""

    products = SubsetProductSerializer(many=True)
    count = serializers.IntegerField()


class SwathEstimateSerializer(serializers.Serializer):
    """One swath's estimate (subset.costs.SwathCost)."""

    swath = serializers.UUIDField(source="swath.uuid")
    bytes_read = serializers.IntegerField(help_text="bytes the cut reads from the store")
    bytes_written = serializers.IntegerField(help_text="size of the subset file")
    seconds = serializers.FloatField(help_text="bytes read at SUBSET_ESTIMATE_MB_PER_S")
    selected_pixels = serializers.IntegerField(source="n_selected", allow_null=True)
    empty = serializers.BooleanField(help_text="no valid pixel in the region: no file")
    basis = serializers.ChoiceField(
        ["plan", "catalog"], help_text="plan: the kernel's plan and the object's chunk "
        "layout; catalog: the catalog alone (an object too large to download for it)")


class SubsetErrorSerializer(serializers.Serializer):
    """Why a request was refused; a subset over a size limit also gives its estimate."""

    error = serializers.CharField()
    estimated_bytes = serializers.IntegerField(
        required=False, help_text="the estimate of the product, or of all of the request's")
    limit_bytes = serializers.IntegerField(
        required=False, help_text="SUBSET_MAX_MB per product, or SUBSET_MAX_TOTAL_MB in all")
    swaths = serializers.IntegerField(
        required=False, help_text="how many swaths the refused request would cut (total limit)")


class SubsetEstimateSerializer(serializers.Serializer):
    """What a subset request would cost, per swath and in total (subset.costs.RequestCost)."""

    swaths = SwathEstimateSerializer(many=True)
    count = serializers.IntegerField()
    bytes_read = serializers.IntegerField()
    bytes_written = serializers.IntegerField()
    seconds = serializers.FloatField(help_text="the cuts one after another")
    refused = serializers.SerializerMethodField(
        help_text="null, or the 400 a subset request with this body would answer for "
                  "being over a size limit (SUBSET_MAX_MB per product, SUBSET_MAX_TOTAL_MB "
                  "in all): its error and estimate")

    @extend_schema_field(SubsetErrorSerializer(allow_null=True))
    def get_refused(self, obj: RequestCost) -> dict[str, Any] | None:
        return None if obj.refusal is None else too_large_body(obj.refusal)
