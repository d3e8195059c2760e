#!/usr/bin/env python3
"""The audit trail's cost, in one run, on one server: by-id reads of a TLP:RED indicator (one
audit record per request) against a TLP:GREEN indicator of the same shape (no record), and POST
ingest alone and while one of those two read loads runs beside it, in alternating rounds
(A B A B ...).

  audit_cost.py --bin BIN --dir DIR [--db postgres://…/DB] [--rounds 3] [--seconds 8]

Prints one JSON line per measurement and a summary: req/s, p50, p99 of each round, the RED/GREEN
ratios, POST objects/s beside each read load, the load average before each round, and the audit
records appended. The PostgreSQL database must exist (createdb) and be empty.
"""
import argparse, base64, importlib.util, json, os, re, subprocess, threading, time, uuid

spec = importlib.util.spec_from_file_location("hub", os.path.join(os.path.dirname(os.path.abspath(__file__)), "hub.py"))
hub = importlib.util.module_from_spec(spec); spec.loader.exec_module(hub)
import requests

ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True); ap.add_argument("--dir", required=True)
ap.add_argument("--db", default=""); ap.add_argument("--port", default="18640")
ap.add_argument("--rounds", type=int, default=3); ap.add_argument("--seconds", type=int, default=8)
ap.add_argument("--connections", type=int, default=8)
a = ap.parse_args()

RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
cfg = os.path.join(a.dir, "c.toml")
env = dict(os.environ, SHIELDWALL_LOG="warn", SHIELDWALL_SERVER__DATA_DIR=os.path.join(os.path.abspath(a.dir), "data"))
if a.db:
    env["SHIELDWALL_SERVER__DATABASE"] = a.db
os.makedirs(a.dir, exist_ok=True)
run = lambda *args, **kw: subprocess.run([a.bin, *args, "--config", cfg], env=env, check=True, capture_output=True, text=True, **kw)
subprocess.run([a.bin, "init", cfg], env=env, check=True, capture_output=True)
run("admin", "add-member", "bench", "--name", "Bench")
run("admin", "add-user", hub.USER, "--member", "bench", "--role", "contributor", input=hub.PASSWORD + "\n")
with open(cfg, "a") as f:
    f.write(f'\n[[collections]]\nid = "{hub.COLL}"\napi_root = "coalition"\ntitle = "bench"\nread = ["*"]\nwrite = ["*"]\n')
p = subprocess.Popen([a.bin, "serve", "--config", cfg, "--listen", f"127.0.0.1:{a.port}"],
                     env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(a.dir, "serve.log"), "a"))
base = f"http://127.0.0.1:{a.port}"
url = f"{base}/coalition/collections/{hub.COLL}/objects/"
token = base64.b64encode(f"{hub.USER}:{hub.PASSWORD}".encode()).decode()
s = requests.Session(); s.auth = (hub.USER, hub.PASSWORD)
H = {"Accept": hub.TAXII, "Content-Type": hub.TAXII}


def indicator(i, marking):
    return {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.UUID(int=(0x5D << 120) | (4 << 76) | (0x8 << 60) | i)}",
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": f"bench {i:08d}",
            "pattern": f"[ipv4-addr:value = '10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}']", "pattern_type": "stix",
            "valid_from": "2026-01-01T00:00:00.000Z", "indicator_types": ["malicious-activity"], "object_marking_refs": [marking]}


def wrk(target, seconds, connections):
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency",
           "-H", f"Authorization: Basic {token}", "-H", f"Accept: {hub.TAXII}", target]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": lat.get("50"), "p99": lat.get("99"), "non2xx": int(non2xx.group(1)) if non2xx else 0}


next_id = [10]


def post_for(seconds):
    """POSTs envelopes of 500 new GREEN indicators for `seconds`: objects/s."""
    t0 = time.time(); n = 0
    while time.time() - t0 < seconds:
        batch = [indicator(next_id[0] + k, GREEN) for k in range(500)]
        next_id[0] += 500
        r = s.post(url, data=json.dumps({"objects": batch}), headers=H)
        assert r.status_code == 202 and r.json()["success_count"] == 500, r.text[:300]
        n += 500
    return n / (time.time() - t0)


try:
    hub.wait_up(f"{base}/taxii2/", (hub.USER, hub.PASSWORD))
    r = s.post(url, data=json.dumps({"objects": [indicator(0, GREEN), indicator(1, RED)]}), headers=H)
    assert r.status_code == 202 and r.json()["success_count"] == 2, r.text
    by_id = {c: f"{url}{indicator(i, m)['id']}/" for c, i, m in (("GREEN", 0, GREEN), ("RED", 1, RED))}
    results = {"GREEN": [], "RED": [], "POST+GREEN": [], "POST+RED": [], "POST": []}
    wrk(by_id["GREEN"], 2, a.connections)  # warm-up
    for rnd in range(a.rounds):
        order = ["GREEN", "RED"] if rnd % 2 == 0 else ["RED", "GREEN"]
        for c in order:
            load = os.getloadavg()[0]
            m = wrk(by_id[c], a.seconds, a.connections)
            m.update(round=rnd + 1, object=c, load=load)
            results[c].append(m); print(json.dumps(m), flush=True)
        load = os.getloadavg()[0]
        m = {"round": rnd + 1, "post_alone": True, "objects_per_s": post_for(a.seconds - 1), "load": load}
        results["POST"].append(m); print(json.dumps(m), flush=True)
        for c in order:
            # POST beside half the read connections of either kind.
            load = os.getloadavg()[0]
            out = {}
            t = threading.Thread(target=lambda: out.update(wrk(by_id[c], a.seconds, max(1, a.connections // 2))))
            t.start(); time.sleep(0.3)
            ops = post_for(a.seconds - 1)
            t.join()
            m = {"round": rnd + 1, "post_beside": c, "objects_per_s": ops, "reads_rps": out.get("rps"), "load": load}
            results["POST+" + c].append(m); print(json.dumps(m), flush=True)
    g = sum(m["rps"] for m in results["GREEN"]) / a.rounds
    rd = sum(m["rps"] for m in results["RED"]) / a.rounds
    pg = sum(m["objects_per_s"] for m in results["POST+GREEN"]) / a.rounds
    pr = sum(m["objects_per_s"] for m in results["POST+RED"]) / a.rounds
    pa = sum(m["objects_per_s"] for m in results["POST"]) / a.rounds
    head = subprocess.run([a.bin, "audit", "head", "--json", "--config", cfg], env=env, capture_output=True, text=True).stdout
    print(json.dumps({"summary": True, "green_rps": round(g), "red_rps": round(rd), "red_over_green": round(rd / g, 3),
                      "post_alone": round(pa), "post_beside_green": round(pg), "post_beside_red": round(pr), "post_ratio": round(pr / pg, 3),
                      "audit_head": head.strip()}), flush=True)
finally:
    p.terminate(); p.wait()
