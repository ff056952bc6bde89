//! SMART scopes: parsing v1 (`patient/Patient.read`) and v2 (`patient/Patient.rs`) syntax,
//! checking that requested scopes are covered by a client's registration, and deciding
//! whether a token's scopes allow an interaction on a resource type.

use std::collections::BTreeSet;

/// `patient/`, `user/` or `system/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ScopeContext {
    Patient,
    User,
    System,
}

/// One of the v2 permissions `c r u d s`.
pub type Permission = char;

/// A parsed clinical scope such as `patient/Observation.rs?category=laboratory`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceScope {
    pub context: ScopeContext,
    /// Resource type or `*`.
    pub resource: String,
    pub permissions: BTreeSet<Permission>,
    /// v2 query restriction, if any (kept verbatim).
    pub query: Option<String>,
}

/// A scope token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Resource(ResourceScope),
    /// `openid`, `fhirUser`, `launch`, `launch/patient`, `offline_access`, …: compared as strings.
    Other(String),
}

/// Why a scope string is not valid SMART syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed scope `{0}`")]
pub struct ScopeSyntaxError(pub String);

/// Parse one scope token.
pub fn parse_scope(token: &str) -> Result<Scope, ScopeSyntaxError> {
    let err = || ScopeSyntaxError(token.to_string());
    let (context, rest) = if let Some(r) = token.strip_prefix("patient/") {
        (ScopeContext::Patient, r)
    } else if let Some(r) = token.strip_prefix("user/") {
        (ScopeContext::User, r)
    } else if let Some(r) = token.strip_prefix("system/") {
        (ScopeContext::System, r)
    } else {
        if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c == '"' || c == '\\') {
            return Err(err());
        }
        return Ok(Scope::Other(token.to_string()));
    };
    let (body, query) = match rest.split_once('?') {
        Some((b, q)) if !q.is_empty() => (b, Some(q.to_string())),
        Some(_) => return Err(err()),
        None => (rest, None),
    };
    let (resource, perms) = body.split_once('.').ok_or_else(err)?;
    let resource_ok = resource == "*"
        || (!resource.is_empty()
            && resource.chars().all(|c| c.is_ascii_alphanumeric())
            && resource.starts_with(|c: char| c.is_ascii_uppercase()));
    if !resource_ok {
        return Err(err());
    }
    let permissions: BTreeSet<Permission> = match perms {
        "read" => ['r', 's'].into_iter().collect(),
        "write" => ['c', 'u', 'd'].into_iter().collect(),
        "*" => ['c', 'r', 'u', 'd', 's'].into_iter().collect(),
        v2 => {
            // v2: a non-empty subsequence of "cruds", in that order, no repeats.
            let mut order = "cruds".chars();
            let mut set = BTreeSet::new();
            for c in v2.chars() {
                if !order.by_ref().any(|o| o == c) {
                    return Err(err());
                }
                set.insert(c);
            }
            if set.is_empty() {
                return Err(err());
            }
            set
        }
    };
    Ok(Scope::Resource(ResourceScope { context, resource: resource.to_string(), permissions, query }))
}

/// Split a space-separated scope parameter and parse every token.
pub fn parse_scopes(scope_param: &str) -> Result<Vec<Scope>, ScopeSyntaxError> {
    scope_param.split_ascii_whitespace().map(parse_scope).collect()
}

/// Does the granted (registered) scope `allowed` cover the requested scope `requested`?
pub fn covers(allowed: &Scope, requested: &Scope) -> bool {
    match (allowed, requested) {
        (Scope::Other(a), Scope::Other(r)) => a == r,
        (Scope::Resource(a), Scope::Resource(r)) => {
            a.context == r.context
                && (a.resource == "*" || a.resource == r.resource)
                && r.permissions.is_subset(&a.permissions)
                && (a.query.is_none() || a.query == r.query)
        }
        _ => false,
    }
}

/// The requested scopes that no registered scope covers (empty = all allowed).
/// Unparseable registered scopes are ignored; unparseable requested ones are returned.
pub fn uncovered<'a>(registered: &[String], requested: &'a str) -> Vec<&'a str> {
    let registered: Vec<Scope> = registered.iter().filter_map(|s| parse_scope(s).ok()).collect();
    requested
        .split_ascii_whitespace()
        .filter(|token| match parse_scope(token) {
            Ok(req) => !registered.iter().any(|a| covers(a, &req)),
            Err(_) => true,
        })
        .collect()
}

/// Is `name` (e.g. `openid`) among the space-separated scopes?
pub fn has(scope_param: &str, name: &str) -> bool {
    scope_param.split_ascii_whitespace().any(|s| s == name)
}

/// Which contexts of the granted scopes allow `permission` on `resource_type`.
pub fn contexts_allowing(scope_param: &str, resource_type: &str, permission: Permission) -> BTreeSet<ScopeContext> {
    scope_param
        .split_ascii_whitespace()
        .filter_map(|s| match parse_scope(s) {
            Ok(Scope::Resource(r)) => Some(r),
            _ => None,
        })
        .filter(|r| (r.resource == "*" || r.resource == resource_type) && r.permissions.contains(&permission))
        .map(|r| r.context)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_v1_and_v2() {
        let Scope::Resource(v1) = parse_scope("patient/Patient.read").unwrap() else { panic!("not a resource scope") };
        assert_eq!(v1.permissions, ['r', 's'].into_iter().collect());
        let Scope::Resource(v2) = parse_scope("user/ServiceRequest.cruds").unwrap() else {
            panic!("not a resource scope")
        };
        assert_eq!(v2.context, ScopeContext::User);
        assert_eq!(v2.permissions.len(), 5);
        assert_eq!(parse_scope("openid").unwrap(), Scope::Other("openid".into()));
    }

    #[test]
    fn rejects_malformed() {
        assert!(parse_scope("patient/Patient.sr").is_err());
        assert!(parse_scope("patient/Patient.rr").is_err());
        assert!(parse_scope("patient/Patient").is_err());
        assert!(parse_scope("patient/patient.rs").is_err());
        assert!(parse_scope("patient/Patient.x").is_err());
    }

    #[test]
    fn v1_request_is_covered_by_v2_registration() {
        let registered = reg(&["patient/Patient.rs", "user/*.cruds", "openid"]);
        assert!(uncovered(&registered, "patient/Patient.read openid").is_empty());
        assert!(uncovered(&registered, "patient/Patient.r user/Practitioner.read").is_empty());
        assert_eq!(uncovered(&registered, "patient/Patient.write fhirUser"), vec!["patient/Patient.write", "fhirUser"]);
        assert_eq!(uncovered(&registered, "system/Patient.rs"), vec!["system/Patient.rs"]);
    }

    #[test]
    fn query_restricted_registration_covers_only_same_query() {
        let registered = reg(&["patient/Observation.rs?category=laboratory"]);
        assert!(uncovered(&registered, "patient/Observation.rs?category=laboratory").is_empty());
        assert!(!uncovered(&registered, "patient/Observation.rs").is_empty());
    }

    #[test]
    fn contexts_for_read() {
        let granted = "launch openid patient/Patient.rs user/Practitioner.read system/*.rs";
        let p = contexts_allowing(granted, "Patient", 'r');
        assert!(p.contains(&ScopeContext::Patient) && p.contains(&ScopeContext::System));
        assert!(!p.contains(&ScopeContext::User));
        assert!(contexts_allowing("patient/Patient.s", "Patient", 'r').is_empty());
        assert!(has(granted, "openid") && !has(granted, "fhirUser"));
    }
}
