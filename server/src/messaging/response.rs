//! What an EHR's answer to `$process-message` means for delivery. Pure.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx (an OperationOutcome without errors, or no body): delivered.
    Delivered,
    /// Worth trying again later (network trouble, timeouts, 5xx, 408/429, auth/endpoint trouble
    /// that an operator can fix): `reason` is for logs and the "retrying" notice; no PHI.
    Retry { reason: String },
    /// The EHR refused this message (a 4xx, or an OperationOutcome error with a 2xx): trying again
    /// would not help. `text` is the EHR's own explanation, shown to the clinician who sent it.
    Rejected { text: String },
}

/// The first error (or fatal) issue's human text: `details.text`, else `diagnostics`, else
/// its code.
pub fn error_text(outcome: &Value) -> Option<String> {
    if outcome.get("resourceType").and_then(Value::as_str) != Some("OperationOutcome") {
        return None;
    }
    outcome.get("issue").and_then(Value::as_array)?.iter().find_map(|issue| {
        let severity = issue.get("severity").and_then(Value::as_str)?;
        if severity != "error" && severity != "fatal" {
            return None;
        }
        let text = issue
            .pointer("/details/text")
            .and_then(Value::as_str)
            .or_else(|| issue.get("diagnostics").and_then(Value::as_str))
            .or_else(|| issue.get("code").and_then(Value::as_str))
            .unwrap_or("error");
        Some(text.trim().chars().take(500).collect())
    })
}

/// Classifies an HTTP answer (`status`, raw body).
pub fn classify(status: u16, body: &[u8]) -> Verdict {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let outcome_error = parsed.as_ref().and_then(error_text);
    match status {
        200..=299 => match outcome_error {
            Some(text) => Verdict::Rejected { text },
            None => Verdict::Delivered,
        },
        // Timeouts, throttling, and trouble an operator fixes on either side (credentials, the
        // endpoint's address): never drop the message for those.
        401 | 403 | 404 | 408 | 425 | 429 => Verdict::Retry { reason: format!("HTTP {status}") },
        400..=499 => Verdict::Rejected {
            text: outcome_error
                .unwrap_or_else(|| format!("the EHR refused the message (HTTP {status}) without saying why")),
        },
        _ => Verdict::Retry { reason: format!("HTTP {status}") },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    #[test]
    fn answers_are_classified() {
        let ok = body(
            json!({"resourceType": "OperationOutcome", "issue": [{"severity": "information", "code": "informational"}]}),
        );
        assert_eq!(classify(200, &ok), Verdict::Delivered);
        assert_eq!(classify(202, b""), Verdict::Delivered);
        let rejected = body(json!({"resourceType": "OperationOutcome", "issue": [
            {"severity": "warning", "code": "business-rule", "diagnostics": "just a warning"},
            {"severity": "error", "code": "business-rule", "details": {"text": "Patient not found"}, "diagnostics": "x"}
        ]}));
        assert_eq!(classify(422, &rejected), Verdict::Rejected { text: "Patient not found".into() });
        assert_eq!(classify(200, &rejected), Verdict::Rejected { text: "Patient not found".into() });
        let diag = body(
            json!({"resourceType": "OperationOutcome", "issue": [{"severity": "fatal", "code": "invalid", "diagnostics": "bad bundle"}]}),
        );
        assert_eq!(classify(400, &diag), Verdict::Rejected { text: "bad bundle".into() });
        assert!(matches!(classify(400, b"<html>"), Verdict::Rejected { text } if text.contains("HTTP 400")));
        for status in [500, 502, 503, 504, 408, 429, 401, 404] {
            assert!(matches!(classify(status, &rejected), Verdict::Retry { .. }), "{status}");
        }
    }
}
