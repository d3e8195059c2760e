"""Drives a running `shieldwall serve --demo` through every TAXII endpoint with URLs written
WITHOUT their trailing slash, using taxii2-client's own HTTP connection (requests underneath,
which follows the server's 308 redirects and, for a 308, re-sends a POST's body).

Usage: python taxii2_client_slashes.py BASE_URL USER PASSWORD
"""
import sys
import uuid

from taxii2client.common import _HTTPConnection
from taxii2client.v21 import MEDIA_TYPE_TAXII_V21, ApiRoot, Server

base, user, password = sys.argv[1:4]
conn = _HTTPConnection(user=user, password=password, version="2.1")
taxii = {"Accept": MEDIA_TYPE_TAXII_V21}


def get(path, params=None):
    """GET without the trailing slash through the client's connection (its session, auth and
    User-Agent); the answer must come through one 308 to the same path with the slash."""
    assert not path.endswith("/"), path
    resp = conn.session.get(base + path, headers=taxii, params=params)
    assert resp.status_code == 200, (path, resp.status_code, resp.text)
    assert [r.status_code for r in resp.history] == [308], (path, resp.history)
    assert resp.url.split("?")[0] == base + path + "/", (path, resp.url)
    return resp.json()


# The client's endpoint objects accept slash-less URLs (they append the slash themselves).
server = Server(f"{base}/taxii2", conn=conn)
assert server.title and server.api_roots, "discovery"
api = ApiRoot(f"{base}/coalition", conn=conn)
assert api.title and api.max_content_length > 0

discovery = get("/taxii2")
assert discovery["api_roots"], discovery
root = get("/coalition")
assert "application/taxii+json;version=2.1" in root["versions"]
collections = {c["title"]: c["id"] for c in get("/coalition/collections")["collections"]}
assert "Baltic sharing" in collections, collections
coll = "/coalition/collections/" + collections["Baltic sharing"]
assert get(coll)["id"] == collections["Baltic sharing"]

# POST without the slash: the 308 keeps the method and the body.
ind = f"indicator--{uuid.uuid4()}"
t = "2026-03-01T00:00:00.000Z"
obj = {"type": "indicator", "spec_version": "2.1", "id": ind, "created": t, "modified": t,
       "name": "slashless", "pattern": "[ipv4-addr:value = '203.0.113.9']", "pattern_type": "stix",
       "valid_from": t, "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]}
resp = conn.session.post(base + coll + "/objects", json={"objects": [obj]},
                         headers={"Accept": MEDIA_TYPE_TAXII_V21,
                                  "Content-Type": MEDIA_TYPE_TAXII_V21})
assert resp.status_code == 202, (resp.status_code, resp.text)
assert [r.status_code for r in resp.history] == [308], resp.history
status = resp.json()
assert status["success_count"] == 1, status

assert get(f"/coalition/status/{status['id']}")["id"] == status["id"]
objects = get(coll + "/objects", {"match[id]": ind})["objects"]
assert [o["id"] for o in objects] == [ind], objects
manifest = get(coll + "/manifest", {"match[id]": ind})["objects"]
assert [e["id"] for e in manifest] == [ind], manifest
assert get(f"{coll}/objects/{ind}")["objects"][0]["id"] == ind
assert get(f"{coll}/objects/{ind}/versions")["versions"] == [t]

# DELETE without the slash.
resp = conn.session.delete(f"{base}{coll}/objects/{ind}", headers=taxii)
assert resp.status_code == 200, (resp.status_code, resp.text)
assert [r.status_code for r in resp.history] == [308], resp.history
resp = conn.session.get(f"{base}{coll}/objects/{ind}", headers=taxii)
assert resp.status_code == 404, resp.status_code

print("taxii2-client without trailing slashes: OK")
