"""schemathesis over the whole API at full size: no request may earn a 500.

    .venv/bin/python scripts/schemathesis_full.py                      # embedded default
    .venv/bin/python scripts/schemathesis_full.py --database-url postgis://postgres@127.0.0.1:5432/swathstore_st
    .venv/bin/python scripts/schemathesis_full.py --url http://host:8000 --token KEY

Without --url it serves a fresh var/ of its own with gunicorn: the embedded default
(SpatiaLite), or the PostGIS database of --database-url (created if missing; never
the suite's or the main one). Three demo swaths are ingested and a user's token made,
so downloads, quicklooks and subset requests reach real data. schemathesis then runs
every operation of /api/schema/ through its examples, coverage, fuzzing and stateful
phases, positive and negative data, --examples examples each. The figures printed
at the end: operations, test cases generated, failures by check, and the count of
500 responses in gunicorn's access log (the target is 0).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.request import urlopen

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from benchdb import ensure_database  # noqa: E402

BIN = Path(sys.executable).parent
_ENTRY = re.compile(r"^(\d{3}) (\d+\.\d+) ([A-Z]+ .*)$")
CHECKS = "not_a_server_error,negative_data_rejection,use_after_free,ensure_resource_availability"


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _ensure_database(url: str) -> None:
    dsn = url.replace("postgis://", "postgresql://")
    name = dsn.rpartition("/")[2]
    if name in ("swathstore", "test_swathstore") or name.startswith("test_"):
        raise SystemExit(f"refusing to fuzz database {name!r}: give one of its own")
    ensure_database(dsn)


def serve(work: Path, database_url: str | None, port: int) -> tuple[subprocess.Popen, str, Path]:
    """gunicorn on a fresh var/ with demo swaths; (process, token, access log)."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
           "VAR_DIR": str(work), "DATABASE_URL": database_url or "",
           "CELERY_BROKER_URL": "", "STORE_URL": "", "DEBUG": "0",
           "API_THROTTLE_ANON": "100000000/minute", "API_THROTTLE_USER": "100000000/minute"}
    if database_url:
        _ensure_database(database_url)
    _manage(env, "migrate", "--no-input", "-v0")
    _manage(env, "demo", "--count", "3", "--size", "1MB")
    token = _manage(env, "shell", "-c", (
        "from django.contrib.auth.models import User\n"
        "from rest_framework.authtoken.models import Token\n"
        "u, _ = User.objects.get_or_create(username='schemathesis')\n"
        "print(Token.objects.get_or_create(user=u)[0].key)")).strip().splitlines()[-1]
    access = work / "access.log"
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--threads", "4", "--timeout", "120", "--access-logfile", str(access),
         "--access-logformat", '%(s)s %(L)s %(m)s %(U)s'],
        cwd=REPO, env=env, stdout=open(work / "gunicorn.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            urlopen(f"http://127.0.0.1:{port}/api/schema/?format=json", timeout=5).read()
            break
        except OSError:
            if proc.poll() is not None:
                raise SystemExit((work / "gunicorn.log").read_text()[-3000:]) from None
            time.sleep(0.2)
    return proc, token, access


def run(url: str, token: str | None, examples: int, workers: int, seed: int, report: Path,
        extra: list[str]) -> int:
    """schemathesis run; returns its exit code (the report holds the details)."""
    cmd = [str(BIN / "schemathesis"), "run", f"{url}/api/schema/?format=json",
           "--max-examples", str(examples), "--workers", str(workers), "--seed", str(seed),
           "--phases", "examples,coverage,fuzzing,stateful", "--mode", "all",
           "--checks", CHECKS, "--continue-on-failure", "--suppress-health-check", "all",
           "--request-timeout", "60", "--report", "junit,ndjson", "--report-dir", str(report),
           "--no-color", *extra]
    if token:
        cmd += ["-H", f"Authorization: Token {token}"]
    print("$", " ".join(c if "Token " not in c else "Authorization: Token ***" for c in cmd),
          flush=True)
    with open(report / "schemathesis.txt", "w") as out:
        return subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode


def figures(report: Path, access: Path | None) -> str:
    """The run's summary lines, and the status codes gunicorn answered."""
    text = (report / "schemathesis.txt").read_text()
    start = text.rfind("SUMMARY")
    lines = [text[start:].strip() if start >= 0 else text[-3000:]]
    if access is not None and access.exists():
        entries = _entries(access)
        codes = Counter(status for status, _, _ in entries)
        lines.append(f"gunicorn answered {len(entries)} requests: " + ", ".join(
            f"{code}: {n}" for code, n in sorted(codes.items())))
        lines.append(f"responses of 500: {codes.get('500', 0)}")
        slow = [e for e in entries if e[1] > 5]
        lines.append(f"responses slower than 5 s: {len(slow)}")
        lines += [f"  {status} {seconds:.1f} s {request[:120]}" for status, seconds, request
                  in slow[:10]]
    return "\n".join(lines)


def _entries(access: Path) -> list[tuple[str, float, str]]:
    """(status, seconds, "METHOD path") of each request in gunicorn's access log.

    A path may hold a newline (schemathesis sends control characters), so an entry
    is a line that starts as the format does; the rest of a broken path is skipped.
    """
    out = []
    for line in access.read_text(errors="replace").splitlines():
        m = _ENTRY.match(line)
        if m:
            out.append((m.group(1), float(m.group(2)), m.group(3)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server; else one is started here")
    parser.add_argument("--token", help="API token for --url (writes need one)")
    parser.add_argument("--database-url", help="postgis:// database for the started server "
                                               "(default: the embedded SpatiaLite)")
    parser.add_argument("--examples", type=int, default=1000, help="per operation")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=25)
    parser.add_argument("--report", type=Path, default=REPO / "var" / "schemathesis")
    parser.add_argument("extra", nargs="*", help="passed on to schemathesis run (after --)")
    args = parser.parse_args()
    args.report.mkdir(parents=True, exist_ok=True)
    proc, access = None, None
    with tempfile.TemporaryDirectory(prefix="schemathesis-") as tmp:
        url, token = args.url, args.token
        if url is None:
            port = 18000 + os.getpid() % 1000
            proc, token, access = serve(Path(tmp), args.database_url, port)
            url = f"http://127.0.0.1:{port}"
        try:
            started = time.monotonic()
            code = run(url, token, args.examples, args.workers, args.seed, args.report,
                       args.extra)
            print(figures(args.report, access))
            print(f"schemathesis exit code {code} after {time.monotonic() - started:.0f} s; "
                  f"report in {args.report}")
            server_errors = [e for e in _entries(access) if e[0] == "500"] if access else []
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(30)
        if server_errors:
            raise SystemExit(json.dumps({"responses_of_500": len(server_errors)}))


if __name__ == "__main__":
    main()
