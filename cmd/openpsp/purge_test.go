package main

import (
	"context"
	"database/sql"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/app"
	"github.com/openpsp/openpsp/internal/clock"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store"
)

// `openpsp purge` deletes the notifications that ended more than
// OPENPSP_NOTIFICATION_RETENTION_MONTHS ago, as the server's job does, and
// keeps pending ones; -dry-run, -notification-months 0 and the retention
// off delete nothing. The demo merchant's copies of the IPNs it received
// follow the same retention.
func TestPurgeDeletesEndedNotifications(t *testing.T) {
	t.Setenv("OPENPSP_DATA_DIR", filepath.Join(t.TempDir(), "data"))
	ctx := context.Background()
	then := time.Now().UTC().AddDate(0, -14, 0)
	a, err := app.New(ctx, mustConfig(t), app.Options{Clock: clock.NewFake(then), LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	var delivered, pending outbox.Message
	if err := a.DB.Write(ctx, func(tx *sql.Tx) error {
		m := outbox.Message{ShopID: "12345678", Channel: outbox.ChannelEmail, Event: "payment.accepted", Target: "buyer@example.com", Payload: "{}"}
		if delivered, err = store.InsertOutbox(tx, m, then); err != nil {
			return err
		}
		m.NotBefore = time.Now().Add(time.Hour)
		pending, err = store.InsertOutbox(tx, m, then)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ds, err := a.DB.ClaimOutbox(ctx, "test", then, time.Minute, 10)
	if err != nil || len(ds) != 1 || ds[0].ID != delivered.ID {
		t.Fatalf("claim: %v, %v", ds, err)
	}
	if err := a.DB.FinishOutboxBatch(ctx, []outbox.Result{{ID: ds[0].ID, LockedBy: ds[0].LockedBy, LockedUntil: ds[0].LockedUntil,
		Status: outbox.StatusDelivered, Now: then, Attempt: outbox.Attempt{Number: 1, At: then, StatusCode: 250}}}); err != nil {
		t.Fatal(err)
	}
	if err := a.DB.InsertDemoIPN(ctx, store.DemoIPN{ReceivedAt: then, OrderID: "old", Answer: "OK"}, 0); err != nil {
		t.Fatal(err)
	}
	a.Close()

	ipnsLeft := func() int {
		t.Helper()
		a, err := app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		ipns, err := a.DB.DemoIPNs(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(ipns)
	}
	left := func() map[string]bool {
		t.Helper()
		a, err := app.New(ctx, mustConfig(t), app.Options{LogOutput: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		es, err := a.DB.ListOutbox(ctx, outbox.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, e := range es {
			ids[e.ID] = true
		}
		return ids
	}
	for _, c := range []struct {
		setting string
		args    []string
	}{{"", []string{"-dry-run"}}, {"", []string{"-notification-months", "0"}}, {"", []string{"-notification-months", "off"}}, {"off", nil}, {"15", nil}} {
		t.Setenv("OPENPSP_NOTIFICATION_RETENTION_MONTHS", c.setting)
		if err := run(ctx, append([]string{"purge"}, c.args...)); err != nil {
			t.Fatal(err)
		}
		if ids := left(); !ids[delivered.ID] || !ids[pending.ID] {
			t.Fatalf("retention %q, purge %q deleted a message: left %v", c.setting, c.args, ids)
		}
		if n := ipnsLeft(); n != 1 {
			t.Fatalf("retention %q, purge %q deleted the demo IPN copy", c.setting, c.args)
		}
	}
	t.Setenv("OPENPSP_NOTIFICATION_RETENTION_MONTHS", "")
	if err := run(ctx, []string{"purge"}); err != nil {
		t.Fatal(err)
	}
	if ids := left(); ids[delivered.ID] || !ids[pending.ID] {
		t.Fatalf("after purge: left %v; want only the pending message %s", ids, pending.ID)
	}
	if n := ipnsLeft(); n != 0 {
		t.Fatalf("after purge: %d demo IPN copies left", n)
	}
	if err := run(ctx, []string{"purge", "-notification-months", "-1"}); err == nil {
		t.Fatal("-notification-months -1 accepted")
	}
	// A batch of no token (or fewer) is a mistyped number, refused as
	// -months 0 is, not a purge run with some default instead.
	for _, b := range []string{"0", "-5"} {
		if err := run(ctx, []string{"purge", "-dry-run", "-batch", b}); err == nil || !strings.Contains(err.Error(), "-batch must be at least 1") {
			t.Errorf("-batch %s: %v", b, err)
		}
	}
	// A retention longer than a century is a typo, refused as the
	// notifications' is, not run with a cutoff nobody asked for.
	for _, m := range []string{"1201", "9223372036854775807"} {
		if err := run(ctx, []string{"purge", "-dry-run", "-months", m}); err == nil || !strings.Contains(err.Error(), "-months must be") {
			t.Errorf("-months %s: %v", m, err)
		}
	}
}
