-- A payment by token records the token's use (last_used_at, at most once an
-- hour). The retention index was on last_used_at itself, so every recorded
-- use moved the token's entry in it; on PostgreSQL it also made the update a
-- non-HOT one: a new entry in each of the token's six indexes, on random
-- pages once the vault holds a million tokens. The purge only needs the
-- day: retention_day (last_used_at in whole days since 1970, UTC) is what
-- the index keeps, and it changes at most once a day per token.
ALTER TABLE tokens ADD COLUMN retention_day BIGINT NOT NULL DEFAULT 0;
UPDATE tokens SET retention_day = last_used_at / 86400000000;
DROP INDEX tokens_retention;
CREATE INDEX tokens_retention_day ON tokens (retention_day) WHERE status <> 'PURGED';
