-- Standalone launches (the EHR as identity provider): a practitioner's own sign-in, no patient,
-- to see "my referrals" across patients. Bound to the browser by a cookie, like launch sessions.
CREATE TABLE practitioner_sessions (
    id               TEXT PRIMARY KEY,          -- unguessable (256 bits), names the session in URLs
    binding_hash     TEXT NOT NULL,             -- SHA-256 of the cookie secret
    ehr_id           TEXT NOT NULL,
    practitioner_ref TEXT NOT NULL,             -- Practitioner/{id} of the signed-in user
    display_name     TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
);
CREATE INDEX practitioner_sessions_expiry ON practitioner_sessions (expires_at);

-- Who a referral belongs to, for "my referrals": the launched user's Practitioner, and the
-- requester's reference as written in the ServiceRequest.
ALTER TABLE referrals ADD COLUMN practitioner_ref TEXT;
ALTER TABLE referrals ADD COLUMN requester_ref TEXT;
UPDATE referrals SET
    practitioner_ref = 'Practitioner/' || json_extract(user_json, '$.practitioner.id'),
    requester_ref = json_extract(service_request_json, '$.requester.reference');
CREATE INDEX referrals_practitioner ON referrals (ehr_id, practitioner_ref);
