package notify

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

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
// zoneLabel's "CET", "MEZ", "UTC+1", "UTC" for a shop that set none),
// never a fixed "UTC", which was wrong for a shop elsewhere; a day alone
// ({day} pattern) names no zone.
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

// Each language names a zone as its readers do (zoneLabel): English the tz
// database's abbreviation, German its own for the European zones
// (CLDR's MEZ/MESZ, OEZ/OESZ, WEZ/WESZ), and otherwise the offset from
// UTC, which French, Spanish and Italian write where English writes CET;
// UTC is UTC in every language. German readers read "CET" as English.
func TestZoneLabelByLanguage(t *testing.T) {
	winter, summer := time.Date(2030, 1, 15, 12, 0, 0, 0, time.UTC), time.Date(2030, 7, 15, 12, 0, 0, 0, time.UTC)
	type want struct{ en, de, other string }
	for _, c := range []struct {
		zone string
		at   time.Time
		want want
	}{
		{"UTC", winter, want{"UTC", "UTC", "UTC"}},
		{"Europe/Paris", winter, want{"CET", "MEZ", "UTC+1"}},
		{"Europe/Berlin", summer, want{"CEST", "MESZ", "UTC+2"}},
		{"Europe/Helsinki", winter, want{"EET", "OEZ", "UTC+2"}},
		{"Europe/Athens", summer, want{"EEST", "OESZ", "UTC+3"}},
		{"Europe/Lisbon", winter, want{"WET", "WEZ", "UTC"}},
		{"Europe/Lisbon", summer, want{"WEST", "WESZ", "UTC+1"}},
		{"Europe/London", winter, want{"GMT", "UTC", "UTC"}},
		{"Europe/London", summer, want{"BST", "UTC+1", "UTC+1"}},
		{"America/New_York", winter, want{"EST", "UTC-5", "UTC-5"}},
		{"Asia/Kathmandu", winter, want{"UTC+5:45", "UTC+5:45", "UTC+5:45"}},
		{"America/Sao_Paulo", winter, want{"UTC-3", "UTC-3", "UTC-3"}},
	} {
		loc, err := time.LoadLocation(c.zone)
		if err != nil {
			t.Fatal(err)
		}
		at := c.at.In(loc)
		for _, lang := range Languages {
			w := c.want.other
			switch lang {
			case "en":
				w = c.want.en
			case "de":
				w = c.want.de
			}
			if got := zoneLabel(lang, at); got != w {
				t.Errorf("%s %s in %s: %q, want %q", c.zone, c.at.Month(), lang, got, w)
			}
		}
	}
}
