-- pending_started_at is when the pending operation was claimed, kept until
-- its outcome is written: pending_since is also the recovery job's lease,
-- renewed at each of its claims (ClaimPendingOps), so it cannot tell how
-- long an operation has been pending (/metrics,
-- openpsp_pending_operation_oldest_seconds). Operations pending at the
-- upgrade start from their lease.
ALTER TABLE transactions ADD COLUMN pending_started_at BIGINT;
UPDATE transactions SET pending_started_at = pending_since WHERE pending_op <> '';

-- cancel_attempts counts the cancellations sent for the transaction: each
-- has its own operation id ("<uuid>-cancel", then "<uuid>-cancel-2" ...),
-- since the acquirer answers an operation id with the outcome it already
-- gave it, so that a cancellation it refused can be asked again. One
-- pending at the upgrade, or refused and told by recovery (an AUTHORISED
-- transaction with errorCode ACQ_001), was the first.
ALTER TABLE transactions ADD COLUMN cancel_attempts INTEGER NOT NULL DEFAULT 0;
UPDATE transactions SET cancel_attempts = 1 WHERE pending_op = 'CANCEL';
UPDATE transactions SET cancel_attempts = 1 WHERE detailed_status = 'AUTHORISED' AND error_code = 'ACQ_001';
