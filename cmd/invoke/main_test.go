package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the outcome table of events/README.md from the test's table")

// refusals are the named errors a function answers an event that is not
// its own with — and the sweep an event from an account the deployment
// does not work in (not in the local stack's memberAccounts): nothing
// read, nothing written.
var refusals = []string{"MalformedEventError", "InvalidInputError", "InvalidEventError", "UnknownAccountError"}

// expected is what each function answers each file of events/, as `make
// invoke FN=<function> EVENT=<file>` runs it (a fresh stack, the event's
// buckets put in place by seed): outcome's line for a response; for a
// refusal its errorType and what its message must name. events/README.md
// holds the same table (go test ./cmd/invoke -update rewrites it).
var expected = map[string]map[string]string{
	"blog-payload.json": {
		"sweep":          "InvalidEventError neither",
		"sweeplist":      "MalformedEventError unknown field",
		"sweepbatch":     "MalformedEventError unknown field",
		"sweepaggregate": "MalformedEventError unknown field",
		"create":         "status CREATED",
		"configure":      "InvalidInputError destBucketARN",
	},
	"cloudtrail-delete-bucket-cors-destination.json": {
		"sweep":          "targeted: scanned 2, started 1, skipped 0, failed 0, detached 0 — started example-source-bucket→us-west-2 (destination-changed: cors); executions SUCCEEDED",
		"sweeplist":      "MalformedEventError unknown field",
		"sweepbatch":     "MalformedEventError unknown field",
		"sweepaggregate": "MalformedEventError unknown field",
		"create":         "InvalidInputError sourceBucketARN",
		"configure":      "InvalidInputError sourceBucketARN",
	},
	"cloudtrail-delete-bucket-cors-member-destination.json": {
		"sweep":          "targeted: scanned 2, started 1, skipped 0, failed 0, detached 0 — started example-member-bucket→us-west-2 (destination-changed: cors); executions SUCCEEDED",
		"sweeplist":      "MalformedEventError unknown field",
		"sweepbatch":     "MalformedEventError unknown field",
		"sweepaggregate": "MalformedEventError unknown field",
		"create":         "InvalidInputError sourceBucketARN",
		"configure":      "InvalidInputError sourceBucketARN",
	},
	"cloudtrail-delete-bucket.json": {
		"sweep":          "targeted: scanned 1, started 0, skipped 0, failed 0, detached 1 — detached example-source-bucket→us-west-2 (source-deleted)",
		"sweeplist":      "MalformedEventError unknown field",
		"sweepbatch":     "MalformedEventError unknown field",
		"sweepaggregate": "MalformedEventError unknown field",
		"create":         "InvalidInputError sourceBucketARN",
		"configure":      "InvalidInputError sourceBucketARN",
	},
	"cloudtrail-forwarded-put-bucket-lifecycle.json": {
		"sweep":          "targeted: scanned 1, started 1, skipped 0, failed 0, detached 0 — started example-west-bucket→us-east-1 (new); executions SUCCEEDED",
		"sweeplist":      "MalformedEventError unknown field",
		"sweepbatch":     "MalformedEventError unknown field",
		"sweepaggregate": "MalformedEventError unknown field",
		"create":         "InvalidInputError sourceBucketARN",
		"configure":      "InvalidInputError sourceBucketARN",
	},
	"cloudtrail-put-bucket-cors-by-bucketmirror.json": {
		"sweep":          "targeted: scanned 0, started 0, skipped 0, failed 0, detached 0 — no decision",
		"sweeplist":      "MalformedEventError unknown field",
		"sweepbatch":     "MalformedEventError unknown field",
		"sweepaggregate": "MalformedEventError unknown field",
		"create":         "InvalidInputError sourceBucketARN",
		"configure":      "InvalidInputError sourceBucketARN",
	},
	"cloudtrail-put-bucket-cors-member-account.json": {
		"sweep":          "targeted: scanned 1, started 1, skipped 0, failed 0, detached 0 — started example-member-bucket→us-west-2 (source-changed: cors); executions SUCCEEDED",
		"sweeplist":      "MalformedEventError unknown field",
		"sweepbatch":     "MalformedEventError unknown field",
		"sweepaggregate": "MalformedEventError unknown field",
		"create":         "InvalidInputError sourceBucketARN",
		"configure":      "InvalidInputError sourceBucketARN",
	},
	"cloudtrail-put-bucket-cors-unlisted-account.json": {
		"sweep":          "UnknownAccountError 444455556666",
		"sweeplist":      "MalformedEventError unknown field",
		"sweepbatch":     "MalformedEventError unknown field",
		"sweepaggregate": "MalformedEventError unknown field",
		"create":         "InvalidInputError sourceBucketARN",
		"configure":      "InvalidInputError sourceBucketARN",
	},
	"cloudtrail-put-bucket-cors.json": {
		"sweep":          "targeted: scanned 1, started 1, skipped 0, failed 0, detached 0 — started example-source-bucket→us-west-2 (source-changed: cors); executions SUCCEEDED",
		"sweeplist":      "MalformedEventError unknown field",
		"sweepbatch":     "MalformedEventError unknown field",
		"sweepaggregate": "MalformedEventError unknown field",
		"create":         "InvalidInputError sourceBucketARN",
		"configure":      "InvalidInputError sourceBucketARN",
	},
	"cloudtrail-put-bucket-policy-access-denied.json": {
		"sweep":          "targeted: scanned 0, started 0, skipped 0, failed 0, detached 0 — no decision",
		"sweeplist":      "MalformedEventError unknown field",
		"sweepbatch":     "MalformedEventError unknown field",
		"sweepaggregate": "MalformedEventError unknown field",
		"create":         "InvalidInputError sourceBucketARN",
		"configure":      "InvalidInputError sourceBucketARN",
	},
	"cloudtrail-put-bucket-tagging.json": {
		"sweep":          "targeted: scanned 1, started 1, skipped 0, failed 0, detached 0 — started example-source-bucket→us-west-2 (source-changed: tags); executions SUCCEEDED",
		"sweeplist":      "MalformedEventError unknown field",
		"sweepbatch":     "MalformedEventError unknown field",
		"sweepaggregate": "MalformedEventError unknown field",
		"create":         "InvalidInputError sourceBucketARN",
		"configure":      "InvalidInputError sourceBucketARN",
	},
	"cloudtrail-tag-resource.json": {
		"sweep":          "targeted: scanned 1, started 1, skipped 0, failed 0, detached 0 — started example-source-bucket→us-west-2 (source-changed: tags); executions SUCCEEDED",
		"sweeplist":      "MalformedEventError unknown field",
		"sweepbatch":     "MalformedEventError unknown field",
		"sweepaggregate": "MalformedEventError unknown field",
		"create":         "InvalidInputError sourceBucketARN",
		"configure":      "InvalidInputError sourceBucketARN",
	},
	"cloudtrail-untag-resource.json": {
		"sweep":          "targeted: scanned 1, started 1, skipped 0, failed 0, detached 0 — started example-source-bucket→us-west-2 (source-changed: tags); executions SUCCEEDED",
		"sweeplist":      "MalformedEventError unknown field",
		"sweepbatch":     "MalformedEventError unknown field",
		"sweepaggregate": "MalformedEventError unknown field",
		"create":         "InvalidInputError sourceBucketARN",
		"configure":      "InvalidInputError sourceBucketARN",
	},
	"configure.json": {
		"sweep":          "InvalidEventError neither",
		"sweeplist":      "MalformedEventError unknown field",
		"sweepbatch":     "MalformedEventError unknown field",
		"sweepaggregate": "MalformedEventError unknown field",
		"create":         "status CREATED",
		"configure":      "status FINISHED",
	},
	"create.json": {
		"sweep":          "InvalidEventError neither",
		"sweeplist":      "MalformedEventError unknown field",
		"sweepbatch":     "MalformedEventError unknown field",
		"sweepaggregate": "MalformedEventError unknown field",
		"create":         "status CREATED",
		"configure":      "status FINISHED",
	},
	"scheduled.json": {
		"sweep":          "full via lambda: scanned 2, started 1, skipped 1, failed 0, detached 0 — skipped example-source-bucket→us-west-2 (unchanged), started example-west-bucket→us-east-1 (new); executions SUCCEEDED",
		"sweeplist":      "MalformedEventError unknown field",
		"sweepbatch":     "MalformedEventError unknown field",
		"sweepaggregate": "MalformedEventError unknown field",
		"create":         "InvalidInputError sourceBucketARN",
		"configure":      "InvalidInputError sourceBucketARN",
	},
	"sweep-direct.json": {
		"sweep":          "targeted: scanned 2, started 0, skipped 2, failed 0, detached 0 — skipped example-other-bucket (not-tagged), skipped example-source-bucket→us-west-2 (unchanged)",
		"sweeplist":      "MalformedEventError unknown field",
		"sweepbatch":     "MalformedEventError unknown field",
		"sweepaggregate": "MalformedEventError unknown field",
		"create":         "InvalidInputError sourceBucketARN",
		"configure":      "InvalidInputError sourceBucketARN",
	},
	"sweepaggregate.json": {
		"sweep":          "InvalidEventError neither",
		"sweeplist":      "MalformedEventError unknown field",
		"sweepbatch":     "MalformedEventError unknown field",
		"sweepaggregate": "full via distributed-map: scanned 2, started 1, skipped 1, failed 0, detached 0, batches 1 — no decision",
		"create":         "InvalidInputError sourceBucketARN",
		"configure":      "InvalidInputError sourceBucketARN",
	},
	"sweepbatch.json": {
		"sweep":          "InvalidEventError neither",
		"sweeplist":      "MalformedEventError unknown field",
		"sweepbatch":     "batch 0: scanned 1, started 1, skipped 0, failed 0; executions SUCCEEDED",
		"sweepaggregate": "MalformedEventError unknown field",
		"create":         "InvalidInputError sourceBucketARN",
		"configure":      "InvalidInputError sourceBucketARN",
	},
	"sweeplist.json": {
		"sweep":          "InvalidEventError neither",
		"sweeplist":      "listed 2 sources in 1 batches",
		"sweepbatch":     "InvalidEventError sweep-batch function takes",
		"sweepaggregate": "MalformedEventError unknown field",
		"create":         "InvalidInputError sourceBucketARN",
		"configure":      "InvalidInputError sourceBucketARN",
	},
}

// TestEveryFunctionWithEveryEvent runs every function of the Makefile's
// FUNCTIONS with every file of events/ the way `make invoke` does: the
// real bootstraps under aws-lambda-rie, bucketmirror's stack deployed in
// the local cloud, the event's buckets in place. Bootstraps are built once
// in one go build; one local cloud serves every pair, reset before each
// pair that reads or writes it (a refusal is decided before any call, so
// those pairs run without a reset).
func TestEveryFunctionWithEveryEvent(t *testing.T) {
	ctx := context.Background()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	fns := makefileFunctions(t, root)
	events := eventFiles(t, root)
	for _, ev := range events {
		for _, fn := range fns {
			if expected[ev][fn] == "" {
				t.Errorf("no expected outcome for %s with %s in the test's table", fn, ev)
			}
		}
	}
	for ev := range expected {
		if !slices.Contains(events, ev) {
			t.Errorf("the table names %s, which is not in events/", ev)
		}
	}
	checkReadme(t, root, fns, events)

	dir := t.TempDir()
	var buildLog bytes.Buffer
	bootstraps, err := buildBootstraps(ctx, root, dir, &buildLog, fns...)
	if err != nil {
		t.Fatalf("%v\n%s", err, buildLog.String())
	}
	s, err := startSession(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.close(); err != nil {
			t.Error(err)
		}
	})
	for _, fn := range fns {
		if err := s.register(ctx, fn, bootstraps[fn]); err != nil {
			t.Fatal(err)
		}
	}
	clean := true
	for _, ev := range events {
		event, err := os.ReadFile(filepath.Join(root, "events", ev))
		if err != nil {
			t.Fatal(err)
		}
		for _, fn := range fns {
			t.Run(fn+"/"+ev, func(t *testing.T) {
				want := expected[ev][fn]
				refusal := slices.Contains(refusals, strings.Fields(want + " ")[0])
				var notes []string
				if !refusal {
					if !clean {
						if err := s.reset(ctx); err != nil {
							t.Fatal(err)
						}
					}
					clean = false
					if notes, err = s.seed(ctx, fn, event); err != nil {
						t.Fatal(err)
					}
				}
				res, err := s.invoke(ctx, fn, event)
				if err != nil {
					t.Fatal(err)
				}
				if !matches(want, res) {
					t.Errorf("make invoke FN=%s EVENT=events/%s:\n got  %s\n want %s\nlocal cloud: %s\nresponse: %s\nfunction log:\n%s",
						fn, ev, res.Outcome, want, strings.Join(notes, "; "), res.Body, res.Log)
				}
			})
		}
	}
}

// matches: a response's outcome line equals want; a refusal has want's
// errorType and its message contains the rest of want.
func matches(want string, res result) bool {
	errType, mention, _ := strings.Cut(want, " ")
	if slices.Contains(refusals, errType) {
		return res.ErrorType == errType && strings.Contains(res.ErrorMessage, mention)
	}
	return res.Outcome == want
}

var functionsLine = regexp.MustCompile(`(?m)^FUNCTIONS\s*:=\s*(.+)$`)

func makefileFunctions(t *testing.T, root string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := functionsLine.FindSubmatch(raw)
	if m == nil {
		t.Fatal("the Makefile has no FUNCTIONS := line")
	}
	return strings.Fields(string(m[1]))
}

func eventFiles(t *testing.T, root string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(root, "events", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no events/*.json: %v", err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	slices.Sort(names)
	return names
}

const (
	readmeBegin = "<!-- outcomes: go test ./cmd/invoke -update rewrites this table -->"
	readmeEnd   = "<!-- end of outcomes -->"
)

// checkReadme fails when events/README.md's outcome table is not the
// test's (with -update it rewrites it).
func checkReadme(t *testing.T, root string, fns, events []string) {
	t.Helper()
	path := filepath.Join(root, "events", "README.md")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	begin, end := strings.Index(doc, readmeBegin), strings.Index(doc, readmeEnd)
	if begin < 0 || end < begin {
		t.Fatalf("events/README.md has no %q … %q block", readmeBegin, readmeEnd)
	}
	var b strings.Builder
	b.WriteString(readmeBegin + "\n\n| event | " + strings.Join(fns, " | ") + " |\n|---|" + strings.Repeat("---|", len(fns)) + "\n")
	for _, ev := range events {
		b.WriteString("| `" + ev + "` |")
		for _, fn := range fns {
			b.WriteString(" " + strings.ReplaceAll(expected[ev][fn], "|", `\|`) + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	table := b.String()
	if doc[begin:end] == table {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(doc[:begin]+table+doc[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("events/README.md's outcome table is not the test's: run go test ./cmd/invoke -run TestEveryFunctionWithEveryEvent -update")
}
