package notify

import (
	"sync"
	"testing"

	"github.com/openpsp/openpsp/internal/shop"
)

// palette is shop.PaletteFor with the emails' fallback, from memory or
// not, from any goroutine.
func TestPaletteIsPaletteFor(t *testing.T) {
	colors := []string{"#FFD700", "#ffd700", "#fd0", "#1e3a8a", "#777777", "#000", "#ffffff", "", "red", "#12345", "#GGGGGG", "#FFD700 "}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 3 {
				for _, c := range colors {
					if got, want := palette(c), shop.PaletteFor(c, defaultColor); got != want {
						t.Errorf("palette(%q) = %+v, want %+v", c, got, want)
					}
				}
			}
		})
	}
	wg.Wait()
}

// Past maxPalettes colours the map stops growing; the others are still
// right.
func TestPaletteBounded(t *testing.T) {
	for i := range maxPalettes + 10 {
		c := "#" + string("0123456789abcdef"[i>>8&15]) + string("0123456789abcdef"[i>>4&15]) + string("0123456789abcdef"[i&15])
		if i >= 4096 {
			c = "bad" + c
		}
		if got, want := palette(c), shop.PaletteFor(c, defaultColor); got != want {
			t.Fatalf("palette(%q) = %+v, want %+v", c, got, want)
		}
	}
	palettes.RLock()
	n := len(palettes.m)
	palettes.RUnlock()
	if n > maxPalettes {
		t.Fatalf("%d palettes kept, at most %d", n, maxPalettes)
	}
}
