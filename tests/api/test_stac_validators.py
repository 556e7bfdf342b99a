"""The 13 shared granules, ingested and served live, pass stac-validator and stac-api-validator.

Both validators run offline: the STAC core schemas come from ../shared/validators and
the extensions' from tests.support.stacschemas. The rows are written once for the
module (committed, for the live server to read) and removed afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.api.live import LiveServer
from tests.support.stacschemas import API_VALIDATOR_LAUNCHER, require_schemas, schema_map

# The tests only read, over HTTP; the mark makes pytest-django create the test database
# (a transactional mark would empty it after the first test).
pytestmark = [pytest.mark.django_db, pytest.mark.slow]  # about 70 s: 13 ingests, 2 validators
COLLECTION = "shared-granules"


@pytest.fixture(scope="module")
def granules(api_server: LiveServer, django_db_blocker: Any, shared_swaths: Path
             ) -> Iterator[list[dict[str, Any]]]:
    """The 13 granules ingested into one collection; their STAC items as the server gives them."""
    from catalog.models import Collection, IngestItem, Swath
    from catalog.services import get_or_create_collection
    from ingest.pipeline import ingest_file

    with django_db_blocker.unblock():
        coll, _ = get_or_create_collection(COLLECTION)
        outcomes = [ingest_file(p, coll.pk) for p in sorted(shared_swaths.iterdir())
                    if p.name != "README.md"]
    try:
        assert [o for o in outcomes if o.status != "new"] == []
        body = requests.get(f"{api_server.url}/stac/collections/{COLLECTION}/items",
                            params={"limit": 100}, timeout=30).json()
        assert len(body["features"]) == 13
        yield body["features"]
    finally:
        with django_db_blocker.unblock():
            ids = list(Swath.objects.filter(collection=coll).values_list("pk", flat=True))
            IngestItem.objects.filter(swath_id__in=ids).delete()
            Swath.objects.filter(pk__in=ids).delete()
            Collection.objects.filter(pk=coll.pk).delete()


def _stac_validator_errors(item: dict[str, Any], schemas: dict[str, str]) -> list[str]:
    """stac-validator's verdict on one item (JSON Schema: core and extensions), then
    stac-pydantic's Item model, which `stac-validator --pydantic` applies (its extension
    step downloads the schemas, so it is left to the JSON Schema pass here)."""
    from pydantic import ValidationError
    from stac_pydantic import Item
    from stac_validator.validate import StacValidate

    title = item["properties"].get("title")
    errors = []
    validator = StacValidate(schema_map=schemas)
    if not validator.validate_dict(item):
        errors.append(f"{title}: {validator.message}")
    try:
        Item.model_validate(item)
    except ValidationError as e:
        errors.append(f"{title} (pydantic): {e}")
    return errors


def test_every_item_made_from_the_shared_granules_passes_stac_validator(
        granules: list[dict[str, Any]], api_server: LiveServer, tmp_path: Path) -> None:
    require_schemas()
    schemas = schema_map(tmp_path)
    errors: list[str] = []
    for item in granules:
        # The search page's item (PostgreSQL) and the single item's (Python renderer).
        single = requests.get(f"{api_server.url}/stac/collections/{COLLECTION}/items/"
                              f"{item['id']}", timeout=30).json()
        errors += _stac_validator_errors(item, schemas)
        errors += _stac_validator_errors(single, schemas)
    assert errors == [], "\n".join(errors)


def test_stac_api_validator_passes_with_zero_errors_on_the_shared_granules(
        granules: list[dict[str, Any]], api_server: LiveServer, tmp_path: Path) -> None:
    require_schemas()
    (tmp_path / "run_sav.py").write_text(API_VALIDATOR_LAUNCHER)
    geometry = {"type": "Polygon", "coordinates": [[[-20, -70], [20, -70], [20, 70], [-20, 70],
                                                    [-20, -70]]]}
    cmd = [sys.executable, str(tmp_path / "run_sav.py"), "--root-url",
           f"{api_server.url}/stac/", "--collection", COLLECTION,
           "--geometry", json.dumps(geometry)]
    for cc in ("core", "collections", "features", "item-search"):
        cmd += ["--conformance", cc]
    env = {**os.environ, "SCHEMA_MAP": json.dumps(schema_map(tmp_path))}
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-8000:]
