"""Each report page (simulate, diff, calibrate, docs) rendered in a real headless Chromium to a PNG:
the screenshot has the expected size and is not blank — the page's own colours (the summary band,
the chart marks) are on it. Chromium comes from the system packages; .ci/run installs it. Locally the
test skips, with the reason, when there is no chromium; CI sets LEADRULES_REQUIRE_ENGINES=1 so that a
missing browser fails instead. scripts/screenshots.py makes the same pages and screenshots to look at.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests import browser
from tests.png import decode, size

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

SUMMARY_BG = (0xEE, 0xF5, 0xFB)   # .summary in runtime/report/html.py
BLUE = (0x00, 0x72, 0xB2)         # Okabe–Ito blue: bars, dots
DIAGONAL = (0xE6, 0xE8, 0xEB)     # the diff matrix's unchanged cells


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    exe = browser.find()
    if exe is None:
        reason = "no chromium on PATH (apt-get install chromium)"
        if os.environ.get("LEADRULES_REQUIRE_ENGINES") == "1":
            pytest.fail(f"LEADRULES_REQUIRE_ENGINES=1 but {reason}")
        pytest.skip(reason)
    import screenshots

    out = tmp_path_factory.mktemp("shots")
    pages = screenshots.build(out)
    got = {}
    for name, page in pages.items():
        png = out / f"{name}.png"
        browser.screenshot(page, png, (1200, 1600), exe)
        got[name] = png.read_bytes()
    return got


@pytest.mark.parametrize("name,colour", [("simulate", BLUE), ("diff", DIAGONAL), ("calibrate", BLUE),
                                         ("docs", None)])
def test_page_renders_in_chromium(shots, name, colour):
    data = shots[name]
    assert size(data) == (1200, 1600)
    img = decode(data)
    counts = img.colours(step=3)
    total = sum(counts.values())
    top = max(counts.values())
    assert len(counts) > 40, f"{name}: only {len(counts)} colours: a blank or unstyled page"
    assert top / total < 0.93, f"{name}: {top / total:.0%} of the screenshot is one colour"
    assert counts.get(SUMMARY_BG, 0) > 200, f"{name}: the summary band is not on the page (CSS not applied?)"
    if colour is not None:
        assert counts.get(colour, 0) > 30, f"{name}: no chart marks in {colour} on the first screen"
