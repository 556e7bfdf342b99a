"""HPC batch extraction: scaling over ranks, dynamic vs static scheduling, mapping identity.

    .venv/bin/python benchmarks/hpc_bench.py [--repeat 3] [--quick]

1. Writes (once, kept under benchmarks/out/hpc-synth/) synthetic MODIS-like swaths with
   ingest.synth: 48 of about 10 MB for scaling; a skewed set of 16 small (0.5 MB) and
   4 large (10 MB, 20x) granules, the large ones last in time (an instrument mode
   change late in the period), for scheduling.
2. Starts `rclone serve s3` on loopback (ETag hashing off, as benchmarks/subset_bench.py
   explains) and puts every swath there; manifests point at the objects.
3. Runs `mpirun -n N python -m mpi4py -m hpc.extract` on the whole-globe bbox (so work
   grows with size), each configuration --repeat times into fresh output directories,
   and reports median wall times of the whole command and the job's load imbalance:
   -n 1 vs -n 2 (rank 0 working; with --dispatch also -n 2 and -n 3 with a dispatch-only
   rank 0), and on
   the skewed set static vs dynamic. Then checks that serial, processes and mpi
   mappings write byte-identical files.
Prints a table and writes benchmarks/out/hpc.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.hpc.helpers import MPI_ENV, stage, store_env, synth_swaths  # noqa: E402
from tests.support.s3servers import S3Server, start_rclone  # noqa: E402

OUT = REPO / "benchmarks" / "out"
# (duration s, pixels): about 10 MB each. Real swaths are 100 MB and up; at 2 MB the
# ~1.3 s of interpreter and library start-up per rank was 13 % of a -n 1 run and
# measured Python start-up more than extraction.
SCALING = [(600, 300)] * 48
SKEWED = [(30, 300)] * 16 + [(600, 300)] * 4  # 0.5 MB and 10 MB


def run(manifest: Path, out: Path, env: dict[str, str], ranks: int | None, *extra: str
        ) -> tuple[float, dict]:
    """Run one job into a fresh ``out``; return (wall seconds, report)."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "mpi4py", "-m", "hpc.extract", "--manifest", str(manifest),
           "--out", str(out), "--progress", "600", *extra]
    if ranks is not None:
        cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", *cmd]
    full = {**os.environ, **MPI_ENV, **env, "PYTHONPATH": str(REPO)}
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO, env=full, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate()
    finally:
        if proc.poll() is None:  # interrupted: take the job's ranks down with us
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{stdout[-3000:]}{stderr[-3000:]}")
    report = json.loads(next((out / "_logs").glob("*/report.json")).read_text())
    return wall, report


def measure(configs: dict[str, tuple], repeat: int, manifest: Path, tmp: Path,
            env: dict[str, str], server: S3Server) -> dict[str, dict]:
    """Run every configuration ``repeat`` times, interleaved so that load from other work
    on the machine falls on all alike; return medians of wall time and load imbalance."""
    runs: dict[str, list[tuple[float, dict]]] = {name: [] for name in configs}
    for k in range(repeat):
        for name, (ranks, *extra) in configs.items():
            server_cpu = server.cpu_s()
            wall, report = run(manifest, tmp / f"{name}-{k}", env, ranks, *extra)
            report["server_cpu_s"] = server.cpu_s() - server_cpu
            runs[name].append((wall, report))
            cpu = sum(r["cpu_s"] for r in report["ranks"])
            print(f"  {name} run {k + 1}: {wall:.1f} s (job {report['wall_s']:.1f} s, "
                  f"cpu {cpu:.1f} s + server {report['server_cpu_s']:.1f} s, imbalance "
                  f"{report['load_imbalance']:.2f}, load average {os.getloadavg()[0]:.1f})",
                  flush=True)
    out = {}
    for name, got in runs.items():
        out[name] = {"wall_s": statistics.median(w for w, _ in got),
                     "walls": [round(w, 2) for w, _ in got],
                     "job_s": statistics.median(r["wall_s"] for _, r in got),
                     "cpu_s": statistics.median(sum(x["cpu_s"] for x in r["ranks"])
                                                for _, r in got),
                     "server_cpu_s": statistics.median(r["server_cpu_s"] for _, r in got),
                     "load_imbalance": statistics.median(r["load_imbalance"] for _, r in got)}
    return out


def digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("*.nc"))}


def write_manifest(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="12 scaling swaths, 1 repeat")
    parser.add_argument("--dispatch", action="store_true",
                        help="also time -n 2 and -n 3 with a dispatch-only rank 0")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so running jobs and the S3 server are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    repeat = 1 if args.quick else args.repeat
    scaling_shapes = SCALING[:12] if args.quick else SCALING
    OUT.mkdir(parents=True, exist_ok=True)
    synth = OUT / "hpc-synth"
    t0 = time.monotonic()
    scaling_paths = synth_swaths(synth / "scaling", scaling_shapes, seed=5)
    skewed_paths = synth_swaths(synth / "skewed", SKEWED, seed=7)
    print(f"synthetic swaths ready in {time.monotonic() - t0:.0f} s", flush=True)
    results: dict[str, object] = {"cores": os.cpu_count(), "repeat": repeat,
                                  "load_average_at_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(dir=OUT, prefix="hpc-run-") as tmp_s:
        tmp = Path(tmp_s)
        server = start_rclone(tmp / "s3", etag_hash=False)
        try:
            url = f"s3://{server.bucket}/bench"
            store = server.store("bench")
            scaling = write_manifest(tmp / "scaling.jsonl", stage(store, url, scaling_paths))
            skewed = write_manifest(tmp / "skewed.jsonl", stage(store, url, skewed_paths))
            env = store_env(server)
            sizes = [p.stat().st_size for p in scaling_paths]
            results["scaling_items"] = len(sizes)
            results["scaling_mb"] = round(sum(sizes) / 1e6, 1)
            skew_sizes = [p.stat().st_size for p in skewed_paths]
            results["skewed_mb"] = [round(min(skew_sizes) / 1e6, 2),
                                    round(max(skew_sizes) / 1e6, 2)]
            print("scaling:", flush=True)
            configs: dict[str, tuple] = {"n1": (1,), "n2": (2,)}
            if args.dispatch:
                configs.update({"n2_dispatch": (2, "--rank0", "dispatch"),
                                "n3_dispatch": (3, "--rank0", "dispatch")})
            scale = measure(configs, repeat, scaling, tmp, env, server)
            n1, n2 = scale["n1"], scale["n2"]
            unmeasured = {"wall_s": float("nan")}
            n2d, n3d = scale.get("n2_dispatch", unmeasured), scale.get("n3_dispatch", unmeasured)
            results.update(scale)
            results["n2_over_n1"] = round(n2["wall_s"] / n1["wall_s"], 3)
            print("skewed:", flush=True)
            sched = measure({"static": (2, "--schedule", "static"),
                             "dynamic": (2, "--schedule", "dynamic")}, repeat, skewed, tmp, env,
                            server)
            static, dynamic = sched["static"], sched["dynamic"]
            results.update(sched)
            results["dynamic_over_static"] = round(dynamic["wall_s"] / static["wall_s"], 3)
            print("mappings:", flush=True)
            ident = {}
            for mapping, ranks in (("mpi", 2), ("processes", None), ("serial", None)):
                out = tmp / f"map-{mapping}"
                run(skewed, out, env, ranks, "--mapping", mapping, "--workers", "2")
                ident[mapping] = digests(out)
            results["mappings_identical"] = (ident["mpi"] == ident["processes"] == ident["serial"]
                                             and len(ident["mpi"]) == len(SKEWED))
        finally:
            server.stop()
    results["load_average_at_end"] = os.getloadavg()[0]
    (OUT / "hpc.json").write_text(json.dumps(results, indent=1))
    print(f"\n| figure | value | target |\n| --- | --- | --- |\n"
          f"| 48 x {results['scaling_mb'] / len(sizes):.1f} MB, -n 1 wall | "
          f"{n1['wall_s']:.1f} s | |\n"
          f"| -n 2 wall (rank 0 works) | {n2['wall_s']:.1f} s = "
          f"{results['n2_over_n1']:.2f}x of -n 1 | <= 0.58x |\n"
          f"| -n 2, rank 0 only dispatches | {n2d['wall_s']:.1f} s | |\n"
          f"| -n 3, rank 0 only dispatches (3 ranks on 2 cores) | {n3d['wall_s']:.1f} s | |\n"
          f"| skewed, static -n 2 | {static['wall_s']:.1f} s, imbalance "
          f"{static['load_imbalance']:.2f} | |\n"
          f"| skewed, dynamic -n 2 | {dynamic['wall_s']:.1f} s = "
          f"{results['dynamic_over_static']:.2f}x of static, imbalance "
          f"{dynamic['load_imbalance']:.2f} | <= 0.85x, <= 1.10 |\n"
          f"| serial, processes, mpi outputs byte-identical | "
          f"{results['mappings_identical']} | yes |")
    print(f"\nwrote {OUT / 'hpc.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
