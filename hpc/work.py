"""The extraction work unit: one manifest item -> one regional subset file (no Django).

``extract_item(item, job)`` is a top-level function of plain values (STYLE 14), so the
same call runs in a loop, in a ProcessPoolExecutor or on an MPI rank. ``job`` holds
the output location, the region spec, variables, ``created`` and the size limit;
credentials come from the node's environment. The result is a plain dict.

Outputs are byte-identical whichever rank, mapping or run produced them: the kernel
stamps the wall-clock time into ``history`` and ``subset_created``, so the time is
replaced by the job's ``created`` (by default the manifest's ``planned`` time).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

from archive.streaming import sha256_file
from hpc import outputs
from hpc.apiplan import geo_bounds
from hpc.manifest import region_from_spec
from hpc.sources import open_item, store_for
from subset import kernel
from subset.errors import NoDataInRegion
from subset.indexgeo import load_geo_bounds

_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def params_digest(item: dict[str, Any], job: dict[str, Any]) -> str:
    """Return the hash of everything that decides an item's output (the marker's key)."""
    doc = {"source_sha256": item.get("sha256"), "id": item["id"],
           "region": job["region"], "variables": job.get("variables"),
           "created": job["created"], "software": kernel.SOFTWARE}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def provenance(item: dict[str, Any]) -> dict[str, Any]:
    """Return the provenance attributes of an item's output (as subset.services writes)."""
    return {"granule_id": item.get("granule_id"), "swath_uuid": item["id"],
            "sha256": item.get("sha256"), "collection": item.get("collection")}


def stamp(path: Path, created: str) -> None:
    """Replace the kernel's wall-clock time in ``history`` and ``subset_created``."""
    import netCDF4

    with netCDF4.Dataset(path, "r+") as ds:
        lines = str(ds.getncattr("history")).split("\n")
        if _STAMP.match(lines[-1]):
            lines[-1] = created + lines[-1][len(created):]
            ds.setncattr("history", "\n".join(lines))
        ds.setncattr("subset_created", created)


def item_geo_bounds(item: dict[str, Any]) -> dict[str, Any] | None:
    """Return the per-chunk geolocation bounds of an item's chunk index, read from its
    store by URL (hpc.plan) or from the API (hpc.apiplan); None when it has none or it
    cannot be used (logged)."""
    if item.get("references"):  # an API plan (hpc.apiplan)
        return geo_bounds(item)
    record = item.get("chunk_index")
    if not record or not record.get("store_url"):
        return None
    return load_geo_bounds(record, item.get("sha256"), lambda r: store_for(r["store_url"]),
                           what=f"item {item['id']}", object_size=item.get("size"))


def extract_item(item: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """Cut one item's subset into ``job["out"]``; return its outcome (done/empty/resumed).

    Raises what the store or kernel raise (the failure policy decides what follows).
    """
    t0 = time.monotonic()
    out, name = job["out"], outputs.output_name(item["id"])
    params = params_digest(item, job)
    result: dict[str, Any] = {"id": item["id"], "output": outputs.output_ref(out, name),
                              "bytes_read": 0, "bytes_written": 0, "size_in": item.get("size")}
    marker = outputs.finished(out, name, params)
    if marker is not None:
        result.update(status="resumed", sha256=marker.get("sha256"), size=marker.get("size"),
                      empty=bool(marker.get("empty")), seconds=time.monotonic() - t0)
        if marker.get("empty"):
            result["output"] = None
        return result
    region = region_from_spec(job["region"])
    marker = {"id": item["id"], "params": params, "created": job["created"],
              "source_sha256": item.get("sha256"), "region": job["region"],
              "variables": job.get("variables")}
    with outputs.scratch(out) as tmp:
        target = tmp / name
        local: Path | None = target
        try:
            problems: list[str] = []
            with open_item(item, tmp, problems) as src:
                if problems:  # read from a replica: the first copies failed
                    result["source_problems"] = problems
                try:
                    sub = kernel.subset(src, region, target, variables=job.get("variables"),
                                        provenance=provenance(item),
                                        max_bytes=job.get("max_bytes"),
                                        threads=job.get("codec_threads"),
                                        geo_bounds=item_geo_bounds(item))
                finally:
                    result["bytes_read"] = int(getattr(src, "bytes_read", 0) or 0)
        except NoDataInRegion as e:
            local = None
            marker.update(empty=True, reason=str(e))
            result.update(status="empty", reason=str(e), output=None)
        if local is not None:
            stamp(local, job["created"])
            size = local.stat().st_size
            marker.update(sha256=sha256_file(local), size=size, n_selected=sub.n_selected,
                          bounds=list(sub.bounds), variables_written=sub.variables)
            result.update(status="done", sha256=marker["sha256"], size=size,
                          bytes_written=size, n_selected=sub.n_selected)
        outputs.publish(out, name, local, marker)
    result["seconds"] = time.monotonic() - t0
    return result


def warm_up() -> None:
    """Import the HDF5/NetCDF libraries before the first item, so it is not timed as work."""
    import h5py  # noqa: F401
    import netCDF4  # noqa: F401
