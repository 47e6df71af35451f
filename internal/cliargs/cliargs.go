// Package cliargs checks the arguments of operator commands before they
// reach a database.
package cliargs

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// CheckUTF8 refuses an argument that is not UTF-8 text (a Latin-1
// terminal's "Café"): PostgreSQL answers such bytes with its driver's error,
// and SQLite would keep them for the buyer's pages. cmd names the command in
// the error ("shops create").
func CheckUTF8(cmd string, args []string) error {
	for _, a := range args {
		if !utf8.ValidString(a) {
			return fmt.Errorf("%s: the argument %q is not UTF-8 text (is the terminal set to UTF-8?)", cmd, a)
		}
	}
	return nil
}

// ErrUsage marks an error in a command line itself (a missing or unknown
// word, a flag that does not parse, a value no record can have): the
// command answers it as a usage error, before any database is opened.
var ErrUsage = errors.New("wrong command line")

// Usage is a mistake in the command line of cmd ("ogone templates"); its
// message is "cmd: mistake", and errors.Is(err, ErrUsage) holds.
func Usage(cmd string, mistake error) error {
	return usageError{cmd, mistake}
}

type usageError struct {
	cmd string
	err error
}

func (e usageError) Error() string        { return e.cmd + ": " + e.err.Error() }
func (e usageError) Unwrap() error        { return e.err }
func (e usageError) Is(target error) bool { return target == ErrUsage }
