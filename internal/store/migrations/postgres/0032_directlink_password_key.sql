-- DirectLink API passwords were stored as an unsalted SHA-256, which a
-- precomputed table reverses for a password an operator chose. The
-- verifier is now HMAC-SHA256 under a random per-account key sealed with
-- the account's data key, over a random salt and the SHA-256 of the
-- password (internal/shop, directLinkVerifier). Rows with an empty
-- api_password_key_sealed still hold the old digest; the first start after
-- this migration rewrites them (the old digest is the inner SHA-256), and
-- until then they keep authenticating.
ALTER TABLE shop_ogone ADD COLUMN api_password_salt BYTEA NOT NULL DEFAULT ''::bytea;
ALTER TABLE shop_ogone ADD COLUMN api_password_key_sealed BYTEA NOT NULL DEFAULT ''::bytea;
