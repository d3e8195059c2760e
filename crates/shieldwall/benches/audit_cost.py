#!/usr/bin/env python3
"""The audit trail's cost, in one run: by-id reads of a TLP:RED indicator (one audit record per
request) on the same binary WITH the read records and WITHOUT them, and POST ingest alone and
beside a RED read load, with and without; a TLP:GREEN indicator of the same shape (never a
record) as a second reference. Optionally the same for a second binary (`--before`, e.g. one
built from main), so that before and after are measured in the same sitting.

"Without" is the same binary started with SHIELDWALL_BENCH_NO_READ_AUDIT=1, which only
benchmarks use: the process then records no read (nothing else changes). Every variant is its own
server over its own store (its own SQLite file, or its own fresh PostgreSQL database), all
started before the first round and idle while another is measured; each round measures every
variant once, in an order that alternates from round to round (A B C D, D C B A, ...).

  audit_cost.py --bin BIN [--before BIN] --dir DIR [--db postgres://USER@HOST:PORT/PREFIX]
                [--rounds 3] [--seconds 6] [--connections 8]

With --db, the script creates one database per server, PREFIX_1, PREFIX_2, ... (`createdb`;
they must not exist yet). Prints one JSON line per measurement, the load average before each,
and a summary: per binary RED-with/RED-without, RED-with/GREEN and POST with/without (alone
and beside RED reads), each the mean of the per-round ratios, with its range.
"""
import argparse, base64, importlib.util, json, os, re, subprocess, threading, time, urllib.parse, uuid

spec = importlib.util.spec_from_file_location("hub", os.path.join(os.path.dirname(os.path.abspath(__file__)), "hub.py"))
hub = importlib.util.module_from_spec(spec); spec.loader.exec_module(hub)
import requests

ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True); ap.add_argument("--before", default="")
ap.add_argument("--dir", required=True)
ap.add_argument("--db", default=""); ap.add_argument("--port", type=int, default=18640)
ap.add_argument("--rounds", type=int, default=3); ap.add_argument("--seconds", type=int, default=6)
ap.add_argument("--connections", type=int, default=8)
a = ap.parse_args()

RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
H = {"Accept": hub.TAXII, "Content-Type": hub.TAXII}
token = base64.b64encode(f"{hub.USER}:{hub.PASSWORD}".encode()).decode()


def indicator(i, marking):
    return {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.UUID(int=(0x5D << 120) | (4 << 76) | (0x8 << 60) | i)}",
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": f"bench {i:08d}",
            "pattern": f"[ipv4-addr:value = '10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}']", "pattern_type": "stix",
            "valid_from": "2026-01-01T00:00:00.000Z", "indicator_types": ["malicious-activity"], "object_marking_refs": [marking]}


class Server:
    """One `shieldwall serve` over a store of its own; `audit`: whether it records reads."""

    def __init__(self, n, name, binary, audit):
        self.name, self.bin, self.audit = name, os.path.abspath(binary), audit
        self.dir = os.path.join(os.path.abspath(a.dir), f"s{n}")
        os.makedirs(self.dir, exist_ok=True)
        self.cfg = os.path.join(self.dir, "c.toml")
        self.env = dict(os.environ, SHIELDWALL_LOG="warn", SHIELDWALL_SERVER__DATA_DIR=os.path.join(self.dir, "data"))
        self.env.pop("SHIELDWALL_BENCH_NO_READ_AUDIT", None)
        if not audit:
            self.env["SHIELDWALL_BENCH_NO_READ_AUDIT"] = "1"
        if a.db:
            u = urllib.parse.urlparse(a.db)
            db = f"{u.path.lstrip('/')}_{n}"
            subprocess.run(["createdb", "-h", u.hostname or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres", db], check=True)
            self.env["SHIELDWALL_SERVER__DATABASE"] = urllib.parse.urlunparse(u._replace(path="/" + db))
        subprocess.run([self.bin, "init", self.cfg], env=self.env, check=True, capture_output=True)
        self.run("admin", "add-member", "bench", "--name", "Bench")
        self.run("admin", "add-user", hub.USER, "--member", "bench", "--role", "contributor", input=hub.PASSWORD + "\n")
        with open(self.cfg, "a") as f:
            f.write(f'\n[[collections]]\nid = "{hub.COLL}"\napi_root = "coalition"\ntitle = "bench"\nread = ["*"]\nwrite = ["*"]\n')
        port = a.port + n
        self.p = subprocess.Popen([self.bin, "serve", "--config", self.cfg, "--listen", f"127.0.0.1:{port}"], env=self.env,
                                  stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "serve.log"), "a"))
        base = f"http://127.0.0.1:{port}"
        self.url = f"{base}/coalition/collections/{hub.COLL}/objects/"
        self.s = requests.Session(); self.s.auth = (hub.USER, hub.PASSWORD)
        hub.wait_up(f"{base}/taxii2/", (hub.USER, hub.PASSWORD))
        r = self.s.post(self.url, data=json.dumps({"objects": [indicator(0, GREEN), indicator(1, RED)]}), headers=H)
        assert r.status_code == 202 and r.json()["success_count"] == 2, r.text
        self.by_id = {c: f"{self.url}{indicator(i, m)['id']}/" for c, i, m in (("GREEN", 0, GREEN), ("RED", 1, RED))}
        self.next_id = 10

    def run(self, *args, **kw):
        return subprocess.run([self.bin, *args, "--config", self.cfg], env=self.env, check=True, capture_output=True, text=True, **kw)

    def post_for(self, seconds):
        """POSTs envelopes of 500 new GREEN indicators for `seconds`: objects/s."""
        t0 = time.time(); n = 0
        while time.time() - t0 < seconds:
            batch = [indicator(self.next_id + k, GREEN) for k in range(500)]
            self.next_id += 500
            r = self.s.post(self.url, data=json.dumps({"objects": batch}), headers=H)
            assert r.status_code == 202 and r.json()["success_count"] == 500, r.text[:300]
            n += 500
        return n / (time.time() - t0)

    def reads_recorded(self):
        out = subprocess.run([self.bin, "audit", "show", "--json", "--action", "read", "--limit", "100000000", "--config", self.cfg],
                             env=self.env, capture_output=True, text=True).stdout
        return sum(1 for line in out.splitlines() if line.strip())

    def stop(self):
        self.p.terminate(); self.p.wait()


def wrk(target, seconds, connections):
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency",
           "-H", f"Authorization: Basic {token}", "-H", f"Accept: {hub.TAXII}", target]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {"rps": rps, "p50": lat.get("50"), "p99": lat.get("99"), "requests": int(total.group(1)) if total else 0,
            "non2xx": int(non2xx.group(1)) if non2xx else 0}


def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


binaries = [("after", a.bin)] + ([("before", a.before)] if a.before else [])
servers = []
try:
    n = 0
    for label, b in binaries:
        for audit in (True, False):
            n += 1
            servers.append(Server(n, f"{label}/{'with' if audit else 'without'}", b, audit))
    red_requests = {sv.name: 0 for sv in servers}
    for sv in servers:  # warm-up
        wrk(sv.by_id["GREEN"], 2, a.connections)
        red_requests[sv.name] += wrk(sv.by_id["RED"], 2, a.connections)["requests"]
    res = {sv.name: {"RED": [], "GREEN": [], "POST": [], "POST+RED": []} for sv in servers}
    for rnd in range(a.rounds):
        order = servers if rnd % 2 == 0 else servers[::-1]
        # Reads: RED on every server; GREEN on those that record reads (the same with or without).
        for sv in order:
            for c in (["RED", "GREEN"] if (rnd // 2) % 2 == 0 else ["GREEN", "RED"]):
                if c == "GREEN" and not sv.audit:
                    continue
                load = os.getloadavg()[0]
                m = wrk(sv.by_id[c], a.seconds, a.connections)
                m.update(round=rnd + 1, server=sv.name, object=c, load=load)
                if c == "RED":
                    red_requests[sv.name] += m["requests"]
                res[sv.name][c].append(m); print(json.dumps(m), flush=True)
        # POST alone, then beside half the read connections on the RED object.
        for sv in order:
            load = os.getloadavg()[0]
            m = {"round": rnd + 1, "server": sv.name, "post": "alone", "objects_per_s": sv.post_for(a.seconds - 1), "load": load}
            res[sv.name]["POST"].append(m); print(json.dumps(m), flush=True)
            load = os.getloadavg()[0]
            out = {}
            t = threading.Thread(target=lambda: out.update(wrk(sv.by_id["RED"], a.seconds, max(1, a.connections // 2))))
            t.start(); time.sleep(0.3)
            ops = sv.post_for(a.seconds - 1)
            t.join()
            red_requests[sv.name] += out.get("requests", 0)
            m = {"round": rnd + 1, "server": sv.name, "post": "beside RED", "objects_per_s": ops, "reads_rps": out.get("rps"), "load": load}
            res[sv.name]["POST+RED"].append(m); print(json.dumps(m), flush=True)
    time.sleep(2)  # the last reads drained (and synced within a second)
    summary = {"summary": True, "rounds": a.rounds, "seconds": a.seconds, "connections": a.connections}
    for label, _ in binaries:
        w, wo = res[f"{label}/with"], res[f"{label}/without"]

        def ratios(key, field):
            return [x[field] / y[field] for x, y in zip(w[key], wo[key])]

        def fmt(rs):
            return {"mean": round(mean(rs), 3), "min": round(min(rs), 3), "max": round(max(rs), 3)}

        summary[label] = {
            "red_with_rps": round(mean([m["rps"] for m in w["RED"]])),
            "red_without_rps": round(mean([m["rps"] for m in wo["RED"]])),
            "green_rps": round(mean([m["rps"] for m in w["GREEN"]])),
            "red_with_over_without": fmt(ratios("RED", "rps")),
            "red_with_over_green": fmt([x["rps"] / y["rps"] for x, y in zip(w["RED"], w["GREEN"])]),
            "post_alone_with": round(mean([m["objects_per_s"] for m in w["POST"]])),
            "post_alone_without": round(mean([m["objects_per_s"] for m in wo["POST"]])),
            "post_alone_with_over_without": fmt(ratios("POST", "objects_per_s")),
            "post_beside_red_with": round(mean([m["objects_per_s"] for m in w["POST+RED"]])),
            "post_beside_red_without": round(mean([m["objects_per_s"] for m in wo["POST+RED"]])),
            "post_beside_red_with_over_without": fmt(ratios("POST+RED", "objects_per_s")),
            "red_beside_post_with_over_without": fmt(ratios("POST+RED", "reads_rps")),
            # Every RED read answered by the server that records reads has its record (wrk counts
            # the answers it read; a few more may be answered as it stops), the other none.
            "red_reads_answered": red_requests[f"{label}/with"],
            "read_records": servers[[s.name for s in servers].index(f"{label}/with")].reads_recorded(),
            "read_records_without": servers[[s.name for s in servers].index(f"{label}/without")].reads_recorded(),
        }
    print(json.dumps(summary), flush=True)
finally:
    for sv in servers:
        sv.stop()
