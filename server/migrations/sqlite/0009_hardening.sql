-- Trust under a hostile or imperfect EHR (issue 11).

-- The OAuth state is bound to the browser that called /launch: the SHA-256 of a cookie secret,
-- and, for browsers that send no cookies, a fingerprint of the client's address and User-Agent.
ALTER TABLE pending_launches ADD COLUMN binding_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE pending_launches ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';

-- Launch sessions: the same fingerprint (checked when the browser sends no cookie), and when the
-- browser was last active (the server ends idle sessions, scripts or not).
ALTER TABLE launch_sessions ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
ALTER TABLE launch_sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE practitioner_sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE staff_sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;

-- Outbox leases: each claim gets a token that every result write must match, so a worker whose
-- lease ran out can never overwrite the next holder's result. A revoke that meets a message in
-- flight asks for it to be cancelled once its attempt ends, instead of pulling it away.
ALTER TABLE outbox ADD COLUMN lease_token TEXT;
ALTER TABLE outbox ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;

-- Every delivery attempt: when it started and ended (milliseconds), under which lease, and how it
-- went (no PHI). Operators see the history; tests check that attempts never overlap.
CREATE TABLE outbox_attempts (
    seq           INTEGER NOT NULL,           -- outbox.seq
    attempt       INTEGER NOT NULL,
    lease_token   TEXT NOT NULL,
    started_ms    INTEGER NOT NULL,
    lease_until   INTEGER NOT NULL,           -- unix seconds
    finished_ms   INTEGER,                    -- NULL: the process died (or is still trying)
    outcome       TEXT,                       -- delivered | retry | rejected | cancelled | deadline
    PRIMARY KEY (seq, attempt)
);

-- Console sign-in failures also counted per client address.
ALTER TABLE staff_login_failures ADD COLUMN client TEXT NOT NULL DEFAULT '';
CREATE INDEX staff_login_failures_client ON staff_login_failures (client, at);

-- Referral numbers are reserved before the referral is built: a collision (they are random, about
-- 40 bits) draws another number instead of failing the submit, and a retried submit of the same
-- draft keeps its number.
CREATE TABLE referral_numbers (
    number     TEXT PRIMARY KEY,
    draft_id   TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
INSERT INTO referral_numbers (number, draft_id, created_at) SELECT referral_number, draft_id, created_at FROM referrals;
