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
