#!/usr/bin/env python3
"""Writes the hand-made seed inputs into fuzz/corpus/<target>/seed-*. Idempotent (same names,
same bytes). Run from anywhere, Python 3 only:
    python3 fuzz/seeds/make_seeds.py"""
import base64, json, os, pathlib, urllib.parse

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "fuzz" / "corpus"
SYS = "https://ehealthontario.ca/fhir/CodeSystem/message-event-code"


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    elif not isinstance(data, (bytes, bytearray)):
        data = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    (d / f"seed-{name}").write_bytes(bytes(data))


def js(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode()


seed = json.loads((ROOT / "sandbox/data/seed.json").read_text())
resources = [e["resource"] for e in seed["entry"]]
by_id = {r["id"]: r for r in resources}
patient = by_id["pat-1"]
draft = by_id["draft-1"]

# --- messages -------------------------------------------------------------------------------
US = "http://localhost:3000/fhir"
EHR = "http://127.0.0.1:3100/fhir"


def message(code, system=SYS, extra=(), focus="ServiceRequest/sr-1", full=True):
    header = {"resourceType": "MessageHeader", "id": "h-1",
              "eventCoding": {"system": system, "code": code},
              "source": {"endpoint": f"{US}/$process-message"},
              "destination": [{"endpoint": f"{EHR}/$process-message"}],
              "focus": [{"reference": focus}]}
    entries = [{"fullUrl": f"{US}/MessageHeader/h-1", "resource": header}]
    if full:
        sr = {"resourceType": "ServiceRequest", "id": "sr-1", "status": "active", "intent": "order",
              "identifier": [{"system": "https://ereferral.dev/referral", "value": "R-0001"}],
              "code": {"coding": [{"system": "http://snomed.info/sct", "code": "736379004",
                                   "display": "Diabetes prevention program"}]},
              "subject": {"reference": f"{EHR}/Patient/pat-1"},
              "requester": {"reference": f"{EHR}/PractitionerRole/role-1", "display": "Dr. A"},
              "performer": [{"reference": "HealthcareService/svc-diabetes-prevention"}],
              "supportingInfo": [{"reference": "Consent/c-1"}],
              "contained": [{"resourceType": "RelatedPerson", "id": "rp"}],
              "reasonCode": [{"text": "Pre-diabetes"}]}
        task = {"resourceType": "Task", "id": "t-1", "status": "requested", "intent": "order",
                "focus": {"reference": "ServiceRequest/sr-1"}, "for": {"reference": f"{EHR}/Patient/pat-1"},
                "businessStatus": {"coding": [{"system": "http://hl7.org/fhir/us/bser/CodeSystem/TaskBusinessStatusCS",
                                               "code": "2.0"}]}}
        consent = {"resourceType": "Consent", "id": "c-1", "status": "active",
                   "patient": {"reference": f"{EHR}/Patient/pat-1"}, "performer": [{"reference": "#rp"}],
                   "contained": [{"resourceType": "RelatedPerson", "id": "rp"}]}
        entries += [{"fullUrl": f"{US}/ServiceRequest/sr-1", "resource": sr},
                    {"fullUrl": f"{US}/Task/t-1", "resource": task},
                    {"fullUrl": f"{US}/Consent/c-1", "resource": consent},
                    {"fullUrl": f"{EHR}/Patient/pat-1", "resource": patient}]
    entries += list(extra)
    return {"resourceType": "Bundle", "id": "b-1", "type": "message", "timestamp": "2026-11-22T12:00:00Z",
            "entry": entries}


put("inbound_message", "notify-add", message("notify-add-service-request"))
put("inbound_message", "revoke", message("revoke-service-request", full=False,
                                         focus="https://ehr.example/fhir/ServiceRequest/sr-1"))
put("inbound_message", "legacy-http", message("revoke-servicerequest",
                                              "http://ehealthontario.ca/fhir/CodeSystem/message-event-code/", full=False))
put("inbound_message", "unknown-event", message("do-a-dance", "urn:x", full=False))
put("inbound_message", "not-message", '{"resourceType":"Bundle","type":"collection","entry":[]}')

put("message_bundle_checks", "notify-add", message("notify-add-service-request"))
put("message_bundle_checks", "urn-uuid", {"resourceType": "Bundle", "type": "message", "entry": [
    {"fullUrl": "urn:uuid:4b0e2c1a-0000-4000-8000-000000000001", "resource": {
        "resourceType": "MessageHeader", "id": "4b0e2c1a-0000-4000-8000-000000000001",
        "focus": [{"reference": "urn:uuid:4b0e2c1a-0000-4000-8000-000000000002"}]}},
    {"fullUrl": "urn:uuid:4b0e2c1a-0000-4000-8000-000000000002", "resource": {
        "resourceType": "ServiceRequest", "id": "4b0e2c1a-0000-4000-8000-000000000002",
        "subject": {"reference": "Patient/p"}}}]})

# --- event codes ----------------------------------------------------------------------------
for i, (a, b) in enumerate([
    (SYS, "revoke-servicerequest"),
    ("http://ehealthontario.ca/fhir/CodeSystem/message-event-code/", " Notify-Add-Service-Request "),
    ("http://ehealthontario.ca/fhir/StructureDefinition/ca-on-eReferral-profile-ServiceRequest%7C0.11.0",
     "https://ehealthontario.ca/fhir/StructureDefinition/ca-on-eReferral-profile-ServiceRequest|0.11.0"),
    ("HTTPS://Ä/cs/", "notify-update-status"),
]):
    put("event_coding", f"pair-{i}", a.encode() + b"\xff" + b.encode())
put("event_coding", "coding-json", {"system": SYS, "code": "notify-add-appointment"})

# --- references -----------------------------------------------------------------------------
for i, r in enumerate(["Practitioner/abc", "https://ehr.example.org/fhir/PractitionerRole/r1",
                       "Patient/1/_history/2", "http://127.0.0.1:3100/fhir/Patient/pat-1", "Patient/p-1.2"]):
    put("fhir_reference", f"ref-{i}", r)

# --- resources read from the EHR ------------------------------------------------------------
for r in resources:
    put("fhir_resources_read", f"{r['resourceType']}-{r['id']}", r)
put("fhir_resources_read", "capability-statement", {
    "resourceType": "CapabilityStatement", "status": "active", "kind": "instance", "fhirVersion": "4.0.1",
    "rest": [{"mode": "server", "security": {"extension": [{
        "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
        "extension": [{"url": "authorize", "valueUri": "http://127.0.0.1:3100/auth/authorize"},
                      {"url": "token", "valueUri": "http://127.0.0.1:3100/auth/token"}]}]}}]})
put("fhir_resources_read", "smart-configuration", {
    "issuer": "http://127.0.0.1:3100/fhir", "authorization_endpoint": "http://127.0.0.1:3100/auth/authorize",
    "token_endpoint": "http://127.0.0.1:3100/auth/token", "jwks_uri": "http://127.0.0.1:3100/auth/jwks",
    "code_challenge_methods_supported": ["S256"], "capabilities": ["launch-ehr", "context-ehr-patient"]})
put("fhir_resources_read", "draft-known-code", dict(draft, code={"coding": [
    {"system": "http://snomed.info/sct", "code": "736379004"}]}, priority="urgent",
    note=[{"text": "Seen twice"}], reasonCode=[{"coding": [{"display": "Pre-diabetes"}]}]))

# --- answers to our messages ----------------------------------------------------------------
def status(n, body):
    return n.to_bytes(2, "big") + (body if isinstance(body, bytes) else js(body))


put("outbound_answers", "200-info", status(200, {"resourceType": "OperationOutcome", "issue": [
    {"severity": "information", "code": "informational"}]}))
put("outbound_answers", "422-error", status(422, {"resourceType": "OperationOutcome", "issue": [
    {"severity": "warning", "code": "business-rule", "diagnostics": "just a warning"},
    {"severity": "error", "code": "business-rule", "details": {"text": "Patient not found"}, "diagnostics": "x"}]}))
put("outbound_answers", "503-empty", status(503, b""))
put("outbound_answers", "400-diagnostics", status(400, {"resourceType": "OperationOutcome", "issue": [
    {"severity": "fatal", "code": "structure", "diagnostics": "Bundle.entry[0] is not a MessageHeader"}]}))

# --- client assertions ----------------------------------------------------------------------
NOW = 1_800_000_000
TOKEN_URL = "http://localhost:3000/auth/token"
header = {"alg": "ES384", "kid": "sandbox-ehr-api-es384", "typ": "JWT"}
claims = {"iss": "sandbox-ehr", "sub": "sandbox-ehr", "aud": TOKEN_URL, "exp": NOW + 60, "iat": NOW,
          "jti": "8f2b6c1e-0000-4000-8000-000000000001"}


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


put("client_assertion", "raw-unsigned", b"\x00" + f"{b64u(js(header))}.{b64u(js(claims))}.AAAA".encode())
put("client_assertion", "shaped", b"\x01" + js(header) + b"\xff" + js(claims) + b"\xff" + b"\x00" * 64)
put("client_assertion", "shaped-rs384-no-kid", b"\x01" + js({"alg": "RS384"}) + b"\xff" + js(claims) + b"\xff")
put("client_assertion", "raw-none", b"\x00" + f"{b64u(js({'alg': 'none'}))}.{b64u(js(claims))}.".encode())
put("client_assertion_signed", "default-header", b"\xff" + js(claims))
put("client_assertion_signed", "header", js(header) + b"\xff" + js(dict(claims, aud=[TOKEN_URL])))
put("client_assertion_signed", "no-jti", b"\xff" + js({k: v for k, v in claims.items() if k != "jti"}))
put("client_assertion_signed", "exp-too-late", b"\xff" + js(dict(claims, exp=NOW + 3600)))
put("client_assertion_signed", "exp-float", b"\xff" + js(dict(claims, exp=NOW + 60.5)))
put("client_assertion_signed", "other-kid", js(dict(header, kid="other")) + b"\xff" + js(claims))

# --- wizard posts ---------------------------------------------------------------------------
for name, pairs in {
    "service": [("pick", "svc-diabetes-prevention::http://snomed.info/sct|736379004"), ("nav", "next")],
    "details": [("reason", "Pre-diabetes, HbA1c 6.2%"), ("priority", "urgent"), ("notes", "Seen twice.\r\nNo meds."),
                ("nav", "next")],
    "consent": [("consent_decision", "permit"), ("consent_by", "related"), ("consent_related_name", "Jean Tremblay"),
                ("consent_related_relationship", "SPS"), ("consent_date", "2026-11-20"), ("nav", "goto:routing")],
    "routing": [("routing", "specific-provider"), ("routing_note", "Dr. Gagnon's clinic"),
                ("patient_location", "home"), ("authorizer", "other"), ("authorizer_name", "Dr. Rajesh Patel"),
                ("authorizer_licence", "CPSO 12345"), ("nav", "back")],
}.items():
    put("wizard_form", name, urllib.parse.urlencode(pairs))
put("wizard_form", "brief", "pick=svc-diabetes-prevention%3A%3Ahttp%3A%2F%2Fsnomed.info%2Fsct%7C736379004&nav=next")
put("wizard_form", "json-autosave", {"service_id": "svc-diabetes-prevention", "code": "http://snomed.info/sct|736379004",
                                     "reason": "x", "consent_decision": "deny"})

# --- staff actions --------------------------------------------------------------------------
for name, pairs in {
    "book": [("csrf", "t"), ("action", "book"), ("date", "2026-11-23"), ("time", "09:30"), ("minutes", "30"),
             ("location", "Clinic A, room 2")],
    "decline": [("action", "decline"), ("reason", "Outside our catchment area")],
    "accept": [("action", "accept")],
    "attended": [("action", "attended")],
}.items():
    put("staff_action", name, urllib.parse.urlencode(pairs))

# --- uploads --------------------------------------------------------------------------------
def multipart(boundary, fields):
    out = b""
    for name, filename, ctype, data in fields:
        out += b"--" + boundary + b"\r\n"
        disp = b'Content-Disposition: form-data; name="' + name + b'"'
        if filename is not None:
            disp += b'; filename="' + filename + b'"'
        out += disp + b"\r\n"
        if ctype:
            out += b"Content-Type: " + ctype + b"\r\n"
        out += b"\r\n" + data + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
put("multipart_upload", "pdf", b"\x00" + multipart(b"X", [(b"csrf", None, None, b"abc"),
                                                         (b"file", b"scan.pdf", b"application/pdf", pdf)]))
put("multipart_upload", "png-boundary", b"\x01----WebKitFormBoundary7MA4YWxkTrZu0gW\n" +
    multipart(b"----WebKitFormBoundary7MA4YWxkTrZu0gW", [(b"file", b"C:\\Users\\me\\x-ray.png", b"image/png", png)]))
put("multipart_upload", "jpeg-raw", b"\x00..\\evil/\"name\".jpg\xff\xff\xd8\xff\xe0\x00\x10JFIF")

# --- the service directory ------------------------------------------------------------------
services = (ROOT / "server/services/default-services.json").read_bytes()
put("service_catalogue", "default-services", services + b"\xffdiabetes prevention\xfe")
doc = json.loads(services)
array = [e["resource"] for e in doc["entry"]] if isinstance(doc, dict) else doc
put("service_catalogue", "array-small", js(array[:2]) + b"\xffNUTRICI\xc3\x93N")

# --- small parsers --------------------------------------------------------------------------
for i, (which, text) in enumerate([
    (0, "system/ServiceRequest.read system/Patient.rs system/*.*\nsystem/ServiceRequest.rs system/Patient.rs"),
    (1, "https://ehr.example.org/fhir/ServiceRequest/sr-1"), (2, "HTTPS://EHR.example.org:443/fhir/"),
    (3, "a=b; __Host-erx-abcdefghijklmnop=secret\nx=y"), (4, "app;dur=1.234, ehr;dur=5.678"),
    (5, "/l/abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG/referral"),
    (6, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"), (7, "staff.admin-1"), (8, "goto:consent"),
    (9, "\x00" * 40), (10, "launch openid fhirUser patient/Patient.rs user/Practitioner.rs launch/patient"),
    (11, "x-forwarded-for: 203.0.113.7, 10.0.0.1\norigin: null"), (12, "/fhir/$process-message"),
    (13, "eyJhbGciOiJSUzI1NiIsImtpZCI6InNhbmRib3gtMjAyNiJ9.e30.x"),
    (14, "https://auth.example.org/oauth/token"), (14, "http://127.0.0.1:3001/auth/token"),
    (14, "https://user:pw@auth.example.org/t"),
]):
    put("misc_inputs", f"{which}-{i}", bytes([which]) + text.encode())

# --- token endpoint answers -----------------------------------------------------------------
put("token_response", "ehr-launch", {
    "access_token": "eyJhbGciOiJSUzI1NiJ9.e30.sig", "token_type": "Bearer", "expires_in": 3600,
    "refresh_token": "r-1", "scope": "launch openid fhirUser patient/Patient.rs", "id_token": "eyJ.e30.x",
    "patient": "pat-1", "encounter": "enc-1", "need_patient_banner": False,
    "fhirContext": [{"reference": "ServiceRequest/draft-1"}, {"reference": "http://127.0.0.1:3100/fhir/Encounter/enc-1"},
                    {"canonical": "http://example.org/Questionnaire/q|1", "type": "Questionnaire"},
                    {"identifier": {"system": "urn:x", "value": "1"}}],
    "intent": "reconcile-medications", "tenant": "t1", "smart_style_url": "http://127.0.0.1:3100/style.json",
    "smart_web_messaging_handle": "h", "smart_web_messaging_origin": "http://127.0.0.1:3100",
    "ereferral_return_url": "http://127.0.0.1:3100/ehr"})
put("token_response", "minimal", {"access_token": "a", "token_type": "bearer"})

print("seeds written under", CORPUS)
