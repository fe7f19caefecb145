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
# The standalone bundle of EventCalendar (MIT; resource columns are in its core, unlike FullCalendar's paid plugins).
# The source map is kept because the minified file names it (collectstatic's manifest must find it). Its npm
# package ships no licence file, so the upstream one (github.com/vkurko/calendar/blob/master/LICENSE) is written.
fetch "@event-calendar/build@5" event-calendar dist/event-calendar.min.js dist/event-calendar.min.js.map dist/event-calendar.min.css
[ -f "$dest/event-calendar/LICENSE" ] || cat > "$dest/event-calendar/LICENSE" <<'MIT'
MIT License

Copyright (c) 2021 vkurko

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
MIT
# Chart.js (MIT) for the consultation readings charts; the minified file names its source map, so it is kept.
fetch "chart.js@4" chartjs dist/chart.umd.min.js dist/chart.umd.min.js.map
echo "vendored into $dest:"; find "$dest" -type f | sort
