package shop

import (
	"fmt"
	"math"
	"testing"
)

// ContrastRatio is WCAG 2.x's, checked against the ratios the WCAG
// documents and contrast checkers give.
func TestContrastRatio(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21},
		{"#fff", "#000", 21},
		{"#ffffff", "#ffffff", 1},
		{"#767676", "#ffffff", 4.54}, // the lightest grey that passes AA on white
		{"#777777", "#ffffff", 4.48}, // and the next one, that fails
		{"#1d4ed8", "#ffffff", 6.70},
		{"#ffff00", "#ffffff", 1.07},
		{"#ff0000", "#ffffff", 4.00},
		{"#0000ff", "#ffffff", 8.59},
		{"#ffd700", "#111827", 12.65},
	} {
		if got := ContrastRatio(c.a, c.b); math.Abs(got-c.want) > 0.005 {
			t.Errorf("ContrastRatio(%s, %s) = %.3f, want %.2f", c.a, c.b, got, c.want)
		}
	}
	if got := ContrastRatio("red", "#fff"); got != 0 {
		t.Errorf("ContrastRatio of a colour name = %v, want 0", got)
	}
}

// Whatever colour a shop picks, the text on it reads at 4.5:1 at least
// (WCAG 1.4.3) and the borders drawn with it on white at 3:1 (1.4.11),
// darkened no more than needed and keeping its hue.
func TestPaletteForEveryColour(t *testing.T) {
	for r := 0; r < 256; r += 15 {
		for g := 0; g < 256; g += 15 {
			for b := 0; b < 256; b += 15 {
				c := fmt.Sprintf("#%02x%02x%02x", r, g, b)
				p := PaletteFor(c, "#1d4ed8")
				if p.Color != c {
					t.Fatalf("%s: Color %s", c, p.Color)
				}
				if got := ContrastRatio(p.On, c); got < 4.5 {
					t.Errorf("%s: text %s on it %.2f:1, want 4.5:1", c, p.On, got)
				}
				if p.On != "#ffffff" && p.On != "#111827" && p.On != "#000000" {
					t.Errorf("%s: text %s, want white or near-black", c, p.On)
				}
				if got := ContrastRatio(p.UI, "#ffffff"); got < 3 {
					t.Errorf("%s: UI %s on white %.2f:1, want 3:1", c, p.UI, got)
				}
				if ContrastRatio(c, "#ffffff") >= 3 && p.UI != c {
					t.Errorf("%s reaches 3:1 on white but UI is %s", c, p.UI)
				}
			}
		}
	}
}

func TestPaletteFor(t *testing.T) {
	for _, c := range []struct{ in, color, on, ui string }{
		{"#1d4ed8", "#1d4ed8", "#ffffff", "#1d4ed8"}, // dark enough: as it is
		{"#FFFF00", "#ffff00", "#111827", "#999900"}, // light: near-black text, a darker yellow border
		{"#f0f0f0", "#f0f0f0", "#111827", "#929292"},
		{"#0B5", "#00bb55", "#111827", "#00aa4d"},
		{"#777777", "#777777", "#000000", "#777777"}, // near-black would be 4.2:1 here
		{"", "#1e3a8a", "#ffffff", "#1e3a8a"},        // unset: the fallback
		{"red;background:url(x)", "#1e3a8a", "#ffffff", "#1e3a8a"},
	} {
		p := PaletteFor(c.in, "#1e3a8a")
		if p != (Palette{Color: c.color, On: c.on, UI: c.ui}) {
			t.Errorf("PaletteFor(%q) = %+v, want {%s %s %s}", c.in, p, c.color, c.on, c.ui)
		}
	}
}
