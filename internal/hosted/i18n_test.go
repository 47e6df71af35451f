package hosted

import (
	"maps"
	"slices"
	"testing"

	"github.com/openpsp/openpsp/internal/langpref"
)

// The pages speak exactly the languages OpenPSP speaks, which the emails
// speak too (notify's TestCatalogsSpeakSpoken): a buyer paying in Italian
// gets an Italian confirmation.
func TestMessagesSpeakSpoken(t *testing.T) {
	got := slices.Sorted(maps.Keys(messages))
	want := slices.Sorted(slices.Values(langpref.Spoken))
	if !slices.Equal(got, want) {
		t.Errorf("the pages' messages are in %v; OpenPSP speaks %v", got, want)
	}
	if !slices.Equal(languages, langpref.Spoken) {
		t.Errorf("the pages choose among %v; OpenPSP speaks %v", languages, langpref.Spoken)
	}
}
