package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

// badCase is one malformed input and what it did.
type badCase struct {
	Entrypoint string `json:"entrypoint"` // create, configure, sweep, sweep-list, sweep-batch, sweep-aggregate, tag, cli
	Name       string `json:"name"`
	Input      string `json:"input"`
	// Outcome: error (the handler or CLI failed), invalid (an INVALID
	// record), failed-decision (the sweep summary carries the error),
	// skipped, or ok (accepted!).
	Outcome string `json:"outcome"`
	Message string `json:"message"`
	// Clear: the message names the offending field or value.
	Clear bool `json:"clear"`
	// BucketsCreated and ItemsWritten are what appeared in the account;
	// ErrorRecords are FAILED/INVALID records, the designed way to report
	// a failure (not counted as side effects); OtherItems are the rest.
	BucketsCreated  []string `json:"buckets_created,omitempty"`
	ErrorRecords    int      `json:"error_records"`
	OtherItems      []string `json:"other_items,omitempty"`
	ForeignModified bool     `json:"foreign_bucket_modified,omitempty"`
	SideEffects     int      `json:"side_effects"`
}

type badInputResult struct {
	Cases       int `json:"cases"`
	SideEffects int `json:"side_effects"`
	// Unclear counts cases whose message does not name what was wrong;
	// Accepted counts cases that were not refused at all.
	Unclear     int            `json:"unclear"`
	Accepted    int            `json:"accepted"`
	ErrorRecord int            `json:"error_records"`
	ByEntry     map[string]int `json:"cases_by_entrypoint"`
	Details     []badCase      `json:"details"`
	DurationS   float64        `json:"duration_s"`
}

type badEnv struct {
	cloud    *localcloud.Cloud
	direct   *awsclient.Clients
	ddb      *dynamodb.Client
	table    string
	m        *mirror.Mirrorer
	sweeper  *sweep.Sweeper
	verifier *bucketconfig.Engine
	foreign  []string
	cli      string
}

const (
	badSource  = "bench-bad-source"
	badForeign = "bench-bad-foreign"
)

func benchBadInput(ctx context.Context, cloud *localcloud.Cloud) (*badInputResult, error) {
	began := time.Now()
	env := &badEnv{cloud: cloud, direct: awsclient.New(cloud.AWSConfig()), table: "bench-bad", ddb: dynamodb.NewFromConfig(cloud.AWSConfig())}
	env.verifier = bucketconfig.New(env.direct, bucketconfig.Options{AccountID: localcloud.AccountID})
	cfg := cloud.AWSConfig()
	cfg.Retryer = awsclient.NewRetryer
	env.m = mirror.NewMirrorer(cfg, mirror.Config{Table: env.table, TagPrefix: "bucketmirror:", AccountID: localcloud.AccountID}, bucketconfig.Options{}, discardLog)
	if err := env.m.Store.CreateTable(ctx); err != nil {
		return nil, err
	}
	s, err := sweep.New(cfg, sweep.Config{Regions: []string{srcRegion, dstRegion}, AccountID: localcloud.AccountID, Owner: "bench-bad"}, env.m, &sweep.LocalStarter{Mirrorer: env.m}, discardLog)
	if err != nil {
		return nil, err
	}
	s.Metrics = nil
	env.sweeper = s
	// A valid source with some configuration, and a bucket that is not
	// bucketmirror's (no source tag) with its own configuration.
	if err := createBucket(ctx, env.direct, bucketconfig.Bucket{Name: badSource, Region: srcRegion}, false); err != nil {
		return nil, err
	}
	if err := configureSource(ctx, env.direct, badSource, 0); err != nil {
		return nil, err
	}
	// configureSource tags it for mirroring; this source is only used
	// through explicit inputs, so drop the tag.
	if _, err := env.direct.S3(srcRegion).PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(badSource), Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("team"), Value: aws.String("bench")}}}}); err != nil {
		return nil, err
	}
	// One foreign bucket per entrypoint, so that a case that wrongly takes
	// one over does not change the outcome of the next.
	for _, entry := range []string{"create", "configure", "cli"} {
		name := badForeign + "-" + entry
		env.foreign = append(env.foreign, name)
		if err := createBucket(ctx, env.direct, bucketconfig.Bucket{Name: name, Region: dstRegion}, false, types.Tag{Key: aws.String("owner"), Value: aws.String("someone-else")}); err != nil {
			return nil, err
		}
		if _, err := env.direct.S3(dstRegion).PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String(name), CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{
			{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"https://someone-else.example.com"}}}}}); err != nil {
			return nil, err
		}
	}
	env.cli = buildCLI(ctx)
	if env.cli != "" {
		defer os.RemoveAll(filepath.Dir(env.cli))
	}

	res := &badInputResult{ByEntry: map[string]int{}}
	for _, c := range env.cases() {
		bc, err := env.runCase(ctx, c)
		if err != nil {
			return res, fmt.Errorf("case %s/%s: %w", c.entry, c.name, err)
		}
		res.Details = append(res.Details, bc)
		res.Cases++
		res.ByEntry[bc.Entrypoint]++
		res.SideEffects += bc.SideEffects
		res.ErrorRecord += bc.ErrorRecords
		if !bc.Clear {
			res.Unclear++
		}
		if bc.Outcome == "ok" {
			res.Accepted++
		}
		if bc.SideEffects > 0 || !bc.Clear || bc.Outcome == "ok" {
			progress("bad input %s/%s: %s, side effects %d (%s): %s", bc.Entrypoint, bc.Name, bc.Outcome, bc.SideEffects,
				strings.Join(append(bc.BucketsCreated, bc.OtherItems...), " "), truncate(bc.Message, 200))
		}
	}
	res.DurationS = round1(time.Since(began).Seconds())
	progress("bad input: %d cases, %d side effects, %d unclear, %d accepted, %d error records", res.Cases, res.SideEffects, res.Unclear, res.Accepted, res.ErrorRecord)
	return res, nil
}

// buildCLI builds cmd/bucketmirror into a temporary directory; "" when it
// cannot (the CLI cases are then left out and the report says so).
func buildCLI(ctx context.Context) string {
	dir, err := os.MkdirTemp("", "bucketmirror-bench-cli-")
	if err != nil {
		return ""
	}
	bin := filepath.Join(dir, "bucketmirror")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/bucketmirror").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		progress("bad input: building the CLI failed, CLI cases left out: %v\n%s", err, out)
		return ""
	}
	return bin
}

type caseSpec struct {
	entry, name, input string
	// mentions are what a clear message names (any of them).
	mentions []string
	// tags, for entry "tag": the source's tag set before a targeted sweep.
	tags map[string]string
	args []string
}

func blog(mod func(map[string]any)) string {
	in := map[string]any{"sourceBucketARN": "arn:aws:s3:::" + badSource, "sourceAccountNumber": localcloud.AccountID,
		"destAccountNumber": localcloud.AccountID, "sourceRegion": srcRegion, "destRegion": dstRegion}
	mod(in)
	raw, _ := json.Marshal(in)
	return string(raw)
}

func set(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }

func (env *badEnv) cases() []caseSpec {
	long := "arn:aws:s3:::" + strings.Repeat("a", 64)
	cs := []caseSpec{
		{entry: "create", name: "not-json", input: `sourceBucketARN=x`, mentions: []string{"invalid character", "json"}},
		{entry: "create", name: "json-array", input: `[]`, mentions: []string{"array", "cannot unmarshal"}},
		{entry: "create", name: "empty-object", input: `{}`, mentions: []string{"sourceBucketARN"}},
		{entry: "create", name: "arn-number", input: `{"sourceBucketARN": 42}`, mentions: []string{"sourceBucketARN", "number"}},
		{entry: "create", name: "source-not-arn", input: blog(set("sourceBucketARN", badSource)), mentions: []string{"sourceBucketARN"}},
		{entry: "create", name: "source-uppercase", input: blog(set("sourceBucketARN", "arn:aws:s3:::Bench_Source")), mentions: []string{"Bench_Source"}},
		{entry: "create", name: "source-object-arn", input: blog(set("sourceBucketARN", "arn:aws:s3:::"+badSource+"/key.txt")), mentions: []string{"key.txt"}},
		{entry: "create", name: "source-too-short", input: blog(set("sourceBucketARN", "arn:aws:s3:::ab")), mentions: []string{"3-63"}},
		{entry: "create", name: "source-too-long", input: blog(set("sourceBucketARN", long)), mentions: []string{"3-63"}},
		{entry: "create", name: "source-ip-address", input: blog(set("sourceBucketARN", "arn:aws:s3:::192.168.1.1")), mentions: []string{"IP address"}},
		{entry: "create", name: "source-reserved-prefix", input: blog(set("sourceBucketARN", "arn:aws:s3:::xn--bench")), mentions: []string{"xn--"}},
		{entry: "create", name: "source-double-dot", input: blog(set("sourceBucketARN", "arn:aws:s3:::bench..source")), mentions: []string{"periods"}},
		{entry: "create", name: "dest-reserved-suffix", input: blog(set("destBucketARN", "arn:aws:s3:::bench-dest-s3alias")), mentions: []string{"-s3alias"}},
		{entry: "create", name: "dest-region-unknown", input: blog(set("destRegion", "us-west-9")), mentions: []string{"us-west-9"}},
		{entry: "create", name: "dest-region-uppercase", input: blog(set("destRegion", "US-WEST-2")), mentions: []string{"US-WEST-2"}},
		{entry: "create", name: "dest-region-list", input: blog(set("destRegion", "us-west-2,eu-west-1")), mentions: []string{"us-west-2,eu-west-1"}},
		{entry: "create", name: "source-region-empty", input: blog(set("sourceRegion", "")), mentions: []string{"sourceRegion"}},
		{entry: "create", name: "account-11-digits", input: blog(set("sourceAccountNumber", "12345678901")), mentions: []string{"sourceAccountNumber"}},
		{entry: "create", name: "account-letters", input: blog(set("destAccountNumber", "abcdefghijkl")), mentions: []string{"destAccountNumber"}},
		{entry: "create", name: "dest-account-without-member-role", input: blog(set("destAccountNumber", "210987654321")), mentions: []string{"210987654321", "bucketmirror-member"}},
		{entry: "create", name: "dest-equals-source", input: blog(set("destBucketARN", "arn:aws:s3:::"+badSource)), mentions: []string{"differ"}},
		{entry: "create", name: "same-region-derived", input: blog(func(m map[string]any) { m["destRegion"] = srcRegion; m["deterministicName"] = true }), mentions: []string{"sourceRegion"}},
		{entry: "create", name: "started-at-not-time", input: blog(set("startedAt", "yesterday")), mentions: []string{"startedAt"}},
		{entry: "create", name: "source-missing", input: blog(set("sourceBucketARN", "arn:aws:s3:::bench-bad-no-such-source")), mentions: []string{"bench-bad-no-such-source"}},
		{entry: "create", name: "dest-foreign", input: blog(set("destBucketARN", "arn:aws:s3:::"+badForeign+"-create")), mentions: []string{badForeign}},
		{entry: "configure", name: "empty-object", input: `{}`, mentions: []string{"sourceBucketARN"}},
		{entry: "configure", name: "no-destination", input: blog(func(map[string]any) {}), mentions: []string{"destBucketARN"}},
		{entry: "configure", name: "dest-invalid", input: blog(set("destBucketARN", "arn:aws:s3:::Bad_Dest")), mentions: []string{"Bad_Dest"}},
		{entry: "configure", name: "dest-missing", input: blog(set("destBucketARN", "arn:aws:s3:::bench-bad-no-such-dest")), mentions: []string{"bench-bad-no-such-dest"}},
		{entry: "configure", name: "dest-foreign", input: blog(set("destBucketARN", "arn:aws:s3:::"+badForeign+"-configure")), mentions: []string{badForeign}},
		{entry: "sweep", name: "not-json", input: `buckets`, mentions: []string{"JSON"}},
		{entry: "sweep", name: "empty-object", input: `{}`, mentions: []string{"detail-type"}},
		{entry: "sweep", name: "buckets-empty", input: `{"buckets": []}`, mentions: []string{"buckets"}},
		{entry: "sweep", name: "buckets-string", input: `{"buckets": "` + badSource + `"}`, mentions: []string{"buckets"}},
		{entry: "sweep", name: "buckets-unknown-field", input: `{"buckets": ["` + badSource + `"], "force": true}`, mentions: []string{"force"}},
		{entry: "sweep", name: "bucket-invalid-name", input: `{"buckets": ["Bad_Name"]}`, mentions: []string{"Bad_Name"}},
		{entry: "sweep", name: "event-s3-object", input: `{"detail-type":"Object Created","source":"aws.s3","detail":{}}`, mentions: []string{"Object Created"}},
		{entry: "sweep", name: "cloudtrail-ec2", input: `{"detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","detail":{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances"}}`, mentions: []string{"ec2.amazonaws.com"}},
		{entry: "sweep", name: "cloudtrail-get-object", input: `{"detail-type":"AWS API Call via CloudTrail","source":"aws.s3","detail":{"eventSource":"s3.amazonaws.com","eventName":"GetObject","requestParameters":{"bucketName":"` + badSource + `"}}}`, mentions: []string{"GetObject"}},
		{entry: "sweep", name: "cloudtrail-no-bucket", input: `{"detail-type":"AWS API Call via CloudTrail","source":"aws.s3","detail":{"eventSource":"s3.amazonaws.com","eventName":"PutBucketTagging","requestParameters":{}}}`, mentions: []string{"bucketName"}},
		{entry: "sweep", name: "cloudtrail-detail-string", input: `{"detail-type":"AWS API Call via CloudTrail","source":"aws.s3","detail":"PutBucketTagging"}`, mentions: []string{"detail"}},
		{entry: "sweep", name: "scheduled-wrong-source", input: `{"detail-type":"Scheduled Event","source":"custom.app","detail":{}}`, mentions: []string{"custom.app"}},
	}
	// Bodies that are not the JSON object a function takes: each entrypoint
	// refuses them with a MalformedEventError saying what it expected.
	for _, entry := range []string{"create", "configure", "sweep", "sweep-list", "sweep-batch", "sweep-aggregate"} {
		for _, b := range []struct{ name, input string }{
			{"body-garbage", "\x00\xffnot an event"},
			{"body-empty", ""},
			{"body-null", "null"},
			{"body-array", `[{"sourceBucketARN":"arn:aws:s3:::` + badSource + `"}]`},
			{"body-7mib", `{"pad":"` + strings.Repeat("x", 7<<20) + `"}`},
			{"body-deep-nesting", strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1000)},
		} {
			cs = append(cs, caseSpec{entry: entry, name: b.name, input: b.input, mentions: []string{"malformed event"}})
		}
	}
	// The full sweep's steps take exactly what the sweep state machine
	// passes them: another function's event, a field of another shape or
	// an empty one is refused before any call.
	ctEvent := `{"detail-type":"AWS API Call via CloudTrail","source":"aws.s3","detail":{"eventSource":"s3.amazonaws.com","eventName":"PutBucketCors","requestParameters":{"bucketName":"` + badSource + `"}}}`
	direct := `{"buckets":["` + badSource + `"]}`
	cs = append(cs,
		caseSpec{entry: "sweep-list", name: "empty-object", input: `{}`, mentions: []string{`"sweep"`}},
		caseSpec{entry: "sweep-list", name: "cloudtrail-event", input: ctEvent, mentions: []string{"unknown field"}},
		caseSpec{entry: "sweep-list", name: "direct-invoke", input: direct, mentions: []string{`unknown field "buckets"`}},
		caseSpec{entry: "sweep-list", name: "sweep-number", input: `{"sweep": 7}`, mentions: []string{"sweep"}},
		caseSpec{entry: "sweep-batch", name: "empty-object", input: `{}`, mentions: []string{"sources"}},
		caseSpec{entry: "sweep-batch", name: "no-sources", input: `{"sweep":"bench","batch":0,"sources":[]}`, mentions: []string{"sources"}},
		caseSpec{entry: "sweep-batch", name: "direct-invoke", input: direct, mentions: []string{`unknown field "buckets"`}},
		caseSpec{entry: "sweep-batch", name: "source-unknown-field", input: `{"sweep":"bench","batch":0,"sources":[{"name":"` + badSource + `","force":true}]}`, mentions: []string{`unknown field "force"`}},
		caseSpec{entry: "sweep-aggregate", name: "empty-object", input: `{}`, mentions: []string{"listing"}},
		caseSpec{entry: "sweep-aggregate", name: "cloudtrail-event", input: ctEvent, mentions: []string{"unknown field"}},
		caseSpec{entry: "sweep-aggregate", name: "results-object", input: `{"listing":{"sweep":"bench","batches":1},"results":{}}`, mentions: []string{"results"}},
	)
	// configure takes the shapes create takes, the "payload" wrapper too:
	// a wrapped payload without a destination names the missing field.
	cs = append(cs, caseSpec{entry: "configure", name: "payload-no-destination", input: `{"payload":` + blog(func(map[string]any) {}) + `}`, mentions: []string{"destBucketARN"}})
	tagCases := []struct {
		name, regions, dest string
		mentions            []string
	}{
		{"comma-separated", "us-west-2,eu-central-1", "", []string{"us-west-2,eu-central-1"}},
		{"empty", "", "", []string{"names no Region"}},
		{"unknown-region", "mars-north-1", "", []string{"mars-north-1"}},
		{"uppercase-region", "US-WEST-2", "", []string{"US-WEST-2"}},
		{"own-region", srcRegion, "", []string{"own Region"}},
		{"region-not-deployed", "ap-south-2", "", []string{"ap-south-2"}},
		{"dest-with-two-regions", "us-west-2 eu-west-1", "bench-bad-dest", []string{"single Region"}},
		{"dest-invalid-name", "us-west-2", "Bad_Bucket", []string{"Bad_Bucket"}},
		{"dest-is-source", "us-west-2", "SELF", []string{"source bucket itself"}},
	}
	for i, tc := range tagCases {
		name := fmt.Sprintf("bench-bad-tag-%02d", i)
		tags := map[string]string{regionsTag: tc.regions}
		switch tc.dest {
		case "":
		case "SELF":
			tags["bucketmirror:destination-bucket"] = name
		default:
			tags["bucketmirror:destination-bucket"] = tc.dest
		}
		raw, _ := json.Marshal(tags)
		cs = append(cs, caseSpec{entry: "tag", name: tc.name, input: name + " " + string(raw), tags: tags, mentions: tc.mentions})
	}
	if env.cli != "" {
		for _, c := range []struct {
			name     string
			args     []string
			mentions []string
		}{
			{"no-arguments", []string{"mirror"}, []string{"usage", "SOURCE", "argument"}},
			{"invalid-source", []string{"mirror", "Bad_Name", "--to", dstRegion}, []string{"Bad_Name"}},
			{"missing-to", []string{"mirror", badSource}, []string{"--to"}},
			{"unknown-region", []string{"mirror", badSource, "--to", "mars-1"}, []string{"mars-1"}},
			{"region-list", []string{"mirror", badSource, "--to", "us-west-2,eu-west-1"}, []string{"us-west-2,eu-west-1"}},
			{"invalid-dest", []string{"mirror", badSource, "--to", dstRegion, "--dest", "Bad_Dest"}, []string{"Bad_Dest"}},
			{"missing-source", []string{"mirror", "bench-bad-no-such-source", "--to", dstRegion}, []string{"bench-bad-no-such-source"}},
			{"foreign-dest", []string{"mirror", badSource, "--to", dstRegion, "--dest", badForeign + "-cli"}, []string{badForeign}},
			{"plan-same-region", []string{"plan", badSource, "--to", srcRegion}, []string{srcRegion, "Region"}},
			{"unknown-command", []string{"frobnicate"}, []string{"frobnicate"}},
		} {
			cs = append(cs, caseSpec{entry: "cli", name: c.name, input: "bucketmirror " + strings.Join(c.args, " "), args: c.args, mentions: c.mentions})
		}
	}
	return cs
}

// state is what the side-effect check compares: every bucket, every table
// item, and a digest of the foreign bucket's configuration.
type state struct {
	buckets []string
	items   map[string]string // PK|SK -> type/status
	foreign map[string]string // foreign bucket -> configuration hash
}

// state reads the account; foreign buckets are read only when the case's
// input names them (a snapshot is 23 calls).
func (env *badEnv) state(ctx context.Context, input string) (state, error) {
	st := state{items: map[string]string{}, foreign: map[string]string{}}
	p := s3.NewListBucketsPaginator(env.direct.S3(srcRegion), &s3.ListBucketsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return st, err
		}
		for _, b := range page.Buckets {
			st.buckets = append(st.buckets, aws.ToString(b.Name))
		}
	}
	sp := dynamodb.NewScanPaginator(env.ddb, &dynamodb.ScanInput{TableName: aws.String(env.table), ConsistentRead: aws.Bool(true)})
	for sp.HasMorePages() {
		page, err := sp.NextPage(ctx)
		if err != nil {
			return st, err
		}
		for _, item := range page.Items {
			str := func(k string) string {
				if v, ok := item[k].(*ddbtypes.AttributeValueMemberS); ok {
					return v.Value
				}
				return ""
			}
			st.items[str("PK")+"|"+str("SK")] = str("type") + "/" + str("status") + "/" + str("lastRunId") + str("runId")
		}
	}
	for _, f := range env.foreign {
		if strings.Contains(input, f) {
			st.foreign[f] = env.verifier.Snapshot(ctx, bucketconfig.Bucket{Name: f, Region: dstRegion}).Hash()
		}
	}
	return st, nil
}

func (env *badEnv) runCase(ctx context.Context, c caseSpec) (badCase, error) {
	bc := badCase{Entrypoint: c.entry, Name: c.name, Input: truncate(c.input, 300)}
	if c.entry == "tag" {
		// The badly tagged source exists before the "before" state.
		name, _, _ := strings.Cut(c.input, " ")
		var ts []types.Tag
		for k, v := range c.tags {
			ts = append(ts, types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		if err := createBucket(ctx, env.direct, bucketconfig.Bucket{Name: name, Region: srcRegion}, false, ts...); err != nil {
			return bc, err
		}
	}
	before, err := env.state(ctx, c.input)
	if err != nil {
		return bc, err
	}
	bc.Outcome, bc.Message = env.feed(ctx, c)
	after, err := env.state(ctx, c.input)
	if err != nil {
		return bc, err
	}
	for _, b := range after.buckets {
		if !slices.Contains(before.buckets, b) {
			bc.BucketsCreated = append(bc.BucketsCreated, b)
		}
	}
	for k, v := range after.items {
		if before.items[k] == v {
			continue
		}
		typ, rest, _ := strings.Cut(v, "/")
		status, _, _ := strings.Cut(rest, "/")
		if (typ == "mirror" || typ == "run") && (status == inventory.StatusFailed || status == inventory.StatusInvalid) {
			bc.ErrorRecords++
			continue
		}
		bc.OtherItems = append(bc.OtherItems, k+" "+typ+"/"+status)
	}
	for f, h := range before.foreign {
		if after.foreign[f] != h {
			bc.ForeignModified = true
		}
	}
	bc.SideEffects = len(bc.BucketsCreated) + len(bc.OtherItems)
	if bc.ForeignModified {
		bc.SideEffects++
	}
	lower := strings.ToLower(bc.Message)
	for _, m := range c.mentions {
		if strings.Contains(lower, strings.ToLower(m)) {
			bc.Clear = true
		}
	}
	if bc.Outcome == "ok" {
		bc.Clear = false
	}
	return bc, nil
}

// feed hands the input to its entrypoint and returns the outcome and the
// message a user would see.
func (env *badEnv) feed(ctx context.Context, c caseSpec) (string, string) {
	switch c.entry {
	case "create", "configure":
		// The handlers the functions hand to the Lambda runtime, with their
		// own event decoding (functions/create, functions/configure).
		var h lambda.Handler = env.m.CreateLambda()
		if c.entry == "configure" {
			h = env.m.ConfigureLambda()
		}
		out, err := h.Invoke(ctx, []byte(c.input))
		if err != nil {
			return "error", fmt.Sprintf("%T: %v", err, err)
		}
		return "ok", string(out)
	case "sweep":
		out, err := sweep.NewHandler(env.sweeper, discardLog).Lambda().Invoke(ctx, []byte(c.input))
		if err != nil {
			return "error", fmt.Sprintf("%T: %v", err, err)
		}
		var sum sweep.Summary
		if err := json.Unmarshal(out, &sum); err != nil {
			return "error", fmt.Sprintf("%T: %v", err, err)
		}
		return summaryOutcome(sum)
	case "sweep-list", "sweep-batch", "sweep-aggregate":
		// The handlers functions/sweeplist, sweepbatch and sweepaggregate
		// hand to the Lambda runtime.
		h := &sweep.FullSweepHandler{Sweeper: env.sweeper}
		handler := map[string]lambda.Handler{"sweep-list": h.ListLambda(), "sweep-batch": h.BatchLambda(), "sweep-aggregate": h.AggregateLambda()}[c.entry]
		out, err := handler.Invoke(ctx, []byte(c.input))
		if err != nil {
			return "error", fmt.Sprintf("%T: %v", err, err)
		}
		return "ok", string(out)
	case "tag":
		name, _, _ := strings.Cut(c.input, " ")
		sum, err := sweep.NewHandler(env.sweeper, discardLog).Handle(ctx, json.RawMessage(`{"buckets":["`+name+`"]}`))
		if err != nil {
			return "error", fmt.Sprintf("%T: %v", err, err)
		}
		return summaryOutcome(sum)
	case "cli":
		cmd := exec.CommandContext(ctx, env.cli, c.args...)
		cmd.Env = append(os.Environ(), env.cloud.Env()...)
		cmd.Env = append(cmd.Env, "BUCKETMIRROR_TABLE="+env.table, "BUCKETMIRROR_ACCOUNT_ID="+localcloud.AccountID, "AWS_PROFILE=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.Output()
		msg := strings.TrimSpace(stderr.String())
		if err != nil {
			return "error", fmt.Sprintf("%v: %s", err, firstLines(msg, 3))
		}
		return "ok", strings.TrimSpace(string(out)) + " " + msg
	}
	return "error", "unknown entrypoint " + c.entry
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " / ")
}

func summaryOutcome(sum sweep.Summary) (string, string) {
	var msgs []string
	outcome := "ok"
	for _, d := range sum.Decisions {
		switch d.Action {
		case sweep.ActionInvalid:
			outcome = "invalid"
		case sweep.ActionFailed:
			if outcome == "ok" {
				outcome = "failed-decision"
			}
		case sweep.ActionSkipped:
			if outcome == "ok" {
				outcome = "skipped"
			}
		}
		msg := d.Action + "/" + d.Reason
		if d.Error != "" {
			msg += ": " + d.Error
		}
		msgs = append(msgs, msg)
	}
	if len(msgs) == 0 {
		return "ok", "no decision"
	}
	return outcome, strings.Join(msgs, "; ")
}
