-- IPNs received by the TEST-mode demo merchant (/demo/ipn), kept in the
-- database so that every openpsp copy shows the same list.
CREATE TABLE demo_ipn (
    id TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL,
    order_id TEXT NOT NULL DEFAULT '',
    order_status TEXT NOT NULL DEFAULT '',
    hash_key TEXT NOT NULL DEFAULT '',
    signature_ok INTEGER NOT NULL,
    answer TEXT NOT NULL
);
CREATE INDEX demo_ipn_time ON demo_ipn (received_at);
