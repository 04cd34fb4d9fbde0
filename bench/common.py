"""Shared bits of the benchmark scripts: paths, loading the model, leads as dicts and as `Lead`s."""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / "data"
MODEL = BENCH / "model.rules"
AS_OF = dt.date(2026, 11, 1)

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))


def data_prefix(n: int) -> Path:
    return DATA / ("leads_1m" if n >= 1_000_000 else f"leads_{n // 1000}k")


def ensure_data(n: int) -> Path:
    """Generate bench/data/leads_<n> (JSONL, Parquet, CSV) with gen_leads.py unless it is there."""
    prefix = data_prefix(n)
    if not Path(str(prefix) + ".jsonl").exists() or not Path(str(prefix) + ".parquet").exists():
        import subprocess

        DATA.mkdir(exist_ok=True)
        subprocess.run([sys.executable, str(BENCH / "gen_leads.py"), str(n), str(prefix), "--parquet", "--csv"],
                       check=True)
    return prefix


def load_rules():
    from runtime.backends.load import load_rules as lr

    return lr(str(MODEL))


def read_dicts(path, limit: int | None = None) -> list[dict]:
    out = []
    loads = json.loads
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if limit is not None and i >= limit:
                break
            out.append(loads(line))
    return out


def to_leads(dicts: list[dict], rules) -> list:
    """The dicts as the Python engine's `Lead`s (coerced by runtime.io.readers, as `score` does)."""
    from runtime.commands.options import schema_of
    from runtime.io.readers import lead_from_object

    schema = schema_of(rules)
    return [lead_from_object(d, schema) for d in dicts]
