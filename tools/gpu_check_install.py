"""The prepared GPU check's ``install`` stage (``InstallStage``, a part of ``Check`` in
``gpu_check_stages``): the carried wheels into a private folder on ``PYTHONPATH``, xpgrad from
this tree (editable, or linked where that fails), and the import that proves both.

>>> InstallStage.stage_install.__name__
'stage_install'
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from gpu_check_config import ROOT, WHEEL_DIR_NAME
from gpu_check_log import run_logged
from gpu_check_source import check_wheels, link_tree


class InstallStage:
    """``Check``'s install stage; it uses ``self.python``, ``self.env``, ``self.site``,
    ``self.log``, ``self.left``, ``self.state`` and ``self.dry_run``."""

    def _verify_import(self, limit):
        """Does ``import xpgrad`` give this tree's code, with array_api_compat? (JSON report)"""
        code = ("import json, sys\nr = {}\n"
                "try:\n import array_api_compat\n r['array_api_compat'] = "
                "[array_api_compat.__version__, array_api_compat.__file__]\n"
                "except Exception as e:\n r['array_api_compat_error'] = repr(e)\n"
                "try:\n import xpgrad, xpgrad.backends.cupy\n r['xpgrad'] = xpgrad.__file__\n"
                " r['backends'] = {k: {'available': v.get('available'), "
                "'reason': v.get('reason')} for k, v in xpgrad.available_backends().items()}\n"
                "except Exception as e:\n r['xpgrad_error'] = repr(e)\n"
                "print('VERIFY ' + json.dumps(r))\n")
        try:
            res = subprocess.run([self.python, "-c", code], cwd=ROOT, env=self.env,
                                 capture_output=True, text=True, timeout=max(limit, 5))
        except subprocess.TimeoutExpired:
            return {"error": f"importing xpgrad took over {limit:.0f} s", "from_this_tree": False}
        line = next((ln for ln in res.stdout.splitlines() if ln.startswith("VERIFY ")), None)
        report = json.loads(line[7:]) if line else {"error": res.stderr[-2000:]}
        where = report.get("xpgrad")
        report["from_this_tree"] = bool(where) and (
            Path(where).resolve().is_relative_to(ROOT) or
            Path(where).resolve().is_relative_to(self.site.resolve()))
        return report

    def _pip(self, args, limit):
        return run_logged([self.python, "-m", "pip", *args], self.log, limit, env=self.env)

    def stage_install(self, limit):
        left = self.left
        info = {"site": str(self.site), "steps": []}
        self.state["install"] = info
        wheels = check_wheels(ROOT / WHEEL_DIR_NAME)
        info["wheels"] = wheels
        self.log.line(f"carried wheels: {wheels['wheels'] or 'none'}"
                      + (f"; problems: {wheels['problems']}" if wheels["problems"] else ""))
        if wheels["problems"]:
            return "failed", "; ".join(wheels["problems"])
        files = [ROOT / WHEEL_DIR_NAME / n for v in wheels["wheels"].values() for n in v]
        if files and not self.dry_run:
            r = self._pip(["install", "-q", "--no-index", "--no-deps", "--no-compile",
                           "--no-cache-dir", "--upgrade", "--target", self.site, *files], left())
            info["steps"].append(r)
            if r["rc"] != 0:
                return "failed", "pip could not install the carried wheels"
        elif files:
            self.log.line(f"dry run: would install {len(files)} wheel(s) into {self.site}")
        self.env["PYTHONPATH"] = os.pathsep.join(
            [str(self.site)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
        found = self._verify_import(left())
        info["mode"] = "already importable" if found.get("from_this_tree") else None
        if not found.get("from_this_tree") and not self.dry_run:
            self.log.line(f"xpgrad does not import from {ROOT} yet: installing it (editable, "
                          "no dependencies, no registry)")
            r = self._pip(["install", "-q", "--no-index", "--no-deps", "--no-build-isolation",
                           "-e", ROOT], left())
            info["steps"].append(r)
            info["mode"] = "pip install -e"
            if r["rc"] != 0:
                self.log.line("the editable install failed (the build tools here are too old or "
                              "missing?): linking the tree into the private site folder instead")
                info["mode"] = "linked into the site folder"
                info["linked"] = link_tree(ROOT, self.site)
            found = self._verify_import(left())
        info["import"] = found
        self.log.line(f"xpgrad: {found.get('xpgrad') or found.get('xpgrad_error')}; "
                      f"array_api_compat: {found.get('array_api_compat') or 'MISSING'}")
        for name, b in (found.get("backends") or {}).items():
            self.log.line(f"  backend {name}: " + ("available" if b["available"]
                                                   else f"unavailable ({b['reason']})"))
        if "array_api_compat" not in found:
            return "failed", (
                "array-api-compat is not installed here and no wheel of it was carried: run "
                "`tools/gpu_check.sh --prepare` where pip can reach PyPI, and name .whl in the "
                "device run's carry list")
        if not found.get("from_this_tree"):
            return "failed", f"xpgrad does not import from this tree: {found}"
        cupy_ok = (found.get("backends") or {}).get("cupy", {}).get("available")
        return "ok", "cupy backend " + ("available" if cupy_ok else "unavailable")
