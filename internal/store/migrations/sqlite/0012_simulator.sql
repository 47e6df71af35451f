-- The built-in TEST acquirer's journal (internal/acquirer/simulator): what it
-- decided survives a restart and every openpsp copy sees one acquirer. No
-- card data. An operation id is performed once: the primary key makes a
-- concurrent duplicate lose and replay the winner's row. Later operations
-- find their original by reference.
CREATE TABLE simulator_operations (
    operation_id TEXT PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    kind INTEGER NOT NULL,
    approved INTEGER NOT NULL,
    response_code TEXT NOT NULL,
    authorization_number TEXT NOT NULL,
    message TEXT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    sale INTEGER NOT NULL,
    captured BIGINT NOT NULL,
    refunded BIGINT NOT NULL,
    cancelled INTEGER NOT NULL,
    created_at BIGINT NOT NULL
) WITHOUT ROWID;

-- Its 3-D Secure transactions, by dsTransID.
CREATE TABLE simulator_3ds (
    ds_trans_id TEXT PRIMARY KEY,
    brand TEXT NOT NULL,
    completed INTEGER NOT NULL,
    status TEXT NOT NULL,
    eci TEXT NOT NULL,
    authentication_value TEXT NOT NULL,
    version TEXT NOT NULL,
    challenged INTEGER NOT NULL,
    liability_shift INTEGER NOT NULL,
    created_at BIGINT NOT NULL
) WITHOUT ROWID;
