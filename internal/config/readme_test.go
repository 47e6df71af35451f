package config

import (
	"os"
	"strings"
	"testing"
)

// The README's configuration table lists every setting: this test fails when
// a setting is added without documentation.
func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars {
		if !strings.Contains(string(b), "`"+v.Env+"`") {
			t.Errorf("README.md does not document %s", v.Env)
		}
	}
}

// MarkdownTable renders Vars for the README.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| Variable | Flag | Default | Meaning |\n|---|---|---|---|\n")
	for _, v := range Vars {
		b.WriteString("| `" + v.Env + "` | `-" + v.Flag + "` | " + v.Default + " | " + v.Help + " |\n")
	}
	return b.String()
}

func TestPrintTable(t *testing.T) {
	if os.Getenv("PRINT_CONFIG_TABLE") != "" {
		os.Stdout.WriteString(MarkdownTable())
	}
}
