-- A deferred debit (capture date beyond the authorization's validity) has
-- its card checked at payment time and is authorized only the day before
-- its capture date. Lyra reports that check apart from the authorization,
-- as cardDetails.markAuthorizationResponse, and keeps it once the
-- authorization is made: mark_auth_* hold the check's authorization
-- number, acquirer response code, time (micros) and amount (minor units,
-- 0 for a zero-amount check), as auth_* hold the authorization's.
-- mark_auth_result is '' for a transaction without such a check.
ALTER TABLE transactions ADD COLUMN mark_auth_number TEXT NOT NULL DEFAULT '';
ALTER TABLE transactions ADD COLUMN mark_auth_result TEXT NOT NULL DEFAULT '';
ALTER TABLE transactions ADD COLUMN mark_auth_at BIGINT;
ALTER TABLE transactions ADD COLUMN mark_auth_amount BIGINT NOT NULL DEFAULT 0;
