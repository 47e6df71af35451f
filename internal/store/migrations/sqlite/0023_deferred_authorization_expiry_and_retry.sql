-- A deferred debit in manual validation (WAITING_AUTHORISATION_TO_VALIDATE)
-- that the merchant never validates expires at its capture date: the
-- expiry job (store.ExpiringToValidate) finds those by capture date, as it
-- finds the AUTHORISED_TO_VALIDATE ones by authorization expiry through
-- transactions_to_validate.
CREATE INDEX transactions_waiting_to_validate ON transactions (expected_capture_at)
    WHERE detailed_status = 'WAITING_AUTHORISATION_TO_VALIDATE';
