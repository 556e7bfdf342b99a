"""Helpers for the batch-job tests and benchmark: synthetic swaths put into a store, manifests."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archive.stores import Store
from archive.streaming import sha256_file
from ingest.synth import write_swath

REPO = Path(__file__).resolve().parents[2]
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1"}
# The whole globe: every pixel of every swath is in it, so work grows with size.
BBOX = "-180,-90,180,90"


def synth_swaths(outdir: Path, sizes_px: list[tuple[int, int]], seed: int = 3) -> list[Path]:
    """Write one swath per (duration_s, n_pixels), consecutive along one orbit; return paths."""
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    start = datetime(2024, 3, 1, 10, tzinfo=UTC)
    for n, (duration, pixels) in enumerate(sizes_px):
        path = outdir / f"synth-{seed}-{n:03d}-{duration}x{pixels}.nc"
        if not path.exists():
            write_swath(path, seed=seed, start=start, duration_s=duration, n_pixels=pixels)
        start += timedelta(seconds=duration)
        paths.append(path)
    return paths


def stage(store: Store, store_url: str, paths: list[Path], bbox: str = BBOX) -> list[dict]:
    """Put the files into ``store`` and return their manifest items (as plan-extract writes)."""
    items = []
    for n, path in enumerate(paths):
        ident = f"{n:04d}-{sha256_file(path)[:12]}"
        key = f"swaths/{ident}/{path.name}"
        put = store.put(key, path, overwrite=True)
        items.append({"id": ident, "granule_id": path.name, "collection": "synth",
                      "format": "netcdf4", "size": put.size, "sha256": put.sha256,
                      "codec": "none", "store_url": store_url, "key": key,
                      "region": {"bbox": bbox}, "planned": "2024-06-01T00:00:00Z"})
    return items


def store_env(server: Any) -> dict[str, str]:
    """Return the environment a compute node would have for ``server`` (credentials)."""
    return {"S3_ENDPOINT_URL": server.endpoint_url, "AWS_ACCESS_KEY_ID": server.access_key,
            "AWS_SECRET_ACCESS_KEY": server.secret_key, "S3_REGION": server.region}


def run_extract(args: list[str], env: dict[str, str], ranks: int | None = None,
                timeout: float = 120, **popen: Any) -> subprocess.CompletedProcess[str]:
    """Run hpc.extract (under ``mpirun -n ranks`` when given) and return the finished process."""
    cmd = [sys.executable, "-m", "mpi4py", "-m", "hpc.extract", *args]
    if ranks is not None:
        cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", *cmd]
    full = {**os.environ, **MPI_ENV, **env, "PYTHONPATH": str(REPO)}
    full.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(cmd, cwd=REPO, env=full, capture_output=True, text=True,
                          timeout=timeout, **popen)
