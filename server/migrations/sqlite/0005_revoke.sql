-- Revoked referrals (patient consent withdrawn): their personal health information is removed and
-- a tombstone with ids and status is kept. Outbox rows of a revoked referral can be `cancelled`.
ALTER TABLE referrals ADD COLUMN revoked_at INTEGER;
