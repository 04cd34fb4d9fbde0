"""Render the four report pages for rulesets/acme.rules and screenshot them in headless Chromium.

    python scripts/screenshots.py [OUTDIR] [--full]

Writes OUTDIR/{simulate,diff,calibrate,docs}.html and a 1200×1600 screenshot of each (.png); with
--full, also the whole page cut into 1600-pixel-high parts (NAME-1.png, NAME-2.png, ...) to look at
every chart. The diff compares acme.rules with a copy where "Enterprise" is worth 40 points, band B
starts at 55 and C1 goes to hot-leads. Needs chromium (apt-get install chromium).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import screenshot  # noqa: E402
from tests.png import decode  # noqa: E402

AS_OF = "2026-11-01"


def changed_rules(out: Path) -> Path:
    text = (ROOT / "rulesets" / "acme.rules").read_text(encoding="utf-8")
    new = (text.replace("+25  when company_size >= 1000", "+40  when company_size >= 1000")
           .replace("B when >= 60", "B when >= 55").replace("A1, A2, B1  ", "A1, A2, B1, C1")
           .replace('leads "samples/leads.jsonl"', f'leads "{ROOT / "rulesets" / "samples" / "leads.jsonl"}"'))
    p = out / "acme-changed.rules"
    p.write_text(new, encoding="utf-8")
    return p


def build(out: Path) -> dict[str, Path]:
    """The four pages, made by the real command line, into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    acme = "rulesets/acme.rules"
    lr = [sys.executable, "-c", "from cli import main; main()"]
    pages = {name: out / f"{name}.html" for name in ("simulate", "diff", "calibrate", "docs")}
    cmds = {
        "simulate": ["simulate", acme],
        "diff": ["diff", acme, str(changed_rules(out)), "--as-of", AS_OF],
        "calibrate": ["calibrate", acme, "--leads", "rulesets/samples/leads.jsonl", "--outcomes",
                      "rulesets/samples/outcomes.csv", "--as-of", AS_OF],
        "docs": ["docs", acme],
    }
    for name, args in cmds.items():
        subprocess.run(lr + args + ["--format", "html", "-o", str(pages[name])], cwd=ROOT, check=True,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    return pages


def main(argv: list[str]) -> None:
    full = "--full" in argv
    args = [a for a in argv if a != "--full"]
    out = Path(args[0] if args else "screenshots").resolve()
    for name, page in build(out).items():
        png = out / f"{name}.png"
        screenshot(page, png)
        print(f"{png}")
        if full:
            tall = out / f"{name}-full.png"
            screenshot(page, tall, size=(1200, 9000))
            img = decode(tall.read_bytes())
            # cut the tall shot into screen-sized parts, dropping the white tail
            last = max((y for y in range(img.height) if len(set(img.rows[y])) > 1), default=0)
            k = 0
            for top in range(0, last + 1, 1600):
                k += 1
                (out / f"{name}-{k}.png").write_bytes(img.crop(top, 1600).encode())
            tall.unlink()
            print(f"  {k} parts: {name}-1.png ... {name}-{k}.png")


if __name__ == "__main__":
    main(sys.argv[1:])
