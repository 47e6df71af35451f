package card

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const testPAN = "4970100000000055"

func mustPAN(t *testing.T, s string) PAN {
	t.Helper()
	p, err := ParsePAN(s)
	if err != nil {
		t.Fatalf("ParsePAN: %v", err)
	}
	return p
}

// leaks reports whether out shows the digits between the BIN and the last
// four, or the whole number, in clear.
func leaks(out string) bool {
	return strings.Contains(out, testPAN) || strings.Contains(out, testPAN[6:12])
}

type exported struct {
	Name string
	PAN  PAN
	CVV  SecurityCode
}

type unexported struct {
	name string
	pan  PAN
	cvv  SecurityCode
}

func TestPANNeverPrintsDigits(t *testing.T) {
	p := mustPAN(t, testPAN)
	cvv, err := NewSecurityCode("987")
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{
		"value":              p,
		"pointer":            &p,
		"slice":              []PAN{p},
		"map":                map[string]PAN{"k": p},
		"exported field":     exported{"a", p, cvv},
		"exported field ptr": &exported{"a", p, cvv},
		// fmt cannot call methods on unexported fields; it walks them by
		// reflection, which is why the digits live behind a pointer.
		"unexported field":     unexported{"a", p, cvv},
		"unexported field ptr": &unexported{"a", p, cvv},
		"any":                  any(p),
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%s", "%+v", "%#v", "%q", "%x", "%X", "%d", "%T %v", "%10.3v"} {
			out := fmt.Sprintf(verb, v)
			if leaks(out) || strings.Contains(out, "987") {
				t.Errorf("%s with %s leaks: %s", name, verb, out)
			}
		}
		for _, out := range []string{fmt.Sprint(v), fmt.Sprintln(v), fmt.Errorf("charge failed for %v", v).Error(),
			fmt.Errorf("wrapped: %w", fmt.Errorf("charge %+v", v)).Error()} {
			if leaks(out) || strings.Contains(out, "987") {
				t.Errorf("%s leaks: %s", name, out)
			}
		}
	}
	if got := fmt.Sprintf("%v|%s|%q|%#v", p, p, p, p); got != `497010XXXXXX0055|497010XXXXXX0055|"497010XXXXXX0055"|card.PAN(497010XXXXXX0055)` {
		t.Errorf("formats = %s", got)
	}
	if got := fmt.Sprintf("%v %#v", cvv, cvv); got != "XXX XXX" {
		t.Errorf("cvv formats = %s", got)
	}
}

func TestPANNeverLogsDigits(t *testing.T) {
	p := mustPAN(t, testPAN)
	cvv, _ := NewSecurityCode("987")
	for _, mk := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(mk(&buf))
		log.Info("pay", "pan", p, "ptr", &p, "cvv", cvv,
			slog.Any("struct", exported{"a", p, cvv}),
			slog.Any("unexported", unexported{"a", p, cvv}),
			slog.Group("g", "pan", p))
		log.With("pan", p).Error("failed", "err", fmt.Errorf("card %v refused", p))
		out := buf.String()
		if leaks(out) || strings.Contains(out, "987") {
			t.Errorf("log leaks:\n%s", out)
		}
		if !strings.Contains(out, "497010XXXXXX0055") {
			t.Errorf("log lacks the masked PAN:\n%s", out)
		}
	}
}

func TestPANNeverMarshalsDigits(t *testing.T) {
	p := mustPAN(t, testPAN)
	cvv, _ := NewSecurityCode("987")
	b, err := json.Marshal(map[string]any{"v": p, "p": &p, "s": exported{"a", p, cvv}, "l": []PAN{p}})
	if err != nil {
		t.Fatal(err)
	}
	if leaks(string(b)) || strings.Contains(string(b), "987") {
		t.Errorf("json leaks: %s", b)
	}
	b, _ = json.Marshal(p)
	if string(b) != `"497010XXXXXX0055"` {
		t.Errorf("json = %s", b)
	}
	txt, _ := p.MarshalText()
	if string(txt) != "497010XXXXXX0055" {
		t.Errorf("text = %s", txt)
	}
	// A PAN used as a map key goes through MarshalText.
	b, _ = json.Marshal(map[PAN]int{p: 1})
	if leaks(string(b)) {
		t.Errorf("json map key leaks: %s", b)
	}
}

func TestPANAccessors(t *testing.T) {
	p := mustPAN(t, "4970 1000-0000 0055")
	if p.Reveal() != testPAN || p.BIN() != "497010" || p.Last4() != "0055" || p.Masked() != "497010XXXXXX0055" {
		t.Errorf("accessors: %s %s %s", p.BIN(), p.Last4(), p.Masked())
	}
	if p.IsZero() || !(PAN{}).IsZero() {
		t.Error("IsZero")
	}
	if !p.Equal(mustPAN(t, testPAN)) || p.Equal(mustPAN(t, "4111111111111111")) || p.Equal(PAN{}) {
		t.Error("Equal")
	}
	var z PAN
	if z.Masked() != "XXXX" || z.BIN() != "" || z.Last4() != "" || z.Reveal() != "" || z.Brand() != "" {
		t.Error("zero PAN accessors")
	}
	if p.Brand() != CB {
		t.Errorf("Brand = %s", p.Brand())
	}
}

func TestSecurityCode(t *testing.T) {
	for _, s := range []string{"123", "1234"} {
		c, err := NewSecurityCode(s)
		if err != nil || c.Reveal() != s || c.IsZero() {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{"", "12", "12345", "12a", "１２３"} {
		if _, err := NewSecurityCode(s); err == nil {
			t.Errorf("%q accepted", s)
		} else if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error echoes input: %v", err)
		}
	}
	if !(SecurityCode{}).IsZero() || (SecurityCode{}).Reveal() != "" {
		t.Error("zero code")
	}
}

func TestParseErrorsNeverContainDigits(t *testing.T) {
	for _, s := range []string{
		"4970100000000056",      // Luhn
		"49701000000000550000",  // too long
		"4970100000000055x",     // bad character
		"378282246310005000",    // AMEX with 18 digits: Luhn first
		"3782822463100052",      // AMEX, 16 digits
		"4970 1000 0000 0055 1", // 17 digits
	} {
		_, err := ParsePAN(s)
		if err == nil {
			t.Fatalf("%s accepted", s)
		}
		digits := strings.NewReplacer(" ", "", "x", "").Replace(s)
		if strings.Contains(err.Error(), digits[6:12]) || strings.Contains(err.Error(), digits[len(digits)-4:]) {
			t.Errorf("error shows digits: %v", err)
		}
		if !errors.Is(err, ErrLuhn) && !errors.Is(err, ErrLength) && !errors.Is(err, ErrInvalidNumber) {
			t.Errorf("unclassified error %v", err)
		}
	}
}
