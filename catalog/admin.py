"""Admin with map widgets for footprints and regions (offline: catalog/widgets.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin as DjangoGISModelAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from catalog.copies import BAD_STATES
from catalog.models import Collection, IngestRun, Product, Region, StoredObject, Swath
from catalog.widgets import OfflineMapWidget


class GISModelAdmin(DjangoGISModelAdmin):
    """Geometries on the offline map widget, not Django's CDN one."""

    gis_widget = OfflineMapWidget


class StoredObjectInline(admin.TabularInline):
    """Each copy with its state and, when MISSING or CORRUPT, its problem."""

    model = StoredObject
    extra = 0
    readonly_fields = [f.name for f in StoredObject._meta.fields]
    can_delete = False


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ["slug", "title", "platform", "instrument", "default_codec", "default_policy"]
    search_fields = ["slug", "title"]


class FootprintWarningFilter(admin.SimpleListFilter):
    """Swaths whose footprint carries a warning (e.g. made from summary geolocation only)."""

    title = "footprint warning"
    parameter_name = "footprint_warning"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("yes", "with a warning"), ("no", "without")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.exclude(footprint_warning="")
        if self.value() == "no":
            return queryset.filter(footprint_warning="")
        return queryset


class DegradedFilter(admin.SimpleListFilter):
    """Swaths with a copy MISSING or CORRUPT: still readable, waiting for heal (ops.heal)."""

    title = "copies"
    parameter_name = "copies"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("bad", "a copy MISSING or CORRUPT")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "bad":
            return queryset.filter(copies__state__in=BAD_STATES).distinct()
        return queryset


@admin.register(Swath)
class SwathAdmin(GISModelAdmin):
    list_display = ["granule_id", "collection", "state", "start_time", "orbit", "size",
                    "footprint_warned", "why"]
    # state LOST: no copy hashes right any more; failure_reason says what became of each.
    list_filter = ["state", DegradedFilter, "collection", "platform", FootprintWarningFilter]
    search_fields = ["granule_id", "sha256", "uuid"]
    date_hierarchy = "start_time"
    readonly_fields = ["uuid", "sha256", "size", "created_at", "updated_at", "verified_at",
                       "failure_reason", "footprint_warning", "footprint_made_from"]
    inlines = [StoredObjectInline]

    @admin.display(description="why (LOST, FAILED)")
    def why(self, swath: Swath) -> str:
        return swath.failure_reason[:120] if swath.state in ("LOST", "FAILED") else ""

    @admin.display(boolean=True, description="footprint warning")
    def footprint_warned(self, swath: Swath) -> bool:
        return bool(swath.footprint_warning)

    @admin.display(description="footprint made from")
    def footprint_made_from(self, swath: Swath) -> str:
        """The latitude/longitude pairs of the footprint, the rule, and the pairs left out."""
        geo = (swath.attrs or {}).get("geolocation") or {}
        pairs = geo.get("pairs") or ([{"lat": geo["lat"], "lon": geo.get("lon")}]
                                     if geo.get("lat") else [])
        used = [format_html("{} / {}", p.get("lat"), p.get("lon")) for p in pairs]
        aside = [format_html("{} / {}: {}", p.get("lat"), p.get("lon"), p.get("reason"))
                 for p in geo.get("set_aside") or []]
        rule = geo.get("rule") or "not recorded"
        return format_html(
            "rule: {}<br>used: {}<br>set aside: {}", rule,
            format_html_join(", ", "{}", ((u,) for u in used)) or "none",
            format_html_join("; ", "{}", ((a,) for a in aside)) or "none")


@admin.register(Region)
class RegionAdmin(GISModelAdmin):
    list_display = ["slug", "name", "order_active", "order_owner", "order_problem"]
    filter_horizontal = ["order_collections"]
    readonly_fields = ["order_problem", "order_problem_at"]

    def save_model(self, request: HttpRequest, obj: Region, form: Any, change: bool) -> None:
        # A region fixed (or an order started again) is tried again by the next swath.
        if change and {"geometry", "order_active"} & set(form.changed_data):
            obj.order_problem, obj.order_problem_at = "", None
        super().save_model(request, obj, form, change)


@admin.register(Product)
class ProductAdmin(GISModelAdmin):
    list_display = ["id", "swath", "region", "owner", "state", "result_size", "created_at"]
    list_filter = ["state"]


@admin.register(IngestRun)
class IngestRunAdmin(admin.ModelAdmin):
    list_display = ["id", "collection", "state", "n_files", "n_new", "n_skipped", "n_failed",
                    "started_at"]
    list_filter = ["state", "collection"]
