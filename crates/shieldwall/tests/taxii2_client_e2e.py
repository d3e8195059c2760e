"""Drives a running `shieldwall serve` with the OASIS reference client (taxii2-client, PyPI):
discovery -> API root -> collections -> POST -> status -> GET with every filter and pagination
-> manifest -> versions -> DELETE. Exits non-zero (with the failed assertion) on any departure.

Usage: python taxii2_client_e2e.py BASE_URL USER PASSWORD COLLECTION_TITLE
"""
import sys
import uuid

from taxii2client.v21 import Server, as_pages

base, user, password, title = sys.argv[1:5]

server = Server(f"{base}/taxii2/", user=user, password=password)
assert server.title, "discovery has a title"
assert len(server.api_roots) >= 1, server.api_roots
root = server.default
assert root is not None and root.title, "default API root"
assert "application/taxii+json;version=2.1" in root.versions
assert root.max_content_length > 0
collections = {c.title: c for c in root.collections}
assert title in collections, sorted(collections)
coll = collections[title]
assert coll.can_read and coll.can_write

# POST two versions of an indicator, a malware, a relationship and one invalid object.
ind = f"indicator--{uuid.uuid4()}"
mal = f"malware--{uuid.uuid4()}"
rel = f"relationship--{uuid.uuid4()}"
t1, t2 = "2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z"
def indicator(modified):
    return {"type": "indicator", "spec_version": "2.1", "id": ind, "created": t1, "modified": modified,
            "name": "e2e", "pattern": "[ipv4-addr:value = '203.0.113.7']", "pattern_type": "stix",
            "valid_from": t1, "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]}
objects = [
    indicator(t1),
    indicator(t2),
    {"type": "malware", "spec_version": "2.1", "id": mal, "created": t1, "modified": t1, "name": "e2e", "is_family": False},
    {"type": "relationship", "spec_version": "2.1", "id": rel, "created": t1, "modified": t1,
     "relationship_type": "indicates", "source_ref": ind, "target_ref": mal},
    {"type": "indicator", "spec_version": "2.1", "id": "indicator--not-a-uuid", "created": t1, "modified": t1},
]
status = coll.add_objects({"objects": objects})
assert status.status == "complete", status.status
assert status.total_count == 5 and status.success_count == 4 and status.failure_count == 1, status._raw
assert status.failures[0]["id"] == "indicator--not-a-uuid", status.failures
status.refresh()  # GET the status resource again
assert status.success_count == 4

# Objects added now have date_added after the request time.
added_after = status.request_timestamp
mine = coll.get_objects(added_after=added_after)
got = {o["id"] for o in mine["objects"]}
assert got == {ind, mal, rel}, got
latest = [o for o in mine["objects"] if o["id"] == ind][0]
assert latest["modified"] == t2, "match[version] defaults to last"
assert latest["created_by_ref"].startswith("identity--"), "the publisher's identity was recorded"

# Every filter.
assert [o["id"] for o in coll.get_objects(added_after=added_after, type="malware")["objects"]] == [mal]
assert {o["id"] for o in coll.get_objects(added_after=added_after, id=[ind, rel])["objects"]} == {ind, rel}
assert len(coll.get_objects(added_after=added_after, id=ind, version="all")["objects"]) == 2
assert coll.get_objects(added_after=added_after, id=ind, version="first")["objects"][0]["modified"] == t1
assert coll.get_objects(added_after=added_after, id=ind, version=t1)["objects"][0]["modified"] == t1
assert len(coll.get_objects(added_after=added_after, spec_version="2.1")["objects"]) == 3
assert coll.get_objects(added_after=added_after, spec_version="2.0") == {}

# Pagination with limit/next/more, through the client's own pager.
pages = list(as_pages(coll.get_objects, per_request=1, added_after=added_after, version="all"))
assert [len(p.get("objects", [])) for p in pages] == [1, 1, 1, 1], [len(p.get("objects", [])) for p in pages]
all_ids = [o["id"] for p in pages for o in p["objects"]]
assert sorted(all_ids) == sorted([ind, ind, mal, rel])

# The whole collection pages the same way.
total = sum(len(p.get("objects", [])) for p in as_pages(coll.get_objects, per_request=7))
assert total == len(coll.get_objects(limit=1000).get("objects", [])) > 10, total

# Manifest.
manifest = coll.get_manifest(added_after=added_after, version="all")
entries = manifest["objects"]
assert len(entries) == 4
assert all(e["media_type"] == "application/stix+json;version=2.1" for e in entries)
assert {e["version"] for e in entries if e["id"] == ind} == {t1, t2}
mpages = list(as_pages(coll.get_manifest, per_request=3, added_after=added_after, version="all"))
assert [len(p["objects"]) for p in mpages] == [3, 1]

# Get Object and its versions.
one = coll.get_object(ind, version="all")
assert [o["modified"] for o in one["objects"]] == [t1, t2]
versions = coll.object_versions(ind)
assert versions["versions"] == [t1, t2], versions
vpages = list(as_pages(coll.object_versions, 1, ind))
assert [p["versions"] for p in vpages] == [[t1], [t2]]

# DELETE the latest version, then the rest.
coll.delete_object(ind)
assert coll.object_versions(ind)["versions"] == [t1]
coll.delete_object(ind, version="all")
try:
    coll.get_object(ind)
    raise AssertionError("deleted object still served")
except Exception as e:  # taxii2client raises requests' HTTPError
    assert "404" in str(e), e

print("taxii2-client end-to-end: OK")
