"""Generates the inputs of the whole-process scan benchmark (see run.sh): a STIX 2.1 bundle of
N indicators (20 % IPv4 and 18 % IPv6 addresses, 1 % IPv4 /24 and 1 % IPv6 /48 networks, 30 %
domains, 20 % URLs, 10 % SHA-256 digests, the proportions of the matcher's `detect` benchmark)
and an ECS JSON lines log of about BYTES bytes in which 0.1 % of the lines carry an indicator
value (an address inside the block for networks).

    python gen.py N BYTES OUTDIR
"""
import ipaddress
import json
import os
import random
import sys


def value(i, n, r):
    f = lambda x: int(x * n)
    if i < f(0.2):
        return "ip", str(ipaddress.IPv4Address(0x14000000 + (i * 2654435761) % 0x30000000))
    if i < f(0.38):
        return "ip", str(ipaddress.IPv6Address((0x20010DB8 << 96) | r.getrandbits(64)))
    if i < f(0.39):
        return "cidr", f"{ipaddress.IPv4Address(0x64000000 + ((i << 8) % 0x10000000))}/24"
    if i < f(0.40):
        return "cidr", f"{ipaddress.IPv6Address((0x2A001450 << 96) | ((i & 0xFFFF) << 80))}/48"
    if i < f(0.70):
        return "domain", f"d{i}-{r.getrandbits(24):06x}.bad.example"
    if i < f(0.90):
        return "url", f"http://u{i}.drop.example/p/{r.getrandbits(32):08x}?id={i}"
    return "sha256", f"{r.getrandbits(256):064x}"


def pattern(kind, v):
    if kind == "cidr":
        t = "ipv6-addr" if ":" in v else "ipv4-addr"
        return f"[{t}:value ISSUBSET '{v}']"
    if kind == "ip":
        t = "ipv6-addr" if ":" in v else "ipv4-addr"
        return f"[{t}:value = '{v}']"
    if kind == "domain":
        return f"[domain-name:value = '{v}']"
    if kind == "url":
        return f"[url:value = '{v}']"
    return f"[file:hashes.'SHA-256' = '{v}']"


def main():
    n, size, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    os.makedirs(out, exist_ok=True)
    values = []
    with open(os.path.join(out, "indicators.json"), "w") as w:
        w.write('{"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": [\n')
        for i in range(n):
            r = random.Random(i)
            kind, v = value(i, n, r)
            values.append((kind, v))
            o = {
                "type": "indicator",
                "spec_version": "2.1",
                "id": f"indicator--00000000-0000-4000-8000-{i:012d}",
                "created": "2024-01-01T00:00:00.000Z",
                "modified": "2024-01-01T00:00:00.000Z",
                "name": f"bench {i}",
                "pattern": pattern(kind, v),
                "pattern_type": "stix",
                "valid_from": "2024-01-01T00:00:00Z",
            }
            w.write(("" if i == 0 else ",\n") + json.dumps(o))
        w.write("\n]}\n")
    r = random.Random(42)
    written = lines = planted = 0
    h = lambda bits: f"{r.getrandbits(bits):0{bits // 4}x}"
    ip = lambda: f"10.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(256)}"
    with open(os.path.join(out, "log.jsonl"), "w") as w:
        while written < size:
            e = {
                "@timestamp": "2024-05-01T12:00:00.000Z",
                "source": {"ip": ip(), "port": r.randrange(1024, 65535)},
                "destination": {"ip": ip(), "port": 443},
                "network": {"transport": "tcp"},
            }
            kind = r.randrange(4)
            if kind == 1:
                e["dns"] = {"question": {"name": f"host{r.randrange(10**6)}.example.net", "type": "A"}}
            elif kind == 2:
                host = f"www{r.randrange(10**6)}.example.org"
                e["url"] = {"full": f"http://{host}/x/{h(32)}", "domain": host}
            elif kind == 3:
                e["file"] = {"name": "a.bin", "hash": {"sha256": h(256)}}
            if r.randrange(1000) == 0:
                k, v = values[r.randrange(n)]
                planted += 1
                if k == "cidr":
                    net = ipaddress.ip_network(v)
                    e["destination"]["ip"] = str(net.network_address + 77)
                elif k == "ip":
                    e["destination"]["ip"] = v
                elif k == "domain":
                    e["dns"] = {"question": {"name": v, "type": "A"}}
                elif k == "url":
                    e["url"] = {"full": v, "domain": v.split("/")[2]}
                else:
                    e["file"] = {"name": "a.bin", "hash": {"sha256": v}}
            line = json.dumps(e, separators=(",", ":")) + "\n"
            w.write(line)
            written += len(line)
            lines += 1
    print(f"{n} indicators; {lines} log lines, {planted} planted, {written} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
