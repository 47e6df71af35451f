package ogone_test

import (
	"strings"
	"testing"

	"github.com/openpsp/openpsp/internal/ogone"
)

// A post-sale URL that is not UTF-8 ("https://a.example/\xff", as a
// Latin-1 client sends it) passed url.Parse: the domain check refuses it
// itself, whatever called it, and says why.
func TestValidPostSaleURLRefusesTextThatIsNotUTF8(t *testing.T) {
	for _, v := range []string{"https://a.example/\xff", "https://caf\xe9.example/ps", "http://a.example/ps?x=\xe9"} {
		err := ogone.ValidPostSaleURL(v)
		if err == nil || !strings.Contains(err.Error(), "UTF-8") {
			t.Errorf("ValidPostSaleURL(%q) = %v, want a refusal saying it must be UTF-8", v, err)
		}
	}
	for _, v := range []string{"https://a.example/ps", "https://a.example/caf%C3%A9", "https://a.example/café"} {
		if err := ogone.ValidPostSaleURL(v); err != nil {
			t.Errorf("ValidPostSaleURL(%q) = %v, want nil", v, err)
		}
	}
}
