"""Validates FHIR R4 (4.0.1) resources with fhir.resources, independently of the app's own code.

stdin: a JSON array of resources. stdout: {"checked": N, "errors": [{"index", "resourceType", "id",
"error"}]}. Exit 0 when valid, 1 when any error, 2 on unreadable input.

Checked: the FHIR structure (unknown elements, cardinality, required elements, primitive formats:
fhir.resources); the JSON rules it lets through (no null, no empty string, array or object: ele-1);
message Bundles (first entry a MessageHeader, every entry with a fullUrl, fullUrls unique: bdl-7);
and the required code bindings of the elements this app emits (fhir.resources does not check codes).
"""
import json
import sys

import fhir.resources
from fhir.resources import construct_fhir_element

assert fhir.resources.__fhir_version__ == "4.0.1", fhir.resources.__fhir_version__

# Required bindings (FHIR R4 value sets) of the elements the app emits.
REQUIRED_CODES = {
    ("Bundle", "type"): {"document", "message", "transaction", "transaction-response", "batch",
                         "batch-response", "history", "searchset", "collection"},
    ("ServiceRequest", "status"): {"draft", "active", "on-hold", "revoked", "completed",
                                   "entered-in-error", "unknown"},
    ("ServiceRequest", "intent"): {"proposal", "plan", "directive", "order", "original-order",
                                   "reflex-order", "filler-order", "instance-order", "option"},
    ("ServiceRequest", "priority"): {"routine", "urgent", "asap", "stat"},
    ("Task", "status"): {"draft", "requested", "received", "accepted", "rejected", "ready",
                         "cancelled", "in-progress", "on-hold", "failed", "completed",
                         "entered-in-error"},
    ("Task", "intent"): {"unknown", "proposal", "plan", "order", "original-order", "reflex-order",
                         "filler-order", "instance-order", "option"},
    ("Task", "priority"): {"routine", "urgent", "asap", "stat"},
    ("Consent", "status"): {"draft", "proposed", "active", "rejected", "inactive",
                            "entered-in-error"},
    ("DocumentReference", "status"): {"current", "superseded", "entered-in-error"},
    ("Patient", "gender"): {"male", "female", "other", "unknown"},
    ("QuestionnaireResponse", "status"): {"in-progress", "completed", "amended",
                                          "entered-in-error", "stopped"},
    ("OperationOutcome", "severity"): {"fatal", "error", "warning", "information"},
}


def empties(value, path):
    """Paths of nulls, empty strings, empty arrays and empty objects (FHIR JSON forbids them)."""
    if value is None:
        return [path]
    if isinstance(value, str):
        return [path] if value.strip() == "" else []
    if isinstance(value, list):
        if not value:
            return [path]
        return [p for i, v in enumerate(value) for p in empties(v, f"{path}[{i}]")]
    if isinstance(value, dict):
        if not value:
            return [path]
        return [p for k, v in value.items() for p in empties(v, f"{path}.{k}")]
    return []


def resources_in(resource):
    """The resource, its contained resources and, for a Bundle, its entries' resources."""
    yield resource
    for c in resource.get("contained") or []:
        if isinstance(c, dict):
            yield from resources_in(c)
    if resource.get("resourceType") == "Bundle":
        for e in resource.get("entry") or []:
            if isinstance(e, dict) and isinstance(e.get("resource"), dict):
                yield from resources_in(e["resource"])


def code_errors(resource):
    errors = []
    for r in resources_in(resource):
        rtype = r.get("resourceType")
        for (t, element), allowed in REQUIRED_CODES.items():
            if t == rtype and element in r and r[element] not in allowed:
                errors.append(f"{rtype}.{element} {r[element]!r} is not in its required value set")
        if rtype == "OperationOutcome":
            for issue in r.get("issue") or []:
                if issue.get("severity") not in REQUIRED_CODES[("OperationOutcome", "severity")]:
                    errors.append(f"OperationOutcome.issue.severity {issue.get('severity')!r} is invalid")
    return errors


def bundle_errors(resource):
    if resource.get("resourceType") != "Bundle":
        return []
    errors = []
    entries = resource.get("entry") or []
    if resource.get("type") == "message":
        first = entries[0].get("resource", {}) if entries else {}
        if first.get("resourceType") != "MessageHeader":
            errors.append("a message Bundle's first entry must be a MessageHeader")
        for i, e in enumerate(entries):
            if not e.get("fullUrl"):
                errors.append(f"entry[{i}] has no fullUrl")
    seen = set()
    for i, e in enumerate(entries):
        url = e.get("fullUrl")
        if url is None:
            continue
        version = ((e.get("resource") or {}).get("meta") or {}).get("versionId")
        key = (url, version)
        if key in seen:
            errors.append(f"bdl-7: fullUrl {url} appears more than once (entry[{i}])")
        seen.add(key)
    return errors


def validate(resource):
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return ["not a FHIR resource (no resourceType)"]
    errors = [f"empty or null value at {p} (ele-1)" for p in empties(resource, resource["resourceType"])]
    try:
        construct_fhir_element(resource["resourceType"], resource)
    except Exception as e:  # pydantic's ValidationError, or an unknown resource type
        errors.append(" ".join(str(e).split()))
    errors += bundle_errors(resource)
    errors += code_errors(resource)
    return errors


def main():
    try:
        resources = json.load(sys.stdin)
    except ValueError as e:
        print(json.dumps({"checked": 0, "errors": [{"index": -1, "error": f"unreadable input: {e}"}]}))
        return 2
    if not isinstance(resources, list):
        print(json.dumps({"checked": 0, "errors": [{"index": -1, "error": "send a JSON array"}]}))
        return 2
    errors = []
    for i, r in enumerate(resources):
        for message in validate(r):
            errors.append({
                "index": i,
                "resourceType": r.get("resourceType") if isinstance(r, dict) else None,
                "id": r.get("id") if isinstance(r, dict) else None,
                "error": message,
            })
    print(json.dumps({"checked": len(resources), "errors": errors}, ensure_ascii=False))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
