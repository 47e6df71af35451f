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
