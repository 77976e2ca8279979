"""Make a published asv dashboard work without internet access.

``asv publish`` writes an index.html that loads jQuery, Flot, Bootstrap and friends from public
CDNs. On a machine that cannot reach them (CI, a sandbox) the page shows only "Can not
determine continental origin of swallow". This copies the dashboard and points those tags at
local copies of the same libraries, fetched once with ``npm pack`` into a cache directory.

    python tools/asv_html_offline.py .asv/html /tmp/asv-html-offline [--cache .asv/vendor]
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

# CDN address in asv's index.html -> (npm package@version, file inside the package)
ASSETS = {
    "jquery-3.3.1.min.js": ("jquery@3.3.1", "dist/jquery.min.js"),
    "flot/0.8.3/jquery.flot.min.js": ("flot@0.8.3", "jquery.flot.js"),
    "flot/0.8.3/jquery.flot.time.min.js": ("flot@0.8.3", "jquery.flot.time.js"),
    "flot/0.8.3/jquery.flot.selection.min.js": ("flot@0.8.3", "jquery.flot.selection.js"),
    "flot/0.8.3/jquery.flot.categories.min.js": ("flot@0.8.3", "jquery.flot.categories.js"),
    "flot-orderbars@1.0.0/js/jquery.flot.orderBars.js":
        ("flot-orderbars@1.0.0", "js/jquery.flot.orderBars.js"),
    "stupidtable/1.0.1/stupidtable.min.js": ("stupid-table-plugin@1.1.3", "stupidtable.min.js"),
    "blueimp-md5/2.19.0/js/md5.min.js": ("blueimp-md5@2.19.0", "js/md5.min.js"),
    "bootstrap@3.1.1/dist/js/bootstrap.min.js": ("bootstrap@3.1.1", "dist/js/bootstrap.min.js"),
    "bootstrap@3.1.1/dist/css/bootstrap.min.css":
        ("bootstrap@3.1.1", "dist/css/bootstrap.min.css"),
}
EXTERNAL = re.compile(r'(?:src|href)="(https://[^"]+\.(?:js|css))"')


def fetch(package: str, cache: Path) -> Path:
    """The unpacked npm package ``name@version`` under ``cache`` (packed on first use)."""
    dest = cache / package
    if not dest.exists():
        cache.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(["npm", "pack", package, "--silent"], cwd=cache, check=True,
                             capture_output=True, text=True).stdout.split()[-1]
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        with tarfile.open(cache / out) as tar:
            tar.extractall(dest, **safe)
        (cache / out).unlink()
    return dest / "package"


def make_offline(src: Path, dest: Path, cache: Path) -> list[str]:
    """Copy ``src`` to ``dest`` with local assets; returns the CDN addresses it could not map."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)
    unknown = []
    for page in dest.glob("*.html"):
        text = page.read_text()
        for url in set(EXTERNAL.findall(text)):
            key = next((k for k in ASSETS if url.endswith(k)), None)
            if key is None:
                unknown.append(url)
                continue
            package, file = ASSETS[key]
            local = Path("vendor") / package / file
            (dest / local).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fetch(package, cache) / file, dest / local)
            # the local file need not be byte-identical to the CDN's (e.g. unminified), so
            # the tag's subresource-integrity hash goes; npm checked the package's own
            text = re.sub(r'(<[^>]*)"%s"([^>]*>)' % re.escape(url),
                          lambda m: re.sub(r'\s(integrity|crossorigin)="[^"]*"', "",
                                           f'{m[1]}"{local.as_posix()}"{m[2]}'), text)
        page.write_text(text)
    return unknown


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("src", type=Path, help="the published dashboard (asv.conf.json's html_dir)")
    p.add_argument("dest", type=Path, help="where to write the offline copy (replaced)")
    p.add_argument("--cache", type=Path, default=Path(".asv/vendor"),
                   help="where npm packages are kept between runs (default: .asv/vendor)")
    args = p.parse_args(argv)
    unknown = make_offline(args.src, args.dest, args.cache.resolve())
    for url in unknown:
        print(f"warning: no local copy for {url}; the page may not render offline",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
