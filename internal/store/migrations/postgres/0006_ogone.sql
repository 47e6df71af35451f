-- Ogone: FlexCheckout page sessions, the duplicate ALIAS.ORDERID check,
-- merchant templates, and DirectLink orders (PAYID) over the payments the
-- V4 API sees. Aliases themselves are rows of tokens (the one vault).

-- One FlexCheckout page between its signed request and the buyer's submit.
-- request is the validated input (JSON, no card data); the id is the
-- unguessable handle the page carries.
CREATE TABLE ogone_flex_sessions (
    id TEXT PRIMARY KEY,
    shop_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    request TEXT NOT NULL,
    state TEXT NOT NULL,                     -- OPEN | DONE
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX ogone_flex_sessions_expiry ON ogone_flex_sessions (expires_at);

-- ALIAS.ORDERIDs that created or updated an alias (document 004 §3.1.1).
CREATE TABLE ogone_alias_orders (
    shop_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    order_id TEXT NOT NULL,
    alias TEXT NOT NULL,
    session_id TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, mode, order_id)
);

-- Merchant templates (LAYOUT.TEMPLATENAME), stored sanitised.
CREATE TABLE ogone_templates (
    shop_id TEXT NOT NULL REFERENCES shops(id),
    name TEXT NOT NULL,
    html TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, name)
);

-- DirectLink orders: the PAYID merchants know, bound to the payment and its
-- DEBIT transaction.
CREATE TABLE ogone_orders (
    payid BIGINT PRIMARY KEY,
    shop_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    order_id TEXT NOT NULL,
    payment_id TEXT NOT NULL DEFAULT '',
    transaction_uuid TEXT NOT NULL DEFAULT '',
    operation TEXT NOT NULL,
    status INTEGER NOT NULL,
    alias TEXT NOT NULL DEFAULT '',
    eci TEXT NOT NULL DEFAULT '',
    pm TEXT NOT NULL DEFAULT '',
    brand TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX ogone_orders_order ON ogone_orders (shop_id, mode, order_id);

-- Maintenance operations of an order, numbered by PAYIDSUB.
CREATE TABLE ogone_order_ops (
    payid BIGINT NOT NULL,
    payidsub INTEGER NOT NULL,
    operation TEXT NOT NULL,
    amount BIGINT NOT NULL,
    status INTEGER NOT NULL,
    ncerror TEXT NOT NULL DEFAULT '0',
    transaction_uuid TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (payid, payidsub)
);

CREATE INDEX error_log_shop ON error_log (shop_id, created_at);
CREATE INDEX error_log_source ON error_log (source, created_at);
