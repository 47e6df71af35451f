package store_test

import (
	"context"
	"database/sql"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/ids"
	"github.com/openpsp/openpsp/internal/outbox"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// BenchmarkFinishOutbox measures what recording a delivery costs the
// writer: FinishOutboxBatch of settlementBatch results (delivered at the
// first attempt, as the silent bench's IPNs and emails are) per commit,
// over an outbox that already holds 10,000 delivered messages. One op is
// one result; inserting and claiming the messages is not timed. The
// payload's size matters on PostgreSQL (rows near its 2 KB TOAST
// threshold): the silent bench's IPN payloads are 4 KB of JSON, 1.6 KB
// compressed, its emails' 0.5 KB.
func BenchmarkFinishOutbox(b *testing.B) {
	for _, e := range storetest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			db := e.Open(b)
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			payload := `{"kr-answer":"` + strings.Repeat("x", 1500) + `"}`
			// claimed inserts n messages already claimed by "bench", as the
			// settle write hands them to the dispatcher.
			claimed := func(n int) []outbox.Delivery {
				var ds []outbox.Delivery
				err := db.Write(ctx, func(tx *sql.Tx) error {
					ms := make([]outbox.Message, n)
					for i := range ms {
						ms[i] = outbox.Message{ID: ids.New(), ShopID: "69876357", Channel: "ipn", Event: "payment.accepted", OrderingKey: ids.New(), Target: "http://127.0.0.1/ipn", Payload: payload}
					}
					r := &outbox.Reservation{By: "bench", Until: now.Add(time.Minute)}
					var err error
					ds, err = db.InsertOutboxClaimed(tx, ms, r, now)
					for i := range ds { // as Reservation.Hand fills them in
						ds[i].LockedBy, ds[i].LockedUntil = r.By, r.Until
					}
					return err
				})
				if err != nil || len(ds) != n {
					b.Fatalf("%d of %d messages claimed: %v", len(ds), n, err)
				}
				return ds
			}
			finish := func(ds []outbox.Delivery) {
				rs := make([]outbox.Result, len(ds))
				for i, d := range ds {
					rs[i] = outbox.Result{ID: d.ID, LockedBy: d.LockedBy, LockedUntil: d.LockedUntil, Status: outbox.StatusDelivered, Now: now,
						Attempt: outbox.Attempt{Number: 1, At: now, StatusCode: 200, Latency: 3 * time.Millisecond, Response: "OK", Instance: "bench"}}
				}
				if err := db.FinishOutboxBatch(ctx, rs); err != nil {
					b.Fatal(err)
				}
			}
			for done := 0; done < 10000; done += 500 {
				finish(claimed(500))
			}
			// Wall time on a shared machine is mostly the wait for the
			// commit's fsync; on SQLite the process's CPU time is the
			// writer's cost (on PostgreSQL only the client's share of it).
			var cpu time.Duration
			b.ResetTimer()
			for done := 0; done < b.N; done += settlementBatch {
				b.StopTimer()
				ds := claimed(min(settlementBatch, b.N-done))
				b.StartTimer()
				c0 := processCPU(b)
				finish(ds)
				cpu += processCPU(b) - c0
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.StopTimer()
			var pending int
			if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM outbox WHERE status <> 'DELIVERED'`).Scan(&pending); err != nil || pending != 0 {
				b.Fatalf("%d messages not delivered (%v)", pending, err)
			}
		})
	}
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
