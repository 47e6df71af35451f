-- The built-in TEST acquirer's journal (internal/acquirer/simulator): what it
-- decided survives a restart and every openpsp copy sees one acquirer. No
-- card data. An operation id is performed once: the primary key makes a
-- concurrent duplicate lose and replay the winner's row. Later operations
-- find (and lock) their original by reference.
CREATE TABLE simulator_operations (
    operation_id TEXT PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    kind SMALLINT NOT NULL,
    approved BOOLEAN NOT NULL,
    response_code TEXT NOT NULL,
    authorization_number TEXT NOT NULL,
    message TEXT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    sale BOOLEAN NOT NULL,
    captured BIGINT NOT NULL,
    refunded BIGINT NOT NULL,
    cancelled BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);

-- Its 3-D Secure transactions, by dsTransID.
CREATE TABLE simulator_3ds (
    ds_trans_id TEXT PRIMARY KEY,
    brand TEXT NOT NULL,
    completed BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    eci TEXT NOT NULL,
    authentication_value TEXT NOT NULL,
    version TEXT NOT NULL,
    challenged BOOLEAN NOT NULL,
    liability_shift BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
