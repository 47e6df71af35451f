-- Card payments core (internal/payment).
--
-- order_guard is "MODE:orderId" on a DEBIT whose shop refuses a second paid
-- payment for the same orderId (NULL otherwise). The partial unique index
-- lets at most one such DEBIT be in flight or paid: concurrent copies racing
-- on the same order cannot both reach the acquirer, whatever the engine.
ALTER TABLE transactions ADD COLUMN order_guard TEXT;
CREATE UNIQUE INDEX transactions_order_guard ON transactions (shop_id, order_guard)
    WHERE order_guard IS NOT NULL AND status IN ('RUNNING', 'PAID');

-- One payment (one formToken) never holds two live debits or verifications:
-- a double-clicked pay button loses at the insert, before the acquirer.
CREATE UNIQUE INDEX transactions_payment_live ON transactions (payment_id)
    WHERE operation_type IN ('DEBIT', 'VERIFICATION') AND status IN ('RUNNING', 'PAID');

-- An acquirer operation on an existing transaction (CAPTURE, CANCEL) is
-- claimed here before the call and cleared when its outcome is written;
-- pending_op_id is the operation id sent, so a retry after a crash repeats
-- the same id and the acquirer never performs it twice.
ALTER TABLE transactions ADD COLUMN pending_op TEXT NOT NULL DEFAULT '';
ALTER TABLE transactions ADD COLUMN pending_op_id TEXT NOT NULL DEFAULT '';
ALTER TABLE transactions ADD COLUMN pending_since BIGINT;
CREATE INDEX transactions_pending ON transactions (pending_since) WHERE pending_op <> '';

-- What the acquirer authorized (amount may be lowered afterwards) and the
-- acquirer's reference of the capture, which refunds refer to.
ALTER TABLE transactions ADD COLUMN auth_amount BIGINT NOT NULL DEFAULT 0;
ALTER TABLE transactions ADD COLUMN capture_ref TEXT NOT NULL DEFAULT '';
CREATE INDEX transactions_parent ON transactions (parent_uuid) WHERE parent_uuid IS NOT NULL;

-- Idempotency-Key: the web service the key was first used with, and the
-- lease of the call still running (another copy may take over a RUNNING key
-- whose lease has passed: its process died).
ALTER TABLE idempotency_keys ADD COLUMN web_service TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN locked_until BIGINT NOT NULL DEFAULT 0;
