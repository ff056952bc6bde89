//! SMART system scopes for our FHIR API. Pure.

/// A scope in SMART v2 form: v1's `.read` becomes `.rs`, `.write` `.cud`, `.*` `.cruds`.
pub fn normalise(scope: &str) -> String {
    let s = scope.trim();
    match s.rsplit_once('.') {
        Some((head, "read")) => format!("{head}.rs"),
        Some((head, "write")) => format!("{head}.cud"),
        Some((head, "*")) => format!("{head}.cruds"),
        _ => s.to_string(),
    }
}

/// The requested scopes the client may have (in request order, without repeats).
pub fn grant(requested: &str, allowed: &str) -> Vec<String> {
    let allowed: Vec<String> = allowed.split_whitespace().map(normalise).collect();
    let mut granted: Vec<String> = Vec::new();
    for s in requested.split_whitespace().map(normalise) {
        if allowed.contains(&s) && !granted.contains(&s) {
            granted.push(s);
        }
    }
    granted
}

/// Whether `granted` allows `permission` (`r`, `s`, `c`, …) on `resource_type`.
pub fn permits(granted: &[String], resource_type: &str, permission: char) -> bool {
    granted.iter().any(|g| {
        let Some(rest) = g.strip_prefix("system/") else { return false };
        let Some((rtype, perms)) = rest.split_once('.') else { return false };
        (rtype == resource_type || rtype == "*") && perms.contains(permission)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_granted_by_permission_not_spelling() {
        let allowed = "system/ServiceRequest.rs system/Task.rs system/Bundle.c";
        assert_eq!(grant("system/Task.read system/Patient.rs system/Task.rs", allowed), ["system/Task.rs"]);
        assert!(grant("system/Patient.rs", allowed).is_empty());
        let g = grant("system/ServiceRequest.rs system/Bundle.c", allowed);
        assert!(permits(&g, "ServiceRequest", 'r'));
        assert!(!permits(&g, "Task", 'r'));
        assert!(permits(&g, "Bundle", 'c'));
        assert!(!permits(&g, "Bundle", 'r'));
        assert!(permits(&["system/*.rs".to_string()], "Binary", 's'));
        assert!(!permits(&["user/Task.rs".to_string()], "Task", 'r'));
    }
}
