package store

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// walKillChild names the database the child process of
// TestWALRestartSurvivesKill9 writes to; walKillBase its first row id.
const walKillChild, walKillBase = "OPENPSP_WALKILL_DB", "OPENPSP_WALKILL_BASE"

// Every write answered before a kill -9 is in the database after it, while
// the checkpointer starts the WAL over again and again under writes (the
// child runs with the test's small limits and steps without pause, a
// restart every few milliseconds). The test binary runs itself as the
// child; the kill comes after a different count of answered writes each
// round, so at different moments among the restarts.
func TestWALRestartSurvivesKill9(t *testing.T) {
	if path := os.Getenv(walKillChild); path != "" {
		walKillWriter(t, path)
		return
	}
	path := filepath.Join(t.TempDir(), "k.db")
	base := 0
	for round, killAfter := range []int{1500, 2700, 4100, 3300} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWALRestartSurvivesKill9$", "-test.count=1")
		cmd.Env = append(os.Environ(), walKillChild+"="+path, walKillBase+"="+strconv.Itoa(base))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var acked []int
		restarts := 0
		killed := false
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if n, ok := strings.CutPrefix(line, "restarts "); ok {
				restarts, _ = strconv.Atoi(n)
				continue
			}
			id, err := strconv.Atoi(line)
			if err != nil {
				t.Fatalf("child wrote %q", line)
			}
			acked = append(acked, id)
			if !killed && len(acked) >= killAfter && restarts > 0 {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				killed = true // lines already written still count
			}
		}
		_ = cmd.Wait()
		if !killed {
			t.Fatalf("round %d: child ended before the kill (%d writes answered, %d restarts)", round, len(acked), restarts)
		}
		db, err := Open(context.Background(), Options{SQLitePath: path})
		if err != nil {
			t.Fatal(err)
		}
		missing := 0
		for _, id := range acked {
			var one int
			if err := db.Reader().QueryRow(`SELECT 1 FROM fill WHERE id = $1`, id).Scan(&one); err != nil {
				missing++
			}
		}
		var n int
		if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM fill`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if missing > 0 {
			t.Fatalf("round %d: %d of %d answered writes lost by kill -9 (%d restarts before it)", round, missing, len(acked), restarts)
		}
		t.Logf("round %d: killed after %d answered writes and %d WAL restarts; %d rows, none lost", round, len(acked), restarts, n)
		base += 1_000_000
	}
}

// walKillWriter is the child: 16 writers without pause, each answered
// write's id on its own line, and the checkpointer's step in a loop; it
// says how many times the WAL started over so far on lines of their own.
func walKillWriter(t *testing.T, path string) {
	base, _ := strconv.Atoi(os.Getenv(walKillBase))
	db, err := Open(context.Background(), Options{SQLitePath: path, walLimits: testWAL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Writer().Exec(`CREATE TABLE IF NOT EXISTS fill (id INTEGER PRIMARY KEY, b BLOB)`); err != nil {
		t.Fatal(err)
	}
	if err := db.SyncWAL(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	say := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = os.Stdout.WriteString(s + "\n") // one write: a whole line or nothing
	}
	first := walStarts(db)
	go func() {
		last := first
		for {
			db.checkpoints.step()
			if n := walStarts(db); n != last {
				last = n
				say(fmt.Sprintf("restarts %d", n-first))
			}
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := base + w*50_000 + i
				err := db.Write(context.Background(), func(tx *sql.Tx) error {
					_, err := tx.Exec(`INSERT INTO fill (id, b) VALUES ($1, randomblob(3000))`, id)
					return err
				})
				if err != nil {
					say("error " + err.Error())
					return
				}
				say(strconv.Itoa(id))
			}
		}()
	}
	wg.Wait()
}
