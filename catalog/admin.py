"""Admin with map widgets for footprints and regions (offline: catalog/widgets.py)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin as DjangoGISModelAdmin

from catalog.models import Collection, IngestRun, Product, Region, StoredObject, Swath
from catalog.widgets import OfflineMapWidget


class GISModelAdmin(DjangoGISModelAdmin):
    """Geometries on the offline map widget, not Django's CDN one."""

    gis_widget = OfflineMapWidget


class StoredObjectInline(admin.TabularInline):
    model = StoredObject
    extra = 0
    readonly_fields = [f.name for f in StoredObject._meta.fields]
    can_delete = False


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ["slug", "title", "platform", "instrument", "default_codec", "default_policy"]
    search_fields = ["slug", "title"]


@admin.register(Swath)
class SwathAdmin(GISModelAdmin):
    list_display = ["granule_id", "collection", "state", "start_time", "orbit", "size"]
    list_filter = ["state", "collection", "platform"]
    search_fields = ["granule_id", "sha256", "uuid"]
    date_hierarchy = "start_time"
    readonly_fields = ["uuid", "sha256", "size", "created_at", "updated_at", "verified_at"]
    inlines = [StoredObjectInline]


@admin.register(Region)
class RegionAdmin(GISModelAdmin):
    list_display = ["slug", "name", "order_active", "order_owner"]
    filter_horizontal = ["order_collections"]


@admin.register(Product)
class ProductAdmin(GISModelAdmin):
    list_display = ["id", "swath", "region", "owner", "state", "result_size", "created_at"]
    list_filter = ["state"]


@admin.register(IngestRun)
class IngestRunAdmin(admin.ModelAdmin):
    list_display = ["id", "collection", "state", "n_files", "n_new", "n_skipped", "n_failed",
                    "started_at"]
    list_filter = ["state", "collection"]
