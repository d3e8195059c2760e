#!/usr/bin/env python3
"""The read phases of hub.py against a store loaded once, so that two binaries can be compared on
the same data, alternately (a fresh server each run, the store kept).

  hub_reads.py setup --bin BIN --dir DIR [--db postgres://…/DB] [--n 100000]   # config + POST N objects
  hub_reads.py run --bin BIN --dir DIR [--db …] --phases page,byid[,list] [--wrap "nice -n -5"]

`run` prints one JSON line: idle RSS, each phase's result (page: objects/s; byid/list: wrk's
req/s, p50/p99, non-2xx, timeouts) and the RSS after it, and the peak (VmHWM), in MiB. The
PostgreSQL database must exist (createdb).
"""
import sys, os, json, subprocess, time, base64, importlib.util, argparse
spec = importlib.util.spec_from_file_location("hub", os.path.join(os.path.dirname(os.path.abspath(__file__)), "hub.py"))
hub = importlib.util.module_from_spec(spec); spec.loader.exec_module(hub)
import requests
ap = argparse.ArgumentParser()
ap.add_argument("cmd"); ap.add_argument("--bin", required=True); ap.add_argument("--dir", required=True)
ap.add_argument("--db", default=""); ap.add_argument("--n", type=int, default=100000)
ap.add_argument("--port", default="18600"); ap.add_argument("--env", action="append", default=[])
ap.add_argument("--phases", default="byid"); ap.add_argument("--wrap", default="")
a = ap.parse_args()
cfg = os.path.join(a.dir, "c.toml")
def start():
    env = dict(os.environ, SHIELDWALL_LOG="warn", SHIELDWALL_SERVER__MAX_CONTENT_LENGTH="104857600")
    for kv in a.env:
        k, v = kv.split("=", 1); env[k] = v
    if a.db: env["SHIELDWALL_SERVER__DATABASE"] = a.db
    cmd = [a.bin, "serve", "--config", cfg, "--listen", f"127.0.0.1:{a.port}", "--data", os.path.join(a.dir, "data")]
    if a.wrap: cmd = a.wrap.split() + cmd
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(a.dir, "serve.log"), "a"))
    hub.wait_up(f"http://127.0.0.1:{a.port}/taxii2/", (hub.USER, hub.PASSWORD))
    return p
base = f"http://127.0.0.1:{a.port}"
url = f"{base}/coalition/collections/{hub.COLL}/objects/"
token = base64.b64encode(f"{hub.USER}:{hub.PASSWORD}".encode()).decode()
if a.cmd == "setup":
    os.makedirs(a.dir, exist_ok=True)
    subprocess.run([a.bin, "init", cfg], check=True, capture_output=True)
    subprocess.run([a.bin, "admin", "add-member", "bench", "--name", "Bench", "--config", cfg], check=True, capture_output=True)
    subprocess.run([a.bin, "admin", "add-user", hub.USER, "--member", "bench", "--role", "contributor", "--config", cfg], input=hub.PASSWORD + "\n", text=True, check=True, capture_output=True)
    with open(cfg, "a") as f:
        f.write(f'\n[[collections]]\nid = "{hub.COLL}"\napi_root = "coalition"\ntitle = "bench"\nread = ["*"]\nwrite = ["*"]\n')
    p = start()
    s = requests.Session(); s.auth = (hub.USER, hub.PASSWORD)
    t0 = time.time(); posted = 0
    while posted < a.n:
        b = hub.indicators(min(1000, a.n - posted), posted)
        r = s.post(url, data=json.dumps({"objects": b}), headers={"Accept": hub.TAXII, "Content-Type": hub.TAXII})
        assert r.status_code == 202, r.text[:200]
        posted += len(b)
    print(f"POST {posted} in {time.time()-t0:.1f}s = {posted/(time.time()-t0):.0f}/s")
    p.terminate(); p.wait()
else:
    p = start()
    try:
        time.sleep(0.5)
        out = {}
        out["idle"] = hub.rss_mib(p.pid)
        for ph in a.phases.split(","):
            if ph == "byid":
                ids = os.path.join(a.dir, "paths.txt")
                with open(ids, "w") as f:
                    for i in range(a.n): f.write(f"/coalition/collections/{hub.COLL}/objects/{hub.ind_id(i)}/\n")
                lua = os.path.join(a.dir, "byid.lua"); open(lua, "w").write(hub.BYID_LUA)
                r = hub.wrk(url, token, lua, [ids])
            elif ph == "list":
                r = hub.wrk(f"{url}?limit=100", token)
            elif ph == "page":
                s = requests.Session(); s.auth = (hub.USER, hub.PASSWORD)
                t0 = time.time(); nxt = None; read = 0
                while True:
                    params = {"limit": 1000}
                    if nxt: params["next"] = nxt
                    pg = s.get(url, params=params, headers={"Accept": hub.TAXII}).json()
                    read += len(pg.get("objects", [])); nxt = pg.get("next")
                    if not pg.get("more"): break
                r = (read / (time.time() - t0), read)
            out[ph] = r
            out[ph + "_rss"] = hub.rss_mib(p.pid)
        out["hwm"] = hub.rss_mib(p.pid, "VmHWM")
        print(json.dumps(out))
    finally:
        p.terminate(); p.wait()
