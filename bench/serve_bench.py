"""`leadrules serve` on loopback, beside `leadrules score` on the same leads (not a test).

Starts the real CLI (`leadrules serve rulesets/acme.rules --port 0`) in its own process and drives it
with a small asyncio HTTP/1.1 client (keep-alive connections, one request at a time per connection):

1. one lead per request, 1 client: latency p50/p95/p99 (target: p95 under 5 ms);
2. one lead per request, N concurrent clients: latency and leads/s;
3. batches of 100 leads, N concurrent clients: latency per batch and leads/s;
4. 200 concurrent connections at once, each sending several requests: errors (target: none);
5. `leadrules score` on the same leads (a subprocess, start-up included), and on one lead.

    python bench/serve_bench.py                     # the bundled sample, 3,000 leads
    python bench/serve_bench.py --clients 1 4 16 --connections 200 --rounds 5
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rulesets" / "acme.rules"
LEADS = ROOT / "rulesets" / "samples" / "leads.jsonl"
AS_OF = "2026-11-01"
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, round(p / 100 * (len(xs) - 1))))
    return xs[k]


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port

    async def open(self):
        self.r, self.w = await asyncio.open_connection(self.host, self.port)
        return self

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.w.write(head + body)
        await self.w.drain()
        status = int((await self.r.readline()).split()[1])
        length = 0
        while True:
            h = await self.r.readline()
            if h in (b"\r\n", b""):
                break
            if h[:15].lower() == b"content-length:":
                length = int(h[15:])
        return status, await self.r.readexactly(length)

    def close(self):
        self.w.close()


async def run_clients(host, port, n_clients: int, bodies: list[bytes], path: str):
    """Every body once, spread over n_clients connections; (latencies in s, wall s, errors)."""
    conns = [await Conn(host, port).open() for _ in range(n_clients)]
    lat, errors = [], []
    queue = list(reversed(bodies))

    async def client(c: Conn):
        while queue:
            body = queue.pop()
            t = time.perf_counter()
            try:
                status, data = await c.post(path, body)
            except Exception as e:  # counted, reported
                errors.append(repr(e))
                continue
            lat.append(time.perf_counter() - t)
            if status != 200:
                errors.append(f"{status} {data[:200]!r}")

    t0 = time.perf_counter()
    await asyncio.gather(*(client(c) for c in conns))
    wall = time.perf_counter() - t0
    for c in conns:
        c.close()
    return lat, wall, errors


async def hold_connections(host, port, n: int, rounds: int, body: bytes):
    """n connections opened together, each sending `rounds` requests at the same moments."""
    conns = await asyncio.gather(*(Conn(host, port).open() for _ in range(n)))
    errors, lat = [], []

    async def one(c):
        t = time.perf_counter()
        try:
            status, data = await c.post(f"/v1/score?as_of={AS_OF}", body)
            lat.append(time.perf_counter() - t)
            if status != 200:
                errors.append(status)
        except Exception as e:
            errors.append(repr(e))

    t0 = time.perf_counter()
    for _ in range(rounds):
        await asyncio.gather(*(one(c) for c in conns))
    wall = time.perf_counter() - t0
    for c in conns:
        c.close()
    return lat, wall, errors


def start_server() -> tuple[subprocess.Popen, int]:
    p = subprocess.Popen([sys.executable, "-m", "cli", "serve", str(RULES), "--port", "0", "--reload-interval", "0"],
                         cwd=ROOT, env=ENV, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = p.stderr.readline()
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if m:
            return p, int(m.group(1))
        if not line and p.poll() is not None:
            break
    p.kill()
    raise SystemExit("the service did not start")


def time_score(path: Path) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cli", "score", str(RULES), "--leads", str(path), "--as-of", AS_OF, "-o",
                    os.devnull], cwd=ROOT, env=ENV, check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--leads", type=Path, default=LEADS)
    args = ap.parse_args()

    lines = [x for x in args.leads.read_text(encoding="utf-8").splitlines() if x.strip()]
    singles = [x.encode() for x in lines]
    batches = [json.dumps({"leads": [json.loads(x) for x in lines[i:i + 100]]}).encode()
               for i in range(0, len(lines), 100)]
    print(f"# serve_bench: {len(lines):,} leads ({args.leads.name}), {len(batches)} batches of 100; "
          f"{platform.node()} {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    proc, port = start_server()
    host = "127.0.0.1"
    rows = []
    try:
        asyncio.run(run_clients(host, port, 4, singles[:300], f"/v1/score?as_of={AS_OF}"))  # warm up
        for n in args.clients:
            lat, wall, err = asyncio.run(run_clients(host, port, n, singles, f"/v1/score?as_of={AS_OF}"))
            rows.append((f"one lead per request, {n} client{'s' if n > 1 else ''}", len(lat), lat, wall,
                         len(lat) / wall, len(err)))
        for n in args.clients:
            lat, wall, err = asyncio.run(run_clients(host, port, n, batches, f"/v1/score?as_of={AS_OF}"))
            rows.append((f"batches of 100, {n} client{'s' if n > 1 else ''}", len(lat), lat, wall,
                         100 * len(lat) / wall, len(err)))
        lat, wall, err = asyncio.run(hold_connections(host, port, args.connections, args.rounds, singles[0]))
        rows.append((f"{args.connections} connections at once, {args.rounds} rounds", len(lat), lat, wall,
                     len(lat) / wall, len(err)))
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    with tempfile.TemporaryDirectory() as d:
        one = Path(d) / "one.jsonl"
        one.write_text(lines[0] + "\n", encoding="utf-8")
        all_ = Path(d) / "all.jsonl"
        all_.write_text("\n".join(lines) + "\n", encoding="utf-8")
        t_one = statistics.median(time_score(one) for _ in range(3))
        t_all = statistics.median(time_score(all_) for _ in range(3))

    print()
    print("| run | requests | p50 ms | p95 ms | p99 ms | leads/s | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, count, lat, wall, rate, errs in rows:
        ms = [x * 1000 for x in lat] or [float("nan")]
        print(f"| {name} | {count:,} | {pct(ms, 50):.2f} | {pct(ms, 95):.2f} | {pct(ms, 99):.2f} | {rate:,.0f} | {errs} |")
    print(f"| `leadrules score`, one lead (a process) | 1 | {t_one * 1000:.0f} | | | {1 / t_one:,.1f} | 0 |")
    print(f"| `leadrules score`, the {len(lines):,} leads (a process) | 1 | {t_all * 1000:.0f} | | | "
          f"{len(lines) / t_all:,.0f} | 0 |")
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
