package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/openpsp/openpsp/internal/app"
)

const keysUsage = `usage:
  openpsp keys generate   print a new master key "kid:base64" for OPENPSP_MASTER_KEYS
  openpsp keys status     the keyring's keys and how many data keys each wraps
  openpsp keys rotate     add a new primary master key to the keyring file and rewrap every data key under it
                          (runs while payments continue; safe to interrupt and run again)
  openpsp keys rewrap     finish a rewrap: every data key under the primary key (after adding a key to OPENPSP_MASTER_KEYS)`

func keys(ctx context.Context, args []string) error {
	if ok, err := helpOnly(args, keysUsage); ok {
		return err
	}
	// Before the database is looked for: a mistyped word is not a
	// missing database.
	if err := unknownSubcommand("keys", args, []string{"generate", "status", "rotate", "rewrap"}, keysUsage); err != nil {
		return err
	}
	if asksHelp(args[1:]) {
		_, err := helpOnly([]string{"-h"}, keysUsage)
		return err
	}
	if len(args) > 1 {
		return wrongInput("keys "+args[0], fmt.Errorf("unexpected arguments %q", args[1:]), keysUsage)
	}
	if args[0] == "generate" {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return err
		}
		fmt.Printf("k%s:%s\n", time.Now().UTC().Format("20060102150405"), base64.StdEncoding.EncodeToString(k))
		return nil
	}
	// A keyring whose fingerprint key is also a master key is refused
	// everywhere else; these commands are how it is repaired.
	a, _, err := openForCommandWith(ctx, nil, app.Options{KeyMaintenance: true})
	if err != nil {
		return err
	}
	defer a.Close()
	switch args[0] {
	case "status":
		counts, err := a.DB.DataKeyCounts(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("primary master key: %s\n", a.Keys.PrimaryID())
		for _, id := range a.Keys.KeyIDs() {
			fmt.Printf("  %-24s wraps %d data keys\n", id, counts[id])
			delete(counts, id)
		}
		for id, n := range counts {
			fmt.Printf("  %-24s wraps %d data keys  (NOT IN THE KEYRING: these records cannot be decrypted)\n", id, n)
		}
		return nil
	case "rotate":
		if a.Config.MasterKeys != "" {
			return fmt.Errorf("master keys come from OPENPSP_MASTER_KEYS: add a key from `openpsp keys generate` at the end of that list, restart the servers, then run `openpsp keys rewrap`")
		}
		if err := a.Vault.RotateMasterKey(ctx, progressPrinter("rewrapping data keys")); err != nil {
			return err
		}
		// Its id only: the key itself stays in the keyring file.
		fmt.Printf("new primary master key: %s\nevery data key is wrapped under it (`openpsp keys status` shows the counts)\n", a.Keys.PrimaryID())
		return nil
	case "rewrap":
		return rewrap(ctx, a)
	}
	fmt.Fprintln(os.Stderr, keysUsage)
	return errUsage
}

// rewrap rewraps every data key under the primary master key, then says
// what it did: how many it rewrapped and from which master keys (ids only),
// and how many were already under the primary.
func rewrap(ctx context.Context, a *app.App) error {
	before, err := a.DB.DataKeyCounts(ctx)
	if err != nil {
		return err
	}
	show := progressPrinter("rewrapping data keys")
	rewrapped := 0
	if err := a.Vault.RewrapAll(ctx, func(done, total int) {
		rewrapped = done
		show(done, total)
	}); err != nil {
		return err
	}
	primary := a.Keys.PrimaryID()
	var from []string
	for id, n := range before {
		if id != primary && n > 0 {
			from = append(from, id)
		}
	}
	slices.Sort(from)
	fromText := ""
	if rewrapped > 0 && len(from) > 0 {
		fromText = " (from " + strings.Join(from, ", ") + ")"
	}
	fmt.Printf("rewrapped %d data keys%s under the primary master key %s; %d already under it were skipped\n",
		rewrapped, fromText, primary, before[primary])
	return nil
}

// progressPrinter shows a long operator command's progress on one line.
func progressPrinter(what string) func(done, total int) {
	start := time.Now()
	last := time.Time{}
	return func(done, total int) {
		if time.Since(last) < 200*time.Millisecond && done < total {
			return
		}
		last = time.Now()
		pct := 100.0
		if total > 0 {
			pct = float64(done) * 100 / float64(total)
		}
		fmt.Fprintf(os.Stderr, "\r%s: %d/%d (%.0f%%) %s", what, done, total, pct, time.Since(start).Round(time.Millisecond))
		if done >= total {
			fmt.Fprintln(os.Stderr)
		}
	}
}
