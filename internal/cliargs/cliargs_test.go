package cliargs

import (
	"strings"
	"testing"
)

func TestCheckUTF8(t *testing.T) {
	if err := CheckUTF8("shops create", []string{"-name", "Café ‹Démo›", ""}); err != nil {
		t.Fatalf("UTF-8 text refused: %v", err)
	}
	err := CheckUTF8("shops create", []string{"-name", "Caf\xe9"})
	if err == nil || !strings.HasPrefix(err.Error(), `shops create: the argument "Caf\xe9" is not UTF-8 text`) {
		t.Fatalf("Latin-1 text: %v", err)
	}
}
