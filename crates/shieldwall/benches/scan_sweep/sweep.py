"""The naive peer of `shieldwall scan` in the whole-process benchmark (run.sh): loads the
indicator bundle with `json.load`, puts every quoted literal of every pattern into one Python
set, then reads the ECS JSON lines log with `json.loads` and looks up the fields that carry
addresses, domains, URLs and digests. Exact string equality only: no CIDR blocks, no
normalisation, no pattern semantics. Prints the number of matching lines.

    python sweep.py indicators.json log.jsonl
"""
import json
import re
import sys

QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def main():
    with open(sys.argv[1]) as f:
        bundle = json.load(f)
    values = set()
    for o in bundle["objects"]:
        if o.get("type") == "indicator":
            values.update(QUOTED.findall(o.get("pattern", "")))
    del bundle
    hits = 0
    with open(sys.argv[2]) as f:
        for line in f:
            e = json.loads(line)
            fields = (
                e.get("source", {}).get("ip"),
                e.get("destination", {}).get("ip"),
                e.get("dns", {}).get("question", {}).get("name"),
                e.get("url", {}).get("full"),
                e.get("url", {}).get("domain"),
                e.get("file", {}).get("hash", {}).get("sha256"),
            )
            if any(v in values for v in fields if v is not None):
                hits += 1
    print(hits)


if __name__ == "__main__":
    main()
