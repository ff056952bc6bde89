-- The whole schema as SQLite reaches it through its migrations 0001-0009, written for PostgreSQL:
-- BIGINT for every integer (the app reads them as i64), BYTEA for bytes, BOOLEAN for flags,
-- identity columns for SQLite's AUTOINCREMENT. Later migrations come in pairs, one per backend,
-- with the same number.

-- Launches in flight: created at /launch, consumed once at /callback.
CREATE TABLE pending_launches (
    state          TEXT PRIMARY KEY,
    ehr_id         TEXT NOT NULL,
    launch         TEXT NOT NULL,
    pkce_verifier  TEXT NOT NULL,
    nonce          TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    binding_hash   TEXT NOT NULL DEFAULT '',
    fingerprint    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX pending_launches_expiry ON pending_launches (expires_at);

-- One row per completed launch: the launch-scoped session. Tokens are encrypted.
CREATE TABLE launch_sessions (
    id                 TEXT PRIMARY KEY,
    binding_hash       TEXT NOT NULL,
    cookie_bound       BOOLEAN NOT NULL DEFAULT FALSE,
    ehr_id             TEXT NOT NULL,
    patient_id         TEXT NOT NULL,
    user_ref           TEXT NOT NULL,
    context_json       TEXT NOT NULL,
    patient_json       TEXT NOT NULL,
    user_json          TEXT NOT NULL,
    draft_json         TEXT,
    tokens_enc         BYTEA NOT NULL,
    token_expires_at   BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    fingerprint        TEXT NOT NULL DEFAULT '',
    last_seen_at       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX launch_sessions_expiry ON launch_sessions (expires_at);

-- Referral entry: one draft per launch, autosaved; attachments kept with it.
CREATE TABLE referral_drafts (
    id               TEXT PRIMARY KEY,
    session_id       TEXT NOT NULL UNIQUE,
    previous_session TEXT,
    ehr_id           TEXT NOT NULL,
    patient_id       TEXT NOT NULL,
    user_ref         TEXT NOT NULL,
    status           TEXT NOT NULL,
    step             TEXT NOT NULL,
    form_json        TEXT NOT NULL,
    errors_json      TEXT NOT NULL DEFAULT '[]',
    revision         BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL
);
CREATE INDEX referral_drafts_owner ON referral_drafts (ehr_id, patient_id, user_ref, status);
CREATE INDEX referral_drafts_expiry ON referral_drafts (expires_at);
CREATE INDEX referral_drafts_previous ON referral_drafts (previous_session);

CREATE TABLE draft_attachments (
    id            TEXT PRIMARY KEY,
    seq           BIGINT GENERATED ALWAYS AS IDENTITY,  -- upload order (SQLite: rowid)
    draft_id      TEXT NOT NULL REFERENCES referral_drafts (id) ON DELETE CASCADE,
    filename      TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          BIGINT NOT NULL,
    sha1          TEXT NOT NULL,
    data          BYTEA NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX draft_attachments_draft ON draft_attachments (draft_id);

-- Submitted referrals: written in one transaction with their documents and the outbox row.
CREATE TABLE referrals (
    id                   TEXT PRIMARY KEY,
    referral_number      TEXT NOT NULL UNIQUE,
    draft_id             TEXT NOT NULL UNIQUE,
    session_id           TEXT NOT NULL,
    ehr_id               TEXT NOT NULL,
    patient_id           TEXT NOT NULL,
    service_id           TEXT NOT NULL,
    task_id              TEXT NOT NULL,
    task_status          TEXT NOT NULL,
    business_status      TEXT NOT NULL,
    service_request_json TEXT NOT NULL,
    task_json            TEXT NOT NULL,
    consent_json         TEXT NOT NULL,
    patient_json         TEXT NOT NULL,
    user_json            TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    revoked_at           BIGINT,
    appointment_json     TEXT,
    updated_at           BIGINT,
    practitioner_ref     TEXT,
    requester_ref        TEXT
);
CREATE INDEX referrals_patient ON referrals (ehr_id, patient_id);
CREATE INDEX referrals_practitioner ON referrals (ehr_id, practitioner_ref);
CREATE INDEX referrals_task ON referrals (task_id);

CREATE TABLE referral_documents (
    id                      TEXT PRIMARY KEY,
    referral_id             TEXT NOT NULL REFERENCES referrals (id),
    document_reference_json TEXT NOT NULL,
    filename                TEXT NOT NULL,
    content_type            TEXT NOT NULL,
    size                    BIGINT NOT NULL,
    sha1                    TEXT NOT NULL,
    data                    BYTEA NOT NULL,
    created_at              BIGINT NOT NULL
);
CREATE INDEX referral_documents_referral ON referral_documents (referral_id);

-- Referral numbers are reserved per draft before the referral is built.
CREATE TABLE referral_numbers (
    number     TEXT PRIMARY KEY,
    draft_id   TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- The referral's timeline.
CREATE TABLE referral_events (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    referral_id     TEXT NOT NULL REFERENCES referrals (id),
    at              BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    task_status     TEXT NOT NULL,
    business_status TEXT NOT NULL,
    text            TEXT,
    actor           TEXT
);
CREATE INDEX referral_events_referral ON referral_events (referral_id, seq);

-- Messages due to EHRs, each recorded with the change that caused it.
CREATE TABLE outbox (
    seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    message_header_id TEXT NOT NULL,
    referral_id       TEXT NOT NULL REFERENCES referrals (id),
    event             TEXT NOT NULL,
    ehr_id            TEXT NOT NULL,
    endpoint          TEXT NOT NULL,
    body              TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'pending',
    attempts          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT NOT NULL,
    lease_until       BIGINT NOT NULL DEFAULT 0,
    last_error        TEXT,
    rejection         TEXT,
    delivered_at      BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    lease_token       TEXT,
    cancel_requested  BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_referral ON outbox (referral_id, seq);
CREATE UNIQUE INDEX outbox_one_notify_add ON outbox (referral_id) WHERE event = 'notify-add-service-request';

CREATE TABLE outbox_attempts (
    seq           BIGINT NOT NULL,
    attempt       BIGINT NOT NULL,
    lease_token   TEXT NOT NULL,
    started_ms    BIGINT NOT NULL,
    lease_until   BIGINT NOT NULL,
    finished_ms   BIGINT,
    outcome       TEXT,
    PRIMARY KEY (seq, attempt)
);

-- Access tokens our token endpoint issued (only a SHA-256 of each), and used assertion jtis.
CREATE TABLE api_access_tokens (
    token_hash TEXT PRIMARY KEY,
    ehr_id     TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX api_access_tokens_expiry ON api_access_tokens (expires_at);

CREATE TABLE api_assertion_jtis (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX api_assertion_jtis_expiry ON api_assertion_jtis (expires_at);

-- Intake console accounts and their sign-in sessions; failed sign-ins for throttling.
CREATE TABLE staff_accounts (
    username      TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE TABLE staff_sessions (
    token_hash   TEXT PRIMARY KEY,
    username     TEXT NOT NULL REFERENCES staff_accounts (username) ON DELETE CASCADE,
    csrf         TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE staff_login_failures (
    username TEXT NOT NULL,
    at       BIGINT NOT NULL,
    client   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX staff_login_failures_user ON staff_login_failures (username, at);
CREATE INDEX staff_login_failures_client ON staff_login_failures (client, at);

-- Standalone launches (the EHR as identity provider) for "my referrals".
CREATE TABLE practitioner_sessions (
    id               TEXT PRIMARY KEY,
    binding_hash     TEXT NOT NULL,
    ehr_id           TEXT NOT NULL,
    practitioner_ref TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    last_seen_at     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX practitioner_sessions_expiry ON practitioner_sessions (expires_at);
