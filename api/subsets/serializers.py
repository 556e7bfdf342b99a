"""Serializers of /api/v1/subsets/: products rendered, and the request body described.

The views parse request bodies with api.subsets.views.parse_spec and parse_search, whose
errors name the field at fault; the request serializers here only describe those bodies
in the OpenAPI schema (which schemathesis fuzzes), so they must follow the parsers.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from catalog.models import Product

_BBOX = {
    "oneOf": [
        {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 6},
        {"type": "string", "description": "W,S,E,N"},
    ],
    "description": "W,S,E,N in degrees, as 4 numbers (or 6 with heights, ignored) or one "
                   "string; W>E crosses the antimeridian (eo/boxes.py)",
}
_GEOMETRY = {
    "oneOf": [
        {"type": "object", "description": "GeoJSON Polygon or MultiPolygon (or a Feature "
                                          "or FeatureCollection of them)"},
        {"type": "string", "description": "the same as GeoJSON text, or WKT"},
    ],
}
_NAMES = {
    "oneOf": [
        {"type": "array", "items": {"type": "string"}},
        {"type": "string", "description": "comma-separated"},
    ],
}


@extend_schema_field(_BBOX)
class BboxField(serializers.JSONField):
    """A bbox as parse_bbox takes it."""


@extend_schema_field(_GEOMETRY)
class GeometryField(serializers.JSONField):
    """An area as parse_geometry takes it."""


@extend_schema_field(_NAMES)
class NamesField(serializers.JSONField):
    """Names as a list, or as one comma-separated string."""


class SubsetSearchSerializer(serializers.Serializer):
    """The swaths to cut: VERIFIED ones matching every given filter."""

    bbox = BboxField(required=False)
    intersects = GeometryField(required=False, help_text="used when bbox is not given")
    datetime = serializers.CharField(required=False,
                                     help_text="RFC 3339 instant or start/end; '..' is open")
    collections = NamesField(required=False, help_text="collection slugs")


class SubsetRequestSerializer(serializers.Serializer):
    """Exactly one of bbox, geometry or region; exactly one of swath or search."""

    bbox = BboxField(required=False)
    geometry = GeometryField(required=False)
    region = serializers.CharField(required=False, help_text="slug of a named region")
    variables = NamesField(required=False,
                           help_text="variables to cut (default: every variable)")
    datetime = serializers.CharField(
        required=False, help_text="keep only pixels observed in this RFC 3339 instant or "
                                  "start/end interval; '..' is open")
    fill_outside = serializers.BooleanField(
        required=False, default=False,
        help_text="set pixels of the window outside the region to _FillValue")
    swath = serializers.UUIDField(required=False, help_text="the one swath to cut")
    search = SubsetSearchSerializer(required=False)


class SubsetProductSerializer(serializers.ModelSerializer):
    """One product (a subset of one swath): state, timings, sizes and links."""

    swath = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    region = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True,
        help_text="the named region's slug; null for a bbox or geometry")
    variables = serializers.ListField(child=serializers.CharField(), read_only=True)
    params = serializers.DictField(read_only=True,
                                   help_text="the canonical parameters the product was cut with")
    queued_seconds = serializers.SerializerMethodField()
    run_seconds = serializers.SerializerMethodField()
    download = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = ["id", "url", "state", "swath", "region", "variables", "params", "error",
                  "attempts", "created_at", "started_at", "finished_at", "queued_seconds",
                  "run_seconds", "bytes_read", "result_size", "download"]
        read_only_fields = fields  # output only: requests are parsed by api.subsets.views

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


class SubsetErrorSerializer(serializers.Serializer):
    """Why a request was refused; a subset over a size limit also gives its estimate."""

    error = serializers.CharField()
    estimated_bytes = serializers.IntegerField(
        required=False, help_text="the estimate of the product, or of all of the request's")
    limit_bytes = serializers.IntegerField(
        required=False, help_text="SUBSET_MAX_MB per product, or SUBSET_MAX_TOTAL_MB in all")
    swaths = serializers.IntegerField(
        required=False, help_text="how many swaths the refused request would cut (total limit)")
