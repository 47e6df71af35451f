package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/shop"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/openpsp once per test run.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "openpsp-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "openpsp")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/openpsp").CombinedOutput()
		if err != nil {
			buildErr = err
			binPath = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build openpsp: %v\n%s", buildErr, binPath)
	}
	return binPath
}

type proc struct {
	cmd    *exec.Cmd
	URL    string
	output *syncBuffer
	done   chan error
}

// startBinary runs `openpsp` as a new user would, in dir, with env.
func startBinary(t *testing.T, dir string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"OPENPSP_ADDR=127.0.0.1:0"}, env...)...)
	out := &syncBuffer{}
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, output: out, done: make(chan error, 1)}
	urlCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`REST API V4\s+(http://127\.0\.0\.1:\d+)/`)
		for sc.Scan() {
			line := sc.Text()
			out.Write([]byte(line + "\n"))
			if m := re.FindStringSubmatch(line); m != nil {
				urlCh <- m[1]
			}
		}
	}()
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case p.URL = <-urlCh:
	case err := <-p.done:
		t.Fatalf("openpsp exited early: %v\n%s", err, out.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("openpsp did not print its URL\n%s", out.String())
	}
	return p
}

func runCommand(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openpsp %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The README's first steps: run the binary on a fresh folder, see the demo
// keys, call SDKTest with curl's request, create a shop, rotate the master
// key while the server runs, stop it with SIGTERM.
func TestBinaryFirstRun(t *testing.T) {
	dir := t.TempDir()
	p := startBinary(t, dir)
	// The banner is printed in one go, but read line by line: wait for its end.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.output.String(), "test card") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{shop.DemoTestPassword, shop.DemoTestPublicKey, shop.DemoTestHMACKey, "/demo"} {
		if !strings.Contains(p.output.String(), want) {
			t.Fatalf("banner does not show %q:\n%s", want, p.output.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "openpsp.db")); err != nil {
		t.Fatalf("no SQLite database under ./data: %v", err)
	}
	req, _ := http.NewRequest("POST", p.URL+"/api-payment/V4/Charge/SDKTest", strings.NewReader(`{"value":"hi"}`))
	req.SetBasicAuth(shop.DemoShopID, shop.DemoTestPassword)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // what curl -d sends
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte(`"status":"SUCCESS"`)) || !bytes.Contains(body, []byte(`"value":"hi"`)) {
		t.Fatalf("SDKTest: %s", body)
	}

	out := runCommand(t, dir, "shops", "create", "-name", "Boulangerie Martin", "-language", "fr")
	m := regexp.MustCompile(`Shop (\d{8}) `).FindStringSubmatch(out)
	pw := regexp.MustCompile(`password\s+(testpassword_\S+)`).FindStringSubmatch(out)
	if m == nil || pw == nil {
		t.Fatalf("shops create output:\n%s", out)
	}
	if list := runCommand(t, dir, "shops", "list"); !strings.Contains(list, m[1]) || !strings.Contains(list, shop.DemoShopID) {
		t.Fatalf("shops list:\n%s", list)
	}
	before := runCommand(t, dir, "keys", "status")
	rot := runCommand(t, dir, "keys", "rotate")
	after := runCommand(t, dir, "keys", "status")
	if before == after || !strings.Contains(rot, "rewrapping data keys") {
		t.Fatalf("keys rotate did not change the keyring:\n%s\n%s\n%s", before, rot, after)
	}
	// The running server still authenticates the new shop and signs with its keys.
	req, _ = http.NewRequest("POST", p.URL+"/api-payment/V4/Charge/SDKTest", strings.NewReader(`{"value":"after rotation"}`))
	req.SetBasicAuth(m[1], pw[1])
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte(`"value":"after rotation"`)) {
		t.Fatalf("new shop after rotation: %s", body)
	}
	if keysOut := runCommand(t, dir, "shops", "keys", m[1]); !strings.Contains(keysOut, pw[1]) {
		t.Fatalf("shop keys after rotation do not decrypt:\n%s", keysOut)
	}

	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("openpsp did not exit cleanly on SIGTERM: %v\n%s", err, p.output.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("openpsp did not stop on SIGTERM")
	}
}

func TestBinaryRefusesUnsafeProduction(t *testing.T) {
	cmd := exec.Command(binary(t))
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "OPENPSP_ENV=production", "OPENPSP_ADDR=127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = ctx
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("production without master keys started:\n%s", out)
	}
	if !strings.Contains(string(out), "OPENPSP_MASTER_KEYS") {
		t.Fatalf("the refusal does not say what to fix:\n%s", out)
	}
}
