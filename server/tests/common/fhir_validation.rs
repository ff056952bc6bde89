//! The independent FHIR R4 validator (`scripts/fhir-validator/validate.py`: the `fhir.resources`
//! package from PyPI, in the venv `./scripts/setup.sh` creates), called from tests.

use serde_json::Value;
use std::{
    io::Write,
    path::PathBuf,
    process::{Command, Stdio},
};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `$CARGO_TARGET_DIR` (a relative one taken from the workspace) or `<workspace>/target`.
fn python() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace().join(dir),
        None => workspace().join("target"),
    };
    target.join("fhir-validator-venv/bin/python")
}

/// Every error the validator finds in `resources`, one line each (empty when all are valid).
pub fn fhir_errors(resources: &[Value]) -> Vec<String> {
    let python = python();
    assert!(
        python.exists(),
        "the FHIR validator is not installed ({} is missing): run ./scripts/setup.sh",
        python.display()
    );
    let mut child = Command::new(&python)
        .arg(workspace().join("scripts/fhir-validator/validate.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the FHIR validator {}: {e}", python.display()));
    let input = serde_json::to_vec(resources).unwrap();
    // An early exit (a crash) closes stdin: the report below says why, so ignore a broken pipe.
    let _ = child.stdin.take().unwrap().write_all(&input);
    let out = child.wait_with_output().expect("run the FHIR validator");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "the FHIR validator's output is unreadable ({e}, {}); stderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(report["checked"], resources.len(), "the validator checked every resource: {report:#}");
    let errors: Vec<String> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or("-").to_string();
            format!("#{} {}/{}: {}", e["index"], text("resourceType"), text("id"), text("error"))
        })
        .collect();
    assert_eq!(out.status.code() == Some(0), errors.is_empty(), "exit status agrees with the report: {report:#}");
    errors
}

/// Fails the test, listing every error, unless all `resources` are valid FHIR R4.
pub fn assert_valid_fhir(resources: &[Value]) {
    let errors = fhir_errors(resources);
    assert!(errors.is_empty(), "invalid FHIR R4 ({} errors):\n  {}", errors.len(), errors.join("\n  "));
}
