"""A client generated at run time from the admin API's OpenAPI document.

Usage: admin_openapi_client.py BASE_URL ADMIN_TOKEN SUFFIX

Fetches BASE_URL/admin/openapi.json, validates it with openapi-spec-validator (OpenAPI 3.1),
then calls operations by their operationId only (method, path, parameters and body schema come
from the document) and validates every response body against the response schema the document
gives for its status. Prints one JSON line: what it did.
"""

import json
import sys
import time

import jsonschema
import requests
from openapi_spec_validator import validate

base, token, suffix = sys.argv[1], sys.argv[2], sys.argv[3]
auth = {"Authorization": f"Bearer {token}"}

spec = requests.get(f"{base}/admin/openapi.json", headers=auth, timeout=10).json()
validate(spec)  # raises when the document is not valid OpenAPI 3.1
assert spec["openapi"].startswith("3.1"), spec["openapi"]

operations = {}
for path, item in spec["paths"].items():
    for method, op in item.items():
        operations[op["operationId"]] = (method.upper(), path, op)


def check(schema, value):
    root = dict(schema)
    root["components"] = spec["components"]
    jsonschema.Draft202012Validator(root).validate(value)


calls = []


def call(operation_id, params=None, body=None, expect=None):
    method, path, op = operations[operation_id]
    for name, value in (params or {}).items():
        path = path.replace("{" + name + "}", value)
    if body is not None:
        # The body must match the request schema the document gives.
        check(op["requestBody"]["content"]["application/json"]["schema"], body)
    r = requests.request(method, base + path, headers=auth, json=body, timeout=10)
    status = str(r.status_code)
    assert status in op["responses"], f"{operation_id}: undocumented status {status}: {r.text}"
    if expect is not None:
        assert r.status_code == expect, f"{operation_id}: {r.status_code} {r.text}"
    content = op["responses"][status]["content"]
    media = next(iter(content))
    check(content[media]["schema"], r.json())
    calls.append(f"{operation_id}:{status}")
    return r.json()


member = f"py{suffix}"
call("addMember", body={"id": member, "name": "Added by the generated client"}, expect=201)
members = call("listMembers", expect=200)["members"]
assert any(m["id"] == member for m in members), members
issued = call("issueKey", body={"id": f"pykey{suffix}", "member": member, "role": "reader"}, expect=201)
assert issued["token"].startswith(f"sw_pykey{suffix}_")
# Applied by the node at its next poll of the admin state (every 250 ms).
deadline = time.monotonic() + 2.0
while True:
    r = requests.get(f"{base}/taxii2/", headers={"Authorization": f"Bearer {issued['token']}",
                                                   "Accept": "application/taxii+json;version=2.1"})
    if r.status_code == 200 or time.monotonic() > deadline:
        break
    time.sleep(0.05)
key_worked = r.status_code
call("revokeKey", params={"id": f"pykey{suffix}"}, expect=200)
keys = call("listKeys", expect=200)["keys"]
assert any(k["id"] == f"pykey{suffix}" and k["revoked"] for k in keys), keys
call("addTrustGroup", body={"id": f"pytg{suffix}", "members": [member]}, expect=201)
call("addMember", body={"id": member, "name": "again"}, expect=409)
call("removeTrustGroup", params={"id": f"pytg{suffix}"}, expect=200)
groups = call("listTrustGroups", expect=200)["trust_groups"]
assert all(g["id"] != f"pytg{suffix}" for g in groups), groups
call("removeTrustGroup", params={"id": f"pytg{suffix}"}, expect=404)
call("disableMember", params={"id": member}, expect=200)
assert member in call("listMembers", expect=200)["disabled"]
call("enableMember", params={"id": member}, expect=200)
call("removeMember", params={"id": member}, expect=200)
call("addMember", body={"id": member, "name": "its id is not given again"}, expect=409)
call("removeUser", params={"name": f"nobody{suffix}"}, expect=404)
state = call("getState", expect=200)
print(json.dumps({"calls": calls, "generation": state["generation"], "key_status": key_worked,
                  "operations": sorted(operations)}))
