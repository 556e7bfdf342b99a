"""Routes of /api/v1/subsets/ (the subset jobs API)."""

from __future__ import annotations

from django.urls import path

from api.subsets import views

app_name = "subset"
urlpatterns = [
    path("", views.SubsetListView.as_view(), name="list"),
    path("estimate", views.SubsetEstimateView.as_view(), name="estimate"),
    path("<int:pk>", views.SubsetDetailView.as_view(), name="detail"),
    path("<int:pk>/download", views.SubsetDownloadView.as_view(), name="download"),
    path("<int:pk>/retry", views.SubsetRetryView.as_view(), name="retry"),
]
