package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestDemo runs `make demo` end to end, so the README's first command stays
// true: the second sweep must repair exactly the changed source and the
// damaged destination, and every run must finish.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	text := out.String()
	second := text[strings.Index(text, "== sweep 2"):]
	for _, want := range []string{
		`(?m)^\s+shop-assets\s+us-west-2\s+\S+\s+started\s+source-changed$`,
		`(?m)^\s+shop-orders\s+us-west-2\s+\S+\s+started\s+destination-changed$`,
		`(?m)^\s+shop-website\s+us-west-2\s+\S+\s+skipped\s+unchanged$`,
		`(?m)^\s+legacy-reports\s+\S+\s+-\s+invalid\s`,
		`scanned 5, started 2, skipped 2, failed 0, invalid 1`,
	} {
		if !regexp.MustCompile(want).MatchString(second) {
			t.Errorf("second sweep output lacks %s:\n%s", want, second)
		}
	}
	// Each sweep shows its executions' final statuses: four, then two.
	succeeded := regexp.MustCompile(`(?m)^\s+execution shop-\S+-us-west-2-[0-9a-f]+\s+SUCCEEDED\s+-$`)
	first := text[strings.Index(text, "== sweep 1"):strings.Index(text, "== sweep 2")]
	if n, m := len(succeeded.FindAllString(first, -1)), len(succeeded.FindAllString(second, -1)); n != 4 || m != 2 {
		t.Errorf("%d and %d SUCCEEDED executions shown after the two sweeps, want 4 and 2:\n%s", n, m, text)
	}
	if strings.Contains(text, "FAILED") {
		t.Errorf("a run failed:\n%s", text)
	}
	if n := strings.Count(text[strings.Index(text, "== audit trail"):], "FINISHED"); n != 6 {
		t.Errorf("%d finished runs in the audit trail, want 6 (4 first runs, 2 repairs)", n)
	}
}
