-- Optimistic locking of payments: UpdatePaymentState, which every write
-- transaction that changes a payment ends with, increments it and applies
-- only if the version read is still stored. The settle write of an
-- authorization then needs no re-read of the payment (see payment.settleKnown).
ALTER TABLE payments ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
