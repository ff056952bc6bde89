-- Delivery of messages to EHRs. The outbox row now holds the whole message (built and checked at
-- submit, in the submit transaction), so every retry sends exactly the same Bundle and
-- MessageHeader ids. `seq` orders the messages of one referral (they are delivered in order);
-- `lease_until` lets a process that dies mid-delivery leave the message to be retried.
CREATE TABLE outbox_v2 (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    id                TEXT NOT NULL UNIQUE,           -- the Bundle id, reused on every retry
    message_header_id TEXT NOT NULL,
    referral_id       TEXT NOT NULL REFERENCES referrals (id),
    event             TEXT NOT NULL,                  -- e.g. notify-add-service-request
    ehr_id            TEXT NOT NULL,
    endpoint          TEXT NOT NULL,                  -- the EHR's $process-message URL
    body              TEXT NOT NULL,                  -- the Bundle, as sent
    status            TEXT NOT NULL DEFAULT 'pending', -- pending | delivered | rejected
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   INTEGER NOT NULL,
    lease_until       INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,                           -- why the last attempt failed (no PHI)
    rejection         TEXT,                           -- the EHR's explanation when it rejected the message
    delivered_at      INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
-- Rows from before messages were stored have no body: they stay visible but are never sent.
INSERT INTO outbox_v2 (id, message_header_id, referral_id, event, ehr_id, endpoint, body, status, attempts,
                       next_attempt_at, created_at, updated_at)
SELECT id, id, referral_id, event, ehr_id, '', '', CASE status WHEN 'failed' THEN 'rejected' ELSE status END,
       attempts, next_attempt_at, created_at, created_at
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v2 RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_referral ON outbox (referral_id, seq);
-- One notify-add-service-request per referral, ever.
CREATE UNIQUE INDEX outbox_one_notify_add ON outbox (referral_id) WHERE event = 'notify-add-service-request';
