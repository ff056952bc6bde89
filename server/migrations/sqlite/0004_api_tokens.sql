-- Access tokens our token endpoint issued to EHRs (SMART Backend Services). Only a SHA-256 of
-- each token is kept.
CREATE TABLE api_access_tokens (
    token_hash TEXT PRIMARY KEY,
    ehr_id     TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX api_access_tokens_expiry ON api_access_tokens (expires_at);

-- `jti`s of client assertions already used: a replayed assertion is refused.
CREATE TABLE api_assertion_jtis (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX api_assertion_jtis_expiry ON api_assertion_jtis (expires_at);
