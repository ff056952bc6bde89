-- Referral entry: one draft per launch, autosaved; attachments kept with it.
CREATE TABLE referral_drafts (
    id               TEXT PRIMARY KEY,              -- UUID
    session_id       TEXT NOT NULL UNIQUE,          -- the launch it belongs to (a resumed draft moves here)
    previous_session TEXT,                          -- the launch it was resumed from, if any
    ehr_id           TEXT NOT NULL,
    patient_id       TEXT NOT NULL,
    user_ref         TEXT NOT NULL,
    status           TEXT NOT NULL,                 -- editing | submitted | cancelled | timed_out
    step             TEXT NOT NULL,                 -- the step the clinician is on
    form_json        TEXT NOT NULL,                 -- app::referral::form::ReferralForm, as typed
    errors_json      TEXT NOT NULL DEFAULT '[]',    -- the last post's field errors (shown once)
    revision         INTEGER NOT NULL DEFAULT 0,    -- bumped by every save
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL               -- purged after this unless submitted
);
CREATE INDEX referral_drafts_owner ON referral_drafts (ehr_id, patient_id, user_ref, status);
CREATE INDEX referral_drafts_expiry ON referral_drafts (expires_at);
CREATE INDEX referral_drafts_previous ON referral_drafts (previous_session);

CREATE TABLE draft_attachments (
    id            TEXT PRIMARY KEY,
    draft_id      TEXT NOT NULL REFERENCES referral_drafts (id) ON DELETE CASCADE,
    filename      TEXT NOT NULL,
    content_type  TEXT NOT NULL,                    -- from the file's content, not the browser's claim
    size          INTEGER NOT NULL,
    sha1          TEXT NOT NULL,                    -- base64, as FHIR Attachment.hash
    data          BLOB NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX draft_attachments_draft ON draft_attachments (draft_id);

-- Submitted referrals: written in one transaction with their documents and the outbox row.
CREATE TABLE referrals (
    id                   TEXT PRIMARY KEY,          -- the ServiceRequest id
    referral_number      TEXT NOT NULL UNIQUE,      -- our identifier value, shown to clinicians
    draft_id             TEXT NOT NULL UNIQUE,      -- one referral per draft: a repeated submit finds it
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
    patient_json         TEXT NOT NULL,             -- the Patient as read from the EHR at launch
    user_json            TEXT NOT NULL,             -- the launched user (Practitioner, PractitionerRole)
    created_at           INTEGER NOT NULL
);
CREATE INDEX referrals_patient ON referrals (ehr_id, patient_id);

CREATE TABLE referral_documents (
    id                      TEXT PRIMARY KEY,       -- the DocumentReference id (and Binary id)
    referral_id             TEXT NOT NULL REFERENCES referrals (id),
    document_reference_json TEXT NOT NULL,
    filename                TEXT NOT NULL,
    content_type            TEXT NOT NULL,
    size                    INTEGER NOT NULL,
    sha1                    TEXT NOT NULL,
    data                    BLOB NOT NULL,
    created_at              INTEGER NOT NULL
);
CREATE INDEX referral_documents_referral ON referral_documents (referral_id);

-- Messages due to EHRs. Issue 6's worker delivers them; submit records that one is due.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,               -- also the Bundle id, reused on every retry
    referral_id     TEXT NOT NULL REFERENCES referrals (id),
    event           TEXT NOT NULL,                  -- e.g. notify-add-service-request
    ehr_id          TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending', -- pending | delivered | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (referral_id, event)
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
