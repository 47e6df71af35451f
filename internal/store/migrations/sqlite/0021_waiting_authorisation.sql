-- Deferred payments whose capture date is beyond the authorization's
-- validity wait in WAITING_AUTHORISATION until the authorization job sends
-- their authorization the day before that date: the job finds them by
-- expected capture date.
CREATE INDEX transactions_authorization_due ON transactions (expected_capture_at)
    WHERE detailed_status = 'WAITING_AUTHORISATION';

-- Those transactions are status RUNNING for days or weeks; the recovery
-- job, which looks for RUNNING transactions still waiting for the
-- acquirer's answer (INITIAL), would step over every one of them at each
-- run through the index of all RUNNING rows. The index keeps the INITIAL
-- ones only, as the recovery query asks.
DROP INDEX transactions_running;
CREATE INDEX transactions_running ON transactions (updated_at) WHERE status = 'RUNNING' AND detailed_status = 'INITIAL';

-- The capture claim ranged over transactions_capture_due (expected capture
-- date) and filtered out, row by row, the captures waiting for their retry
-- time after a failure (0019) and those in flight: hundreds of them after
-- an acquirer outage, read again at every run of the job. Its key is now
-- when the capture may be sent (the retry time when later than the capture
-- date; store.captureDueAt, the same expression as the query's), and it
-- holds only captures not in flight.
DROP INDEX transactions_capture_due;
CREATE INDEX transactions_capture_ready ON transactions
    ((CASE WHEN capture_retry_at > expected_capture_at THEN capture_retry_at ELSE expected_capture_at END))
    WHERE detailed_status = 'AUTHORISED' AND pending_op = '';
