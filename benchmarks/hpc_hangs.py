"""HPC item limits (issue 21): a `mpirun -n 2` job with 5 % hanging items completes.

    .venv/bin/python benchmarks/hpc_hangs.py [--items 40] [--hanging 2] [--timeout 10] \
        [--item-limits auto|off]

Puts 4 small synthetic swaths and the kept hang fixtures (tests/faults/fixtures/
timeout-*.nc that never return from HDF5) into `rclone serve s3` on loopback, writes a
manifest of ``--items`` items (the synthetic objects repeated under their own ids, and
``--hanging`` of them the hang fixtures), runs
`mpirun -n 2 python -m mpi4py -m hpc.extract --item-timeout T --on-failure retry:3,skip`
on the whole globe and checks: the job ends with exit 2 (items skipped), every other
item is done with its output equal to an in-process run's (serial, no child), the
report names each hung item as a timeout, and each ended within T + 5 s. Prints the
wall time and writes benchmarks/out/hpc_hangs.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.hpc.helpers import MPI_ENV, stage, store_env, synth_swaths  # noqa: E402
from tests.support.s3servers import start_rclone  # noqa: E402

OUT = REPO / "benchmarks" / "out"
HANGS = sorted((REPO / "tests" / "faults" / "fixtures").glob("timeout-*.nc"))
# The two fixtures that hang the kernel (the third fails at once with a checksum error).
HANGING = [p for p in HANGS if not p.name.endswith("-1858.nc")]
SHAPES = [(60, 300), (40, 200), (90, 300), (30, 250)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--items", type=int, default=40)
    p.add_argument("--hanging", type=int, default=2)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--item-limits", default="auto",
                   help="auto (default) or off: with --hanging 0, the child's cost")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="hpc-hangs-") as tmp_name:
        tmp = Path(tmp_name)
        server = start_rclone(tmp / "s3", etag_hash=False)
        try:
            url = f"s3://{server.bucket}/bench"
            good = stage(server.store("bench"), url, synth_swaths(tmp / "synth", SHAPES))
            bad = stage(server.store("bench"), url, HANGING)
            items = [{**good[n % len(good)], "id": f"ok-{n:03d}"}
                     for n in range(args.items - args.hanging)]
            items += [{**bad[n % len(bad)], "id": f"hang-{n:03d}"} for n in range(args.hanging)]
            manifest = tmp / "manifest.jsonl"
            manifest.write_text("".join(json.dumps(i) + "\n" for i in items))
            env = {**os.environ, **MPI_ENV, **store_env(server), "PYTHONPATH": str(REPO)}
            env.pop("DJANGO_SETTINGS_MODULE", None)
            out = tmp / "out"
            cmd = ["mpirun", "-n", "2", "--oversubscribe", sys.executable, "-m", "mpi4py",
                   "-m", "hpc.extract", "--manifest", str(manifest), "--out", str(out),
                   "--item-timeout", f"{args.timeout:g}", "--on-failure", "retry:3,skip",
                   "--item-limits", args.item_limits,
                   "--progress", "600"]
            t0 = time.monotonic()
            done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                                  timeout=600)
            wall = time.monotonic() - t0
            # The reference outputs: the same good items cut in one process, no child.
            ref = tmp / "ref"
            ref_manifest = tmp / "ref.jsonl"
            ref_manifest.write_text("".join(json.dumps(i) + "\n" for i in items
                                            if i["id"].startswith("ok-")))
            subprocess.run([sys.executable, "-m", "hpc.extract", "--manifest",
                            str(ref_manifest), "--out", str(ref), "--mapping", "serial",
                            "--item-limits", "off", "--progress", "600"],
                           cwd=REPO, env=env, capture_output=True, text=True, check=True)
        finally:
            server.stop()
        report = json.loads(next((out / "_logs").glob("*/report.json")).read_text())
        wrong = [i["id"] for i in items if i["id"].startswith("ok-") and (
            out / f"{i['id']}.nc").read_bytes() != (ref / f"{i['id']}.nc").read_bytes()]
        hung = {t["id"]: t for t in report["timeouts"]}
        slowest = max((t["seconds"] for t in hung.values()), default=0.0)
        ok = (done.returncode == (2 if args.hanging else 0) and not wrong
              and report["counts"]["done"] == args.items - args.hanging
              and sorted(hung) == sorted(i["id"] for i in items if i["id"].startswith("hang-"))
              and all(t["cause"] == "timeout" for t in hung.values())
              and slowest <= args.timeout + 5)
        doc = {"command": " ".join(cmd[:6] + ["..."] + cmd[cmd.index("--item-timeout"):]),
               "items": args.items, "hanging": args.hanging, "timeout_s": args.timeout,
               "wall_s": round(wall, 2), "job_wall_s": report["wall_s"],
               "exit_code": done.returncode, "counts": report["counts"],
               "timeouts": report["timeouts"], "wrong_outputs": wrong,
               "slowest_hung_item_s": slowest, "ok": ok,
               "ranks": [{k: r[k] for k in ("rank", "items", "busy_s", "timeouts")}
                         for r in report["ranks"]],
               "load_average": os.getloadavg()}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "hpc_hangs.json").write_text(json.dumps(doc, indent=1))
    print(json.dumps(doc, indent=1))
    if not ok:
        print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
