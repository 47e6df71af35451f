package outbox_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openpsp/openpsp/internal/outbox"
)

type sigCase struct {
	Name    string   `json:"name"`
	Header  string   `json:"header"`
	Body    string   `json:"body"`
	Secrets []string `json:"secrets"`
	Now     int64    `json:"now"`
	Want    bool     `json:"want"`
}

// signatureCases are webhooks signed by OpenPSP (outbox.Sign) and checked by
// code that does not share it: a rotation, tampering, replay, the worked
// example of docs/webhooks.md.
func signatureCases() []sigCase {
	at := time.Unix(1_900_000_000, 0)
	body := `{"id":"0190a3c4","type":"token.created","data":{"pan":"497010XXXXXX0055","name":"Zoë \u00e9"}}`
	rollover := outbox.Sign([]string{"whsec_new", "whsec_old"}, at, []byte(body))
	single := outbox.Sign([]string{"whsec_new"}, at, []byte(body))
	now := at.Unix() + 30
	return []sigCase{
		{"rollover, receiver still on the old secret", rollover, body, []string{"whsec_old"}, now, true},
		{"rollover, receiver moved to the new secret", rollover, body, []string{"whsec_new"}, now, true},
		{"rollover, receiver accepts both", rollover, body, []string{"whsec_new", "whsec_old"}, now, true},
		{"old secret retired at OpenPSP", single, body, []string{"whsec_old"}, now, false},
		{"after the rollover", single, body, []string{"whsec_new", "whsec_old"}, now, true},
		{"wrong secret", rollover, body, []string{"whsec_other"}, now, false},
		{"tampered body", rollover, strings.Replace(body, "0055", "0056", 1), []string{"whsec_new"}, now, false},
		{"replayed an hour later", rollover, body, []string{"whsec_new"}, at.Unix() + 3600, false},
		{"clock 4 minutes behind", rollover, body, []string{"whsec_new"}, at.Unix() - 240, true},
		{"no signature", "t=1900000000", body, []string{"whsec_new"}, now, false},
		{"docs worked example", "t=1709546400,v1=c8906307927add1acfa93ce7c1c38ae947705c52d88f6426e5d813fe8633beec",
			`{"id":"evt_1","type":"token.created"}`, []string{"whsec_example"}, 1709546400, true},
	}
}

func TestVerifySignature(t *testing.T) {
	for _, c := range signatureCases() {
		err := outbox.VerifySignature(c.Header, []byte(c.Body), c.Secrets, outbox.DefaultSignatureTolerance, time.Unix(c.Now, 0))
		if (err == nil) != c.Want {
			t.Errorf("%s: err = %v, want ok=%v", c.Name, err, c.Want)
		}
	}
	// The independent Go check agrees with every case that only depends on
	// the signature (it does not look at time).
	for _, c := range signatureCases() {
		if strings.Contains(c.Name, "replayed") || strings.Contains(c.Name, "behind") {
			continue
		}
		ok := false
		for _, s := range c.Secrets {
			ok = ok || independentVerify(c.Header, []byte(c.Body), s)
		}
		if ok != c.Want {
			t.Errorf("independent check, %s: %v, want %v", c.Name, ok, c.Want)
		}
	}
	// Tolerance 0 skips the time check; unknown schemes are ignored.
	c := signatureCases()[0]
	if err := outbox.VerifySignature(c.Header, []byte(c.Body), c.Secrets, 0, time.Unix(0, 0)); err != nil {
		t.Errorf("tolerance 0: %v", err)
	}
	if err := outbox.VerifySignature("v0=abc,"+c.Header+",v2=zz", []byte(c.Body), c.Secrets, 0, time.Time{}); err != nil {
		t.Errorf("extra schemes: %v", err)
	}
	if err := outbox.VerifySignature("garbage", nil, c.Secrets, 0, time.Time{}); err != outbox.ErrSignatureMissing {
		t.Errorf("garbage: %v", err)
	}
}

// The Python and Node.js functions in docs/webhooks.md verify what OpenPSP
// signs. Skipped when an interpreter is missing.
func TestDocsVerifiers(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "webhooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := func(lang string) string {
		m := regexp.MustCompile("(?s)```" + lang + "\n(.*?)```").FindStringSubmatch(string(doc))
		if m == nil {
			t.Fatalf("no %s block in docs/webhooks.md", lang)
		}
		return m[1]
	}
	cases, _ := json.Marshal(signatureCases())
	harness := map[string]struct{ bin, ext, code string }{
		"python": {"python3", ".py", block("python") + `
import json, sys
print(json.dumps([verify(c["header"], c["body"].encode(), c["secrets"], 300, c["now"]) for c in json.load(sys.stdin)]))
`},
		"javascript": {"node", ".js", block("javascript") + `
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
console.log(JSON.stringify(cases.map(c => verify(c.header, Buffer.from(c.body, "utf8"), c.secrets, 300, c.now))));
`},
	}
	for lang, h := range harness {
		t.Run(lang, func(t *testing.T) {
			bin, err := exec.LookPath(h.bin)
			if err != nil {
				t.Skipf("%s not installed", h.bin)
			}
			file := filepath.Join(t.TempDir(), "verify"+h.ext)
			if err := os.WriteFile(file, []byte(h.code), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, file)
			cmd.Stdin = strings.NewReader(string(cases))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", h.bin, err, out)
			}
			var got []bool
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("output %q: %v", out, err)
			}
			for i, c := range signatureCases() {
				if got[i] != c.Want {
					t.Errorf("%s, %s: %v, want %v", lang, c.Name, got[i], c.Want)
				}
			}
		})
	}
}

// The body's "created" is written as docs/webhooks.md shows it: RFC 3339 in
// UTC, whole seconds.
func TestWebhookCreatedAsDocumented(t *testing.T) {
	at := time.Date(2030, 3, 4, 11, 0, 0, 385667076, time.FixedZone("CET", 3600))
	body, err := outbox.WebhookEnvelope("evt_1", "token.created", "69876357", "TEST", at, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		t.Fatal(err)
	}
	if ev["created"] != "2030-03-04T10:00:00Z" {
		t.Fatalf("created = %v, want 2030-03-04T10:00:00Z as the documentation writes it", ev["created"])
	}
}
