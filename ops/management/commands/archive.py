"""`manage.py archive ...`: the operator's view of the object stores."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

import archive.config
from archive.errors import ArchiveError, ChecksumMismatch
from catalog.models import StoredObject
from ops.fsck import KINDS, cleanup, fsck, parse_age


class Command(BaseCommand):
    help = (
        "Operate on the configured object stores. Subcommands: put PATH [--key K] "
        "[--codec C]; get KEY OUT [--no-fsync]; ls [PREFIX]; verify KEY; "
        "fsck [--full] [--repair] [--report FILE]; cleanup --older-than AGE; "
        "rebuild-catalog --collection SLUG [--verify]; replicate --collection SLUG "
        "[--policy P] [--batch N] [--dry-run] [--set-default]. fsck, verify, "
        "rebuild-catalog and replicate exit 1 when they find a problem."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--store", default=None,
                            help="named store (default primary; fsck: every configured store "
                                 "that holds copies)")
        sub = parser.add_subparsers(dest="action", required=True)
        put = sub.add_parser("put", help="stream a file in; print key, size, sha256, MB/s")
        put.add_argument("path", type=Path)
        put.add_argument("--key", help="object key (default objects/<random id>)")
        put.add_argument("--codec", choices=["none", "gzip", "zstd"], default="none")
        get = sub.add_parser("get", help="copy an object's original bytes to a file")
        get.add_argument("key")
        get.add_argument("out", type=Path)
        get.add_argument("--no-fsync", action="store_true",
                         help="leave flushing OUT to the kernel, as cp and s5cmd do "
                              "(scratch copies: faster where the disk is the limit)")
        ls = sub.add_parser("ls", help="list objects under a prefix")
        ls.add_argument("prefix", nargs="?", default="")
        verify = sub.add_parser("verify", help="re-read and re-hash one object")
        verify.add_argument("key")
        check = sub.add_parser("fsck", help="catalog vs stores: MISSING, CORRUPT, UNREADABLE, "
                                            "ORPHAN, STALE_UPLOAD, LOST")
        check.add_argument("--full", action="store_true", help="re-read and hash every object")
        check.add_argument("--repair", action="store_true",
                           help="mark the bad copies found and heal them: rebuild each from a "
                                "verified copy and re-verify it, else mark the swath LOST")
        check.add_argument("--report", type=Path, help="write one line per problem here")
        clean = sub.add_parser("cleanup", help="abort uploads older than AGE (database time)")
        clean.add_argument("--older-than", required=True, type=parse_age,
                           help="e.g. 24h, 7d, 3600s")
        rebuild = sub.add_parser("rebuild-catalog",
                                 help="recreate catalog rows from the store's objects alone")
        rebuild.add_argument("--collection", required=True,
                             help="collection slug for the recreated rows")
        rebuild.add_argument("--verify", action="store_true",
                             help="VERIFIED when the re-read bytes match the object's sha256")
        rebuild.add_argument("--no-inspect", action="store_true",
                             help="skip reading times and footprints from each object")

        self._add_replicate(sub)

    @staticmethod
    def _add_replicate(sub: Any) -> None:
        rep = sub.add_parser(
            "replicate",
            help="give each VERIFIED swath of a collection a verified copy in every store of "
                 "a policy; resumable; one line per copy made or failed, then a summary",
            description="Copy each VERIFIED swath of the collection that lacks a VERIFIED "
                        "copy in a store of the policy there, from a verified copy (hashed "
                        "as it streams), re-read and re-hashed in the target before it "
                        "counts. A re-run skips what is done; a failed copy is a FAILED line "
                        "and the run goes on; a store that failed 3 copies in a row as an "
                        "unreachable one does is given up for the rest of the run. The "
                        "collection's default_policy is left as it is unless "
                        "--set-default. Exit 1 when any copy failed or was not tried or the "
                        "run was stopped (SIGTERM/SIGINT finish the swath in hand), 2 when "
                        "the collection or policy is refused.")
        rep.add_argument("--collection", required=True, metavar="SLUG",
                         help="the collection whose VERIFIED swaths are copied")
        rep.add_argument("--policy", choices=["single", "replicate", "copy3"],
                         help="default: the policy ingest uses for the collection (its "
                              "default_policy, or INGEST_POLICY if that keeps more copies)")
        rep.add_argument("--batch", type=int, default=100, metavar="N",
                         help="swaths read from the catalog at a time (default 100)")
        rep.add_argument("--dry-run", action="store_true",
                         help="list the copies that would be made; copy nothing")
        rep.add_argument("--set-default", action="store_true",
                         help="also make the policy the collection's default_policy (first, "
                              "so swaths ingested meanwhile are copied by ingest)")

    def handle(self, *args: object, **opts: object) -> None:
        store_name = opts["store"]
        if store_name is None and opts["action"] != "fsck":  # fsck: every store by default
            store_name = "primary"
        try:
            getattr(self, f"do_{opts['action'].replace('-', '_')}")(store_name, opts)
        except ArchiveError as e:
            raise CommandError(str(e)) from e

    def do_put(self, store_name: str, opts: dict) -> None:
        store = archive.config.get_store(store_name)
        key = opts["key"] or f"objects/{uuid.uuid4().hex}"
        result = store.put(key, opts["path"], size=opts["path"].stat().st_size,
                           codec=opts["codec"])
        rate = result.size / 1e6 / result.seconds if result.seconds else 0.0
        self.stdout.write(f"{result.key}  {result.size} bytes  sha256 {result.sha256}  "
                          f"{rate:.1f} MB/s")

    def do_get(self, store_name: str, opts: dict) -> None:
        started = time.perf_counter()
        info = archive.config.get_store(store_name).get(opts["key"], opts["out"],
                                                         fsync=not opts["no_fsync"])
        seconds = time.perf_counter() - started
        self.stdout.write(f"{opts['out']}  {info.size} bytes  "
                          f"{(info.size or 0) / 1e6 / max(seconds, 1e-9):.1f} MB/s")

    def do_ls(self, store_name: str, opts: dict) -> None:
        for info in archive.config.get_store(store_name).list(opts["prefix"]):
            self.stdout.write(f"{info.stored_size:14d}  {info.codec or '-':5s}  {info.key}")

    def do_verify(self, store_name: str, opts: dict) -> None:
        store = archive.config.get_store(store_name)
        key = opts["key"]
        expected, codec = (
            StoredObject.objects.filter(store=store_name, key=key)
            .values_list("sha256", "codec").first() or (None, None)
        )
        if not expected:
            info = store.head(key)
            if info is None:
                raise CommandError(f"{key}: no such object in {store_name}")
            expected = info.sha256
        if not expected:
            raise CommandError(f"{key}: no sha256 in the catalog or the object's metadata")
        try:
            info = store.verify(key, expected, codec=codec)
        except ChecksumMismatch as e:
            self.stdout.write(f"CORRUPT {key}: {e}")
            sys.exit(1)
        self.stdout.write(f"OK {key}  {info.size} bytes  sha256 {info.sha256}")

    def do_fsck(self, store_name: str | None, opts: dict) -> None:
        started = time.perf_counter()
        report = fsck(store_name, full=opts["full"], repair=opts["repair"])
        lines = [p.line() for p in report.problems]
        if report.healed is not None:
            lines += [*report.healed.lines, report.healed.summary()]
        if opts["report"]:
            opts["report"].write_text("".join(f"{line}\n" for line in lines))
        counts = ", ".join(f"{k} {report.count(k)}" for k in KINDS)
        self._finish(lines, report.warnings,
                     f"fsck {', '.join(report.stores) or 'no store'}: {report.checked} "
                     f"catalogued copies checked, {report.listed} objects listed, {counts}, "
                     f"{len(report.warnings)} warnings", started, failed=bool(report.problems))

    def do_rebuild_catalog(self, store_name: str, opts: dict) -> None:
        from ops.rebuild import rebuild_catalog

        started = time.perf_counter()
        result = rebuild_catalog(opts["collection"], store_name, verify=opts["verify"],
                                 inspect=not opts["no_inspect"])
        self._finish(
            result.lines, [],
            f"rebuild-catalog {store_name}: {result.listed} objects listed, {result.created} "
            f"rows created ({result.verified} VERIFIED), {result.skipped} already catalogued, "
            f"{result.failed} failed, {result.rehashed} re-read,", started,
            failed=bool(result.failed))

    def do_replicate(self, store_name: str, opts: dict) -> None:
        import signal

        from ingest.management.stopping import stop_requests
        from ops.replicate import ReplicateRefused, SwathLine, replicate_collection

        if opts["batch"] < 1:
            raise CommandError(f"--batch must be at least 1, got {opts['batch']}", returncode=2)

        def show(line: SwathLine) -> None:
            for text in line.lines():
                self.stdout.write(text)

        def give_up(store: str, why: str) -> None:
            self.stdout.write(f"GIVING UP {store} for this run: {why}")

        with stop_requests(signal.SIGTERM, signal.SIGINT) as stopping:
            try:
                report = replicate_collection(
                    opts["collection"], opts["policy"], batch=opts["batch"],
                    dry_run=opts["dry_run"], set_default=opts["set_default"], on_swath=show,
                    on_give_up=give_up, should_stop=lambda: bool(stopping))
            except ReplicateRefused as e:
                raise CommandError(str(e), returncode=2) from e
        self.stdout.write(report.summary())
        if report.failed or report.not_tried or report.stopped:
            sys.exit(1)

    def do_cleanup(self, store_name: str, opts: dict) -> None:
        report = cleanup(store_name, opts["older_than"])
        for problem in report.aborted:
            self.stdout.write(f"aborted {problem.key} {problem.detail}")
        self._warn(report.warnings)
        self.stdout.write(f"cleanup {store_name}: {len(report.aborted)} uploads aborted, "
                          f"{len(report.warnings)} warnings")

    def _finish(self, lines: list[str], warnings: list[str], summary: str, started: float,
                *, failed: bool) -> None:
        """Print the problem lines, the warnings and the timed summary; exit 1 if ``failed``."""
        for line in lines:
            self.stdout.write(line)
        self._warn(warnings)
        self.stdout.write(f"{summary} in {time.perf_counter() - started:.1f} s")
        if failed:
            sys.exit(1)

    def _warn(self, warnings: list[str]) -> None:
        """Say what could not be checked; it does not change the exit status."""
        for warning in warnings:
            self.stderr.write(f"WARNING {warning}")
