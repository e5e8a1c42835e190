#!/usr/bin/env bash
# Re-fetches the dashboard's vendored chart library from npm into assets/vendor/, pinned to the
# version below. The server embeds the committed files, so building and running gridloop never
# needs npm; this runs only to change the version.
set -euo pipefail
ECHARTS_VERSION=6.1.0
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "echarts@${ECHARTS_VERSION}" >/dev/null && tar xzf echarts-*.tgz)
mkdir -p "$here/vendor"
cp "$work/package/dist/echarts.min.js" "$here/vendor/echarts.min.js"
cp "$work/package/LICENSE" "$here/vendor/echarts.LICENSE"
echo "echarts ${ECHARTS_VERSION}" > "$here/vendor/VERSIONS"
