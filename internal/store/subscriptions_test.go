package store_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

func TestSubscriptionRows(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC)
		if err := db.InsertShop(ctx, shop.Shop{ID: "69876357", Name: "Demo", Currency: "EUR", Language: "en"}, nil, nil, now); err != nil {
			t.Fatal(err)
		}
		write := func(fn func(tx *sql.Tx) error) {
			t.Helper()
			if err := db.Write(ctx, fn); err != nil {
				t.Fatal(err)
			}
		}
		initial := int64(50)
		sub := store.SubscriptionRecord{ID: "s1", ShopID: "69876357", Mode: "TEST", Token: "tok", Metadata: "{}", Options: "{}",
			Amount: 100, Currency: "EUR", InitialAmount: &initial, InitialAmountNumber: 1, EffectDate: now,
			RRule: "FREQ=MONTHLY", ScheduleStart: now, NextSequence: 1, NextDueAt: now, Status: "ACTIVE", Version: 1,
			CreatedAt: now, UpdatedAt: now}
		write(func(tx *sql.Tx) error { return store.InsertSubscription(tx, sub) })
		if err := db.Write(ctx, func(tx *sql.Tx) error { return store.InsertSubscription(tx, sub) }); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second insert: %v", err)
		}
		got, err := store.GetSubscription(ctx, db.Reader(), "69876357", "s1")
		if err != nil || *got.InitialAmount != 50 || !got.NextDueAt.Equal(now) || !got.LastDueAt.IsZero() || got.Version != 1 {
			t.Fatalf("read back %+v, %v", got, err)
		}
		if _, err := store.GetSubscription(ctx, db.Reader(), "00000000", "s1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other shop: %v", err)
		}
		if ok, err := store.ActiveSubscriptionOnToken(ctx, db.Reader(), "69876357", "TEST", "tok", now); err != nil || !ok {
			t.Fatalf("active on token: %v, %v", ok, err)
		}

		// Due subscriptions, optimistic update.
		write(func(tx *sql.Tx) error {
			due, err := store.DueSubscriptions(tx, db.Dialect(), now, 10)
			if err != nil || len(due) != 1 {
				t.Fatalf("due: %v, %d", err, len(due))
			}
			r := due[0]
			r.NextDueAt, r.LastDueAt, r.NextSequence = now.AddDate(0, 1, 0), now, 2
			if err := store.UpdateSubscription(tx, &r); err != nil {
				return err
			}
			stale := due[0]
			if err := store.UpdateSubscription(tx, &stale); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("stale update: %v", err)
			}
			inst := store.InstalmentRecord{ID: "i1", SubscriptionID: "s1", ShopID: "69876357", Sequence: 1, DueAt: now,
				Amount: 50, Currency: "EUR", Status: store.InstalmentDue, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
			if err := store.InsertInstalment(tx, inst); err != nil {
				return err
			}
			inst.ID = "i1bis"
			if err := store.InsertInstalment(tx, inst); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("same sequence again: %v", err)
			}
			return nil // the transaction goes on after the refused insert
		})
		write(func(tx *sql.Tx) error {
			due, err := store.DueSubscriptions(tx, db.Dialect(), now, 10)
			if err != nil || len(due) != 0 {
				t.Fatalf("due after the move: %v, %d", err, len(due))
			}
			return nil
		})

		// Claim, attach, settle.
		claimed, err := db.ClaimInstalments(ctx, now, time.Minute, 10)
		if err != nil || len(claimed) != 1 || claimed[0].Status != store.InstalmentCharging || claimed[0].ClaimID == "" ||
			!claimed[0].ClaimedUntil.Equal(now.Add(time.Minute)) {
			t.Fatalf("claim: %v, %+v", err, claimed)
		}
		if again, _ := db.ClaimInstalments(ctx, now, time.Minute, 10); len(again) != 0 {
			t.Fatal("claimed twice")
		}
		pay := func(id string) {
			write(func(tx *sql.Tx) error {
				return store.InsertPayment(tx, store.PaymentRecord{ID: id, ShopID: "69876357", Mode: "TEST", Amount: 50,
					Currency: "EUR", FormAction: "SILENT", OrderStatus: "RUNNING", OrderCycle: "OPEN", Customer: "{}",
					Options: "{}", CreatedAt: now, UpdatedAt: now})
			})
		}
		pay("p1")
		write(func(tx *sql.Tx) error {
			if _, err := store.AttachInstalmentPayment(tx, "i1", "not-mine", "p1", "t1", now); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("attach with another claim: %v", err)
			}
			n, err := store.AttachInstalmentPayment(tx, "i1", claimed[0].ClaimID, "p1", "t1", now)
			if err != nil || n != 1 {
				t.Fatalf("attach: %d, %v", n, err)
			}
			if _, err := store.AttachInstalmentPayment(tx, "i1", claimed[0].ClaimID, "p1", "t1", now); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("second attach: %v", err)
			}
			return nil
		})
		write(func(tx *sql.Tx) error {
			if ok, err := store.ReleaseInstalment(tx, "i1", claimed[0].ClaimID, store.InstalmentOutcome{Status: store.InstalmentFailed, Now: now}); err != nil || ok {
				t.Fatalf("release with a payment attached: %v, %v", ok, err)
			}
			ok, err := store.SettleInstalment(tx, "i1", "p1", store.InstalmentOutcome{Status: store.InstalmentDue, Refusals: 1,
				NextAttemptAt: now.Add(24 * time.Hour), ErrorCode: "ACQ_001", Now: now})
			if err != nil || !ok {
				t.Fatalf("settle: %v, %v", ok, err)
			}
			if ok, _ := store.SettleInstalment(tx, "i1", "p1", store.InstalmentOutcome{Status: store.InstalmentPaid, Now: now}); ok {
				t.Fatal("settled twice")
			}
			return nil
		})
		inst, err := store.GetInstalment(ctx, db.Reader(), "i1")
		if err != nil || inst.Status != store.InstalmentDue || inst.PaymentID != "" || inst.Attempts != 1 || inst.Refusals != 1 ||
			!inst.NextAttemptAt.Equal(now.Add(24*time.Hour)) || inst.ClaimID != "" || inst.ErrorCode != "ACQ_001" {
			t.Fatalf("after a refusal %+v, %v", inst, err)
		}

		// An expired claim without payment is taken again; one with a
		// payment goes to the stale pass instead.
		later := now.Add(24 * time.Hour)
		first, _ := db.ClaimInstalments(ctx, later, time.Minute, 10)
		if len(first) != 1 {
			t.Fatal("no claim for the retry")
		}
		second, _ := db.ClaimInstalments(ctx, later.Add(2*time.Minute), time.Minute, 10)
		if len(second) != 1 || second[0].ClaimID == first[0].ClaimID {
			t.Fatalf("expired claim not taken again: %+v", second)
		}
		pay("p2")
		write(func(tx *sql.Tx) error {
			_, err := store.AttachInstalmentPayment(tx, "i1", second[0].ClaimID, "p2", "t2", later)
			return err
		})
		if again, _ := db.ClaimInstalments(ctx, later.Add(time.Hour), time.Minute, 10); len(again) != 0 {
			t.Fatal("an instalment with a payment in flight was claimed to charge")
		}
		stale, err := db.ClaimStaleCharging(ctx, later.Add(time.Hour), time.Minute, 10)
		if err != nil || len(stale) != 1 || stale[0].PaymentID != "p2" || stale[0].Attempts != 2 {
			t.Fatalf("stale: %v, %+v", err, stale)
		}
		// Its claim pushed (only by its holder, only later), the stale
		// pass leaves it until then.
		if ok, err := db.ExtendInstalmentClaim(ctx, "i1", "other", later.Add(48*time.Hour)); ok || err != nil {
			t.Fatalf("extended by another claim: %v, %v", ok, err)
		}
		if ok, err := db.ExtendInstalmentClaim(ctx, "i1", stale[0].ClaimID, later.Add(48*time.Hour)); !ok || err != nil {
			t.Fatalf("extend: %v, %v", ok, err)
		}
		if ok, _ := db.ExtendInstalmentClaim(ctx, "i1", stale[0].ClaimID, later.Add(2*time.Hour)); ok {
			t.Fatal("claim shortened")
		}
		if again, _ := db.ClaimStaleCharging(ctx, later.Add(47*time.Hour), time.Minute, 10); len(again) != 0 {
			t.Fatalf("claimed before its extended claim ended: %+v", again)
		}
		write(func(tx *sql.Tx) error {
			_, err := store.SettleInstalment(tx, "i1", "p2", store.InstalmentOutcome{Status: store.InstalmentPaid, Refusals: 1, Now: later})
			return err
		})
		attempts, err := store.SubscriptionAttempts(ctx, db.Reader(), "s1")
		if err != nil || len(attempts) != 2 || attempts[0].PaymentID != "p1" || attempts[1].Attempt != 2 {
			t.Fatalf("attempts %+v, %v", attempts, err)
		}
		if n, _ := store.CountInstalments(ctx, db.Reader(), "s1", store.InstalmentPaid, store.InstalmentFailed); n != 1 {
			t.Fatalf("%d settled instalments", n)
		}

		// Cancellation.
		write(func(tx *sql.Tx) error {
			subs, err := store.LockSubscriptionsOnToken(tx, db.Dialect(), "69876357", "TEST", "tok")
			if err != nil || len(subs) != 1 {
				t.Fatalf("on token: %v, %d", err, len(subs))
			}
			r := subs[0]
			r.Status, r.NextDueAt, r.CancelDate = "CANCELLED", time.Time{}, later
			if _, err := store.CancelDueInstalments(tx, r.ID, later); err != nil {
				return err
			}
			return store.UpdateSubscription(tx, &r)
		})
		if ok, _ := store.ActiveSubscriptionOnToken(ctx, db.Reader(), "69876357", "TEST", "tok", later); ok {
			t.Fatal("a cancelled subscription is active")
		}
	})
}
