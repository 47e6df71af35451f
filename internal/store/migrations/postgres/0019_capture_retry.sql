-- A capture the acquirer could not take (unavailable) was released and sent
-- again by the next run of the capture job, once a second for as long as
-- the acquirer was down. capture_failures counts those failures and
-- capture_retry_at (micros, NULL: at once) is when the capture job may send
-- it again: the delay grows with the failures.
ALTER TABLE transactions ADD COLUMN capture_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE transactions ADD COLUMN capture_retry_at BIGINT;
