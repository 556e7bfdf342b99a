"""Data managers inspect and fix rows in the admin, footprints on a map widget."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.catalog.factories import box, swath

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    User.objects.create_superuser("manager", "m@example.org", "a-long-test-password")
    client = Client()
    client.login(username="manager", password="a-long-test-password")
    return client


def test_swath_change_page_shows_the_footprint_on_a_map(admin_client: Client) -> None:
    s = swath(box(10, 10, 20, 20))
    page = admin_client.get(f"/admin/catalog/swath/{s.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="id_footprint"' in html and "MultiPolygon" in html
    assert s.sha256 in html


def test_swath_list_filters_by_state(admin_client: Client) -> None:
    swath(box(0, 0, 1, 1), state="FAILED", granule_id="broken.nc")
    swath(box(0, 0, 1, 1), granule_id="fine.nc")
    page = admin_client.get("/admin/catalog/swath/?state__exact=FAILED").content.decode()
    assert "broken.nc" in page and "fine.nc" not in page


def test_admin_needs_a_login() -> None:
    assert Client().get("/admin/catalog/swath/").status_code == 302


def test_a_lost_swath_and_a_degraded_one_are_found_with_their_reasons(
        admin_client: Client) -> None:
    from catalog.models import StoredObject, Swath

    lost = swath(box(0, 0, 1, 1), state="LOST", granule_id="lost.nc")
    Swath.objects.filter(pk=lost.pk).update(failure_reason="no copy hashes to sha256 abc")
    degraded = swath(box(0, 0, 1, 1), granule_id="degraded.nc")
    StoredObject.objects.create(swath=degraded, store="offsite", key="k", state="CORRUPT",
                                problem="fsck: CORRUPT SHA-256 differs")
    swath(box(0, 0, 1, 1), granule_id="fine.nc")
    page = admin_client.get("/admin/catalog/swath/?state__exact=LOST").content.decode()
    assert "lost.nc" in page and "no copy hashes" in page and "fine.nc" not in page
    page = admin_client.get("/admin/catalog/swath/?copies=bad").content.decode()
    assert "degraded.nc" in page and "fine.nc" not in page and "lost.nc" not in page
    page = admin_client.get(f"/admin/catalog/swath/{degraded.pk}/change/").content.decode()
    assert "fsck: CORRUPT SHA-256 differs" in page
