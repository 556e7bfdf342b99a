"""STAC API 1.0 views: thin, each parses, calls api.search or a catalog query, renders."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.gis.db.models.functions import AsGeoJSON
from django.db import connection
from django.db.models import QuerySet
from django.db.models.fields.json import KeyTransform
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from api import coverage
from api.limits import check_body_size
from api.paging import VALID_FRACTION
from api.permissions import PublicReads
from api.renderers import COORD_DECIMALS, FirstRenderer, GeoJSONRenderer, SchemaJSONRenderer
from api.search import SearchPage, SwathSearch, run_search
from api.stac import fields as stac_fields
from api.stac import items, storeditems
from api.stac.boxes import FootprintBox
from api.stac.conformance import CONFORMS_TO
from api.stac.docs import (
    collection_schema,
    items_schema,
    landing_schema,
    queryables_schema,
    search_get_schema,
    search_post_schema,
)
from api.stac.extents import collection_extent
from api.stac.params import ItemsQuery, SearchBody, SearchQuery
from api.stac.queryables import queryables_body
from catalog.models import Collection, Swath, SwathState


def json_response(body: Any, status: int = 200, media: str = "application/json") -> HttpResponse:
    return HttpResponse(items.dumps(body), status=status, content_type=media)


class StacView(APIView):
    """Base: public reads, JSON whatever the Accept header, body size checked first."""

    permission_classes = [PublicReads]
    renderer_classes = [GeoJSONRenderer, SchemaJSONRenderer]
    content_negotiation_class = FirstRenderer

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        check_body_size(request)
        super().initial(request, *args, **kwargs)

    def url(self, path: str) -> str:
        """Absolute URL of a path on this server (the base is worked out once)."""
        base = getattr(self, "_base_url", None)
        if base is None:
            base = self._base_url = self.request.build_absolute_uri("/")[:-1]
        return base + path


def _page_rows(base: QuerySet | None = None) -> QuerySet:
    qs = base if base is not None else Swath.objects.all()
    return qs.annotate(fp_geojson=AsGeoJSON("footprint", precision=COORD_DECIMALS),
                       fp_box=FootprintBox("footprint"),
                       cloud_cover=KeyTransform("cloud_cover", "attrs"),
                       quicklook=KeyTransform("quicklook", "attrs"),
                       chunk_index=KeyTransform("chunk_index", "attrs"))


def search_page(view: StacView, search: SwathSearch,
                spec: stac_fields.FieldSpec) -> SearchPage:
    """One page of items: their text from PostgreSQL, or rows for items.item().

    With settings.API_SQL_ITEMS, PostgreSQL gives each item's text, stored at write
    time or rendered there (api.stac.storeditems); both renderings come from the one
    declaration in api.stac.itemdef. The fields extension reshapes items in Python,
    so such a search takes the rows, as does one on the valid fraction (api.coverage),
    whose items carry swathstore:valid_fraction.
    """
    if search.uses_coverage:
        return coverage.run_page(search, _page_rows(), items.ITEM_COLUMNS)
    if connection.vendor == "postgresql" and settings.API_SQL_ITEMS and not spec.active:
        return run_search(search, render=storeditems.render(view.url("")))
    return run_search(search, _page_rows(), items.ITEM_COLUMNS)


def page_body(view: StacView, search: SwathSearch, spec: stac_fields.FieldSpec, page: SearchPage,
              self_href: str, next_link: dict[str, Any] | None) -> dict[str, Any]:
    if page.rows and "rendered" in page.rows[0]:
        feats: Any = (items.Raw(storeditems.finish(r)) for r in page.rows)
    else:
        feats = (stac_fields.apply(_with_fraction(items.item(r, view.url), r), spec)
                 for r in page.rows)
    links = [
        {"rel": "self", "type": items.GEOJSON, "href": self_href},
        {"rel": "root", "type": "application/json", "href": view.url("/stac/")},
    ]
    if next_link:
        links.append(next_link)
    body = items.item_collection(feats, links, page.matched, page.exact)
    if search.repairs:
        body["swathstore:repairs"] = search.repairs
    return body


def _with_fraction(item: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """An item of a search on the valid fraction carries it (over the search's region)."""
    if VALID_FRACTION in row:
        item["properties"]["swathstore:valid_fraction"] = row[VALID_FRACTION]
    return item


def _next_get(view: StacView, token: str | None) -> dict[str, Any] | None:
    if token is None:
        return None
    params = view.request.query_params.copy()
    params["token"] = token
    href = view.request.build_absolute_uri(view.request.path) + "?" + params.urlencode()
    return {"rel": "next", "type": items.GEOJSON, "method": "GET", "href": href}


class LandingView(StacView):
    @extend_schema(operation_id="stac_landing")
    @landing_schema
    def get(self, request: Request) -> HttpResponse:
        """The STAC landing page: conformance classes and links to everything else."""
        u = self.url
        links = [
            {"rel": "self", "type": "application/json", "href": u("/stac/")},
            {"rel": "root", "type": "application/json", "href": u("/stac/")},
            {"rel": "conformance", "type": "application/json", "href": u("/stac/conformance")},
            {"rel": "data", "type": "application/json", "href": u("/stac/collections")},
            {"rel": "search", "type": items.GEOJSON, "method": "GET", "href": u("/stac/search")},
            {"rel": "search", "type": items.GEOJSON, "method": "POST",
             "href": u("/stac/search")},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
             "type": "application/schema+json", "href": u("/stac/queryables")},
            {"rel": "aggregate", "type": "application/json", "method": "GET",
             "href": u("/stac/aggregate")},
            {"rel": "aggregate", "type": "application/json", "method": "POST",
             "href": u("/stac/aggregate")},
            {"rel": "aggregations", "type": "application/json", "href": u("/stac/aggregations")},
            {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0",
             "href": u("/api/schema/?format=json")},
            {"rel": "service-doc", "type": "text/html", "href": u("/api/docs/")},
        ]
        for slug, title in Collection.objects.values_list("slug", "title"):
            links.append({"rel": "child", "type": "application/json", "title": title,
                          "href": u(f"/stac/collections/{slug}")})
        return json_response({
            "type": "Catalog", "stac_version": items.STAC_VERSION, "id": "swathstore",
            "title": "swathstore", "description": "Archived Earth-observation satellite swaths",
            "conformsTo": CONFORMS_TO, "links": links,
        })


class ConformanceView(StacView):
    @extend_schema(operation_id="stac_conformance")
    @landing_schema
    def get(self, request: Request) -> HttpResponse:
        """The conformance classes this API passes."""
        return json_response({"conformsTo": CONFORMS_TO})


class CollectionsView(StacView):
    @extend_schema(operation_id="stac_collections")
    @collection_schema
    def get(self, request: Request) -> HttpResponse:
        """Every collection, with its extent."""
        colls = [items.collection(c, self.url, collection_extent(c))
                 for c in Collection.objects.all()]
        return json_response({"collections": colls, "links": [
            {"rel": "self", "type": "application/json", "href": self.url("/stac/collections")},
            {"rel": "root", "type": "application/json", "href": self.url("/stac/")},
            {"rel": "parent", "type": "application/json", "href": self.url("/stac/")},
        ]})


class CollectionView(StacView):
    @extend_schema(operation_id="stac_collection")
    @collection_schema
    def get(self, request: Request, collection_id: str) -> HttpResponse:
        """One collection."""
        coll = Collection.objects.get(slug=collection_id)
        return json_response(items.collection(coll, self.url, collection_extent(coll)))


class ItemsView(StacView):
    @extend_schema(operation_id="stac_items")
    @items_schema
    def get(self, request: Request, collection_id: str) -> HttpResponse:
        """Items of one collection (OGC API Features), keyset-paged."""
        Collection.objects.only("id").get(slug=collection_id)
        query = ItemsQuery.parse(request.query_params.dict())
        search, spec = query.search(collection_id), query.fields
        page = search_page(self, search, spec)
        body = page_body(self, search, spec, page, request.build_absolute_uri(),
                         _next_get(self, page.next_token))
        body["links"] += [
            {"rel": "collection", "type": "application/json",
             "href": self.url(f"/stac/collections/{collection_id}")},
            {"rel": "parent", "type": "application/json",
             "href": self.url(f"/stac/collections/{collection_id}")},
        ]
        return json_response(body, media=items.GEOJSON)


class ItemView(StacView):
    @extend_schema(operation_id="stac_item")
    @collection_schema
    def get(self, request: Request, collection_id: str, item_id: str) -> HttpResponse:
        """One item."""
        from uuid import UUID

        try:
            uid = UUID(item_id)
        except ValueError as e:
            raise Swath.DoesNotExist(f"no item {item_id!r} in {collection_id!r}") from e
        row = _page_rows().filter(
            uuid=uid, collection__slug=collection_id, state=SwathState.VERIFIED
        ).values(*items.ITEM_COLUMNS).first()
        if row is None:
            raise Swath.DoesNotExist(f"no item {item_id!r} in collection {collection_id!r}")
        return json_response(items.item(row, self.url), media=items.GEOJSON)


class SearchView(StacView):
    post_is_read = True

    @extend_schema(operation_id="stac_search_get")
    @search_get_schema
    def get(self, request: Request) -> HttpResponse:
        """Item search over all collections (GET)."""
        query = SearchQuery.parse(request.query_params.dict())
        search, spec = query.search(), query.fields
        page = search_page(self, search, spec)
        body = page_body(self, search, spec, page, request.build_absolute_uri(),
                         _next_get(self, page.next_token))
        return json_response(body, media=items.GEOJSON)

    @extend_schema(operation_id="stac_search_post")
    @search_post_schema
    def post(self, request: Request) -> HttpResponse:
        """Item search over all collections (POST, JSON body, CQL2-JSON filter)."""
        body_in = request.data
        query = SearchBody.parse(body_in)
        search, spec = query.search(), query.fields
        page = search_page(self, search, spec)
        next_link = None
        if page.next_token:
            next_link = {"rel": "next", "type": items.GEOJSON, "method": "POST",
                         "href": self.url("/stac/search"), "merge": False,
                         "body": {**body_in, "token": page.next_token}}
        body = page_body(self, search, spec, page, self.url("/stac/search"), next_link)
        return json_response(body, media=items.GEOJSON)


class QueryablesView(StacView):
    renderer_classes = [SchemaJSONRenderer]

    @extend_schema(operation_id="stac_queryables")
    @queryables_schema
    def get(self, request: Request) -> HttpResponse:
        """The properties a filter may use, as JSON Schema."""
        return json_response(queryables_body(request.build_absolute_uri(request.path)),
                             media="application/schema+json")


class CollectionQueryablesView(StacView):
    renderer_classes = [SchemaJSONRenderer]

    @extend_schema(operation_id="stac_collection_queryables")
    @queryables_schema
    def get(self, request: Request, collection_id: str) -> HttpResponse:
        """The properties a filter may use in one collection (the same for all)."""
        Collection.objects.only("id").get(slug=collection_id)
        return json_response(queryables_body(request.build_absolute_uri(request.path)),
                             media="application/schema+json")
