-- The check value of the card-fingerprint key the stored fingerprints were
-- made with (HMAC of a fixed label, never the key), and where that key came
-- from: a copy started with another fingerprint key would silently stop
-- recognising the cards already stored, so startup compares (internal/app).
CREATE TABLE fingerprint_key_check (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key_check TEXT NOT NULL,
    source TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
