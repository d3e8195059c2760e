"""Checks STIX objects with the OASIS stix2-validator and JSON instances against JSON schemas.

Input (stdin, JSON): {"stix": [objects...], "schema": [{"name": str, "schema": {...},
"instance": {...}}...]}. Output (stdout, JSON): {"stix": [{"id", "valid", "errors",
"warnings", "vocabulary"}...], "schema": [{"name", "errors": [str...]}...]}; "vocabulary" lists
the warnings about open vocabularies (a value outside its vocabulary, or not in the
vocabulary's lowercase-hyphenated form).
"""
import json
import sys

import jsonschema
from stix2validator import ValidationOptions, validate_instance

request = json.load(sys.stdin)
options = ValidationOptions(version="2.1", strict=False)
out = {"stix": [], "schema": []}
for obj in request.get("stix", []):
    result = validate_instance(obj, options)
    out["stix"].append({
        "id": obj.get("id"),
        "valid": result.is_valid,
        "errors": [str(e) for e in result.errors],
        "warnings": [str(w) for w in result.warnings],
        "vocabulary": [str(w) for w in result.warnings if "vocabulary" in str(w).lower()],
    })
for item in request.get("schema", []):
    validator = jsonschema.Draft202012Validator(
        item["schema"], format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator.iter_errors(item["instance"])]
    out["schema"].append({"name": item["name"], "errors": errors})
json.dump(out, sys.stdout)
