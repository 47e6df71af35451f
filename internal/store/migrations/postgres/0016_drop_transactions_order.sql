-- No query reads transactions by order: Order/Get goes through payments
-- (payments_order), and each transaction names its payment. The index cost
-- every payment one more random B-tree page in the write path (order ids
-- are the merchant's, in no order).
DROP INDEX transactions_order;
