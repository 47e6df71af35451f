package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/app"
	"github.com/openpsp/openpsp/internal/shop"
	"github.com/openpsp/openpsp/internal/store"
	"github.com/openpsp/openpsp/internal/store/storetest"
)

// A short in-process run: the report's last line is JSON with the fields
// the issue names, the ceilings were measured, and the scenario's answers
// were checked (zero errors). The window is long enough for operations to
// end inside it on a loaded machine under the race detector: with 300 ms,
// at a load average of 16, none did (Ops 0).
func TestRunReportsEveryField(t *testing.T) {
	res, err := Run(context.Background(), Options{
		Scenario: "sdktest", Concurrency: 4, Duration: 2 * time.Second, Warmup: 100 * time.Millisecond,
		CeilingDuration: 150 * time.Millisecond, WorkTokens: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops == 0 || res.Errors != 0 || res.ThroughputPerS <= 0 || res.EchoCeilingPerS <= 0 || res.RatioToEcho <= 0 {
		t.Fatalf("result: %+v", res)
	}
	if c := res.CommitCeiling; c == nil || c.OneRowCommitsPerS <= 0 || c.BatchRowsPerS <= 0 || c.GroupRowsPerS <= 0 {
		t.Fatalf("commit ceiling: %+v", res.CommitCeiling)
	}
	var out bytes.Buffer
	if err := WriteReport(&out, res); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatalf("last line is not JSON: %q", lines[len(lines)-1])
	}
	for _, k := range []string{"scenario", "engine", "concurrency", "throughput_per_s", "p50_ms", "p99_ms", "errors",
		"echo_ceiling_per_s", "ratio_to_echo", "peak_rss_mb"} {
		if _, ok := last[k]; !ok {
			t.Errorf("JSON line has no %q: %s", k, lines[len(lines)-1])
		}
	}
	if !strings.Contains(out.String(), "echo ceiling") || !strings.Contains(out.String(), "p99") {
		t.Fatalf("table:\n%s", out.String())
	}
}

// An error answer is never measured as throughput: a scenario whose first
// operation fails (here a wrong password) stops with that error.
func TestRunStopsOnFailingScenario(t *testing.T) {
	_, err := Run(context.Background(), Options{
		Scenario: "sdktest", Concurrency: 2, Duration: 200 * time.Millisecond, Warmup: 0,
		SkipCeilings: true, WorkTokens: 1, ShopID: "69876357", Password: "testpassword_wrong",
	})
	if err == nil || !strings.Contains(err.Error(), "INT_905") {
		t.Fatalf("wrong password: err %v, want the INT_905 of the first operation", err)
	}
}

func TestPurgeScenario(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			o := Options{Scenario: "purge", Engine: engine, WorkTokens: 300}
			if engine == "postgres" {
				storetest.RequirePostgres(t)
				o.PostgresURL = storetest.AdminURL()
			}
			res, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if res.Ops != 300 || res.Errors != 0 || res.VaultSize != 300 {
				t.Fatalf("purge: %+v", res)
			}
		})
	}
}

func TestProcCounters(t *testing.T) {
	cpu, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	rss, hwm, err := procMem(os.Getpid())
	if err != nil || rss <= 0 || hwm < rss {
		t.Fatalf("procMem: rss %d hwm %d err %v", rss, hwm, err)
	}
	// Burn a little CPU and see the counter move.
	deadline := time.Now().Add(50 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	cpu2, _ := procCPU(os.Getpid())
	if cpu2 < cpu || x == 0 {
		t.Fatalf("CPU went from %s to %s", cpu, cpu2)
	}
	busy, total := machineCPU()
	if busy <= 0 || total < busy {
		t.Fatalf("machine CPU %d/%d", busy, total)
	}
}

// Against a target that asks a bearer token for /metrics, the bench read
// nothing there and left the "db writes" line out without a word. It sends
// Options.MetricsToken; without it (or with a wrong one) the report says
// which status /metrics answered and what to set.
func TestTargetMetricsToken(t *testing.T) {
	dataDir := t.TempDir()
	env := serverEnv(dataDir, "")
	env["OPENPSP_METRICS_TOKEN"] = "bench-metrics-secret"
	srv, err := startInProcess(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	run := func(token, dir string) (*Result, string) {
		t.Helper()
		res, err := Run(context.Background(), Options{
			Scenario: "sdktest", Concurrency: 2, Duration: time.Second, Warmup: 50 * time.Millisecond,
			SkipCeilings: true, WorkTokens: 5, Target: srv.URL, TargetDataDir: dir, MetricsToken: token,
		})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := WriteReport(&out, res); err != nil {
			t.Fatal(err)
		}
		return res, out.String()
	}
	if res, out := run("", dataDir); res.DBWrites != nil ||
		!strings.Contains(out, "db writes      not read: GET /metrics answered 401 Unauthorized; set OPENPSP_METRICS_TOKEN (or -metrics-token) to the server's metrics token") {
		t.Errorf("without the token: %+v\n%s", res.DBWrites, out)
	}
	if res, out := run("bench-metrics-secret", ""); // the tokens are there now; res.DBWrites == nil || res.DBWrites.CommitsPerS < 0 ||
	!strings.Contains(out, "db writes      ") || strings.Contains(out, "not read") {
		t.Errorf("with the token: %+v\n%s", res.DBWrites, out)
	}
}

// A second `bench -target … -target-data-dir …` on the same server failed:
// the pre-fill inserted the same token values again and the vault refused
// them (token exists). A later run reuses the tokens an earlier run put
// there and adds only those missing, on both engines; and the report says
// which database it targeted instead of "sqlite ()".
func TestTargetRunTwice(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			o, db := targetServer(t, engine)
			o.Scenario, o.WorkTokens = "silent", 1
			for i, size := range []int{5, 5, 8} {
				o.VaultSize = size
				res, err := Run(context.Background(), o)
				if err != nil {
					t.Fatalf("run %d: %v", i+1, err)
				}
				if res.VaultSize != size || res.Errors != 0 {
					t.Fatalf("run %d: vault %d errors %d %v", i+1, res.VaultSize, res.Errors, res.ErrorSamples)
				}
				var out bytes.Buffer
				if err := WriteReport(&out, res); err != nil {
					t.Fatal(err)
				}
				want := "SQLite database " + filepath.Join(o.TargetDataDir, "openpsp.db")
				if engine == "postgres" {
					want = "PostgreSQL database " + o.TargetDatabaseURL
				}
				if res.Engine != engine || !strings.Contains(out.String(), "database       "+engine+" ("+want) {
					t.Errorf("run %d: engine %q, want %q (%s), report:\n%s", i+1, res.Engine, engine, want, out.String())
				}
			}
			if n := benchTokens(t, db); n != 8 {
				t.Errorf("%d bench tokens in the vault after runs of 5, 5 and 8, want 8", n)
			}
		})
	}
}

// The report names the target's PostgreSQL database without its password,
// and says so when the bench was not told where the target's database is.
func TestTargetDatabaseDescription(t *testing.T) {
	o := Options{Target: "http://127.0.0.1:1", TargetDatabaseURL: "postgres://openpsp:s3cret-pw@db.example:5432/openpsp?sslmode=require"}
	engine, what := targetDatabase(o)
	if engine != "postgres" || strings.Contains(what, "s3cret-pw") || !strings.Contains(what, "openpsp@db.example:5432/openpsp") {
		t.Errorf("URL: %q %q", engine, what)
	}
	o.TargetDatabaseURL = "host=db.example user=openpsp password=s3cret-pw dbname=openpsp"
	if engine, what := targetDatabase(o); engine != "postgres" || strings.Contains(what, "s3cret-pw") {
		t.Errorf("key=value: %q %q", engine, what)
	}
	o.TargetDatabaseURL = ""
	if engine, what := targetDatabase(o); engine != "unknown" || !strings.Contains(what, "-target-data-dir") {
		t.Errorf("none: %q %q", engine, what)
	}
}

// The bench seals its tokens for a -target server with that server's
// master keys. With -target-database-url alone it created a keyring of its
// own in ./data (and with -target-data-dir of a server that takes its keys
// from OPENPSP_MASTER_KEYS, a keyring.json in the server's data folder),
// sealed the tokens with it, and every payment failed (INT_999, "unknown
// master key"). It takes OPENPSP_MASTER_KEYS from its environment as the
// server does, and without them or a keyring file refuses before any load,
// creating nothing.
func TestTargetUsesTheServersMasterKeys(t *testing.T) {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(i + 7)
	}
	keys := "bench-mk:" + base64.StdEncoding.EncodeToString(raw)
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Chdir(t.TempDir()) // where a stray ./data would appear
			dataDir, dbURL, benchDir := t.TempDir(), "", ""
			if engine == "postgres" {
				dbURL = storetest.NewPostgresDatabase(t)
			} else {
				benchDir = dataDir
			}
			env := serverEnv(dataDir, dbURL)
			env["OPENPSP_MASTER_KEYS"] = keys
			srv, err := startInProcess(context.Background(), env)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.stop()
			o := Options{
				Scenario: "silent", Concurrency: 2, Duration: 300 * time.Millisecond, Warmup: 0,
				SkipCeilings: true, WorkTokens: 3, Target: srv.URL, TargetDataDir: benchDir, TargetDatabaseURL: dbURL,
			}
			t.Setenv("OPENPSP_MASTER_KEYS", "")
			_, err = Run(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), "OPENPSP_MASTER_KEYS") || !strings.Contains(err.Error(), "-target-data-dir") {
				t.Errorf("without the server's keys: err %v, want a refusal naming OPENPSP_MASTER_KEYS and -target-data-dir", err)
			}
			for _, k := range []string{filepath.Join(dataDir, "keyring.json"), filepath.Join("data", "keyring.json")} {
				if _, err := os.Stat(k); err == nil {
					t.Errorf("the bench created %s", k)
				}
			}
			t.Setenv("OPENPSP_MASTER_KEYS", keys)
			res, err := Run(context.Background(), o)
			if err != nil {
				t.Fatalf("with the server's keys: %v", err)
			}
			// Run's first operation, a payment, succeeded (it stops
			// otherwise); the short window may end before another does
			// on a loaded machine, so Ops is not checked.
			if res.Errors != 0 {
				t.Fatalf("with the server's keys: %d ops, %d errors %v", res.Ops, res.Errors, res.ErrorSamples)
			}
		})
	}
}

// Against a server whose vault has no bench tokens, without
// -target-data-dir, the bench stopped with the server's bare "PSP_030
// token not found (… value=bench0000000889)". It says what to do: name the
// server's database so that the bench puts its tokens there.
func TestTargetWithoutBenchTokensSaysWhatToDo(t *testing.T) {
	srv, err := startInProcess(context.Background(), serverEnv(t.TempDir(), ""))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	for _, sc := range []string{"silent", "get"} {
		_, err = Run(context.Background(), Options{
			Scenario: sc, Concurrency: 2, Duration: 300 * time.Millisecond, SkipCeilings: true, WorkTokens: 3, Target: srv.URL,
		})
		if err == nil || !strings.Contains(err.Error(), "PSP_030") || !strings.Contains(err.Error(), "-target-data-dir") {
			t.Errorf("%s: err %v, want PSP_030 and what to do (-target-data-dir)", sc, err)
		}
	}
}

// `-shop ID -password …` against a target: the bench put its tokens in the
// demo shop's vault and paid as shop ID, so silent (and get) stopped at
// PSP_030 (token not found). The tokens are the shop's own; the tokenize
// scenario, which signs with the demo shop's Ogone account, refuses -shop
// instead of measuring the demo shop under another name. And the pre-fill
// seeded the demo shop in a server's database that had none.
func TestTargetShopOwnTokens(t *testing.T) {
	dataDir := t.TempDir()
	env := serverEnv(dataDir, "")
	env["OPENPSP_DEMO"] = "false" // a server without the demo shop gets none from the bench
	cfg, err := configFor(env)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	const id, password = "12345678", "testpassword_BenchShopOwnTokens0123456789abcd"
	if _, err := a.Shops.Create(context.Background(), shop.CreateInput{ID: id, Name: "Bench shop", TestPassword: password,
		Settings: shop.Settings{PaymentByToken: true}}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	srv, err := startInProcess(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	o := Options{Concurrency: 2, Duration: 300 * time.Millisecond, SkipCeilings: true, WorkTokens: 3,
		Target: srv.URL, TargetDataDir: dataDir, ShopID: id, Password: password}
	for _, sc := range []string{"silent"} { // get makes its 2,000 payments the same way
		o.Scenario = sc
		res, err := Run(context.Background(), o)
		if err != nil {
			t.Fatalf("%s: %v", sc, err)
		}
		if res.Errors != 0 { // the first operation succeeded: Run stops otherwise
			t.Fatalf("%s: %d ops, %d errors %v", sc, res.Ops, res.Errors, res.ErrorSamples)
		}
	}
	for _, sc := range []string{"tokenize", "mixed"} {
		o.Scenario = sc
		if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "-shop") {
			t.Errorf("%s with -shop %s: err %v, want a refusal naming -shop", sc, id, err)
		}
	}
	db, err := store.Open(context.Background(), store.Options{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Shop(context.Background(), shop.DemoShopID); err == nil {
		t.Errorf("the bench seeded the demo shop %s in a server's database that had none", shop.DemoShopID)
	}
	o.Scenario, o.ShopID = "silent", "87654321"
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "87654321") {
		t.Errorf("a shop not in the database: err %v", err)
	}
}

// The report's units: a 300 ms window printed "0s measured"; the figures a
// -target run cannot read printed "n/a cores" and "peak n/a MB, under load
// n/a MB"; and the purge's own process was called "server RSS".
func TestReportUnits(t *testing.T) {
	report := func(r *Result) string {
		t.Helper()
		var out bytes.Buffer
		if err := WriteReport(&out, r); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	out := report(&Result{Scenario: "silent", Engine: "unknown", Concurrency: 2, DurationS: 0.3, VaultSize: 5,
		PeakRSSMB: -1, LoadRSSMB: -1, ServerCPUCores: -1, Server: "target http://127.0.0.1:1"})
	for _, want := range []string{"300ms measured", "server CPU     n/a, known only for a server the bench starts (", "server RSS     n/a, known only for a server the bench starts"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "n/a MB") || strings.Contains(out, "n/a cores") {
		t.Errorf("a unit after n/a:\n%s", out)
	}
	out = report(&Result{Scenario: "purge", Engine: "sqlite", DurationS: 2.61, Ops: 20000, VaultSize: 20000,
		PeakRSSMB: 61.5, LoadRSSMB: 61.5, ServerCPUCores: 0.3})
	if !strings.Contains(out, "purge RSS      peak 61.50 MB") || strings.Contains(out, "server RSS") {
		t.Errorf("purge report:\n%s", out)
	}
}

// -cpuprofile with -target ran the load and wrote no profile, without a
// word (the bench profiles only a server it starts). It is refused first.
func TestTargetRefusesCPUProfile(t *testing.T) {
	srv, err := startInProcess(context.Background(), serverEnv(t.TempDir(), ""))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	_, err = Run(context.Background(), Options{Scenario: "sdktest", Concurrency: 1, Duration: 200 * time.Millisecond,
		SkipCeilings: true, Target: srv.URL, CPUProfile: prof, Binary: os.Args[0]})
	if err == nil || !strings.Contains(err.Error(), "-cpuprofile") || !strings.Contains(err.Error(), "-target") {
		t.Errorf("err %v, want a refusal naming -cpuprofile and -target", err)
	}
}

// The flags of a running server without -target (forgotten) were ignored:
// the bench started a server of its own and measured that one.
func TestTargetFlagsWithoutTarget(t *testing.T) {
	for name, o := range map[string]Options{
		"-target-data-dir":     {TargetDataDir: t.TempDir()},
		"-target-database-url": {TargetDatabaseURL: "postgres://u@127.0.0.1:1/x"},
		"-shop":                {ShopID: "12345678", Password: "testpassword_x"},
	} {
		o.Scenario, o.Concurrency, o.Duration, o.SkipCeilings, o.WorkTokens = "sdktest", 1, 200*time.Millisecond, true, 1
		_, err := Run(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "-target") {
			t.Errorf("%s without -target: err %v", name, err)
		}
	}
}

// targetServer starts a server on engine's database (a SQLite folder, or a
// fresh PostgreSQL database) and returns the options of a bench run
// against it that names that database.
func targetServer(t *testing.T, engine string) (Options, *store.DB) {
	t.Helper()
	dataDir, dbURL := t.TempDir(), ""
	if engine == "postgres" {
		dbURL = storetest.NewPostgresDatabase(t)
	}
	srv, err := startInProcess(context.Background(), serverEnv(dataDir, dbURL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.stop() })
	db, err := store.Open(context.Background(), store.Options{URL: dbURL, DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	o := Options{Concurrency: 2, Duration: 300 * time.Millisecond, SkipCeilings: true, WorkTokens: 3,
		Target: srv.URL, TargetDataDir: dataDir, TargetDatabaseURL: dbURL} // the folder has the keyring
	return o, db
}

func benchTokens(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.Writer().QueryRow(`SELECT COUNT(*) FROM tokens WHERE token LIKE 'bench%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A bench binary newer than the -target server migrated the server's
// database under it (its pre-fill opened the database as a server does);
// an older one ran against a schema it does not know. Against a running
// server the bench refuses, before any write, when the database's
// migrations are not exactly its own, naming both versions and what to
// do; the schema and the vault are left as they were. The older
// database is the server's with its latest migration's record removed
// (the bench tried to apply that migration again).
func TestTargetSchemaMustMatchTheBench(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		for _, server := range []string{"newer", "older"} {
			t.Run(engine+"/"+server, func(t *testing.T) {
				o, db := targetServer(t, engine)
				o.Scenario = "silent"
				var binary string
				if err := db.Writer().QueryRow("SELECT MAX(version) FROM schema_migrations").Scan(&binary); err != nil {
					t.Fatal(err)
				}
				dbVersion := "9999_from_a_newer_release"
				if server == "newer" {
					if _, err := db.Writer().Exec("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", dbVersion); err != nil {
						t.Fatal(err)
					}
				} else {
					if _, err := db.Writer().Exec("DELETE FROM schema_migrations WHERE version = $1", binary); err != nil {
						t.Fatal(err)
					}
					if err := db.Writer().QueryRow("SELECT MAX(version) FROM schema_migrations").Scan(&dbVersion); err != nil {
						t.Fatal(err)
					}
				}
				versions := func() string {
					t.Helper()
					rows, err := db.Writer().Query("SELECT version FROM schema_migrations ORDER BY version")
					if err != nil {
						t.Fatal(err)
					}
					defer rows.Close()
					var all []string
					for rows.Next() {
						var v string
						if err := rows.Scan(&v); err != nil {
							t.Fatal(err)
						}
						all = append(all, v)
					}
					return strings.Join(all, ",")
				}
				before := versions()
				_, err := Run(context.Background(), o)
				if err == nil || !strings.Contains(err.Error(), dbVersion) || !strings.Contains(err.Error(), binary) ||
					!strings.Contains(err.Error(), "server's own version") {
					t.Errorf("err %v, want a refusal naming the database's %s, the bench's %s and what to do", err, dbVersion, binary)
				}
				if after := versions(); after != before {
					t.Errorf("the bench changed the server's migrations:\n before %s\n after  %s", before, after)
				}
				if n := benchTokens(t, db); n != 0 {
					t.Errorf("the bench put %d tokens in the vault of a database it refused", n)
				}
			})
		}
	}
}

// -engine with -target was ignored in favour of the target's engine
// without a word. The bench refuses an -engine that is not the engine of
// the database it was told (-target-data-dir, -target-database-url), and
// takes the one that is.
func TestTargetEngineMustMatch(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			o, db := targetServer(t, engine)
			o.Scenario = "silent"
			o.Engine = map[string]string{"sqlite": "postgres", "postgres": "sqlite"}[engine]
			_, err := Run(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), "-engine "+o.Engine) || !strings.Contains(err.Error(), engine) {
				t.Errorf("-engine %s against a %s target: err %v, want a refusal naming both", o.Engine, engine, err)
			}
			if n := benchTokens(t, db); n != 0 {
				t.Errorf("the bench put %d tokens in the vault before refusing", n)
			}
			o.Engine = engine
			res, err := Run(context.Background(), o)
			if err != nil || res.Engine != engine {
				t.Fatalf("-engine %s against a %s target: %v %+v", engine, engine, err, res)
			}
		})
	}
}

// -scenario tokenize (and sdktest, checkout) pre-filled 1,000 vault
// tokens it never used: it creates its own aliases. Only the scenarios
// that pay with the bench tokens get them; -vault-size still fills the
// vault for the others (the size of the vault it inserts into).
func TestTokenizeNeedsNoPrefill(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			o, db := targetServer(t, engine)
			o.Scenario = "tokenize"
			res, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if n := benchTokens(t, db); n != 0 || res.VaultSize != 0 || res.Errors != 0 {
				t.Errorf("tokenize: %d bench tokens in the vault, vault size %d reported, %d errors; want none",
					n, res.VaultSize, res.Errors)
			}
			o.VaultSize = 4
			if res, err = Run(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			if n := benchTokens(t, db); n != 4 || res.VaultSize != 4 {
				t.Errorf("tokenize -vault-size 4: %d bench tokens, vault size %d reported", n, res.VaultSize)
			}
		})
	}
}

// bench.Run against a -target with a -target-data-dir holding no
// openpsp.db (the keyring copied elsewhere, a folder mistyped) opened the
// folder as a server does: it created an empty database there, then
// complained about its schema, or filled that new vault. Run itself now
// refuses, naming the file, and the folder is left as it was; `openpsp
// bench` had the check, other callers of Run did not.
func TestTargetDataDirWithoutDatabase(t *testing.T) {
	o, _ := targetServer(t, "sqlite")
	o.Scenario = "silent"
	keyring, err := os.ReadFile(filepath.Join(o.TargetDataDir, "keyring.json"))
	if err != nil {
		t.Fatal(err)
	}
	moved := t.TempDir()
	if err := os.WriteFile(filepath.Join(moved, "keyring.json"), keyring, 0o600); err != nil {
		t.Fatal(err)
	}
	o.TargetDataDir = moved
	_, err = Run(context.Background(), o)
	want := "-target-data-dir: no OpenPSP database at " + filepath.Join(moved, "openpsp.db")
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "nothing was created") {
		t.Errorf("err %v, want %q", err, want)
	}
	if left, _ := os.ReadDir(moved); len(left) != 1 {
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		t.Errorf("the folder holds %v after the run, want only keyring.json", names)
	}
}

// Against a -target whose database is not named, the commit ceiling was
// measured on -engine's default (sqlite), or on the -engine given, and the
// report did not say which: it read as the target's own. The ceiling now
// names its engine, and why that one, in the table and the JSON line.
func TestTargetWithoutDatabaseNamesTheCeilingsEngine(t *testing.T) {
	o, _ := targetServer(t, "sqlite")
	o.TargetDataDir, o.TargetDatabaseURL = "", ""
	o.Scenario, o.SkipCeilings, o.CeilingDuration = "sdktest", false, 50*time.Millisecond
	for _, c := range []struct{ given, measured, why string }{
		{"", "sqlite", "-engine's default"},
		{"postgres", "postgres", "-engine given"},
	} {
		o.Engine = c.given
		res, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := WriteReport(&out, res); err != nil {
			t.Fatal(err)
		}
		var line string
		for l := range strings.Lines(out.String()) {
			if strings.HasPrefix(l, "commit ceiling") {
				line = l
			}
		}
		if !strings.Contains(line, c.measured) || !strings.Contains(line, c.why) || !strings.Contains(line, "not known") {
			t.Errorf("-engine %q: commit ceiling line %q, want it to name %s (%s) and say the target's engine is not known", c.given, line, c.measured, c.why)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		var last struct {
			Engine  string `json:"engine"`
			Ceiling struct {
				Engine string `json:"engine"`
			} `json:"commit_ceiling"`
		}
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
			t.Fatal(err)
		}
		if last.Engine != "unknown" || last.Ceiling.Engine != c.measured {
			t.Errorf("-engine %q: JSON engine %q, ceiling's %q; want unknown and %s", c.given, last.Engine, last.Ceiling.Engine, c.measured)
		}
	}
}
