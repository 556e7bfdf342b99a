"""Serializers: validate and render; no side effects."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_gis.fields import GeometryField
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from api.renderers import COORD_DECIMALS
from catalog.models import Collection, IngestRun, Product, Region, StoredObject, Swath


class CollectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Collection
        fields = [
            "slug", "title", "description", "platform", "instrument",
            "processing_level", "license", "default_codec", "default_policy", "created_at",
        ]


class SwathFeatureSerializer(GeoFeatureModelSerializer):
    collection = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    footprint = GeometryField(precision=COORD_DECIMALS, read_only=True)

    class Meta:
        model = Swath
        geo_field = "footprint"
        id_field = "uuid"
        # platform...pass_number: the values STAC items show as platform, constellation,
        # instruments, processing:level, sat:* and swathstore:pass.
        fields = [
            "uuid", "collection", "granule_id", "version", "filename", "format",
            "platform", "constellation", "instrument", "processing_level", "orbit",
            "orbit_direction", "relative_orbit", "orbit_cycle", "pass_number",
            "start_time", "end_time", "is_empty", "size", "sha256", "state", "created_at",
            "verified_at",
        ]


class StoredCopySerializer(serializers.ModelSerializer):
    class Meta:
        model = StoredObject
        fields = ["store", "key", "codec", "state", "size", "stored_size", "sha256",
                  "verified_at"]


class SwathDetailSerializer(SwathFeatureSerializer):
    """One swath with its stored copies (search pages leave them out: one query per page)."""

    copies = serializers.SerializerMethodField()

    class Meta(SwathFeatureSerializer.Meta):
        fields = [*SwathFeatureSerializer.Meta.fields, "copies"]

    @extend_schema_field(StoredCopySerializer(many=True))
    def get_copies(self, swath: Swath) -> list[dict]:
        # Failed and abandoned attempts are history, not copies; the primary store first.
        copies = [c for c in swath.copies.all() if c.state != StoredObject.State.FAILED]
        copies.sort(key=lambda c: (c.store != "primary", c.store, c.pk))
        return StoredCopySerializer(copies, many=True).data


class RegionSerializer(GeoFeatureModelSerializer):
    geometry = GeometryField(precision=COORD_DECIMALS, read_only=True)
    order_collections = serializers.SlugRelatedField(slug_field="slug", many=True,
                                                     read_only=True)

    class Meta:
        model = Region
        geo_field = "geometry"
        id_field = "slug"
        fields = ["slug", "name", "description", "order_active", "order_collections",
                  "order_variables", "created_at"]


class IngestRunSerializer(serializers.ModelSerializer):
    collection = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    mb_per_s = serializers.FloatField(read_only=True)

    class Meta:
        model = IngestRun
        fields = ["id", "collection", "paths", "state", "n_files", "n_new", "n_skipped",
                  "n_failed", "bytes_total", "bytes_new", "seconds", "mb_per_s", "errors",
                  "started_at", "finished_at"]


class ProductSerializer(serializers.ModelSerializer):
    swath = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    region = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Product
        fields = ["id", "swath", "region", "variables", "params", "state", "error",
                  "result_size", "bytes_read", "created_at", "started_at", "finished_at"]
