package sweep_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

// handle runs an event file through the handler as the Lambda runtime does.
func handle(t *testing.T, h *sweep.Handler, file string) sweep.Summary {
	t.Helper()
	return handleEvent(t, h, file)
}

func TestEventFixtures(t *testing.T) {
	// The CloudTrail and direct fixtures name example-source-bucket and
	// example-other-bucket; this test owns them.
	e := newEnv(t)
	e.createBucket("example-source-bucket", homeRegion, map[string]string{e.tag("destination-regions"): "us-west-2", "team": "data"})
	e.createBucket("example-other-bucket", homeRegion, map[string]string{e.tag("destination-regions"): "eu-central-1"})
	h := sweep.NewHandler(e.s, quiet())

	t.Run("cloudtrail-put-bucket-tagging", func(t *testing.T) {
		e.rec.reset()
		sum := handle(t, h, "cloudtrail-put-bucket-tagging.json")
		if sum.Scope != "targeted" || len(sum.Decisions) != 1 {
			t.Fatalf("summary %+v, want one decision about the event's bucket", sum)
		}
		wantDecision(t, sum, "example-source-bucket", "us-west-2", sweep.ActionStarted, "new")
		if n := e.rec.count("Resource Groups Tagging API.GetResources"); n != 0 {
			t.Errorf("GetResources called %d times: a CloudTrail event must read the bucket's tags directly", n)
		}
	})
	t.Run("sweep-direct", func(t *testing.T) {
		sum := handle(t, h, "sweep-direct.json")
		wantCounts(t, sum, 1, 1, 0, 0, 0)
		wantDecision(t, sum, "example-source-bucket", "us-west-2", sweep.ActionSkipped, "unchanged")
		wantDecision(t, sum, "example-other-bucket", "eu-central-1", sweep.ActionStarted, "new")
	})
	t.Run("scheduled", func(t *testing.T) {
		sum := handle(t, h, "scheduled.json")
		if sum.Scope != "full" {
			t.Errorf("scope %q, want full", sum.Scope)
		}
		wantCounts(t, sum, 0, 2, 0, 0, 0)
		wantDecision(t, sum, "example-source-bucket", "us-west-2", sweep.ActionSkipped, "unchanged")
		wantDecision(t, sum, "example-other-bucket", "eu-central-1", sweep.ActionSkipped, "unchanged")
	})
}

// rawFixture reads events/file as it is.
func rawFixture(t *testing.T, file string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("../../events", file))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestParseEvent(t *testing.T) {
	fixture := func(file string) map[string]any {
		raw, err := os.ReadFile(filepath.Join("../../events", file))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	cloudTrail := func(edit func(detail map[string]any)) []byte {
		ev := fixture("cloudtrail-put-bucket-tagging.json")
		edit(ev["detail"].(map[string]any))
		raw, _ := json.Marshal(ev)
		return raw
	}
	envelope := func(file, account string, dropRecipient bool) []byte {
		ev := fixture(file)
		ev["account"] = account
		if dropRecipient {
			delete(ev["detail"].(map[string]any), "recipientAccountId")
		}
		raw, _ := json.Marshal(ev)
		return raw
	}
	for _, c := range []struct {
		name    string
		raw     []byte
		buckets []string
		ignore  bool
		invalid string // part of the InvalidEventError's message
		account string // the account the request names, when checked
	}{
		{name: "member account", raw: rawFixture(t, "cloudtrail-put-bucket-cors-member-account.json"), buckets: []string{"example-member-bucket"}, account: "111122223333"},
		{name: "envelope and recipient disagree", raw: envelope("cloudtrail-put-bucket-cors-member-account.json", "123456789012", false), invalid: "differ"},
		{name: "envelope account only", raw: envelope("cloudtrail-put-bucket-cors-member-account.json", "111122223333", true), buckets: []string{"example-member-bucket"}, account: "111122223333"},
		{name: "account not an account id", raw: envelope("cloudtrail-put-bucket-cors-member-account.json", "12345", true), invalid: "12-digit"},
		{name: "every twin", raw: cloudTrail(func(d map[string]any) { d["eventName"] = "DeleteBucketLifecycle" }), buckets: []string{"example-source-bucket"}},
		{name: "public access block as CloudTrail spells it", raw: cloudTrail(func(d map[string]any) { d["eventName"] = "PutBucketPublicAccessBlock" }), buckets: []string{"example-source-bucket"}},
		{name: "failed call", raw: cloudTrail(func(d map[string]any) { d["errorCode"] = "AccessDenied" }), ignore: true},
		{name: "object call", raw: cloudTrail(func(d map[string]any) { d["eventName"] = "PutObject" }), invalid: "PutObject is not a bucket configuration"},
		{name: "other service", raw: cloudTrail(func(d map[string]any) { d["eventSource"] = "ec2.amazonaws.com" }), invalid: "ec2.amazonaws.com"},
		{name: "no bucket", raw: cloudTrail(func(d map[string]any) { d["requestParameters"] = map[string]any{} }), invalid: "names no bucket"},
		{name: "other detail type", raw: []byte(`{"detail-type":"Object Created","source":"aws.s3","time":"2026-11-25T10:00:00Z","detail":{}}`), invalid: "Object Created"},
		{name: "empty bucket list", raw: []byte(`{"buckets":[]}`), invalid: "names no bucket"},
		{name: "bucket list typo", raw: []byte(`{"buckets":["a"],"regions":["x"]}`), invalid: "unknown field"},
		{name: "state machine input", raw: []byte(`{"sourceBucketARN":"arn:aws:s3:::x"}`), invalid: "neither"},
		{name: "not an object", raw: []byte(`["a"]`), invalid: "not a JSON object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := sweep.ParseEvent(c.raw)
			var invalid *sweep.InvalidEventError
			switch {
			case c.invalid != "":
				if !errors.As(err, &invalid) || !strings.Contains(err.Error(), c.invalid) {
					t.Errorf("err = %v, want an InvalidEventError saying %q", err, c.invalid)
				}
			case err != nil:
				t.Errorf("err = %v", err)
			case (req.Ignore != "") != c.ignore || strings.Join(req.Buckets, ",") != strings.Join(c.buckets, ","):
				t.Errorf("request = %+v, want buckets %v ignore %v", req, c.buckets, c.ignore)
			case c.account != "" && req.Account != c.account:
				t.Errorf("request account %q, want %q", req.Account, c.account)
			}
		})
	}
}

// TestSweepFunctionUnderRIE takes the real bootstrap of functions/sweep
// (built by TestMain) and invokes it under
// aws-lambda-rie: its environment wiring (without BUCKETMIRROR_ACCOUNT_ID:
// the account comes from STS), its answer, its EMF line, and the errorType
// of a refused event.
func TestSweepFunctionUnderRIE(t *testing.T) {
	e := newEnv(t)
	untagged := e.bucket("rie")
	e.createBucket(untagged, homeRegion, nil)
	<-bootstrapReady
	if bootstrapErr != nil {
		t.Fatal(bootstrapErr)
	}
	env := []string{"BUCKETMIRROR_TABLE=" + e.m.Store.Table(), "BUCKETMIRROR_STATE_MACHINE_ARN=" + machineARN,
		"BUCKETMIRROR_TAG_PREFIX=" + e.prefix, "BUCKETMIRROR_REGIONS=" + strings.Join(regions, " ")}
	if err := cloud.RegisterBinary(e.ctx, "bucketmirror-sweep", bootstrap, env); err != nil {
		t.Fatal(err)
	}
	invoke := func(payload string) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.Post(cloud.Endpoint+"/2015-03-31/functions/bucketmirror-sweep/invocations", "application/json", strings.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}

	resp, body := invoke(`{"buckets":["` + untagged + `"]}`)
	var sum sweep.Summary
	if resp.Header.Get("X-Amz-Function-Error") != "" || json.Unmarshal(body, &sum) != nil {
		t.Fatalf("direct invoke: %s", body)
	}
	wantDecision(t, sum, untagged, "", sweep.ActionSkipped, "not-tagged")

	resp, body = invoke(`{"detail-type":"Object Created","source":"aws.s3","time":"2026-11-25T10:00:00Z","detail":{}}`)
	var fnErr struct{ ErrorType, ErrorMessage string }
	_ = json.Unmarshal(body, &fnErr)
	if resp.Header.Get("X-Amz-Function-Error") == "" || fnErr.ErrorType != "InvalidEventError" {
		t.Errorf("refused event: header %q body %s, want a function error of type InvalidEventError", resp.Header.Get("X-Amz-Function-Error"), body)
	}

	logs, err := os.ReadFile(filepath.Join(filepath.Dir(cloud.LogPath), "bucketmirror-sweep.rie.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(logs, []byte(`"CloudWatchMetrics":[{"Namespace":"bucketmirror"`)) {
		t.Errorf("no EMF line in the function's output:\n%s", logs)
	}
}

func TestSetupReadsTheEnvironment(t *testing.T) {
	base := map[string]string{"BUCKETMIRROR_TABLE": table, "BUCKETMIRROR_REGIONS": "us-east-1 us-west-2", "BUCKETMIRROR_STATE_MACHINE_ARN": machineARN}
	getenv := func(overrides map[string]string) func(string) string {
		return func(name string) string {
			if v, ok := overrides[name]; ok {
				return v
			}
			return base[name]
		}
	}
	ctx := t.Context()
	s, err := sweep.Setup(ctx, cloud.AWSConfig(), getenv(nil), false, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Config(); c.AccountID != localcloud.AccountID || c.TagPrefix != sweep.DefaultTagPrefix || c.EventBus != "default" || strings.Join(c.Regions, " ") != "us-east-1 us-west-2" {
		t.Errorf("config %+v", c)
	}
	// BUCKETMIRROR_REGIONS alone narrows the destinations too, as it always
	// has; neither variable: sources in every Region holding a bucket,
	// destinations anywhere bucketmirror knows; each narrowed on its own.
	if c := s.Config(); strings.Join(c.DestinationRegions, " ") != "us-east-1 us-west-2" {
		t.Errorf("BUCKETMIRROR_REGIONS alone: destinations %v, want us-east-1 us-west-2", c.DestinationRegions)
	}
	for name, c := range map[string]struct {
		env           map[string]string
		sources, dest []string
	}{
		"neither":          {map[string]string{"BUCKETMIRROR_REGIONS": ""}, nil, mirror.Regions},
		"destinations":     {map[string]string{"BUCKETMIRROR_REGIONS": "", "BUCKETMIRROR_DESTINATION_REGIONS": "eu-west-1 ap-south-1"}, nil, []string{"eu-west-1", "ap-south-1"}},
		"both, separately": {map[string]string{"BUCKETMIRROR_REGIONS": "us-east-1", "BUCKETMIRROR_DESTINATION_REGIONS": "eu-west-1"}, []string{"us-east-1"}, []string{"eu-west-1"}},
	} {
		s, err := sweep.Setup(ctx, cloud.AWSConfig(), getenv(c.env), false, quiet())
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := s.Config(); !slices.Equal(got.Regions, c.sources) || !slices.Equal(got.DestinationRegions, c.dest) {
			t.Errorf("%s: sources %v destinations %v, want %v and %v", name, got.Regions, got.DestinationRegions, c.sources, c.dest)
		}
	}
	if _, err := sweep.Setup(ctx, cloud.AWSConfig(), getenv(map[string]string{"BUCKETMIRROR_STATE_MACHINE_ARN": ""}), true, quiet()); err != nil {
		t.Errorf("--local needs no state machine: %v", err)
	}
	for name, c := range map[string]struct {
		env  map[string]string
		says string
	}{
		"no state machine": {map[string]string{"BUCKETMIRROR_STATE_MACHINE_ARN": ""}, "BUCKETMIRROR_STATE_MACHINE_ARN"},
		"bad Region":       {map[string]string{"BUCKETMIRROR_REGIONS": "us-east-1,us-west-2"}, `"us-east-1,us-west-2"`},
		"bad destination":  {map[string]string{"BUCKETMIRROR_DESTINATION_REGIONS": "mars-north-1"}, `BUCKETMIRROR_DESTINATION_REGIONS: "mars-north-1"`},
		"bad account":      {map[string]string{"BUCKETMIRROR_ACCOUNT_ID": "12345"}, "12-digit"},
		"prefix mismatch":  {map[string]string{"BUCKETMIRROR_TAG_PREFIX": "mirror/"}, ""},
	} {
		_, err := sweep.Setup(ctx, cloud.AWSConfig(), getenv(c.env), false, quiet())
		switch {
		case name == "prefix mismatch":
			if err != nil {
				t.Errorf("%s: %v (both read the same variable)", name, err)
			}
		case err == nil || !strings.Contains(err.Error(), c.says):
			t.Errorf("%s: err %v, want one naming %s", name, err, c.says)
		}
	}
}

// TestMalformedSweepEventsAreNamed: a body that is not a JSON object gets a
// MalformedEventError naming the shapes the sweep takes, before any AWS call.
func TestMalformedSweepEventsAreNamed(t *testing.T) {
	h := sweep.NewHandler(nil, nil).Lambda()
	for name, body := range map[string]string{"garbage": "oops", "empty": "", "null": "null", "array": `[{"buckets": ["a"]}]`,
		"deep": strings.Repeat("[", 100) + strings.Repeat("]", 100)} {
		_, err := h.Invoke(context.Background(), []byte(body))
		var malformed *mirror.MalformedEventError
		if !errors.As(err, &malformed) || !strings.Contains(err.Error(), "Scheduled Event") || strings.Contains(err.Error(), "EOF") {
			t.Errorf("%s body: %T %v, want MalformedEventError naming the expected shapes", name, err, err)
		}
	}
}
