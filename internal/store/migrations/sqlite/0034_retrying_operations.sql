-- /metrics counts the captures and deferred authorizations the acquirer
-- could not take that wait for their retry time (capture_retry_at, 0019):
-- released, they are not pending, so an acquirer down for hours showed in
-- no metric. Found through transactions_capture_ready or
-- transactions_authorization_ready, they sort among every capture still to
-- come; this index holds only them (a handful, hundreds during an outage),
-- with the predicate store.retryingOpsQuery repeats word for word.
CREATE INDEX transactions_retrying ON transactions (detailed_status)
    WHERE capture_retry_at IS NOT NULL AND pending_op = '' AND detailed_status IN ('AUTHORISED', 'WAITING_AUTHORISATION');
