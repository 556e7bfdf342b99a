"""Register a finished job's outputs in the catalog as Products (Django; never on workers).

Only a report whose job completed (every rank confirmed success at the final gather)
is accepted. Each output is copied into the chosen store under a content-addressed key
(``products/h<params>/<sha256>.nc``, checked against the report's SHA-256 as it
streams), then the StoredObject and a DONE Product are created in one short
transaction. Products are identified by the same parameter hash as API requests, so
a re-run registers nothing twice and a later API request for the same cut finds it.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from django.db import IntegrityError, transaction
from django.utils import timezone

import archive.config
from archive.keys import product_key
from catalog.models import Product, Region, StoredObject, Swath, SwathState
from hpc import outputs
from hpc.manifest import region_from_spec
from hpc.sources import store_for
from subset.services import SubsetSpec, geos, params_hash


class RegistrationRefused(RuntimeError):
    """The report is not of a completed job, or cannot be read."""


@dataclass
class Registered:
    """What a registration did."""

    created: int = 0
    existing: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (id, reason)


def _open_output(job: dict[str, Any], ref: str) -> BinaryIO:
    out = job["out"]
    if outputs.is_store(out):
        return store_for(out).open(ref[len(out.rstrip("/")) + 1:])
    return open(ref, "rb")


def register_report(path: str | os.PathLike[str], store_name: str = "primary") -> Registered:
    """Register every done item of a completed job's report; raise RegistrationRefused."""
    try:
        report = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise RegistrationRefused(f"{path}: cannot read the report: {e}") from e
    if not report.get("complete"):
        raise RegistrationRefused(f"{path}: the job did not complete (exit code "
                                  f"{report.get('exit_code')}): nothing is registered")
    job = report["job"]
    slug = job["region"].get("slug")
    spec = SubsetSpec(region=region_from_spec(job["region"]), region_slug=slug,
                      variables=list(job.get("variables") or []))
    region_id = Region.objects.filter(slug=slug).values_list("pk", flat=True).first() \
        if slug else None
    store = archive.config.get_store(store_name)
    done = Registered()
    for result in report.get("results", []):
        if result.get("status") not in ("done", "resumed") or not result.get("sha256"):
            continue
        try:
            swath = Swath.objects.filter(uuid=uuid.UUID(result["id"])).first()
        except ValueError:  # not a swath's id
            swath = None
        if swath is None or swath.state != SwathState.VERIFIED:
            done.skipped.append((result["id"], "no VERIFIED swath with this id"))
            continue
        params = spec.params(swath)
        digest = params_hash(params)
        if Product.objects.filter(params_hash=digest).exists():
            done.existing += 1
            continue
        key = product_key(f"h{digest[:32]}", result["sha256"])
        with _open_output(job, result["output"]) as stream:
            put = store.put(key, stream, size=result.get("size"), sha256=result["sha256"],
                            content_type="application/x-netcdf")
        now = timezone.now()
        try:
            with transaction.atomic():
                obj, _ = StoredObject.objects.get_or_create(
                    store=store_name, key=put.key,
                    defaults={"swath": None, "codec": put.codec, "size": put.size,
                              "stored_size": put.stored_size, "sha256": put.sha256,
                              "etag": put.etag or "", "state": StoredObject.State.STORED})
                Product.objects.create(
                    swath=swath, region_id=region_id, geometry=geos(spec.region),
                    variables=sorted(set(spec.variables)), params=params,
                    params_hash=digest, state=Product.State.DONE, attempts=1, result=obj,
                    result_size=put.size, bytes_read=result.get("bytes_read"),
                    started_at=now, finished_at=now)
        except IntegrityError:
            done.existing += 1  # registered meanwhile by another run
            continue
        done.created += 1
    return done


def register_in_process(path: str, store_name: str = "primary") -> dict[str, Any]:
    """Set Django up in this process (rank 0 only, after the job) and register the report."""
    import django

    from hpc.env import use_default_django_settings

    use_default_django_settings()
    django.setup()
    return asdict(register_report(path, store_name))
