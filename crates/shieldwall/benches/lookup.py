#!/usr/bin/env python3
"""Value index benchmark (SQLite): what the index costs a POST, and look-up latency on a large store.

1. Ingest: the same release binary serves a fresh store with the value index on, then off
   (SHIELDWALL_BENCH_NO_VALUE_INDEX=1, which only benchmarks use), alternating which goes first,
   --pairs times; each run POSTs --objects indicators in envelopes of 1,000 (a mix of addresses,
   /24 networks, domain names and SHA-256 digests) and reports objects/s. The ratio is per pair.
2. Look-up: one server with the index loads --large indicators of the same mix, then
   GET /lookup/ sequentially: addresses (held, inside a held network, absent), domain names,
   digests and /16 networks; p50/p95/p99 per kind.

Usage (from the repository root):
  cargo build --release -p shieldwall
  SHIELDWALL_BIN=target/release/shieldwall /path/to/python crates/shieldwall/benches/lookup.py \
      [--objects 100000] [--pairs 3] [--large 300000]
Needs: requests.
"""
import argparse, hashlib, json, os, random, statistics, subprocess, sys, tempfile, time, uuid

import requests

TAXII = "application/taxii+json;version=2.1"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.environ.get("SHIELDWALL_BIN", os.path.join(ROOT, "target", "release", "shieldwall"))
COLL = "4f1c0c55-3b1e-4f5e-9c55-2d6c2b0f6a11"
USER, PASSWORD = "bench", "bench-password"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"


def pattern(i):
    k = i % 4
    if k == 0:
        return f"[ipv4-addr:value = '10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}']"
    if k == 1:
        return f"[domain-name:value = 'd{i}.bench.example']"
    if k == 2:
        return f"[ipv4-addr:value = '172.{16 + ((i >> 16) & 15)}.{(i >> 8) & 255}.0/24']"
    return f"[file:hashes.'SHA-256' = '{hashlib.sha256(str(i).encode()).hexdigest()}']"


def indicators(n, start):
    return [{"type": "indicator", "spec_version": "2.1",
             "id": f"indicator--{uuid.UUID(int=(0x5D << 120) | (4 << 76) | (0x8 << 60) | i)}",
             "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": f"bench {i}",
             "pattern": pattern(i), "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00.000Z",
             "indicator_types": ["malicious-activity"], "object_marking_refs": [GREEN]}
            for i in range(start, start + n)]


class Server:
    def __init__(self, tmp, name, index=True):
        cfg = os.path.join(tmp, f"{name}.toml")
        subprocess.run([BIN, "init", cfg], check=True, capture_output=True)
        subprocess.run([BIN, "admin", "add-member", "bench", "--name", "Bench", "--config", cfg], check=True, capture_output=True)
        subprocess.run([BIN, "admin", "add-user", USER, "--member", "bench", "--role", "contributor", "--config", cfg],
                       input=PASSWORD + "\n", text=True, check=True, capture_output=True)
        with open(cfg, "a") as f:
            f.write(f'\n[[collections]]\nid = "{COLL}"\napi_root = "coalition"\ntitle = "bench"\nread = ["*"]\nwrite = ["*"]\n')
        env = dict(os.environ, SHIELDWALL_LOG="warn", SHIELDWALL_SERVER__MAX_CONTENT_LENGTH="104857600")
        env.pop("SHIELDWALL_BENCH_NO_VALUE_INDEX", None)
        if not index:
            env["SHIELDWALL_BENCH_NO_VALUE_INDEX"] = "1"
        self.p = subprocess.Popen([BIN, "serve", "--config", cfg, "--listen", "127.0.0.1:18557", "--data", os.path.join(tmp, name)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = "http://127.0.0.1:18557"
        self.s = requests.Session()
        self.s.auth = (USER, PASSWORD)
        for _ in range(300):
            try:
                self.s.get(f"{self.base}/taxii2/", headers={"Accept": TAXII}, timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)

    def post(self, n, start=0):
        url = f"{self.base}/coalition/collections/{COLL}/objects/"
        posted, t0 = 0, time.time()
        while posted < n:
            batch = indicators(min(1000, n - posted), start + posted)
            r = self.s.post(url, data=json.dumps({"objects": batch}), headers={"Accept": TAXII, "Content-Type": TAXII}, timeout=600)
            assert r.status_code == 202, (r.status_code, r.text[:300])
            assert r.json()["success_count"] == len(batch), r.text[:300]
            posted += len(batch)
        return posted / (time.time() - t0)

    def lookup(self, value):
        t0 = time.perf_counter()
        r = self.s.get(f"{self.base}/lookup/", params={"value": value, "limit": 100}, timeout=60)
        dt = time.perf_counter() - t0
        assert r.status_code == 200, (r.status_code, r.text[:300])
        return dt, len(r.json()["hits"])

    def stop(self):
        self.p.terminate()
        self.p.wait()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=100000)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--large", type=int, default=300000)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="sw-lookup-bench-")
    print(f"load average at start: {os.getloadavg()}", flush=True)
    ratios = []
    for k in range(a.pairs):
        order = [True, False] if k % 2 == 0 else [False, True]
        rates = {}
        for index in order:
            name = f"ingest-{k}-{'on' if index else 'off'}"
            srv = Server(tmp, name, index)
            try:
                rates[index] = srv.post(a.objects)
            finally:
                srv.stop()
        ratios.append(rates[True] / rates[False])
        print(f"pair {k + 1}: index on {rates[True]:,.0f} objects/s, off {rates[False]:,.0f} objects/s, "
              f"on/off {rates[True] / rates[False]:.3f} (load {os.getloadavg()[0]:.1f})", flush=True)
    print(f"POST with the index / without, median of {a.pairs} pairs: {statistics.median(ratios):.3f}", flush=True)

    if a.large:
        srv = Server(tmp, "large", True)
        try:
            t0 = time.time()
            rate = srv.post(a.large)
            print(f"loaded {a.large:,} indicators at {rate:,.0f} objects/s in {time.time() - t0:.0f} s", flush=True)
            rng = random.Random(7)
            n = a.large
            held = lambda kind: [i for i in (rng.randrange(n) for _ in range(4000)) if i % 4 == kind]
            queries = {
                "address held": [f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}" for i in held(0)[:300]],
                "address in a held /24": [f"172.{16 + ((i >> 16) & 15)}.{(i >> 8) & 255}.{rng.randrange(1, 255)}" for i in held(2)[:300]],
                "address absent": [f"192.0.{rng.randrange(256)}.{rng.randrange(256)}" for _ in range(300)],
                "domain held (upper case)": [f"D{i}.BENCH.EXAMPLE" for i in held(1)[:300]],
                "sha256 held": [hashlib.sha256(str(i).encode()).hexdigest() for i in held(3)[:300]],
                "/16 network (up to 100 of 256 /24s)": [f"172.{16 + rng.randrange(2)}.0.0/16" for _ in range(50)],
            }
            print(f"| query ({a.large:,} indicators) | n | hits (mean) | p50 ms | p95 ms | p99 ms |")
            print("|---|---|---|---|---|---|")
            for kind, vals in queries.items():
                times, hits = [], []
                for v in vals:
                    dt, h = srv.lookup(v)
                    times.append(dt * 1000)
                    hits.append(h)
                print(f"| {kind} | {len(vals)} | {statistics.mean(hits):.1f} | {pct(times, 50):.2f} | {pct(times, 95):.2f} | {pct(times, 99):.2f} |", flush=True)
        finally:
            srv.stop()
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    sys.exit(main())
