"""URLs under /stac/."""

from __future__ import annotations

from django.urls import path

from api.stac import aggviews, exportviews, views

app_name = "stac"
urlpatterns = [
    path("", views.LandingView.as_view(), name="landing"),
    path("conformance", views.ConformanceView.as_view(), name="conformance"),
    path("queryables", views.QueryablesView.as_view(), name="queryables"),
    path("search", views.SearchView.as_view(), name="search"),
    path("search/export", exportviews.SearchExportView.as_view(), name="search-export"),
    path("aggregate", aggviews.AggregateView.as_view(), name="aggregate"),
    path("aggregations", aggviews.AggregationsView.as_view(), name="aggregations"),
    path("collections", views.CollectionsView.as_view(), name="collections"),
    path("collections/<slug:collection_id>", views.CollectionView.as_view(), name="collection"),
    path("collections/<slug:collection_id>/queryables", views.CollectionQueryablesView.as_view(),
         name="collection-queryables"),
    path("collections/<slug:collection_id>/items", views.ItemsView.as_view(), name="items"),
    path("collections/<slug:collection_id>/aggregate",
         aggviews.CollectionAggregateView.as_view(), name="collection-aggregate"),
    path("collections/<slug:collection_id>/aggregations",
         aggviews.CollectionAggregationsView.as_view(), name="collection-aggregations"),
    path("collections/<slug:collection_id>/items/<str:item_id>", views.ItemView.as_view(),
         name="item"),
]
