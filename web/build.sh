#!/usr/bin/env bash
# Vendor the map page's front-end packages into web/static/vendor (idempotent).
#   npm ci runs only when node_modules is missing or package-lock.json changed;
#   Leaflet and Leaflet.draw are copied as they ship; world-atlas TopoJSON becomes
#   GeoJSON for the offline base map. Nothing is fetched at run time.
set -euo pipefail
cd "$(dirname "$0")"

stamp=node_modules/.package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
    echo "web/build.sh: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
fi

out=static/vendor
mkdir -p "$out/leaflet/images" "$out/leaflet-draw/images" "$out/world"
copy() {  # copy SRC... DIR, only files that changed
    cp -u "$@"
}
copy node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css \
     node_modules/leaflet/LICENSE "$out/leaflet/"
copy node_modules/leaflet/dist/images/* "$out/leaflet/images/"
copy node_modules/leaflet-draw/dist/leaflet.draw.js node_modules/leaflet-draw/dist/leaflet.draw.css \
     "$out/leaflet-draw/"
copy node_modules/leaflet-draw/dist/images/* "$out/leaflet-draw/images/"
copy node_modules/world-atlas/LICENSE "$out/world/"

if [[ ! -f $out/world/land-50m.geojson || $stamp -nt $out/world/land-50m.geojson \
      || tools/world.cjs -nt $out/world/land-50m.geojson ]]; then
    node tools/world.cjs "$out/world"
fi
echo "web/build.sh: vendored into web/$out"
