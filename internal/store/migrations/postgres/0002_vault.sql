-- Temporary tokens that still hold card data, for the expiry job: the 0001
-- index tokens_temporary also lists purged ones, which pile up over time.
CREATE INDEX tokens_temporary_live ON tokens (expires_at) WHERE expires_at IS NOT NULL AND status <> 'PURGED';
