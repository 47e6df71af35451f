-- A deferred debit in manual validation (WAITING_AUTHORISATION_TO_VALIDATE)
-- that the merchant never validates expires at its capture date: the
-- expiry job (store.ExpiringToValidate) finds those by capture date, as it
-- finds the AUTHORISED_TO_VALIDATE ones by authorization expiry through
-- transactions_to_validate.
CREATE INDEX transactions_waiting_to_validate ON transactions (expected_capture_at)
    WHERE detailed_status = 'WAITING_AUTHORISATION_TO_VALIDATE';

-- A deferred authorization the acquirer could not take is retried with a
-- growing delay, as a capture is: capture_failures and capture_retry_at
-- (0019) count the failures of the transaction's pending operation,
-- whichever it is (store.PendingOpFailed). The authorization claim ranges
-- over an index keyed by when the authorization may be sent: a day before
-- the capture date (86400000000 micros, store.AuthorizeAhead), or the retry
-- time when later (store.authorizationDueAt, the same expression as the
-- query's), holding only those not in flight, so the scan stops at the
-- first one not due instead of stepping over every retry still waiting.
DROP INDEX transactions_authorization_due;
CREATE INDEX transactions_authorization_ready ON transactions
    ((CASE WHEN capture_retry_at > expected_capture_at - 86400000000 THEN capture_retry_at ELSE expected_capture_at - 86400000000 END))
    WHERE detailed_status = 'WAITING_AUTHORISATION' AND pending_op = '';
