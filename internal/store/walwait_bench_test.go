package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSteadyWriteWait measures how long a write waits under steady
// load (64 writers without pause, a 3 KB row each, the checkpointer on its
// ticker as in production): p99 and max of the wait, the WAL file's
// largest size, and process CPU per write. Run with a fixed count, e.g.
// -benchtime=20000x (about 80 MB of frames), to compare WAL restarts
// against none.
func BenchmarkSteadyWriteWait(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, Options{SQLitePath: filepath.Join(b.TempDir(), "b.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Writer().Exec(`CREATE TABLE fill (id INTEGER PRIMARY KEY, b BLOB)`); err != nil {
		b.Fatal(err)
	}
	const writers = 64
	waits := make([][]time.Duration, writers)
	var largest int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if fi, err := os.Stat(db.Path() + "-wal"); err == nil {
				largest = max(largest, fi.Size())
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < b.N; i += writers {
				start := time.Now()
				err := db.Write(ctx, func(tx *sql.Tx) error {
					_, err := tx.Exec(`INSERT INTO fill (b) VALUES (randomblob(3000))`)
					return err
				})
				if err != nil {
					b.Error(err)
					return
				}
				waits[w] = append(waits[w], time.Since(start))
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	close(stop)
	<-sampled
	all := slices.Concat(waits...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) / time.Duration(len(all))
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(all[len(all)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(largest)/(1<<20), "wal-MB")
	b.ReportMetric(float64(cpu.Microseconds()), "cpu-us/write")
}
