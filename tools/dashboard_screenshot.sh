#!/usr/bin/env bash
# Screenshot the published asv dashboard in headless Chromium (Debian: apt-get install chromium).
#
#   asv publish && tools/dashboard_screenshot.sh [HTML_DIR] [OUT.png] [PAGE] [WIDTHxHEIGHT]
#
# HTML_DIR defaults to .asv/html (asv.conf.json's html_dir), OUT to .asv/dashboard.png,
# PAGE to the summary grid; PAGE "#bench_tape.TapeOverhead.time_chain" opens one benchmark's
# graph. The dashboard is drawn by JavaScript, so Chromium gets a virtual-time budget to load
# the JSON and render before the screenshot. asv's page loads jQuery/Flot/Bootstrap from CDNs;
# where they cannot be reached (or with ASV_OFFLINE=1) tools/asv_html_offline.py serves local
# copies of them (fetched once with npm).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
html_dir=${1:-.asv/html}
out=${2:-.asv/dashboard.png}
page=${3:-}
size=${4:-1400x900}
port=${PORT:-8765}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "no chromium found (apt-get install -y chromium)" >&2; exit 1; }
[ -f "$html_dir/index.html" ] || { echo "$html_dir/index.html missing: run 'asv publish' first" >&2; exit 1; }

work=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
serve_dir=$html_dir
offline=${ASV_OFFLINE:-auto}
if [ "$offline" = auto ]; then
    python -c "import urllib.request as u; u.urlopen('https://code.jquery.com/jquery-3.3.1.min.js', timeout=5)" \
        2>/dev/null && offline=0 || offline=1
fi
if [ "$offline" = 1 ]; then
    serve_dir=$work/html
    python "$here/asv_html_offline.py" "$html_dir" "$serve_dir" --cache "${ASV_VENDOR_CACHE:-.asv/vendor}"
fi

python -m http.server "$port" --bind 127.0.0.1 --directory "$serve_dir" >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do   # wait for the server to answer
    python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/')" 2>/dev/null && break
    sleep 0.2
done

mkdir -p "$(dirname "$out")"
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$work/profile" --virtual-time-budget=20000 \
    --window-size="${size/x/,}" --screenshot="$out" "http://127.0.0.1:$port/$page" 2>/dev/null
echo "wrote $out"
