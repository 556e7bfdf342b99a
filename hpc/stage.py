"""Parallel staging of a directory tree into a directory or an object store (PyStager).

    mpirun -n N python -m mpi4py -m hpc.stage SRC DEST [--include GLOB] [--ingest] \
        [--item-limits auto|all|off] [--item-timeout SECONDS] [--item-memory MB]

Rank 0 walks SRC with ingest.scan (no links followed; FIFOs, devices and bad names are
refused with a reason) and prints the scanner summary: files, bytes, per-directory
counts. Files go out largest first to whichever rank asks. Each copy hashes the source
as it streams, lands under a temporary name and is renamed (a store put is atomic),
then the destination is read back and hashed: "source and destination files are
identical", or the item fails under the ``--on-failure`` policy. A re-run skips files
whose destination already has the same size and SHA-256.

DEST is a directory (the tree is mirrored) or ``s3://bucket/prefix`` / ``file:///``
(keys are the relative paths). With ``--ingest`` DEST must be the archive's store:
objects get content-addressed archive keys, the Django-free readers extract each
file's metadata on the ranks, and rank 0 writes ``register.jsonl`` for
``manage.py register FILE --collection SLUG --trust-checksums`` (a node needs no
database). The metadata is read as hpc.extract reads items: in a child process with a
time and memory limit (``--item-limits``, ``--item-timeout``, ``--item-memory``;
hpc.limits), so a file that hangs HDF5 fails as its item instead of stalling its rank.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from archive.errors import ChecksumMismatch
from archive.keys import swath_key
from archive.streaming import CHUNK, HashingReader, sha256_file
from hpc import limits, outputs
from hpc.driver import finish, run_job
from hpc.limits import add_limit_arguments, limits_from_args
from hpc.policy import parse_policy
from hpc.report import summarize, table, write_json
from hpc.sources import store_for
from ingest.scan import scan


def _copy_file(src: Path, dest: Path) -> str:
    """Copy src to dest via a temporary name in dest's directory; return the source hash."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
            source = HashingReader(fin)
            shutil.copyfileobj(source, fout, CHUNK)
            fout.flush()
            os.fsync(fout.fileno())
        shutil.copystat(src, tmp)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return source.hexdigest()


def stage_item(item: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """Copy (or ingest) one file and prove the copy identical; return its outcome."""
    t0 = time.monotonic()
    src, size = Path(item["path"]), int(item["size"])
    dest = job["dest"]
    result: dict[str, Any] = {"id": item["id"], "path": item["rel"], "size_in": size,
                              "bytes_read": 0, "bytes_written": 0}
    if job.get("ingest"):
        return _ingest(item, job, result, t0)
    if outputs.is_store(dest):
        store = store_for(dest)
        key = item["rel"]
        info = store.head(key)
        source_sha = sha256_file(src)
        result["bytes_read"] = size
        if info is not None and info.sha256 == source_sha and (info.size or 0) == size:
            return {**result, "status": "resumed", "sha256": source_sha,
                    "seconds": time.monotonic() - t0}
        put = store.put(key, src, size=size, sha256=source_sha, overwrite=True)
        store.verify(key, source_sha)
        result.update(status="done", sha256=put.sha256, bytes_read=2 * size,
                      bytes_written=put.stored_size, dest=f"{dest.rstrip('/')}/{key}")
    else:
        target = Path(dest) / item["rel"]
        if target.is_file() and target.stat().st_size == size:
            source_sha = sha256_file(src)
            if sha256_file(target) == source_sha:
                return {**result, "status": "resumed", "sha256": source_sha,
                        "bytes_read": 2 * size, "seconds": time.monotonic() - t0}
        source_sha = _copy_file(src, target)
        copied = sha256_file(target)
        if copied != source_sha:
            target.unlink(missing_ok=True)
            raise ChecksumMismatch(f"{item['rel']}: the copy hashes to {copied}, the source "
                                   f"to {source_sha}")
        result.update(status="done", sha256=source_sha, bytes_read=2 * size,
                      bytes_written=size, dest=str(target))
    result["seconds"] = time.monotonic() - t0
    return result


def read_item_metadata(item: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """Return the metadata of the item's file as plain values (a work function: it runs in
    the limited child or in the rank)."""
    from ingest.readers import read_metadata

    return read_metadata(Path(item["path"])).to_dict()


def _metadata(item: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """Return the file's metadata, read under the job's metadata limits where they apply.

    Only the reading runs in the child (ItemFailed with its ``cause`` past a limit): the
    hashing and the upload are this process's, so a large file's copy is not bounded by
    a timeout meant for the reader.
    """
    reading = {"limits": job.get("metadata_limits") or {"mode": "off"}}
    if limits.applies(item, reading):
        return limits.run_limited(read_item_metadata, item, reading)
    return read_item_metadata(item, reading)


def _ingest(item: dict[str, Any], job: dict[str, Any], result: dict[str, Any],
            t0: float) -> dict[str, Any]:
    """Read metadata, store under an archive key, verify; the result carries the record."""
    src, size = Path(item["path"]), int(item["size"])
    meta = _metadata(item, job)
    source_sha = sha256_file(src)
    store = store_for(job["dest"])
    # A stable object id per content: a re-run finds and reuses the same key.
    object_id = uuid.uuid5(uuid.NAMESPACE_URL, f"swathstore:{source_sha}").hex
    key = swath_key(object_id, source_sha, src.suffix if len(src.suffix) <= 8 else "")
    info = store.head(key)
    status = "resumed"
    if info is None or info.sha256 != source_sha:
        put = store.put(key, src, size=size, sha256=source_sha)
        result["bytes_written"] = put.stored_size
        status = "done"
    store.verify(key, source_sha)
    record = {"granule_id": meta.get("granule_id") or src.name, "key": key,
              "sha256": source_sha, "size": size, "codec": "none",
              "format": meta.get("format"), "start_time": meta.get("start_time"),
              "end_time": meta.get("end_time"), "footprint": meta.get("footprint"),
              "platform": meta.get("platform"), "instrument": meta.get("instrument"),
              "orbit": meta.get("orbit"), "filename": src.name}
    result.update(status=status, sha256=source_sha, bytes_read=2 * size, record=record,
                  seconds=time.monotonic() - t0)
    return result


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = argparse.ArgumentParser(prog="python -m mpi4py -m hpc.stage", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", help="directory tree (or file) to stage")
    p.add_argument("dest", help="directory, s3://bucket/prefix or file:///path")
    p.add_argument("--include", action="append", help="only names matching GLOB")
    p.add_argument("--ingest", action="store_true",
                   help="archive keys + metadata + register.jsonl (DEST: the archive store)")
    add_limit_arguments(
        p, what="with --ingest: read each file's metadata in a child with "
                "--item-timeout and --item-memory: auto (default) and all: every "
                "file (a staged file's format is not known before it is read); off",
        timeout_help="with --ingest: wall-clock limit of reading one "
                     "file's metadata, > 0 (default {default}); past it the file "
                     "fails, not retried",
        memory_help="with --ingest: address-space limit of the reading "
                    "child (default {default})")
    p.add_argument("--schedule", choices=("dynamic", "static"), default="dynamic")
    p.add_argument("--on-failure", default="retry:3")
    p.add_argument("--mapping", choices=("mpi", "processes", "serial"), default="mpi")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--rank0", choices=("work", "dispatch"), default="work")
    p.add_argument("--job-id")
    p.add_argument("--log-dir", help="per-rank logs and report (default: ./hpc-logs/JOB)")
    p.add_argument("--progress", type=float, default=2.0)
    return p


def plan(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Scan the source (rank 0), print the scanner summary, return items and job."""
    found = scan([args.src], args.include)
    root = Path(args.src) if Path(args.src).is_dir() else Path(args.src).parent
    items = [{"id": f"f{n:07d}", "path": str(path), "rel": path.relative_to(root).as_posix(),
              "size": size} for n, (path, size) in enumerate(found.files)]
    print(f"[hpc.stage] scanned {args.src}: {len(found.files)} files, "
          f"{found.total_bytes / 1e6:.1f} MB, {len(found.per_dir)} directories, "
          f"{len(found.refused)} refused", flush=True)
    for directory, count in sorted(found.per_dir.items()):
        print(f"  {count:>7} files  {directory}")
    for path, reason in found.refused[:50]:
        print(f"  refused {path}: {reason}")
    if args.ingest and not outputs.is_store(args.dest):
        raise ValueError("--ingest needs DEST to be the archive store (s3:// or file:///)")
    dest = args.dest.rstrip("/") if outputs.is_store(args.dest) else str(Path(args.dest).resolve())
    if not outputs.is_store(dest):
        Path(dest).mkdir(parents=True, exist_ok=True)
    job_id = args.job_id or time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{os.getpid()}"
    job = {"job_id": job_id, "dest": dest, "ingest": args.ingest,
           # Not "limits": those would put the whole item (its upload too) in the child.
           "metadata_limits": limits_from_args(args),
           "policy": asdict(parse_policy(args.on_failure)), "mapping": args.mapping,
           "schedule": args.schedule, "rank0": args.rank0,
           "log_dir": str(Path(args.log_dir or Path("hpc-logs") / job_id).resolve()),
           "scan": {"files": len(found.files), "bytes": found.total_bytes,
                    "per_dir": dict(found.per_dir), "refused": found.refused}}
    return items, job


def main(argv: list[str] | None = None) -> int:
    """Stage the tree on this rank (or process); return the exit code."""
    args = build_parser().parse_args(argv)
    run = run_job(args, lambda: plan(args), stage_item, "hpc.stage")
    if run is None:
        return 1
    comm, items, job, outcome = run.comm, run.items, run.job, run.outcome
    code = 0
    if outcome is not None:
        summary = summarize(outcome, {k: v for k, v in job.items() if k != "scan"}, len(items),
                            {"scan": job["scan"]})
        report = Path(job["log_dir"]) / "report.json"
        if job["ingest"]:
            records = [r["record"] for r in outcome.results if r.get("record")]
            register = Path(job["log_dir"]) / "register.jsonl"
            register.write_text("".join(json.dumps(r) + "\n" for r in records))
            summary["register_manifest"] = str(register)
        write_json(report, summary)
        print(table(summary))
        identical = sum(1 for r in outcome.results if r.get("status") in ("done", "resumed"))
        print(f"{identical} of {len(items)} files: source and destination are identical")
        print(f"report: {report}")
        if job["ingest"]:
            print(f"catalog them: python manage.py register {summary['register_manifest']} "
                  "--collection SLUG --trust-checksums")
        code = int(summary["exit_code"])
    return finish(comm, code)


if __name__ == "__main__":
    sys.exit(main())
