"""Serializers: validate and render; no side effects."""

from __future__ import annotations

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
    """The schema of a swath Feature; api.features renders them, from value rows."""

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
            "equator_crossing_longitude",
            "start_time", "end_time", "is_empty", "size", "sha256", "state", "created_at",
            "verified_at",
        ]


class StoredCopySerializer(serializers.ModelSerializer):
    class Meta:
        model = StoredObject
        fields = ["store", "key", "codec", "state", "problem", "size", "stored_size",
                  "sha256", "verified_at"]


class GeoPairSerializer(serializers.Serializer):
    lat = serializers.CharField(help_text="path of the latitude variable")
    lon = serializers.CharField(help_text="path of the longitude variable")
    kind = serializers.CharField(help_text="swath2d, track1d or grid")
    shape = serializers.ListField(child=serializers.IntegerField(), required=False)


class SetAsideSerializer(GeoPairSerializer):
    reason = serializers.CharField(help_text="why the footprint leaves this pair out")


class FootprintSourceSerializer(serializers.Serializer):
    """Which geolocation the footprint was made from, for a data manager to audit."""

    rule = serializers.CharField(
        allow_null=True,
        help_text="hints, science (used by the science variables), densest, auxiliary "
                  "(summary geolocation only), gdal geolocation; null for rows catalogued "
                  "before it was recorded")
    pairs = GeoPairSerializer(many=True, help_text="the latitude/longitude the footprint is "
                                                   "made from")
    set_aside = SetAsideSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())
    notes = serializers.ListField(child=serializers.CharField(),
                                  help_text="coordinates attributes that were ignored")


class SwathLinkSerializer(serializers.Serializer):
    rel = serializers.CharField(
        help_text="data (the original file: download), quicklook (a PNG of the main "
                  "variable), references (chunk references for xarray and fsspec's "
                  "reference:// filesystem); the keys of the STAC item's assets")
    href = serializers.URLField()
    type = serializers.CharField(help_text="media type of what href answers")


class SwathDetailSerializer(SwathFeatureSerializer):
    """The schema of one swath (api.features.detail renders it): search pages' properties,
    its stored copies (pages leave them out: one query per page) and the geolocation its
    footprint was made from."""

    copies = StoredCopySerializer(many=True, read_only=True)
    footprint_source = FootprintSourceSerializer(read_only=True)
    links = SwathLinkSerializer(many=True, read_only=True,
                                help_text="what a VERIFIED swath serves besides this page")

    class Meta(SwathFeatureSerializer.Meta):
        fields = [*SwathFeatureSerializer.Meta.fields, "failure_reason", "footprint_warning",
                  "footprint_source", "copies", "links"]


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
