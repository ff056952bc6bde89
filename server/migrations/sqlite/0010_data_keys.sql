-- Several instances and erasure on any store (issue 12).

-- Data keys: one per draft (shared by the referral made from it) and one per launch session,
-- wrapped under the master (token) key. PHI stored for them is sealed under the key; a revoke
-- deletes the referral's keys. Rows from before have no key and stay as they were.
CREATE TABLE data_keys (
    id         TEXT PRIMARY KEY,
    wrapped    BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
ALTER TABLE referral_drafts ADD COLUMN key_id TEXT;
ALTER TABLE referrals ADD COLUMN key_id TEXT;
ALTER TABLE launch_sessions ADD COLUMN key_id TEXT;
-- The purger destroys keys nothing refers to any more (their launch or draft was purged).
CREATE INDEX referral_drafts_key ON referral_drafts (key_id);
CREATE INDEX referrals_key ON referrals (key_id);
CREATE INDEX launch_sessions_key ON launch_sessions (key_id);
CREATE INDEX data_keys_created ON data_keys (created_at);

-- Facts about the store itself, e.g. a value sealed under the master key at first start, so an
-- instance configured with another key refuses to start instead of writing what others can't read.
CREATE TABLE store_meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- The first wizard page looks for a resumable draft of the same EHR, patient and user, newest
-- first. Only drafts someone typed in can be resumed: untouched ones (every launch makes one)
-- are left out of the index, so however many pile up the lookup reads one index entry.
DROP INDEX referral_drafts_owner;
CREATE INDEX referral_drafts_resumable ON referral_drafts (ehr_id, patient_id, user_ref, updated_at)
    WHERE revision > 0 AND status IN ('editing', 'timed_out');
