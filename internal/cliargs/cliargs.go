// Package cliargs checks the arguments of operator commands before they
// reach a database.
package cliargs

import (
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
