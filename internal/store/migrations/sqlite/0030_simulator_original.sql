-- The test acquirer remembers what a refund refunded: the reference of its
-- capture (or sale). Cancelling a refund not yet remitted gives its amount
-- back to that capture, which can then be refunded again. '' for the other
-- operations and for refunds recorded before this column.
ALTER TABLE simulator_operations ADD COLUMN original_reference TEXT NOT NULL DEFAULT '';
