package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// The demo merchant's IPN copies received before the cutoff go in batches
// of the given size; those received at or after it stay; a run with
// nothing older deletes nothing.
func TestDeleteDemoIPNsBefore(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		cutoff := t0.AddDate(1, 0, 0)
		for i, at := range []time.Time{t0, t0.Add(time.Hour), t0.AddDate(0, 6, 0), cutoff.Add(-time.Microsecond), cutoff, cutoff.Add(time.Hour)} {
			if err := db.InsertDemoIPN(ctx, store.DemoIPN{ReceivedAt: at, OrderID: string(rune('a' + i)), Answer: "OK"}, 0); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := db.CountDemoIPNsBefore(ctx, cutoff); err != nil || n != 4 {
			t.Fatalf("count = %d, %v, want 4", n, err)
		}
		var batches []int
		for {
			n, err := db.DeleteDemoIPNsBefore(ctx, cutoff, 3)
			if err != nil {
				t.Fatal(err)
			}
			batches = append(batches, n)
			if n == 0 {
				break
			}
		}
		if !slices.Equal(batches, []int{3, 1, 0}) {
			t.Fatalf("batches deleted %v, want [3 1 0]", batches)
		}
		left, err := db.DemoIPNs(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		var orders []string
		for _, n := range left {
			orders = append(orders, n.OrderID)
		}
		if !slices.Equal(orders, []string{"f", "e"}) {
			t.Fatalf("left %v, want [f e]", orders)
		}
		if _, err := db.DeleteDemoIPNsBefore(ctx, cutoff, 0); err == nil {
			t.Fatal("a batch of 0 accepted")
		}
	})
}

// InsertDemoIPN with keep leaves only the newest keep copies, ties on the
// time decided by id as the list shows them; keep 0 deletes nothing.
func TestInsertDemoIPNKeepsTheNewest(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for i, at := range []time.Time{t0.Add(3 * time.Hour), t0, t0.Add(time.Hour), t0.Add(time.Hour), t0.Add(2 * time.Hour)} {
			if err := db.InsertDemoIPN(ctx, store.DemoIPN{ID: "id-" + string(rune('a'+i)), ReceivedAt: at, OrderID: string(rune('a' + i)), Answer: "OK"}, 3); err != nil {
				t.Fatal(err)
			}
		}
		orders := func() []string {
			left, err := db.DemoIPNs(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, n := range left {
				out = append(out, n.OrderID)
			}
			return out
		}
		if got := orders(); !slices.Equal(got, []string{"a", "e", "d"}) {
			t.Fatalf("kept %v, want [a e d]", got)
		}
		if err := db.InsertDemoIPN(ctx, store.DemoIPN{ReceivedAt: t0.Add(4 * time.Hour), OrderID: "f", Answer: "OK"}, 0); err != nil {
			t.Fatal(err)
		}
		if got := orders(); !slices.Equal(got, []string{"f", "a", "e", "d"}) {
			t.Fatalf("keep 0 left %v, want [f a e d]", got)
		}
	})
}
