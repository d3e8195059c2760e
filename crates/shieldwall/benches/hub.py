#!/usr/bin/env python3
"""TAXII hub benchmark: shieldwall (SQLite, PostgreSQL) beside medallion (memory backend), in one run.

For each server: idle memory after start; POST N indicators in envelopes of 1000, one client, the
envelopes serialised before the clock starts (objects/s);
page through them with limit=1000 (objects/s); wrk on GET objects/?limit=100 with 16 connections
for 10 s (requests/s, p50, p99; wrk's timeout raised to 30 s so that slow answers count as latency,
not as errors); wrk on GET objects/{id}/ by id (each request a random one of the N objects, the
same 16 connections and 10 s); memory after, and the peak (VmHWM); the load average before wrk
(others' work on the machine distorts p99).
medallion is timeboxed (it slows down as it fills), and runs a second time with --medallion-small
objects, where it still answers pages and wrk, so that every ratio has a finite denominator. The
last table gives shieldwall's ratios to each medallion row, all measured in this one run.

Usage (from the repository root):
  cargo build --release -p shieldwall
  /path/to/python crates/shieldwall/benches/hub.py [--objects 100000] [--postgres postgres://postgres@127.0.0.1:5432] [--relationships]
      [--only post]   # the POST phase alone, with the server's CPU seconds during it
Needs: requests, medallion (PyPI), wrk, and for PostgreSQL: createdb/dropdb.
"""
import argparse, base64, json, os, re, shutil, subprocess, sys, tempfile, time, uuid

import requests

TAXII = "application/taxii+json;version=2.1"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.environ.get("SHIELDWALL_BIN", os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "shieldwall"))
COLL = "4f1c0c55-3b1e-4f5e-9c55-2d6c2b0f6a11"
USER, PASSWORD = "bench", "bench-password"
TIMEBOX = 120.0


def rss_mib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


BYID_LUA = """
local paths = {}
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
function request()
  return wrk.format(nil, paths[math.random(#paths)])
end
"""


def wrk(url, token, script=None, script_args=()):
    """wrk with 2 threads, 16 connections, 10 s: (requests/s, {50: p50, 99: p99}, non-2xx, timeouts)."""
    cmd = ["wrk", "-t2", "-c16", "-d10s", "--timeout", "30s", "--latency", "-H", f"Authorization: Basic {token}", "-H", f"Accept: {TAXII}"]
    if script:
        cmd += ["-s", script]
    cmd.append(url)
    if script_args:
        cmd += ["--", *script_args]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    timeouts = re.search(r"Socket errors:.*timeout (\d+)", out)
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    return (float(m.group(1)) if m else 0.0, lat, int(non2xx.group(1)) if non2xx else 0,
            int(timeouts.group(1)) if timeouts else 0)


RELATIONSHIPS = False
POST_ONLY = False


def server_cpu_s(pid):
    """The server's CPU time so far (user + system, seconds), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def ind_id(i):
    return f"indicator--{uuid.UUID(int=(0x5B << 120) | (4 << 76) | (0x8 << 60) | i)}"


def indicators(n, start):
    """Indicators; with --relationships every odd one is a `related-to` between two earlier
    indicators instead, so that listings apply the edge rule to half the objects."""
    out = []
    for i in range(start, start + n):
        if RELATIONSHIPS and i % 2 == 1:
            out.append({"type": "relationship", "spec_version": "2.1",
                        "id": f"relationship--{uuid.UUID(int=(0x5C << 120) | (4 << 76) | (0x8 << 60) | i)}",
                        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                        "relationship_type": "related-to", "source_ref": ind_id(i - 1), "target_ref": ind_id(((i - 1) // 2) & ~1),
                        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]})
            continue
        out.append({"type": "indicator", "spec_version": "2.1", "id": ind_id(i),
                    "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": f"bench {i}",
                    "pattern": f"[ipv4-addr:value = '10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}']", "pattern_type": "stix",
                    "valid_from": "2026-01-01T00:00:00.000Z", "indicator_types": ["malicious-activity"],
                    "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]})
    return out


def wait_up(url, auth):
    for _ in range(300):
        try:
            requests.get(url, auth=auth, headers={"Accept": TAXII}, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit(f"server at {url} did not start")


def run_workload(name, base, objects_url, pid, n):
    auth = (USER, PASSWORD)
    s = requests.Session()
    s.auth = auth
    time.sleep(1)
    idle = rss_mib(pid)
    # The envelopes are made before the clock starts: the figure is the server's, not the time
    # this client takes to generate and serialise 1,000 indicators (10-16 ms an envelope here).
    bodies = [(min(1000, n - k), json.dumps({"objects": indicators(min(1000, n - k), k)}).encode())
              for k in range(0, n, 1000)]
    cpu0 = server_cpu_s(pid)
    posted, t0 = 0, time.time()
    for count, body in bodies:
        if time.time() - t0 >= TIMEBOX:
            break
        r = s.post(objects_url, data=body, headers={"Accept": TAXII, "Content-Type": TAXII}, timeout=600)
        assert r.status_code in (200, 202), (r.status_code, r.text[:300])
        posted += count
    post_s = time.time() - t0
    del bodies
    if POST_ONLY:
        cpu = server_cpu_s(pid) - cpu0
        return {"server": name, "idle_mib": idle, "posted": posted, "post_per_s": posted / post_s,
                "after_mib": rss_mib(pid), "peak_mib": rss_mib(pid, "VmHWM"), "load": os.getloadavg()[0], "cpu_s": cpu}
    read, t0, nxt, page_note = 0, time.time(), None, ""
    while time.time() - t0 < TIMEBOX:
        params = {"limit": 1000}
        if nxt:
            params["next"] = nxt
        try:
            r = s.get(objects_url, params=params, headers={"Accept": TAXII}, timeout=TIMEBOX)
        except requests.RequestException:
            page_note = f" (one page took > {TIMEBOX:.0f} s: stopped)"
            break
        assert r.status_code == 200, (r.status_code, r.text[:300])
        page = r.json()
        read += len(page.get("objects", []))
        nxt = page.get("next")
        if not page.get("more"):
            break
    page_s = time.time() - t0
    # One GET limit=100 alone: when wrk completes nothing in 10 s, this bounds the server's rate.
    single = None
    if not page_note:
        t1 = time.time()
        r = s.get(objects_url, params={"limit": 100}, headers={"Accept": TAXII}, timeout=TIMEBOX)
        assert r.status_code == 200, (r.status_code, r.text[:300])
        single = time.time() - t1
    load = os.getloadavg()[0]
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    rps, lat, non2xx, timeouts = wrk(f"{objects_url}?limit=100", token)
    list_mib = rss_mib(pid)
    # By id: every request a random one of the posted objects (one that answers 200).
    r = s.get(f"{objects_url}{ind_id(0)}/", headers={"Accept": TAXII}, timeout=TIMEBOX)
    assert r.status_code == 200 and r.json()["objects"][0]["id"] == ind_id(0), (r.status_code, r.text[:300])
    path = requests.utils.urlparse(objects_url).path
    fd, ids_file = tempfile.mkstemp(suffix=".paths")
    with os.fdopen(fd, "w") as f:
        for i in range(0, posted, 2 if RELATIONSHIPS else 1):
            f.write(f"{path}{ind_id(i)}/\n")
    lua = ids_file + ".lua"
    with open(lua, "w") as f:
        f.write(BYID_LUA)
    try:
        byid_load = os.getloadavg()[0]
        b_rps, b_lat, b_non2xx, b_timeouts = wrk(objects_url, token, lua, [ids_file])
    finally:
        os.remove(ids_file)
        os.remove(lua)
    return {"server": name, "idle_mib": idle, "posted": posted, "post_per_s": posted / post_s, "read": read,
            "page_per_s": read / page_s, "page_note": page_note, "wrk_rps": rps, "p50": lat.get("50"), "p99": lat.get("99"),
            "non2xx": non2xx, "list_mib": list_mib, "after_mib": rss_mib(pid), "peak_mib": rss_mib(pid, "VmHWM"), "load": load,
            "single_s": single, "timeouts": timeouts, "byid_rps": b_rps, "byid_p50": b_lat.get("50"), "byid_p99": b_lat.get("99"),
            "byid_non2xx": b_non2xx, "byid_timeouts": b_timeouts, "byid_load": byid_load}


def shieldwall(name, database, n, tmp):
    cfg = os.path.join(tmp, f"{name}.toml")
    subprocess.run([BIN, "init", cfg], check=True, capture_output=True)
    subprocess.run([BIN, "admin", "add-member", "bench", "--name", "Bench", "--config", cfg], check=True, capture_output=True)
    subprocess.run([BIN, "admin", "add-user", USER, "--member", "bench", "--role", "contributor", "--config", cfg],
                   input=PASSWORD + "\n", text=True, check=True, capture_output=True)
    with open(cfg, "a") as f:
        f.write(f'\n[[collections]]\nid = "{COLL}"\napi_root = "coalition"\ntitle = "bench"\nread = ["*"]\nwrite = ["*"]\n')
    env = dict(os.environ, SHIELDWALL_LOG="warn", SHIELDWALL_SERVER__MAX_CONTENT_LENGTH="104857600")
    if database:
        env["SHIELDWALL_SERVER__DATABASE"] = database
    p = subprocess.Popen([BIN, "serve", "--config", cfg, "--listen", "127.0.0.1:18555", "--data", os.path.join(tmp, name)],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = "http://127.0.0.1:18555"
        wait_up(f"{base}/taxii2/", (USER, PASSWORD))
        return run_workload(name, base, f"{base}/coalition/collections/{COLL}/objects/", p.pid, n)
    finally:
        p.terminate()
        p.wait()


def medallion(n, tmp, label="medallion (memory)"):
    data = {"/discovery": {"title": "bench", "default": "http://127.0.0.1:18556/api1/", "api_roots": ["http://127.0.0.1:18556/api1/"]},
            "api1": {"information": {"title": "bench", "versions": [TAXII], "max_content_length": 104857600}, "status": [],
                     "collections": [{"id": COLL, "title": "bench", "can_read": True, "can_write": True,
                                      "media_types": ["application/stix+json;version=2.1"], "objects": [], "manifest": []}]}}
    df = os.path.join(tmp, "medallion_data.json")
    json.dump(data, open(df, "w"))
    cf = os.path.join(tmp, "medallion.json")
    json.dump({"backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend", "filename": df}, "users": {USER: PASSWORD},
               "taxii": {"max_page_size": 1000}}, open(cf, "w"))
    med = shutil.which("medallion") or os.path.join(os.path.dirname(sys.executable), "medallion")
    p = subprocess.Popen([med, "--host", "127.0.0.1", "--port", "18556", "--log-level", "ERROR", cf],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = "http://127.0.0.1:18556"
        wait_up(f"{base}/taxii2/", (USER, PASSWORD))
        return run_workload(label, base, f"{base}/api1/collections/{COLL}/objects/", p.pid, n)
    finally:
        p.terminate()
        p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=100000)
    ap.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432", help="server URL without database; '' to skip")
    ap.add_argument("--skip-medallion", action="store_true")
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--medallion-small", type=int, default=1000,
                    help="also run medallion with this many objects, where it still answers pages and wrk (0 to skip)")
    ap.add_argument("--relationships", action="store_true",
                    help="every other object a relationship between two indicators (the edge rule on half the listing)")
    ap.add_argument("--only", choices=["post"],
                    help="only the POST phase (objects/s, the server's CPU seconds for it, RSS), e.g. to compare two binaries")
    a = ap.parse_args()
    global RELATIONSHIPS, POST_ONLY
    RELATIONSHIPS = a.relationships
    POST_ONLY = a.only == "post"
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, {os.cpu_count()} CPUs, load at start {os.getloadavg()[0]:.2f}, "
          f"{a.objects} objects{' (half relationships)' if a.relationships else ''}, binary {BIN}", flush=True)
    print("| server | idle RSS MiB | POST objects (objects/s) | page limit=1000 (objects/s) | one GET limit=100 alone | wrk GET limit=100, 16 conn (req/s) | p50 | p99 | wrk GET by id (req/s) | p50 | p99 | RSS after listing / by id / peak MiB | load before wrk |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    rows = []

    def report(r):
        rows.append(r)
        if POST_ONLY:
            print(f"| {r['server']} | {r['idle_mib']:.0f} | {r['posted']} in {r['posted'] / r['post_per_s']:.1f} s = {r['post_per_s']:.0f} | "
                  f"server CPU {r['cpu_s']:.1f} s | RSS after / peak {r['after_mib']:.0f} / {r['peak_mib']:.0f} MiB | load after {r['load']:.2f} |", flush=True)
            return
        print(f"| {r['server']} | {r['idle_mib']:.0f} | {r['posted']} in {r['posted'] / r['post_per_s']:.1f} s = {r['post_per_s']:.0f} | "
              f"{r['read']} at {r['page_per_s']:.0f}{r['page_note']} | "
              f"{'%.1f ms' % (r['single_s'] * 1000) if r['single_s'] is not None else 'not measured (> %.0f s)' % TIMEBOX} | {r['wrk_rps']:.0f}{' (' + str(r['non2xx']) + ' non-2xx)' if r['non2xx'] else ''}{' (' + str(r['timeouts']) + ' timeouts)' if r['timeouts'] else ''} | {r['p50']} | {r['p99']} | "
              f"{r['byid_rps']:.0f}{' (' + str(r['byid_non2xx']) + ' non-2xx)' if r['byid_non2xx'] else ''}{' (' + str(r['byid_timeouts']) + ' timeouts)' if r['byid_timeouts'] else ''} | {r['byid_p50']} | {r['byid_p99']} | "
              f"{r['list_mib']:.0f} / {r['after_mib']:.0f} / {r['peak_mib']:.0f} | {r['load']:.2f}, {r['byid_load']:.2f} |", flush=True)

    def ratios():
        meds = [r for r in rows if r["server"].startswith("medallion")]
        print()
        if not meds or POST_ONLY:
            return
        print("| shieldwall vs | POST | page | wrk req/s | wrk by id req/s |")
        print("|---|---|---|---|---|")
        for r in rows:
            if r["server"].startswith("medallion"):
                continue
            for m in meds:
                def ratio(k):
                    return f"{r[k] / m[k]:.0f}×" if m[k] > 0 else "∞ (medallion: 0)"
                wrk = ratio("wrk_rps")
                if m["wrk_rps"] == 0 and m["single_s"]:
                    # medallion is CPU-bound Python (one GIL): it cannot serve more than one
                    # request per single-request time, so this ratio is a lower bound.
                    wrk = f"≥ {r['wrk_rps'] * m['single_s']:.0f}× (medallion ≤ 1/{m['single_s']:.1f} s)"
                post = ratio("post_per_s") if m["posted"] >= 10000 else "— (medallion loaded only %d)" % m["posted"]
                print(f"| {r['server']} / {m['server']} | {post} | {ratio('page_per_s')} | {wrk} | {ratio('byid_rps')} |")

    with tempfile.TemporaryDirectory() as tmp:
        if not a.skip_sqlite:
            report(shieldwall("shieldwall-sqlite", None, a.objects, tmp))
        if a.postgres:
            db = f"sw_bench_{uuid.uuid4().hex[:8]}"
            subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", db], check=True)
            try:
                report(shieldwall("shieldwall-postgres", f"{a.postgres}/{db}", a.objects, tmp))
            finally:
                subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--force", db])
        if not a.skip_medallion:
            report(medallion(a.objects, tmp))
            if a.medallion_small:
                report(medallion(a.medallion_small, tmp, f"medallion (memory), {a.medallion_small} objects"))
    ratios()


if __name__ == "__main__":
    main()
