//! Reading a `based-on` search value: `ServiceRequest/{id}`, a bare id, or an absolute URL
//! ending in `ServiceRequest/{id}`. Pure.

/// The ServiceRequest id named, if the value names one.
pub fn service_request_id(value: &str) -> Option<&str> {
    let v = value.trim();
    let id = match v.rfind("ServiceRequest/") {
        Some(at) => &v[at + "ServiceRequest/".len()..],
        None if !v.contains('/') => v,
        None => return None,
    };
    let ok =
        !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    ok.then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn based_on_spellings() {
        assert_eq!(service_request_id("ServiceRequest/abc-1"), Some("abc-1"));
        assert_eq!(service_request_id("abc-1"), Some("abc-1"));
        assert_eq!(service_request_id("https://x.example/fhir/ServiceRequest/abc-1"), Some("abc-1"));
        assert_eq!(service_request_id("Task/abc-1"), None);
        assert_eq!(service_request_id("ServiceRequest/"), None);
        assert_eq!(service_request_id("ServiceRequest/a b"), None);
        assert_eq!(service_request_id(""), None);
    }
}
