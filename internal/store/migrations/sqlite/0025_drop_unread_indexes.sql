-- Indexes no query reads, which every write of their table paid for:
-- no query selects transactions by parent_uuid (a refund reaches its debit
-- by uuid, a payment its transactions by payment_id), and every query on
-- tokens.expires_at also says status <> 'PURGED', which
-- tokens_temporary_live (0002) holds; tokens_temporary also listed the
-- purged tokens. TestQueriesKeepAnIndexWithoutTheDroppedOnes checks the
-- plans of the queries on those columns on both engines.
DROP INDEX transactions_parent;
DROP INDEX tokens_temporary;
