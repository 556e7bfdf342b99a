"""One table (api.exceptions.ERRORS) answers every view's errors: status and JSON shape.

Subsets' errors went through their own handler in the subsets views before; now the
same request refused anywhere gets the same status and the same {"error": ...} body.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from catalog.models import Product
from tests.catalog.factories import box, collection, swath

pytestmark = pytest.mark.django_db
MISSING = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def client() -> APIClient:
    c = APIClient()
    c.force_authenticate(User.objects.create_user("scientist"))
    return c


@pytest.mark.parametrize(("method", "url", "body", "code", "words"), [
    # subset.errors: a bad region (RegionError), a search matching nothing (NoDataInRegion)
    ("post", "/api/v1/subsets/", {"swath": MISSING, "bbox": "0,0,500"}, 400, "bbox"),
    ("post", "/api/v1/subsets/", {"search": {"bbox": "10,10,11,11"}, "bbox": "10,10,11,11"},
     400, "no VERIFIED swath"),
    # a catalog row that does not exist, in the subsets views and elsewhere
    ("post", "/api/v1/subsets/", {"swath": MISSING, "bbox": "0,0,1,1"}, 404, "does not exist"),
    ("get", "/api/v1/subsets/999999", None, 404, "does not exist"),
    ("get", f"/stac/collections/c/items/{MISSING}", None, 404, ""),
    # api.exceptions.QueryError, in the subsets views, the REST views and STAC
    ("post", "/api/v1/subsets/", {"swath": "x", "bbox": "0,0,1,1"}, 400, "swath='x'"),
    ("post", "/api/v1/subsets/", {"region": "nowhere", "swath": MISSING}, 400,
     "no region named 'nowhere'"),
    ("get", "/api/v1/swaths/?bbox=1,2", None, 400, "bbox"),
    ("get", "/stac/search?filter=collection%20%3D", None, 400, "filter"),
    ("get", "/stac/search?filter=x%20%3D%201e999", None, 400, "filter"),
    # a swath that exists but whose bytes are not served yet (NotDownloadable)
    ("get", "/api/v1/subsets/{product}/download", None, 409, "nothing to download"),
])
def test_each_error_answers_its_status_with_an_error_message(
        client: APIClient, method: str, url: str, body: dict | None, code: int,
        words: str) -> None:
    coll = collection("c")
    row = swath(box(0, 0, 1, 1), coll=coll)
    if "{product}" in url:
        product = Product.objects.create(swath=row, owner=User.objects.get(),
                                         geometry=box(0, 0, 1, 1), params_hash="x")
        url = url.format(product=product.pk)
    response = getattr(client, method)(url, body, format="json")
    assert response.status_code == code, response.content
    answer = response.json()
    assert set(answer) == {"error"} and words in answer["error"], answer


def test_a_subset_over_the_total_limit_answers_its_estimate_through_the_same_table(
        client: APIClient, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SUBSET_MAX_TOTAL_BYTES = 1
    coll = collection("c")
    for _ in range(2):
        swath(box(0, 0, 1, 1), coll=coll)  # each of 1,000 bytes and more
    response = client.post("/api/v1/subsets/", {"search": {"bbox": "0,0,1,1"},
                                                "bbox": "0,0,1,1"}, format="json")
    assert response.status_code == 400, response.content
    answer = response.json()
    assert set(answer) == {"error", "estimated_bytes", "limit_bytes", "swaths"}
    assert answer["swaths"] == 2 and answer["limit_bytes"] == 1
    assert "narrow the search" in answer["error"]
