//! OpenID Connect id_token (OIDC Core §2) with SMART's `fhirUser` claim, and the
//! deliberate defects of [`IdTokenFault`].

use serde::Serialize;

use crate::error::SandboxError;
use crate::faults::IdTokenFault;
use crate::keys::Signing;
use crate::seed::display_name;
use crate::state::AppState;
use crate::store::{now, GrantContext};

pub const ID_TOKEN_TTL_SECS: i64 = 3600;

#[derive(Debug, Serialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    #[serde(rename = "fhirUser")]
    fhir_user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

/// `fhirUser`: relative (`Practitioner/x`) or absolute (`{fhir_base}/Practitioner/x`).
pub fn fhir_user(st: &AppState, ctx: &GrantContext) -> String {
    if ctx.fhir_user_absolute {
        format!("{}/{}", st.urls.fhir_base, ctx.user)
    } else {
        ctx.user.clone()
    }
}

/// Issue an RS256 id_token for `client_id`, carrying exactly the defect `fault` asks for.
pub fn issue(
    st: &AppState,
    client_id: &str,
    ctx: &GrantContext,
    nonce: Option<&str>,
    fault: IdTokenFault,
) -> Result<String, SandboxError> {
    let now = now();
    let user_name = st.seed.resolve(&ctx.user).and_then(|r| {
        // A PractitionerRole has no name: use its practitioner's.
        display_name(r).or_else(|| {
            let prac = r.pointer("/practitioner/reference")?.as_str()?;
            st.seed.resolve(prac).and_then(display_name)
        })
    });
    let mut claims = Claims {
        iss: st.urls.fhir_base.clone(),
        sub: ctx.user.clone(),
        aud: client_id.to_string(),
        exp: now + ID_TOKEN_TTL_SECS,
        iat: now,
        auth_time: now,
        nonce: nonce.map(str::to_string),
        fhir_user: fhir_user(st, ctx),
        name: user_name,
    };
    let mut signing = if st.store().rotated { Signing::Next } else { Signing::Published };
    match fault {
        IdTokenFault::Ok => {}
        IdTokenFault::Expired => {
            claims.iat = now - 2 * ID_TOKEN_TTL_SECS;
            claims.auth_time = claims.iat;
            claims.exp = now - ID_TOKEN_TTL_SECS;
        }
        IdTokenFault::BadSignature => signing = Signing::Untrusted,
        IdTokenFault::WrongAudience => claims.aud = "some-other-client".into(),
        IdTokenFault::WrongNonce => claims.nonce = Some("not-the-nonce-you-sent".into()),
        IdTokenFault::AlgNone => signing = Signing::Unsigned,
        IdTokenFault::UnknownKid => signing = Signing::UnknownKid,
    }
    st.keys.sign(&claims, signing)
}
