-- Launches in flight: created at /launch, consumed once at /callback.
CREATE TABLE pending_launches (
    state          TEXT PRIMARY KEY,          -- the OAuth state (>=256 bits, base64url)
    ehr_id         TEXT NOT NULL,
    launch         TEXT NOT NULL,             -- the EHR's opaque launch parameter
    pkce_verifier  TEXT NOT NULL,
    nonce          TEXT NOT NULL,
    created_at     INTEGER NOT NULL,          -- unix seconds
    expires_at     INTEGER NOT NULL
);
CREATE INDEX pending_launches_expiry ON pending_launches (expires_at);

-- One row per completed launch: the launch-scoped session. Tokens are encrypted (XChaCha20-Poly1305).
CREATE TABLE launch_sessions (
    id                 TEXT PRIMARY KEY,      -- unguessable (256 bits), names the launch in URLs
    binding_hash       TEXT NOT NULL,         -- SHA-256 of the cookie secret binding it to a browser
    cookie_bound       INTEGER NOT NULL DEFAULT 0, -- 1 once the browser showed the cookie: then required
    ehr_id             TEXT NOT NULL,
    patient_id         TEXT NOT NULL,
    user_ref           TEXT NOT NULL,         -- fhirUser as given (Practitioner/.. or PractitionerRole/..)
    context_json       TEXT NOT NULL,         -- launch context (encounter, fhirContext, banner, style, intent, tenant, messaging)
    patient_json       TEXT NOT NULL,
    user_json          TEXT NOT NULL,         -- {practitioner, role?}
    draft_json         TEXT,                  -- the source's draft ServiceRequest (fhirContext), if any
    tokens_enc         BLOB NOT NULL,         -- encrypted {access_token, refresh_token, scope}
    token_expires_at   INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL
);
CREATE INDEX launch_sessions_expiry ON launch_sessions (expires_at);
