"""Bulk regional extraction straight from the object store, on MPI ranks or without MPI.

    mpirun -n N python -m mpi4py -m hpc.extract --manifest manifest.jsonl \
        --bbox W,S,E,N --out DIR|s3://bucket/prefix \
        [--schedule dynamic|static] \
        [--on-failure retry:3|skip|fail|cancel-successors] [--group-by granule|region] \
        [--item-limits auto|all|off] [--item-timeout SECONDS] [--item-memory MB] \
        [--mapping mpi|processes|serial]

Run it as ``python -m mpi4py -m hpc.extract`` so that an exception or a killed rank
aborts the whole job instead of deadlocking it. Workers import archive/, subset/ and
ingest's reading side only: no Django, no database. ``--api URL`` plans the manifest
from the REST API instead of a file. Items read through the HDF5 library (NetCDF-4,
HDF5, format unknown: the library with kept hang cases) run in a child process with a
time and memory limit (--item-limits auto); a timeout is the item's failure under
--on-failure. Exit codes: 0 all done, 2 some items skipped or cancelled, 1 the job
failed (nothing is registered), 3 registration failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from eo.argv import accept_negative_values
from eo.times import parse_interval
from hpc import outputs
from hpc.driver import finish, run_job
from hpc.limits import add_limit_arguments, limits_from_args
from hpc.manifest import ManifestError, read_manifest, region_from_spec
from hpc.policy import parse_policy
from hpc.report import summarize, table, write_json
from hpc.scheduler import Outcome
from hpc.work import extract_item, warm_up
from subset.region import parse_bbox, parse_geometry

EPOCH = "1970-01-01T00:00:00Z"


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = accept_negative_values(argparse.ArgumentParser(
        prog="python -m mpi4py -m hpc.extract", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter))
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--manifest", help="JSON-lines manifest (manage.py plan-extract)")
    source.add_argument("--api", help="plan from this API instead (site root URL)")
    p.add_argument("--datetime", help="with --api: START/END")
    p.add_argument("--collection", help="with --api: collection slug(s)")
    p.add_argument("--write-manifest", help="with --api: also save the planned manifest")
    region = p.add_mutually_exclusive_group()
    region.add_argument("--bbox", help="W,S,E,N (default: the manifest's region)")
    region.add_argument("--region", help="named region (geometry from the manifest or --api)")
    region.add_argument("--geometry", help="file with a GeoJSON or WKT (multi)polygon")
    p.add_argument("--variables", help="comma-separated variables (default: all)")
    p.add_argument("--out", required=True, help="output directory or s3://bucket/prefix")
    p.add_argument("--schedule", choices=("dynamic", "static"), default="dynamic")
    p.add_argument("--on-failure", default="retry:3",
                   help="retry:N (then fail), retry:N,skip, skip, fail, cancel-successors "
                        "or retry:N,cancel-successors (default retry:3)")
    p.add_argument("--group-by", choices=("granule", "region"), default="granule",
                   help="with cancel-successors: a failed item cancels the unstarted items "
                        "of its granule or of its region (default granule)")
    add_limit_arguments(
        p, what="run items in a child with --item-timeout and --item-memory: auto "
                "(default) for NetCDF-4/HDF5 items or of unknown format, whose "
                "library has kept hang cases; all; off",
        timeout_help="wall-clock limit of one limited item, > 0 "
                     "(default {default}); past it the item fails, not retried",
        memory_help="address-space limit of a limited item's child (default {default})")
    p.add_argument("--mapping", choices=("mpi", "processes", "serial"), default="mpi")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="processes for --mapping processes")
    p.add_argument("--rank0", choices=("work", "dispatch"), default="work",
                   help="dynamic schedule: rank 0 also cuts subsets, or only dispatches")
    p.add_argument("--created", help="time stamped into outputs (default: the plan's time)")
    p.add_argument("--max-mb", type=float, help="refuse subsets estimated above this size")
    p.add_argument("--job-id", help="names the log directory (default: time and pid)")
    p.add_argument("--log-dir", help="per-rank logs and report (default: OUT/_logs/JOB)")
    p.add_argument("--report", help="summary JSON (default: LOG_DIR/report.json)")
    p.add_argument("--progress", type=float, default=2.0, help="seconds between progress lines")
    p.add_argument("--retry-backoff", type=float, default=0.5, help="first retry delay, s")
    p.add_argument("--register", action="store_true",
                   help="rank 0 registers outputs as Products after success (needs Django)")
    p.add_argument("--store", default="primary", help="with --register: store for products")
    return p


def resolve_region(args: argparse.Namespace, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the job's region spec from the options, the manifest or the API."""
    if args.bbox:
        parse_bbox(args.bbox)
        return {"bbox": args.bbox}
    if args.geometry:
        return {"wkt": parse_geometry(Path(args.geometry).read_text()).geometry.wkt}
    if args.region:
        for item in items:
            spec = item.get("region") or {}
            if spec.get("slug") == args.region and spec.get("wkt"):
                return {"slug": args.region, "wkt": spec["wkt"]}
        if args.api:
            from hpc.apiplan import api_root, region_spec

            return region_spec(api_root(args.api), bbox=None, region=args.region, token=None)
        raise ManifestError(f"the manifest does not carry region {args.region!r}: plan it "
                            "with --region, or give --api to fetch it")
    specs = {repr(sorted((i.get("region") or {}).items())) for i in items}
    if len(specs) != 1 or not items[0].get("region"):
        raise ManifestError("give --bbox, --region or --geometry: the manifest holds "
                            f"{len(specs)} different regions")
    spec = dict(items[0]["region"])
    region_from_spec(spec)
    return spec


def plan(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return (items, job) on rank 0: read or plan the manifest, resolve region and options."""
    if args.api:
        from hpc.apiplan import plan_from_api
        from hpc.manifest import write_manifest

        wkt = (parse_geometry(Path(args.geometry).read_text()).geometry.wkt
               if args.geometry else None)
        items = plan_from_api(args.api, bbox=args.bbox, region=args.region, wkt=wkt,
                              datetime=args.datetime, collection=args.collection)
        if args.write_manifest:
            write_manifest(args.write_manifest, items)
    else:
        items = read_manifest(args.manifest)
    created = args.created or next((i["planned"] for i in items if i.get("planned")), EPOCH)
    when = parse_interval(created, "created")[0]
    if when is None:
        raise ManifestError(f"--created {created!r} is not a time")
    job_id = args.job_id or time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{os.getpid()}"
    out = args.out.rstrip("/") if outputs.is_store(args.out) else str(Path(args.out).resolve())
    log_dir = args.log_dir or (str(Path(out) / "_logs" / job_id) if not outputs.is_store(out)
                               else str(Path("hpc-logs") / job_id))
    policy = parse_policy(args.on_failure, backoff_s=args.retry_backoff,
                          group_by=args.group_by)
    job = {
        "job_id": job_id, "out": out, "region": resolve_region(args, items),
        "variables": [v.strip() for v in args.variables.split(",")] if args.variables else None,
        "created": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "max_bytes": int(args.max_mb * 1e6) if args.max_mb else None,
        "policy": asdict(policy), "mapping": args.mapping, "schedule": args.schedule,
        "limits": limits_from_args(args),
        "rank0": args.rank0, "log_dir": str(Path(log_dir).resolve()),
        "manifest": args.manifest or args.api, "items": len(items),
    }
    outputs.prepare(out)
    return items, job


def report(outcome: Outcome, job: dict[str, Any], items: list[dict[str, Any]],
           args: argparse.Namespace, ranks: int) -> int:
    """Print and save the summary (rank 0), register if asked; return the exit code."""
    summary = summarize(outcome, {**job, "ranks": ranks}, len(items))
    path = args.report or str(Path(job["log_dir"]) / "report.json")
    write_json(path, summary)
    print(table(summary), flush=True)
    print(f"report: {path}", flush=True)
    code = int(summary["exit_code"])
    if args.register and summary["complete"]:
        try:
            from hpc.register import register_in_process

            made = register_in_process(path, args.store)
            print(f"registered {made['created']} products ({made['existing']} existed)")
        except Exception as e:  # the outputs stand; say why registration did not happen
            print(f"hpc.extract: registration failed: {type(e).__name__}: {e}", file=sys.stderr)
            return 3
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the job on this rank (or process); return the exit code."""
    args = build_parser().parse_args(argv)
    run = run_job(args, lambda: plan(args), extract_item, "hpc.extract", warm_up)
    if run is None:
        return 1
    code = 0
    if run.outcome is not None:
        code = report(run.outcome, run.job, run.items, args,
                      run.comm.size if run.comm else len(run.outcome.workers))
    return finish(run.comm, code)


if __name__ == "__main__":
    sys.exit(main())
