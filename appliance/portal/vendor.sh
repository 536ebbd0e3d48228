#!/bin/sh
# Refresh the third-party files the passenger web app ships (no request may leave the aircraft, so nothing is
# loaded from a CDN). Packages come from the npm registry with `npm pack`; only the needed files are copied.
#   world-atlas:      Natural Earth country outlines (TopoJSON, 1:110m)
#   topojson-client:  decodes TopoJSON into GeoJSON in the browser
#   hls.js (light):   HLS playback where the browser has no native HLS
#   node-forge:       RSA-OAEP-256 and AES-256-GCM in pure JavaScript, for the card's JWE (WebCrypto needs HTTPS,
#                     and the portal is plain HTTP); static/pay.js builds the compact JWE around it
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
DEST="$HERE/static/vendor"
WORLD_ATLAS=${WORLD_ATLAS:-world-atlas@2.0.2}
TOPOJSON=${TOPOJSON:-topojson-client@3.1.0}
HLSJS=${HLSJS:-hls.js@1.7.4}
FORGE=${FORGE:-node-forge@1.4.3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
npm pack --silent "$WORLD_ATLAS" "$TOPOJSON" "$HLSJS" "$FORGE" >/dev/null
for tgz in *.tgz; do mkdir "${tgz%.tgz}" && tar xzf "$tgz" -C "${tgz%.tgz}"; done
mkdir -p "$DEST"
cp world-atlas-*/package/countries-110m.json "$DEST/countries-110m.json"
cp world-atlas-*/package/LICENSE "$DEST/world-atlas.LICENSE"
cp topojson-client-*/package/dist/topojson-client.min.js "$DEST/topojson-client.min.js"
cp topojson-client-*/package/LICENSE "$DEST/topojson-client.LICENSE"
cp hls.js-*/package/dist/hls.light.min.js "$DEST/hls.light.min.js"
cp hls.js-*/package/LICENSE "$DEST/hls.js.LICENSE"
cp node-forge-*/package/dist/forge.min.js "$DEST/forge.min.js"
cp node-forge-*/package/LICENSE "$DEST/node-forge.LICENSE"
ls "$TMP"/*.tgz | sed 's#.*/##' > "$DEST/VERSIONS"
echo "vendored into $DEST:"; cat "$DEST/VERSIONS"
