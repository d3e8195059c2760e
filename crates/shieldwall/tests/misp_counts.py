"""Counts MISP attributes per type, objects per template and object attributes per template:
in the input events (what a feed is expected to carry: TLP:RED and indicators out of force are
left out on purpose) and in the exported feed directories, loaded with PyMISP.

Usage: misp_counts.py INPUT_DIR FEEDS_DIR  (one <name>.json per event; one feed dir per event)
Prints one JSON object: {"in": {...}, "out": {...}, "totals": {...}}.
"""
import json
import os
import sys
from collections import Counter
from datetime import datetime, timezone

from pymisp import MISPEvent

NOW = datetime.now(timezone.utc)


def when(v):
    if not v:
        return None
    try:
        t = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def red(tags):
    return any((t.get("name") if isinstance(t, dict) else t.name) == "tlp:red" for t in tags or [])


def out_of_force(a):
    if not a.get("to_ids"):
        return False
    first, last = when(a.get("first_seen")), when(a.get("last_seen"))
    return (last is not None and (first is None or last > first) and last <= NOW) or (
        first is not None and first > NOW
    )


def count_input(path, c):
    e = json.load(open(path))["Event"]
    if red(e.get("Tag")):
        return None
    orgc = (e.get("Orgc") or {}).get("uuid")
    for a in e.get("Attribute", []):
        if red(a.get("Tag")) or out_of_force(a):
            continue
        c["attributes"][a["type"]] += 1
    for o in e.get("Object", []):
        c["objects"][o["name"]] += 1
        c["object_attributes"][o["name"]] += len(o.get("Attribute", []))
    return orgc


def count_feed(d, c):
    orgs = set()
    for name in sorted(os.listdir(d)):
        if not name.endswith(".json") or name == "manifest.json":
            continue
        e = MISPEvent()
        e.load_file(os.path.join(d, name))
        orgs.add(str(e.Orgc.uuid) if getattr(e, "Orgc", None) else None)
        for a in e.attributes:
            c["attributes"][a.type] += 1
        for o in e.objects:
            c["objects"][o.name] += 1
            c["object_attributes"][o.name] += len(o.attributes)
    return orgs


def main():
    inputs, feeds = sys.argv[1], sys.argv[2]
    cin = {k: Counter() for k in ("attributes", "objects", "object_attributes")}
    cout = {k: Counter() for k in ("attributes", "objects", "object_attributes")}
    # Events whose feed names another organisation than the input event's creator.
    orgc = {"checked": 0, "other": []}
    for name in sorted(os.listdir(inputs)):
        want = count_input(os.path.join(inputs, name), cin)
        feed = os.path.join(feeds, name[: -len(".json")])
        if os.path.isdir(feed):
            got = count_feed(feed, cout)
            if want:
                orgc["checked"] += 1
                if got != {want}:
                    orgc["other"].append([name, want, sorted(str(g) for g in got)])
    totals = {
        side: {k: sum(v.values()) for k, v in c.items()} for side, c in (("in", cin), ("out", cout))
    }
    print(json.dumps({"in": cin, "out": cout, "totals": totals, "orgc": orgc}))


main()
