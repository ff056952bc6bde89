-- The referral's timeline: every status change the service makes, appointments, revocation.
CREATE TABLE referral_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    referral_id     TEXT NOT NULL REFERENCES referrals (id),
    at              INTEGER NOT NULL,
    kind            TEXT NOT NULL,      -- submitted | accepted | declined | booked | rebooked | attended | not_attended | completed | revoked
    task_status     TEXT NOT NULL,
    business_status TEXT NOT NULL,      -- BSeR code (2.0, 3.0, …)
    text            TEXT,               -- e.g. the decline reason, the appointment ("12 Dec 2026 09:30, Room 4")
    actor           TEXT                -- the staff member, or the source for a revoke
);
CREATE INDEX referral_events_referral ON referral_events (referral_id, seq);

-- The service's appointment for a referral (one, rebooked in place).
ALTER TABLE referrals ADD COLUMN appointment_json TEXT;
ALTER TABLE referrals ADD COLUMN updated_at INTEGER;

-- Intake console accounts (created with `server staff add`) and their sign-in sessions.
CREATE TABLE staff_accounts (
    username      TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,        -- argon2id PHC string
    created_at    INTEGER NOT NULL
);
CREATE TABLE staff_sessions (
    token_hash TEXT PRIMARY KEY,        -- SHA-256 of the cookie value
    username   TEXT NOT NULL REFERENCES staff_accounts (username) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,           -- the form token of this sign-in
    expires_at INTEGER NOT NULL
);
