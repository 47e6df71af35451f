-- Foundation schema. Times are BIGINT microseconds since the Unix epoch (UTC),
-- money is BIGINT minor units beside an ISO 4217 code, ids are UUIDv7 text.

CREATE TABLE shops (
    id TEXT PRIMARY KEY,                 -- 8-digit shop id
    name TEXT NOT NULL,
    currency TEXT NOT NULL,
    language TEXT NOT NULL,
    primary_email TEXT NOT NULL DEFAULT '',
    primary_phone TEXT NOT NULL DEFAULT '',
    notification_url TEXT NOT NULL DEFAULT '',
    logo_url TEXT NOT NULL DEFAULT '',
    settings TEXT NOT NULL DEFAULT '{}', -- JSON of shop.Settings
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- REST API V4 keys, one row per mode. Secrets that OpenPSP must use again
-- (the password signs IPNs, the HMAC key signs browser returns) are sealed
-- with the keyring; the password is also kept as a SHA-256 digest so that
-- authenticating a request needs no decryption.
CREATE TABLE shop_api_keys (
    shop_id TEXT NOT NULL REFERENCES shops(id),
    mode TEXT NOT NULL CHECK (mode IN ('TEST', 'PRODUCTION')),
    password_digest BLOB NOT NULL,
    password_sealed BLOB NOT NULL,
    public_key TEXT NOT NULL,
    hmac_key_sealed BLOB NOT NULL,
    data_key_id TEXT NOT NULL,
    rotated_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, mode)
);
CREATE UNIQUE INDEX shop_api_keys_public ON shop_api_keys (public_key);

-- Ogone-style account: PSPID, SHA passphrases, DirectLink API user.
CREATE TABLE shop_ogone (
    shop_id TEXT PRIMARY KEY REFERENCES shops(id),
    pspid TEXT NOT NULL UNIQUE,
    sha_algorithm TEXT NOT NULL CHECK (sha_algorithm IN ('SHA-1', 'SHA-256', 'SHA-512')),
    sha_in_sealed BLOB NOT NULL,
    sha_out_sealed BLOB NOT NULL,
    api_user TEXT NOT NULL,
    api_password_digest BLOB NOT NULL,
    data_key_id TEXT NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}',
    updated_at BIGINT NOT NULL
);

-- Envelope encryption: one data key per sealed record, wrapped by a master
-- key of the keyring. Rotation rewraps these rows and nothing else.
CREATE TABLE data_keys (
    id TEXT PRIMARY KEY,
    master_key_id TEXT NOT NULL,
    wrapped BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    rewrapped_at BIGINT
);
CREATE INDEX data_keys_master ON data_keys (master_key_id, id);

-- The card vault. Card data is only in ciphertext (sealed under data_key_id
-- with the shop and token as associated data); PURGED rows keep the masked
-- details for the merchant's history and lose the ciphertext and data key.
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    shop_id TEXT NOT NULL REFERENCES shops(id),
    token TEXT NOT NULL,
    mode TEXT NOT NULL,
    method TEXT NOT NULL DEFAULT 'CARD',     -- CARD | SDD
    status TEXT NOT NULL,                    -- ACTIVE | CANCELLED | PURGED (EXPIRED is derived from the expiry)
    brand TEXT NOT NULL DEFAULT '',
    brands TEXT NOT NULL DEFAULT '',         -- every brand of a co-badged card, comma-separated
    pan_masked TEXT NOT NULL DEFAULT '',
    bin TEXT NOT NULL DEFAULT '',
    last4 TEXT NOT NULL DEFAULT '',
    expiry_month INTEGER NOT NULL DEFAULT 0,
    expiry_year INTEGER NOT NULL DEFAULT 0,
    holder_name TEXT NOT NULL DEFAULT '',
    fingerprint BLOB,
    data_key_id TEXT,
    ciphertext BLOB,
    customer_reference TEXT,                 -- wallet membership; NULL: not in a wallet
    customer TEXT NOT NULL DEFAULT '{}',     -- JSON: email, billingDetails … carried to wallet payments
    origin TEXT NOT NULL DEFAULT '',         -- V4 | FLEXCHECKOUT | DIRECTLINK
    origin_order_id TEXT NOT NULL DEFAULT '',
    initial_transaction_uuid TEXT NOT NULL DEFAULT '',
    store_permanently INTEGER NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at BIGINT,                       -- temporary tokens: deleted after this time
    cancelled_at BIGINT,
    purged_at BIGINT
);
CREATE UNIQUE INDEX tokens_shop_token ON tokens (shop_id, token);
CREATE INDEX tokens_wallet ON tokens (shop_id, customer_reference) WHERE customer_reference IS NOT NULL;
CREATE INDEX tokens_fingerprint ON tokens (shop_id, fingerprint);
CREATE INDEX tokens_retention ON tokens (last_used_at) WHERE status <> 'PURGED';
CREATE INDEX tokens_temporary ON tokens (expires_at) WHERE expires_at IS NOT NULL;

-- A payment: what Charge/CreatePayment (or a DirectLink order) asks for; the
-- formToken context and the PayZen "order" for one attempt cycle.
CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    shop_id TEXT NOT NULL REFERENCES shops(id),
    mode TEXT NOT NULL,
    order_id TEXT NOT NULL DEFAULT '',
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    form_action TEXT NOT NULL DEFAULT 'PAYMENT',
    order_status TEXT NOT NULL,              -- UNPAID | RUNNING | PAID | ABANDONED
    order_cycle TEXT NOT NULL,               -- OPEN | CLOSED
    customer TEXT NOT NULL DEFAULT '{}',
    options TEXT NOT NULL DEFAULT '{}',      -- JSON: capture delay, manual validation, URLs, metadata …
    form_token TEXT UNIQUE,
    form_expires_at BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX payments_order ON payments (shop_id, order_id);

CREATE TABLE transactions (
    uuid TEXT PRIMARY KEY,                   -- 32 hex
    shop_id TEXT NOT NULL REFERENCES shops(id),
    payment_id TEXT NOT NULL REFERENCES payments(id),
    parent_uuid TEXT,
    mode TEXT NOT NULL,
    order_id TEXT NOT NULL DEFAULT '',
    operation_type TEXT NOT NULL,            -- DEBIT | CREDIT | VERIFICATION
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,                    -- PAID | UNPAID | RUNNING
    detailed_status TEXT NOT NULL,
    token TEXT NOT NULL DEFAULT '',
    payment_method_source TEXT NOT NULL DEFAULT 'NEW',
    brand TEXT NOT NULL DEFAULT '',
    pan_masked TEXT NOT NULL DEFAULT '',
    expiry_month INTEGER NOT NULL DEFAULT 0,
    expiry_year INTEGER NOT NULL DEFAULT 0,
    manual_validation INTEGER NOT NULL DEFAULT 0,
    expected_capture_at BIGINT,
    auth_expires_at BIGINT,
    auth_number TEXT NOT NULL DEFAULT '',
    auth_result TEXT NOT NULL DEFAULT '',
    auth_at BIGINT,
    acquirer_ref TEXT NOT NULL DEFAULT '',
    captured_amount BIGINT NOT NULL DEFAULT 0,
    captured_at BIGINT,
    refunded_amount BIGINT NOT NULL DEFAULT 0,
    three_ds TEXT NOT NULL DEFAULT '',
    error_code TEXT NOT NULL DEFAULT '',
    error_message TEXT NOT NULL DEFAULT '',
    detailed_error_code TEXT NOT NULL DEFAULT '',
    detailed_error_message TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}',
    sequence_number INTEGER NOT NULL DEFAULT 1,
    version INTEGER NOT NULL DEFAULT 1,      -- optimistic locking
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX transactions_payment ON transactions (payment_id, created_at);
CREATE INDEX transactions_order ON transactions (shop_id, order_id);
CREATE INDEX transactions_capture_due ON transactions (expected_capture_at) WHERE detailed_status = 'AUTHORISED';
CREATE INDEX transactions_running ON transactions (updated_at) WHERE status = 'RUNNING';
CREATE INDEX transactions_to_validate ON transactions (auth_expires_at) WHERE detailed_status = 'AUTHORISED_TO_VALIDATE';

-- Transactional outbox: written in the same transaction as the change it
-- announces, delivered later with retries. ordering_key keeps messages of one
-- payment in order.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    shop_id TEXT NOT NULL,
    channel TEXT NOT NULL,                   -- ipn | webhook | email | sms
    event TEXT NOT NULL,
    ordering_key TEXT NOT NULL DEFAULT '',
    target TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'PENDING',  -- PENDING | DELIVERED | DEAD
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0,
    locked_by TEXT NOT NULL DEFAULT '',
    last_error TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX outbox_ordering ON outbox (ordering_key, created_at) WHERE status = 'PENDING';

CREATE TABLE outbox_attempts (
    id TEXT PRIMARY KEY,
    outbox_id TEXT NOT NULL REFERENCES outbox(id),
    attempted_at BIGINT NOT NULL,
    status_code INTEGER NOT NULL DEFAULT 0,
    latency_us BIGINT NOT NULL DEFAULT 0,
    response_excerpt TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_attempts_message ON outbox_attempts (outbox_id, attempted_at);

-- Idempotency-Key support: the first answer to a key is replayed for 24 hours.
CREATE TABLE idempotency_keys (
    shop_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL,                     -- RUNNING | DONE
    response TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, idem_key)
);
CREATE INDEX idempotency_expiry ON idempotency_keys (expires_at);

-- Errors an operator can read (e.g. FlexCheckout duplicate ORDERID refusals).
CREATE TABLE error_log (
    id TEXT PRIMARY KEY,
    shop_id TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE INDEX error_log_time ON error_log (created_at);
