package notify

import (
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/langpref"
)

// The emails and SMS speak exactly the languages OpenPSP speaks, which the
// payment pages speak too (hosted's TestMessagesSpeakSpoken): every
// language has its catalogue and there is no catalogue of another.
func TestCatalogsSpeakSpoken(t *testing.T) {
	entries, err := fs.ReadDir(files, "templates/i18n")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, strings.TrimSuffix(e.Name(), ".json"))
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(langpref.Spoken))
	if !slices.Equal(got, want) {
		t.Errorf("templates/i18n holds %v; OpenPSP speaks %v", got, want)
	}
	if !slices.Equal(Languages, langpref.Spoken) {
		t.Errorf("the emails choose among %v; OpenPSP speaks %v", Languages, langpref.Spoken)
	}
}

// Every language writes an event's time with the shop's zone ({zone}:
// "CET", "CEST", "UTC" for a shop that set none, "UTC+5:45" for a zone
// with no abbreviation), never a fixed "UTC", which was wrong for a shop
// elsewhere; a day alone ({day} pattern) names no zone.
func TestCatalogsDateNamesTheShopsZone(t *testing.T) {
	for _, lang := range Languages {
		date, day := catalogs[lang]["date"], catalogs[lang]["day"]
		if !strings.Contains(date, "{zone}") || strings.Contains(date, "UTC") {
			t.Errorf("%s: date %q: want {zone} and no fixed UTC", lang, date)
		}
		if strings.Contains(day, "{zone}") || strings.Contains(day, "{time}") {
			t.Errorf("%s: day %q names a time", lang, day)
		}
	}
}
