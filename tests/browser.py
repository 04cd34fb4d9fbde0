"""Headless Chromium for the page tests and scripts/screenshots.py: a page file to a PNG screenshot.

Chromium comes from the system's packages (Debian: `apt-get install chromium`; .ci/run installs it
when missing). It runs with a throw-away profile, no network services and no sandbox (CI containers
run as root), and loads only the local file.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find() -> str | None:
    env = os.environ.get("LEADRULES_CHROMIUM")
    if env:
        return env
    for n in NAMES:
        p = shutil.which(n)
        if p:
            return p
    return None


def screenshot(page: Path, png: Path, size: tuple[int, int] = (1200, 1600), browser: str | None = None,
               timeout: float = 120) -> None:
    browser = browser or find()
    if browser is None:
        raise FileNotFoundError("no chromium on PATH (apt-get install chromium)")
    png = Path(png).resolve()
    if png.exists():
        png.unlink()
    with tempfile.TemporaryDirectory(prefix="leadrules-chromium-") as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={png}",
               f"--window-size={size[0]},{size[1]}", Path(page).resolve().as_uri()]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=profile)
    if not png.exists():
        raise RuntimeError(f"chromium wrote no screenshot (exit {r.returncode}): {r.stderr[-2000:]}")
