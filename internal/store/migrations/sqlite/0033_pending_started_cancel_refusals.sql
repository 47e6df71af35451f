-- pending_started_at is when the pending operation was claimed, kept until
-- its outcome is written: pending_since is also the recovery job's lease,
-- renewed at each of its claims (ClaimPendingOps), so it cannot tell how
-- long an operation has been pending (/metrics,
-- openpsp_pending_operation_oldest_seconds). Operations pending at the
-- upgrade start from their lease.
ALTER TABLE transactions ADD COLUMN pending_started_at BIGINT;
UPDATE transactions SET pending_started_at = pending_since WHERE pending_op <> '';

-- cancel_refusals counts the transaction's cancellations the acquirer
-- refused. The next cancellation's operation id is the count's
-- ("<uuid>-cancel", then "<uuid>-cancel-2" ...): the acquirer answers an
-- operation id with the outcome it already gave it, so a cancellation
-- asked again after a refusal must be a new one, while one not performed
-- (the acquirer unreachable) is sent again under its id. A refusal recovery
-- told before the upgrade (an AUTHORISED transaction with errorCode
-- ACQ_001) counts; one answered at once left no trace.
ALTER TABLE transactions ADD COLUMN cancel_refusals INTEGER NOT NULL DEFAULT 0;
UPDATE transactions SET cancel_refusals = 1 WHERE detailed_status = 'AUTHORISED' AND error_code = 'ACQ_001';
