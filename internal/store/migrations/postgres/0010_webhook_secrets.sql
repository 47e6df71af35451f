-- Per-shop secrets that sign webhooks (OpenPSP-Signature). During a
-- rollover two are valid: the new one, and the previous one until expires_at.
CREATE TABLE shop_webhook_secrets (
    id TEXT PRIMARY KEY,
    shop_id TEXT NOT NULL REFERENCES shops(id),
    secret_sealed BYTEA NOT NULL,
    data_key_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE INDEX shop_webhook_secrets_shop ON shop_webhook_secrets (shop_id, created_at);
