#!/usr/bin/env bash
# Refresh the vendored front-end assets under kabinet/static/vendor/ from the npm registry.
# Each package keeps its built files, its licence and a VERSION file. Run by hand; the results are committed.
set -euo pipefail
dest="$(cd "$(dirname "$0")/.." && pwd)/kabinet/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch <npm spec> <dest dir> <file in package>...
  local spec="$1" dir="$2"; shift 2
  (cd "$work" && npm pack --silent "$spec" >/dev/null)
  local tgz; tgz="$(ls -t "$work"/*.tgz | head -1)"
  rm -rf "$work/package" && tar -xzf "$tgz" -C "$work" && rm -f "$tgz"
  mkdir -p "$dest/$dir"
  for f in "$@"; do cp "$work/package/$f" "$dest/$dir/"; done
  cp "$work/package/LICENSE"* "$dest/$dir/" 2>/dev/null || true
  node -e "console.log(require('$work/package/package.json').version)" > "$dest/$dir/VERSION"
}

fetch "htmx.org@2" htmx dist/htmx.min.js
fetch "htmx-ext-ws@2" htmx-ext-ws dist/ws.min.js
fetch "@picocss/pico@2" pico css/pico.min.css
echo "vendored into $dest:"; find "$dest" -type f | sort
