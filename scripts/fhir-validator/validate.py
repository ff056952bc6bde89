"""Validates FHIR R4 (4.0.1) resources with fhir.resources, independently of the app's own code.

stdin: a JSON array of resources. stdout: {"checked": N, "errors": [{"index", "resourceType", "id",
"error"}]}. Exit 0 when all are valid, 1 when any error, 2 on unreadable input.

Checked, for each resource (and its contained and Bundle entry resources):
- fhir.resources' pydantic models: unknown elements, cardinality, required elements, choice
  types ([x]), resource types, primitive formats it parses (date, dateTime, instant, id, url...);
- then, walking the JSON along those models, what pydantic 1.x lets through: JSON types of
  primitives (it coerces "3" to 3 and 1 to "1"), the R4 regular expression of every primitive
  (dateTime with a time needs a zone, id <= 64 chars, ...), 32-bit integer ranges, required
  elements its generator left out (Extension.url), and codes outside the required value sets the
  models list (`enum_values`);
- the JSON rules (no null, no empty or blank string, no empty array or object: ele-1);
- Bundle invariants bdl-1, -2, -3, -4, -5, -7, -8, -9, -10, -11, -12, and a fullUrl on every
  entry of a message Bundle.
Not checked: terminology beyond those code lists, profiles, references resolving, FHIRPath
invariants other than the ones above, XHTML content of Narrative.div.
"""
import json
import re
import sys

import fhir.resources
from fhir.resources import construct_fhir_element, get_fhir_model_class
from fhir.resources.fhirtypes import Primitive

assert fhir.resources.__fhir_version__ == "4.0.1", fhir.resources.__fhir_version__

# http://hl7.org/fhir/R4/datatypes.html (matched in full).
YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
MONTH_DAY = r"(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])"
TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
ZONE = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
PATTERNS = {name: re.compile(rx) for name, rx in {
    "integer": r"-?([0]|([1-9][0-9]*))",
    "unsignedInt": r"[0]|([1-9][0-9]*)",
    "positiveInt": r"\+?[1-9][0-9]*",
    "string": r"[ \r\n\t\S]+",
    "markdown": r"\s*(\S|\s)*",
    "code": r"[^\s]+(\s[^\s]+)*",
    "id": r"[A-Za-z0-9\-\.]{1,64}",
    "uri": r"\S*",
    "url": r"\S*",
    "canonical": r"\S*",
    "oid": r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+",
    "uuid": r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "base64Binary": r"(\s*([0-9a-zA-Z\+/=]){4}\s*)+",
    "date": rf"{YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?",
    "dateTime": rf"{YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T{TIME}{ZONE})?)?)?",
    "instant": rf"{YEAR}-{MONTH_DAY}T{TIME}{ZONE}",
    "time": TIME,
}.items()}
INTEGERS = {"integer": -(2**31), "unsignedInt": 0, "positiveInt": 1}  # the lowest; all < 2**31
# The models' enum_values come from element titles: a few are not whole value sets, being cut
# short ("draft | ... | +", skipped, but for Task.status, spelled out here) or open lists.
CODES = {("Task", "status"): ["draft", "requested", "received", "accepted", "rejected", "ready",
                              "cancelled", "in-progress", "on-hold", "failed", "completed",
                              "entered-in-error"]}
OPEN = {("CapabilityStatement", "format"), ("Expression", "language")}  # "xml | json | ttl | mime"


def primitive_errors(value, kind, path):
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: a boolean must be JSON true or false"]
    if kind in INTEGERS or kind == "decimal":
        number = int if kind in INTEGERS else (int, float)
        if not isinstance(value, number) or isinstance(value, bool):
            return [f"{path}: a {kind} must be a JSON number"]
        if kind == "decimal":
            return []
        if not INTEGERS[kind] <= value < 2**31:
            return [f"{path}: {value} is out of range for {kind}"]
        return []
    if not isinstance(value, str):
        return [f"{path}: a {kind} must be a JSON string"]
    pattern = PATTERNS.get(kind)
    if pattern and not pattern.fullmatch(value):
        return [f"{path}: {value!r} is not a valid FHIR {kind}"]
    return []


def element_errors(obj, model, path):
    """What the model's pydantic validation lets through, in `obj` (a JSON object) and below."""
    errors = []
    fields = {f.alias: f for f in model.__fields__.values()}
    for key, value in obj.items():
        field = fields.get(key)
        if key in ("resource_type", "fhir_comments"):  # model attributes, not FHIR elements
            errors.append(f"{path}.{key}: unknown element")
            continue
        if field is None:  # resourceType (pydantic reported any unknown element)
            continue
        listed = isinstance(value, list)
        for i, item in enumerate(value if listed else [value]):
            at = f"{path}.{key}[{i}]" if listed else f"{path}.{key}"
            errors += value_errors(item, field, at, model)
    for name, field in fields.items():
        required = field.field_info.extra.get("element_required")
        if required and name not in obj and f"_{name}" not in obj:  # Extension.url: unchecked
            errors.append(f"{path}.{field.alias}: required element missing")
    return errors


def value_errors(value, field, path, model):
    kind = field.type_
    if value is None:  # allowed in _primitive arrays; ele-1 reports the others
        return []
    if kind is bool or (isinstance(kind, type) and issubclass(kind, Primitive)):
        name = "boolean" if kind is bool else kind.__visit_name__
        errors = primitive_errors(value, name, path)
        element = (model.__name__, field.alias)
        allowed = None if element in OPEN else CODES.get(element, field.field_info.extra.get("enum_values"))
        if not errors and allowed and "+" not in allowed and value not in allowed:
            errors.append(f"{path}: {value!r} is not in the required value set ({' | '.join(allowed)})")
        return errors
    name = getattr(kind, "__resource_type__", None)
    if name is None or not isinstance(value, dict):
        return []
    if name == "Resource":
        name = value.get("resourceType")
    return element_errors(value, get_fhir_model_class(name), path)


def empties(value, path):
    """Paths of nulls, blank strings, empty arrays and empty objects (FHIR JSON forbids them)."""
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


def bundles_in(resource):
    """Every Bundle in the resource: itself, its contained resources, its entries' resources."""
    if resource.get("resourceType") == "Bundle":
        yield resource
    for e in resource.get("contained", []) + [e.get("resource") for e in resource.get("entry", [])]:
        if isinstance(e, dict) and e.get("resourceType") == "Bundle":
            yield from bundles_in(e)


def bundle_errors(bundle):
    """Bundle invariants (http://hl7.org/fhir/R4/bundle.html#invs) and message Bundle rules."""
    kind, entries = bundle.get("type"), bundle.get("entry", [])
    resources = [e.get("resource") or {} for e in entries]
    errors = []
    if "total" in bundle and kind not in ("searchset", "history"):
        errors.append("bdl-1: total only when a search or history")
    for i, e in enumerate(entries):
        if "search" in e and kind != "searchset":
            errors.append(f"bdl-2: entry[{i}].search only when a search")
        if "request" not in e and kind in ("batch", "transaction", "history"):
            errors.append(f"bdl-3: entry[{i}].request mandatory for batch/transaction/history")
        if "response" not in e and kind in ("batch-response", "transaction-response", "history"):
            errors.append(f"bdl-4: entry[{i}].response mandatory for *-response/history")
        if not any(k in e for k in ("resource", "request", "response")):
            errors.append(f"bdl-5: entry[{i}] must have a resource or information")
        if "/_history/" in e.get("fullUrl", ""):
            errors.append(f"bdl-8: entry[{i}].fullUrl cannot be a version specific reference")
        if kind == "message" and "fullUrl" not in e:
            errors.append(f"entry[{i}] of a message Bundle has no fullUrl")
    if kind == "document":
        if "identifier" not in bundle:
            errors.append("bdl-9: a document must have an identifier")
        if "timestamp" not in bundle:
            errors.append("bdl-10: a document must have a date (timestamp)")
        if not resources or resources[0].get("resourceType") != "Composition":
            errors.append("bdl-11: a document's first resource must be a Composition")
    if kind == "message" and (not resources or resources[0].get("resourceType") != "MessageHeader"):
        errors.append("bdl-12: a message's first resource must be a MessageHeader")
    if kind != "history":
        seen = set()
        for i, (e, r) in enumerate(zip(entries, resources)):
            key = (e.get("fullUrl"), (r.get("meta") or {}).get("versionId"))
            if key[0] is not None and key in seen:
                errors.append(f"bdl-7: fullUrl {key[0]} appears more than once (entry[{i}])")
            seen.add(key)
    return errors


def validate(resource):
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return ["not a FHIR resource (no resourceType)"]
    rtype = resource["resourceType"]
    errors = [f"{p}: null or empty value (ele-1)" for p in empties(resource, rtype)]
    try:
        construct_fhir_element(rtype, resource)
    except Exception as e:  # pydantic's ValidationError, or an unknown resource type
        return errors + [" ".join(str(e).split())]
    # The JSON now has the models' shape, so the walks below need no type checks of their own.
    errors += element_errors(resource, get_fhir_model_class(rtype), rtype)
    for bundle in bundles_in(resource):
        errors += [f"Bundle/{bundle.get('id')}: {e}" for e in bundle_errors(bundle)]
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
