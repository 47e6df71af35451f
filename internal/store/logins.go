package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/obs"
)

// The failed API logins shared by the copies (login_failures; the policy
// and its reasons are in internal/obs, loginguard.go). A right password
// writes nothing here unless its login and address had failures.

// loginLockSQL is locked_until for a failure whose new count is n (an SQL
// expression) at now (an SQL expression of type BIGINT): obs.LoginLockFor
// spelt in SQL, so that concurrent failures from several copies count and
// lock in one statement.
func loginLockSQL(n, now string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CASE WHEN %s < %d THEN 0", n, obs.LoginFailuresBeforeLock)
	for f := obs.LoginFailuresBeforeLock; ; f++ {
		d := obs.LoginLockFor(f)
		if d >= obs.LoginLockMax {
			fmt.Fprintf(&b, " ELSE %s + %d END", now, d.Microseconds())
			return b.String()
		}
		fmt.Fprintf(&b, " WHEN %s = %d THEN %s + %d", n, f, now, d.Microseconds())
	}
}

var loginFailedSQL = func() string {
	// The count starts again at 1 when the last failure is forgotten.
	n := `(CASE WHEN login_failures.last_failure <= $5 THEN 1 ELSE login_failures.failures + 1 END)`
	return `INSERT INTO login_failures (surface, login, remote, failures, last_failure, locked_until)
		VALUES ($1, $2, $3, 1, $4, $6)
		ON CONFLICT (surface, login, remote) DO UPDATE SET failures = ` + n + `,
			last_failure = excluded.last_failure,
			locked_until = ` + loginLockSQL(n, "excluded.last_failure") + `
		WHERE login_failures.locked_until <= excluded.last_failure
		RETURNING failures, last_failure, locked_until`
}()

// LoginFailed counts a failed login of login from remote on surface at now
// and returns the count as it stands. While the key is locked (a copy that
// has not yet seen the lock checked a password) nothing changes and the
// lock is returned.
func (db *DB) LoginFailed(ctx context.Context, surface, login, remote string, now time.Time, forget time.Duration) (obs.LoginRecord, error) {
	r := obs.LoginRecord{Surface: surface, Login: login, Remote: remote}
	err := db.Write(ctx, func(tx *sql.Tx) error {
		var last, until int64
		err := tx.QueryRow(loginFailedSQL, surface, login, remote, Micros(now), Micros(now.Add(-forget)), lockMicros(now, 1)).Scan(&r.Failures, &last, &until)
		if errors.Is(err, sql.ErrNoRows) {
			err = tx.QueryRow(`SELECT failures, last_failure, locked_until FROM login_failures
				WHERE surface = $1 AND login = $2 AND remote = $3`, surface, login, remote).Scan(&r.Failures, &last, &until)
		}
		if err != nil {
			return fmt.Errorf("store: login failed: %w", err)
		}
		r.LastFailure, r.LockedUntil = FromMicros(last), lockTime(until)
		return nil
	})
	return r, err
}

// lockMicros is locked_until at the failures-th failure at now.
func lockMicros(now time.Time, failures int) int64 {
	if d := obs.LoginLockFor(failures); d > 0 {
		return Micros(now.Add(d))
	}
	return 0
}

func lockTime(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return FromMicros(us)
}

// LoginSucceeded forgets the failures of login from remote on surface.
func (db *DB) LoginSucceeded(ctx context.Context, surface, login, remote string) error {
	return db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DELETE FROM login_failures WHERE surface = $1 AND login = $2 AND remote = $3`,
			surface, login, remote); err != nil {
			return fmt.Errorf("store: login succeeded: %w", err)
		}
		return nil
	})
}

// LoginFailuresSince returns up to limit counts whose last failure is at or
// after since, the latest first.
func (db *DB) LoginFailuresSince(ctx context.Context, since time.Time, limit int) ([]obs.LoginRecord, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT surface, login, remote, failures, last_failure, locked_until
		FROM login_failures WHERE last_failure >= $1 ORDER BY last_failure DESC LIMIT $2`, Micros(since), limit)
	if err != nil {
		return nil, fmt.Errorf("store: login failures: %w", err)
	}
	defer rows.Close()
	var out []obs.LoginRecord
	for rows.Next() {
		var r obs.LoginRecord
		var last, until int64
		if err := rows.Scan(&r.Surface, &r.Login, &r.Remote, &r.Failures, &last, &until); err != nil {
			return nil, fmt.Errorf("store: login failures: %w", err)
		}
		r.LastFailure, r.LockedUntil = FromMicros(last), lockTime(until)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: login failures: %w", err)
	}
	return out, nil
}

// PurgeLoginFailures deletes up to limit counts whose last failure is
// before cutoff and returns how many.
func (db *DB) PurgeLoginFailures(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	var n int64
	err := db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM login_failures WHERE (surface, login, remote) IN
			(SELECT surface, login, remote FROM login_failures WHERE last_failure < $1 LIMIT $2)`, Micros(cutoff), limit)
		if err != nil {
			return fmt.Errorf("store: purge login failures: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
