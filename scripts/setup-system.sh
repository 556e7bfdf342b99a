#!/usr/bin/env bash
# Install the Debian packages swathstore needs. Idempotent: installs only what is
# missing, so a second run costs one dpkg query.
set -euo pipefail

PACKAGES=(
  gdal-bin libgdal-dev                      # GDAL library + headers for the Python bindings
  libsqlite3-mod-spatialite libsqlite3-dev  # embedded catalog (SpatiaLite)
  libproj-dev libgeos-dev                   # GeoDjango
  openmpi-bin libopenmpi-dev                # hpc/ (mpi4py uses the system Open MPI)
  postgresql postgresql-15-postgis-3 libpq-dev  # production catalog + test database
  redis-server                              # Celery broker in tests
  python3-dev build-essential pkg-config
  libhdf5-dev libnetcdf-dev netcdf-bin      # ncdump for humans; headers for source builds
  time                                      # /usr/bin/time -v for benchmarks
  docker-compose                            # validates docker-compose.yml (no engine here)
)
# Browser tests (web/) need Debian's chromium; install when asked.
if [[ "${WITH_BROWSER:-1}" == "1" ]]; then
  PACKAGES+=(chromium chromium-driver)
fi

# web/build.sh vendors the pages' front-end packages from the npm registry at build time.
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "system packages: all present"
  exit 0
fi
echo "system packages: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: done"
