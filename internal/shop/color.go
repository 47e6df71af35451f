package shop

import (
	"fmt"
	"math"
	"strconv"
)

// Palette is what a page or an email draws with a shop's colour, so that
// any colour a shop picks stays readable (WCAG 2.x AA): the colour itself
// as a background, the text written on it, and the colour darkened where
// it is drawn on white.
type Palette struct {
	// Color is the shop's colour as #rrggbb: backgrounds (the pay button,
	// an email's header).
	Color string
	// On is the text on Color: white or near-black, whichever contrasts
	// more; at least 4.5:1 whatever the colour.
	On string
	// UI is Color, darkened as little as needed to reach 3:1 on white (WCAG
	// 1.4.11, non-text contrast): borders and outlines drawn on the white
	// page (the selected tab, the edge of a light button).
	UI string
}

// The text colours of On: white, or the pages' near-black text colour;
// black for the few mid colours (around #777777) where near-black would
// fall just short of 4.5:1.
var (
	white     = rgb{0xff, 0xff, 0xff}
	nearBlack = rgb{0x11, 0x18, 0x27}
	black     = rgb{0, 0, 0}
)

// PaletteFor returns the palette of colour s (#rgb or #rrggbb, as the
// settings take it, ValidPrimaryColor), or of fallback when c is not
// such a colour (unset, or saved by an older version).
func PaletteFor(s, fallback string) Palette {
	c, ok := parseHex(s)
	if !ok {
		c, ok = parseHex(fallback)
		if !ok {
			panic(fmt.Sprintf("shop: fallback colour %q is not #rgb or #rrggbb", fallback))
		}
	}
	return Palette{Color: c.hex(), On: textOn(c).hex(), UI: darkenTo(c, white, 3).hex()}
}

// ContrastRatio is WCAG 2.x's contrast ratio of two colours (#rgb or
// #rrggbb): (L1 + 0.05) / (L2 + 0.05) of their relative luminances, the
// lighter first; from 1 (same luminance) to 21 (black on white). It is 0
// when either is not such a colour.
func ContrastRatio(a, b string) float64 {
	x, ok1 := parseHex(a)
	y, ok2 := parseHex(b)
	if !ok1 || !ok2 {
		return 0
	}
	return contrast(x, y)
}

type rgb [3]uint8

func parseHex(s string) (rgb, bool) {
	if !ValidPrimaryColor(s) {
		return rgb{}, false
	}
	h := s[1:]
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	var c rgb
	for i := range c {
		v, _ := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		c[i] = uint8(v)
	}
	return c, true
}

func (c rgb) hex() string { return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2]) }

// luminance is WCAG 2.x's relative luminance: each sRGB channel made
// linear, weighted 0.2126 R + 0.7152 G + 0.0722 B. (WCAG 2.0 writes the
// threshold 0.03928, sRGB 0.04045: no 8-bit value lies between them.)
func (c rgb) luminance() float64 {
	lin := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c[0]) + 0.7152*lin(c[1]) + 0.0722*lin(c[2])
}

func contrast(a, b rgb) float64 {
	la, lb := a.luminance(), b.luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// textOn returns white or near-black, whichever contrasts more with the
// background c. Against pure black, one of the two always reaches 4.58:1
// (the worst case is a luminance of about 0.18, where white and black tie);
// near-black, a little lighter, can fall to 4.2:1 there, so black takes
// its place when it would be under 4.5:1.
func textOn(c rgb) rgb {
	if contrast(c, white) >= contrast(c, black) {
		return white
	}
	if contrast(c, nearBlack) >= 4.5 {
		return nearBlack
	}
	return black
}

// darkenTo returns c scaled towards black (its hue kept) by the smallest
// step of 1% that reaches ratio against bg, or c itself when it already
// does. Black reaches any ratio up to 21:1 on white, so it ends.
func darkenTo(c, bg rgb, ratio float64) rgb {
	for pct := 100; pct > 0; pct-- {
		d := rgb{scale(c[0], pct), scale(c[1], pct), scale(c[2], pct)}
		if contrast(d, bg) >= ratio {
			return d
		}
	}
	return rgb{}
}

func scale(v uint8, pct int) uint8 { return uint8((int(v)*pct + 50) / 100) }
