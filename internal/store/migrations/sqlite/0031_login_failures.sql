-- Failed API logins (V4 Basic auth, DirectLink USERID/PSWD), shared by all
-- copies so that N copies do not give N times the guesses and a restart
-- does not forget a lock (internal/obs, loginguard.go). One row per
-- surface, login and address with a recent failure; a right password
-- deletes it; the logins.forget job deletes the rows whose last failure is
-- older than the forget period. Times are Unix microseconds; locked_until
-- is 0 when not locked.
CREATE TABLE login_failures (
    surface TEXT NOT NULL,
    login TEXT NOT NULL,
    remote TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_failure BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (surface, login, remote)
);
-- The copies' refresh (failures since a moment) and the forget job.
CREATE INDEX login_failures_last_failure ON login_failures (last_failure);
