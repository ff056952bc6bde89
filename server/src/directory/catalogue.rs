//! Loading and validating the directory's `HealthcareService` resources.
//!
//! What a service needs: an `id` (FHIR id syntax), a `name`, and at least one `type` coding with a
//! system and a code (the codes a referral to it may request). Everything else is optional:
//! `providedBy.display`, the first `category` coding, `eligibility[].comment`, `comment`, the first
//! phone in `telecom`, and two extensions of ours: [`ACCEPTING_REFERRALS_URL`] (a valueBoolean,
//! `true` when absent) and [`TYPICAL_WAIT_URL`] (a valueDuration in UCUM units).
//! Resources of other types and services with `active: false` are left out.

use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Extension (valueBoolean): whether the service takes new referrals now. Absent means it does.
pub const ACCEPTING_REFERRALS_URL: &str = "https://ereferral.dev/fhir/StructureDefinition/accepting-referrals";
/// Extension (valueDuration): how long a referred patient typically waits to be seen.
pub const TYPICAL_WAIT_URL: &str = "https://ereferral.dev/fhir/StructureDefinition/typical-wait";

/// The directory used when no services file is configured.
const BUILTIN_JSON: &str = include_str!("../../services/default-services.json");

/// One code a service offers (a `HealthcareService.type` coding): what `ServiceRequest.code` may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCode {
    pub system: String,
    pub code: String,
    pub display: String,
}

impl ServiceCode {
    /// `system|code`, the FHIR token form used in forms and searches.
    pub fn token(&self) -> String {
        format!("{}|{}", self.system, self.code)
    }
}

/// A service referrals can be sent to, read from one `HealthcareService` resource.
#[derive(Debug, Clone)]
pub struct Service {
    pub id: String,
    pub name: String,
    /// `providedBy.display`.
    pub provided_by: Option<String>,
    /// The first category coding: (code, display).
    pub category: Option<(String, String)>,
    /// The codes offered (`type` codings), never empty, without repeats.
    pub codes: Vec<ServiceCode>,
    /// `eligibility[].comment`, in order.
    pub eligibility: Vec<String>,
    pub comment: Option<String>,
    /// Whether the service takes new referrals (`true` when the extension is absent).
    pub accepting: bool,
    /// The typical wait in words, e.g. "about 3 weeks".
    pub typical_wait: Option<String>,
    /// The first phone number in `telecom`.
    pub phone: Option<String>,
    /// The resource as it was loaded, unchanged.
    pub resource: Value,
}

/// The services this app accepts referrals for, in file order. Never empty; ids are unique.
#[derive(Debug, Clone)]
pub struct Directory {
    services: Vec<Service>,
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("cannot read the services file {}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the services file is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the services file must be a FHIR Bundle or a JSON array of HealthcareService resources, but it is {0}")]
    NotAList(String),
    #[error("the HealthcareService at entry {index} ({}) cannot be used: {reason}", describe_id(.id))]
    Invalid { index: usize, id: Option<String>, reason: String },
    #[error("more than one active HealthcareService has the id \"{0}\"; each service needs its own id")]
    DuplicateId(String),
    #[error("the services file has no active HealthcareService; at least one service is needed")]
    Empty,
}

fn describe_id(id: &Option<String>) -> String {
    match id {
        Some(id) => format!("id \"{id}\""),
        None => "no id".to_string(),
    }
}

impl Directory {
    /// Reads a Bundle (of any type; resources in `entry[].resource`) or a bare array of resources.
    pub fn from_json(json: &str) -> Result<Directory, DirectoryError> {
        let doc: Value = serde_json::from_str(json)?;
        let resources: Vec<&Value> = match &doc {
            Value::Array(items) => items.iter().collect(),
            Value::Object(o) if o.get("resourceType").and_then(Value::as_str) == Some("Bundle") => o
                .get("entry")
                .and_then(Value::as_array)
                .map(|entries| entries.iter().map(|e| e.get("resource").unwrap_or(&Value::Null)).collect())
                .unwrap_or_default(),
            other => return Err(DirectoryError::NotAList(describe_json(other))),
        };
        let mut services: Vec<Service> = Vec::new();
        let mut seen = HashSet::new();
        for (index, resource) in resources.into_iter().enumerate() {
            if resource.get("resourceType").and_then(Value::as_str) != Some("HealthcareService") {
                continue;
            }
            match resource.get("active") {
                None | Some(Value::Bool(true)) => {}
                Some(Value::Bool(false)) => {
                    tracing::debug!(index, "skipping an inactive HealthcareService");
                    continue;
                }
                Some(_) => {
                    return Err(invalid(index, resource, "its \"active\" must be true or false".into()));
                }
            }
            let service = parse_service(index, resource)?;
            if !seen.insert(service.id.clone()) {
                return Err(DirectoryError::DuplicateId(service.id));
            }
            services.push(service);
        }
        if services.is_empty() {
            return Err(DirectoryError::Empty);
        }
        Ok(Directory { services })
    }

    /// The built-in directory (`server/services/default-services.json`).
    pub fn builtin() -> Directory {
        Directory::from_json(BUILTIN_JSON).expect("the built-in service directory is valid (a unit test proves it)")
    }

    /// The directory in `path`, or the built-in one when there is no path.
    pub fn load(path: Option<&Path>) -> Result<Directory, DirectoryError> {
        match path {
            None => Directory::from_json(BUILTIN_JSON),
            Some(path) => {
                let json = std::fs::read_to_string(path)
                    .map_err(|source| DirectoryError::Io { path: path.to_path_buf(), source })?;
                Directory::from_json(&json)
            }
        }
    }

    /// All services, in file order.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    pub fn get(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }

    /// The service `service_id` and its code `token` (`system|code`), if that service offers it.
    pub fn offering(&self, service_id: &str, token: &str) -> Option<(&Service, &ServiceCode)> {
        let service = self.get(service_id)?;
        let (system, code) = token.split_once('|')?;
        let c = service.codes.iter().find(|c| c.system == system && c.code == code)?;
        Some((service, c))
    }

    /// Every service offering `system|code` (accepting referrals or not), in file order.
    pub fn offering_code(&self, system: &str, code: &str) -> Vec<&Service> {
        self.services.iter().filter(|s| s.codes.iter().any(|c| c.system == system && c.code == code)).collect()
    }

    /// The distinct categories as (code, display), sorted by display.
    pub fn categories(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (code, display) in self.services.iter().filter_map(|s| s.category.as_ref()) {
            if !out.iter().any(|(c, _)| c == code) {
                out.push((code.clone(), display.clone()));
            }
        }
        out.sort_by(|a, b| a.1.to_lowercase().cmp(&b.1.to_lowercase()).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

fn describe_json(v: &Value) -> String {
    match v {
        Value::Object(o) => match o.get("resourceType").and_then(Value::as_str) {
            Some(t) => format!("a single {t} resource"),
            None => "a JSON object without \"resourceType\": \"Bundle\"".to_string(),
        },
        Value::String(_) => "a JSON string".to_string(),
        Value::Number(_) => "a JSON number".to_string(),
        Value::Bool(_) => "a JSON boolean".to_string(),
        Value::Null => "null".to_string(),
        Value::Array(_) => "an array".to_string(),
    }
}

fn invalid(index: usize, resource: &Value, reason: String) -> DirectoryError {
    let id = resource.get("id").and_then(Value::as_str).map(str::to_string);
    DirectoryError::Invalid { index, id, reason }
}

/// FHIR `id`: `[A-Za-z0-9\-\.]{1,64}`.
fn is_fhir_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A field that FHIR makes a list; a lone object is taken as a one-item list.
fn list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => vec![],
    }
}

fn parse_service(index: usize, r: &Value) -> Result<Service, DirectoryError> {
    let id = match r.get("id") {
        None | Some(Value::Null) => return Err(invalid(index, r, "it has no id".into())),
        Some(Value::String(id)) if is_fhir_id(id) => id.clone(),
        Some(Value::String(_)) => {
            return Err(invalid(index, r, "its id is not a valid FHIR id (1 to 64 letters, digits, '-' or '.')".into()))
        }
        Some(_) => return Err(invalid(index, r, "its id is not a string".into())),
    };
    let Some(name) = text(r.get("name")) else {
        return Err(invalid(index, r, "it has no name".into()));
    };

    let mut codes: Vec<ServiceCode> = Vec::new();
    for concept in list(r.get("type")) {
        for coding in list(concept.get("coding")) {
            let (Some(system), Some(code)) = (text(coding.get("system")), text(coding.get("code"))) else {
                continue;
            };
            if codes.iter().any(|c| c.system == system && c.code == code) {
                continue;
            }
            let display =
                text(coding.get("display")).or_else(|| text(concept.get("text"))).unwrap_or_else(|| code.clone());
            codes.push(ServiceCode { system, code, display });
        }
    }
    if codes.is_empty() {
        return Err(invalid(
            index,
            r,
            "it offers nothing to refer to: \"type\" needs at least one coding with a system and a code".into(),
        ));
    }

    let category = list(r.get("category")).into_iter().find_map(|concept| {
        list(concept.get("coding")).into_iter().find_map(|coding| {
            let code = text(coding.get("code"))?;
            let display =
                text(coding.get("display")).or_else(|| text(concept.get("text"))).unwrap_or_else(|| code.clone());
            Some((code, display))
        })
    });
    let eligibility = list(r.get("eligibility"))
        .into_iter()
        .filter_map(|e| text(e.get("comment")).or_else(|| text(e.pointer("/code/text"))))
        .collect();
    let phone = list(r.get("telecom"))
        .into_iter()
        .filter(|t| t.get("system").and_then(Value::as_str) == Some("phone"))
        .find_map(|t| text(t.get("value")));

    let extension =
        |url: &str| list(r.get("extension")).into_iter().find(|e| e.get("url").and_then(Value::as_str) == Some(url));
    let accepting = match extension(ACCEPTING_REFERRALS_URL) {
        None => true,
        Some(e) => match e.get("valueBoolean") {
            Some(Value::Bool(b)) => *b,
            _ => {
                return Err(invalid(
                    index,
                    r,
                    "its accepting-referrals extension needs a valueBoolean (true or false)".into(),
                ))
            }
        },
    };
    let typical_wait = match extension(TYPICAL_WAIT_URL) {
        None => None,
        Some(e) => match e.get("valueDuration").and_then(wait_text) {
            Some(w) => Some(w),
            None => {
                return Err(invalid(
                    index,
                    r,
                    "its typical-wait extension needs a valueDuration with a value of 0 or more and a unit".into(),
                ))
            }
        },
    };

    Ok(Service {
        id,
        name,
        provided_by: text(r.pointer("/providedBy/display")),
        category,
        codes,
        eligibility,
        comment: text(r.get("comment")),
        accepting,
        typical_wait,
        phone,
        resource: r.clone(),
    })
}

/// A Duration in words: `{"value": 3, "code": "wk"}` is "about 3 weeks".
fn wait_text(d: &Value) -> Option<String> {
    let value = d.get("value").and_then(Value::as_f64).filter(|v| v.is_finite() && *v >= 0.0)?;
    if value == 0.0 {
        return Some("no wait".to_string());
    }
    let number = if value.fract() == 0.0 { format!("{}", value as u64) } else { format!("{value}") };
    let one = value == 1.0;
    let ucum = if d.get("system").and_then(Value::as_str).is_none_or(|s| s == "http://unitsofmeasure.org") {
        d.get("code").and_then(Value::as_str)
    } else {
        None
    };
    let unit = match (ucum, one) {
        (Some("min"), true) => "minute".to_string(),
        (Some("min"), false) => "minutes".to_string(),
        (Some("h"), true) => "hour".to_string(),
        (Some("h"), false) => "hours".to_string(),
        (Some("d"), true) => "day".to_string(),
        (Some("d"), false) => "days".to_string(),
        (Some("wk"), true) => "week".to_string(),
        (Some("wk"), false) => "weeks".to_string(),
        (Some("mo"), true) => "month".to_string(),
        (Some("mo"), false) => "months".to_string(),
        (Some("a"), true) => "year".to_string(),
        (Some("a"), false) => "years".to_string(),
        _ => text(d.get("unit"))?,
    };
    Some(format!("about {number} {unit}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SCT: &str = "http://snomed.info/sct";

    fn hs(id: &str) -> Value {
        json!({
            "resourceType": "HealthcareService",
            "id": id,
            "name": format!("Service {id}"),
            "type": [{"coding": [{"system": SCT, "code": "11816003", "display": "Diet education"}]}]
        })
    }

    fn bundle(resources: Vec<Value>) -> String {
        let entries: Vec<Value> = resources.into_iter().map(|r| json!({"resource": r})).collect();
        json!({"resourceType": "Bundle", "type": "collection", "entry": entries}).to_string()
    }

    fn err(resources: Vec<Value>) -> DirectoryError {
        Directory::from_json(&bundle(resources)).expect_err("should be refused")
    }

    #[test]
    fn the_builtin_directory_covers_the_bser_use_cases() {
        let dir = Directory::builtin();
        assert!(dir.services().len() >= 8, "{}", dir.services().len());
        for id in [
            "svc-arthritis-self-management",
            "svc-diabetes-prevention",
            "svc-early-childhood-nutrition",
            "svc-hypertension",
            "svc-weight-management",
            "svc-tobacco-cessation",
        ] {
            assert!(dir.get(id).is_some(), "{id} is missing");
        }
        let closed: Vec<&str> = dir.services().iter().filter(|s| !s.accepting).map(|s| s.id.as_str()).collect();
        assert_eq!(closed.len(), 1, "{closed:?}");
        assert_eq!(dir.services().iter().filter(|s| s.typical_wait.is_none()).count(), 1);

        let (svc, code) =
            dir.offering("svc-diabetes-prevention", "http://snomed.info/sct|736379004").expect("DPP code");
        assert_eq!(code.display, "Diabetes prevention program");
        assert!(svc.name.to_lowercase().contains("diabetes"));
        let offering: Vec<&str> = dir.offering_code(SCT, "736379004").iter().map(|s| s.id.as_str()).collect();
        assert_eq!(offering, ["svc-diabetes-prevention"], "exactly one service, so an EHR draft can pre-fill it");

        for s in dir.services() {
            assert!(
                s.provided_by.is_some() && s.category.is_some() && s.comment.is_some() && s.phone.is_some(),
                "{}",
                s.id
            );
            assert!(!s.eligibility.is_empty() && (1..=3).contains(&s.codes.len()), "{}", s.id);
            assert!(s.codes.iter().all(|c| c.system == SCT && !c.display.is_empty()), "{}", s.id);
        }
        assert_eq!(dir.get("svc-diabetes-prevention").unwrap().typical_wait.as_deref(), Some("about 4 weeks"));
        assert!(Directory::load(None).unwrap().services().len() == dir.services().len());
    }

    #[test]
    fn categories_are_distinct_and_sorted_by_display() {
        let cats = Directory::builtin().categories();
        let displays: Vec<&str> = cats.iter().map(|(_, d)| d.as_str()).collect();
        assert_eq!(displays, ["Chronic disease management", "Mental health", "Nutrition", "Prevention"]);
        assert_eq!(cats[1].0, "mental-health");
    }

    #[test]
    fn all_fields_are_read() {
        let r = json!({
            "resourceType": "HealthcareService",
            "id": "svc-1",
            "active": true,
            "providedBy": {"reference": "Organization/o1", "display": "Clinic"},
            "category": [{"coding": [{"system": "https://ereferral.dev/fhir/CodeSystem/service-category", "code": "nutrition", "display": "Nutrition"}]}],
            "type": [
                {"coding": [{"system": SCT, "code": "61310001", "display": "Nutrition education"}]},
                {"coding": [{"system": SCT, "code": "11816003"}], "text": "Diet teaching"},
                {"coding": [{"system": SCT, "code": "61310001", "display": "again"}, {"code": "no-system"}]}
            ],
            "name": "  Food school  ",
            "comment": "Learn to cook.",
            "eligibility": [{"comment": "Adults"}, {"code": {"text": "Children"}}, {"comment": ""}],
            "telecom": [{"system": "email", "value": "a@b.c"}, {"system": "phone", "value": "555-0100"}],
            "extension": [
                {"url": ACCEPTING_REFERRALS_URL, "valueBoolean": false},
                {"url": TYPICAL_WAIT_URL, "valueDuration": {"value": 1, "unit": "day", "system": "http://unitsofmeasure.org", "code": "d"}}
            ],
            "unknownField": {"kept": [1, 2, 3]}
        });
        let dir = Directory::from_json(&bundle(vec![r.clone()])).unwrap();
        let s = &dir.services()[0];
        assert_eq!(s.id, "svc-1");
        assert_eq!(s.name, "Food school");
        assert_eq!(s.provided_by.as_deref(), Some("Clinic"));
        assert_eq!(s.category, Some(("nutrition".into(), "Nutrition".into())));
        let tokens: Vec<(String, &str)> = s.codes.iter().map(|c| (c.token(), c.display.as_str())).collect();
        assert_eq!(
            tokens,
            [(format!("{SCT}|61310001"), "Nutrition education"), (format!("{SCT}|11816003"), "Diet teaching")]
        );
        assert_eq!(s.eligibility, ["Adults", "Children"]);
        assert_eq!(s.comment.as_deref(), Some("Learn to cook."));
        assert_eq!(s.phone.as_deref(), Some("555-0100"));
        assert!(!s.accepting);
        assert_eq!(s.typical_wait.as_deref(), Some("about 1 day"));
        assert_eq!(s.resource, r, "the original resource is kept unchanged");
    }

    #[test]
    fn optional_fields_default_sensibly() {
        let dir = Directory::from_json(&bundle(vec![hs("a")])).unwrap();
        let s = dir.get("a").unwrap();
        assert!(s.accepting, "no extension means accepting");
        assert_eq!((s.typical_wait.as_ref(), s.phone.as_ref(), s.category.as_ref()), (None, None, None));
        assert!(s.eligibility.is_empty() && s.comment.is_none() && s.provided_by.is_none());
    }

    #[test]
    fn waits_are_put_in_words() {
        let w = |v: Value| wait_text(&v);
        assert_eq!(
            w(json!({"value": 3, "code": "wk", "system": "http://unitsofmeasure.org"})).unwrap(),
            "about 3 weeks"
        );
        assert_eq!(w(json!({"value": 1, "code": "wk"})).unwrap(), "about 1 week");
        assert_eq!(w(json!({"value": 1.5, "code": "mo"})).unwrap(), "about 1.5 months");
        assert_eq!(w(json!({"value": 10, "unit": "business days"})).unwrap(), "about 10 business days");
        assert_eq!(w(json!({"value": 0, "code": "d"})).unwrap(), "no wait");
        assert_eq!(w(json!({"value": -1, "code": "d"})), None);
        assert_eq!(w(json!({"value": 2})), None);
    }

    #[test]
    fn a_bare_array_works_and_other_resources_and_inactive_services_are_skipped() {
        let mut inactive = hs("b");
        inactive["active"] = json!(false);
        let json = json!([{"resourceType": "Organization", "id": "o"}, hs("a"), inactive, hs("c")]).to_string();
        let dir = Directory::from_json(&json).unwrap();
        let ids: Vec<&str> = dir.services().iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
        assert!(dir.get("b").is_none());
        // An inactive service may share an id with an active one.
        let mut old_a = hs("a");
        old_a["active"] = json!(false);
        assert_eq!(Directory::from_json(&bundle(vec![old_a, hs("a")])).unwrap().services().len(), 1);
        // Any bundle type; entries without a resource are ignored.
        let searchset =
            json!({"resourceType": "Bundle", "type": "searchset", "entry": [{"fullUrl": "x"}, {"resource": hs("z")}]});
        assert_eq!(Directory::from_json(&searchset.to_string()).unwrap().services()[0].id, "z");
    }

    #[test]
    fn lookups_by_id_and_code() {
        let mut two = hs("two");
        two["type"] = json!([{"coding": [{"system": SCT, "code": "11816003"}, {"system": SCT, "code": "61310001"}]}]);
        let dir = Directory::from_json(&bundle(vec![hs("one"), two])).unwrap();
        assert!(dir.offering("one", &format!("{SCT}|11816003")).is_some());
        assert!(dir.offering("one", &format!("{SCT}|61310001")).is_none());
        assert!(dir.offering("one", "11816003").is_none());
        assert!(dir.offering("nope", &format!("{SCT}|11816003")).is_none());
        let (s, c) = dir.offering("two", &format!("{SCT}|61310001")).unwrap();
        assert_eq!((s.id.as_str(), c.code.as_str(), c.display.as_str()), ("two", "61310001", "61310001"));
        assert_eq!(dir.offering_code(SCT, "11816003").len(), 2);
        assert_eq!(dir.offering_code(SCT, "61310001").len(), 1);
        assert!(dir.offering_code("http://loinc.org", "11816003").is_empty());
    }

    #[test]
    fn a_missing_id_is_refused() {
        let mut r = hs("x");
        r.as_object_mut().unwrap().remove("id");
        let e = err(vec![hs("a"), r]);
        assert!(matches!(&e, DirectoryError::Invalid { index: 1, id: None, .. }), "{e:?}");
        assert_eq!(e.to_string(), "the HealthcareService at entry 1 (no id) cannot be used: it has no id");
    }

    #[test]
    fn a_bad_id_is_refused() {
        for bad in ["has space", "", "ünïcode", "x".repeat(65).as_str()] {
            let e = err(vec![hs(bad)]);
            assert!(matches!(&e, DirectoryError::Invalid { index: 0, .. }), "{bad}: {e:?}");
            assert!(e.to_string().contains("not a valid FHIR id"), "{e}");
        }
        let mut r = hs("a");
        r["id"] = json!(7);
        assert!(err(vec![r]).to_string().contains("not a string"));
        assert!(Directory::from_json(&bundle(vec![hs(&"x".repeat(64)), hs("A-1.b")])).is_ok());
    }

    #[test]
    fn a_missing_name_is_refused() {
        for name in [Value::Null, json!(""), json!("   ")] {
            let mut r = hs("a");
            r["name"] = name;
            let e = err(vec![r]);
            assert!(matches!(&e, DirectoryError::Invalid { index: 0, id: Some(id), .. } if id == "a"), "{e:?}");
            assert!(e.to_string().contains("id \"a\"") && e.to_string().ends_with("it has no name"), "{e}");
        }
    }

    #[test]
    fn a_service_without_a_usable_type_coding_is_refused() {
        for t in
            [Value::Null, json!([]), json!([{"text": "Diet"}]), json!([{"coding": [{"code": "1"}, {"system": SCT}]}])]
        {
            let mut r = hs("a");
            r["type"] = t.clone();
            let e = err(vec![r]);
            assert!(matches!(&e, DirectoryError::Invalid { .. }), "{t}: {e:?}");
            assert!(e.to_string().contains("\"type\" needs at least one coding with a system and a code"), "{e}");
        }
    }

    #[test]
    fn malformed_extensions_and_active_flags_are_refused() {
        let mut r = hs("a");
        r["extension"] = json!([{"url": ACCEPTING_REFERRALS_URL, "valueString": "no"}]);
        assert!(err(vec![r]).to_string().contains("valueBoolean"));
        let mut r = hs("a");
        r["extension"] = json!([{"url": TYPICAL_WAIT_URL, "valueDuration": {"unit": "weeks"}}]);
        assert!(err(vec![r]).to_string().contains("valueDuration"));
        let mut r = hs("a");
        r["active"] = json!("false");
        assert!(err(vec![r]).to_string().contains("\"active\""));
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let e = err(vec![hs("a"), hs("b"), hs("a")]);
        assert!(matches!(&e, DirectoryError::DuplicateId(id) if id == "a"), "{e:?}");
        assert!(e.to_string().contains("\"a\""));
    }

    #[test]
    fn an_empty_directory_is_refused() {
        let mut inactive = hs("a");
        inactive["active"] = json!(false);
        for json in [
            bundle(vec![]),
            bundle(vec![inactive]),
            bundle(vec![json!({"resourceType": "Patient", "id": "p"})]),
            "[]".to_string(),
            r#"{"resourceType": "Bundle", "type": "collection"}"#.to_string(),
        ] {
            assert!(matches!(Directory::from_json(&json), Err(DirectoryError::Empty)), "{json}");
        }
    }

    #[test]
    fn text_that_is_not_json_or_not_a_list_is_refused() {
        let e = Directory::from_json("not json {").unwrap_err();
        assert!(matches!(e, DirectoryError::Json(_)), "{e:?}");
        assert!(e.to_string().starts_with("the services file is not valid JSON"));
        let e = Directory::from_json(&hs("a").to_string()).unwrap_err();
        assert!(matches!(e, DirectoryError::NotAList(_)), "{e:?}");
        assert!(e.to_string().ends_with("but it is a single HealthcareService resource"), "{e}");
        assert!(matches!(Directory::from_json("42"), Err(DirectoryError::NotAList(_))));
    }

    #[test]
    fn load_reads_a_file_and_names_it_when_it_cannot() {
        let dir = std::env::temp_dir().join(format!("ereferral-directory-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("services.json");
        std::fs::write(&file, bundle(vec![hs("from-file")])).unwrap();
        assert_eq!(Directory::load(Some(&file)).unwrap().services()[0].id, "from-file");
        let missing = dir.join("missing.json");
        let e = Directory::load(Some(&missing)).unwrap_err();
        assert!(matches!(e, DirectoryError::Io { .. }), "{e:?}");
        assert!(e.to_string().contains("missing.json"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
