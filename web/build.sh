#!/usr/bin/env bash
# Vendor the front-end packages of the map page, the API docs page and the admin's map
# widget into web/static/vendor (idempotent).
#   npm ci runs only when node_modules is missing or package-lock.json changed, without
#   install scripts (none is needed; swagger-ui-dist's dependency would send telemetry);
#   Leaflet, Leaflet.draw, proj4, Proj4Leaflet (the polar views), Swagger UI and OpenLayers
#   are copied as they ship; world-atlas
#   TopoJSON becomes GeoJSON for the offline base maps. Nothing is fetched at run time.
set -euo pipefail
cd "$(dirname "$0")"

stamp=node_modules/.package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
    echo "web/build.sh: npm ci"
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
fi

out=static/vendor
mkdir -p "$out/leaflet/images" "$out/leaflet-draw/images" "$out/world" "$out/swagger-ui" \
         "$out/ol" "$out/proj4" "$out/proj4leaflet"
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
# The polar views of the map (web/static/web/js/polar.js): EPSG:3413 and EPSG:3031 in Leaflet.
copy node_modules/proj4/dist/proj4.js node_modules/proj4/LICENSE.md "$out/proj4/"
copy node_modules/proj4leaflet/src/proj4leaflet.js node_modules/proj4leaflet/LICENSE "$out/proj4leaflet/"
# /api/docs/ (drf-spectacular's SWAGGER_UI_DIST points here): the bundles, their CSS, the icon.
ui=node_modules/swagger-ui-dist
copy "$ui/swagger-ui-bundle.js" "$ui/swagger-ui-standalone-preset.js" "$ui/swagger-ui.css" \
     "$ui/favicon-32x32.png" "$ui/LICENSE" "$out/swagger-ui/"
# The admin's geometry widget (catalog/admin.py): the OpenLayers build Django's widget uses.
copy node_modules/ol/dist/ol.js node_modules/ol/ol.css node_modules/ol/LICENSE.md "$out/ol/"

if [[ ! -f $out/world/land-50m.geojson || $stamp -nt $out/world/land-50m.geojson \
      || tools/world.cjs -nt $out/world/land-50m.geojson ]]; then
    node tools/world.cjs "$out/world"
fi
echo "web/build.sh: vendored into web/$out"
