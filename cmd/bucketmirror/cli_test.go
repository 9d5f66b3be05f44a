package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/localdeploy"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

var (
	binary string
	cloud  *localcloud.Cloud
)

// The tests drive the built binary as a user would, against one local cloud.
func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "bucketmirror-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "bucketmirror")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the CLI: %v\n%s", err, out)
		return 1
	}
	if cloud, err = localcloud.Start(context.Background(), localcloud.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cloud.Close()
	return m.Run()
}

type result struct {
	code           int
	stdout, stderr string
}

func bm(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func localEnv(table string) []string {
	return append(cloud.Env(), "BUCKETMIRROR_TABLE="+table)
}

func s3c(region string) *s3.Client { return awsclient.New(cloud.AWSConfig()).S3(region) }

func createBucket(t *testing.T, name string, tags ...types.Tag) {
	t.Helper()
	ctx := context.Background()
	if _, err := s3c("us-east-1").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	if len(tags) > 0 {
		if _, err := s3c("us-east-1").PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(name), Tagging: &types.Tagging{TagSet: tags}}); err != nil {
			t.Fatal(err)
		}
	}
}

func bucketCount(t *testing.T) int {
	t.Helper()
	out, err := s3c("us-east-1").ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Buckets)
}

func bucketExists(t *testing.T, name string) bool {
	_, err := s3c("us-east-1").HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(name)})
	return err == nil
}

func TestUsageErrors(t *testing.T) {
	env := localEnv("cli-usage")
	cases := []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"status", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"mirror", "Not_A_Bucket", "--to", "us-west-2"}, `invalid source bucket name "Not_A_Bucket"`},
		{[]string{"mirror", "good-bucket", "--to", "mars-north-1"}, `invalid Region "mars-north-1"`},
		{[]string{"mirror", "good-bucket"}, "needs --to REGION"},
		{[]string{"plan", "a-bucket", "b-bucket", "--to", "us-west-2"}, "takes 1 argument"},
		// A bucket ARN is accepted (TestMirrorPlanStatusCleanup); anything
		// else shaped like an ARN names the one form that is.
		{[]string{"mirror", "arn:aws:s3:::good-bucket/some/key", "--to", "us-west-2"}, `invalid source "arn:aws:s3:::good-bucket/some/key": that is an object ARN; give a bucket name or arn:aws:s3:::BUCKET`},
		{[]string{"plan", "arn:aws:s3:us-east-1::good-bucket", "--to", "us-west-2"}, `a bucket ARN has no Region or account field; give a bucket name or arn:aws:s3:::BUCKET`},
		{[]string{"plan", "arn:aws:s3::123456789012:good-bucket", "--to", "us-west-2"}, `a bucket ARN has no Region or account field`},
		{[]string{"mirror", "arn:aws:s3-object-lambda:us-east-1:123456789012:accesspoint/ap", "--to", "us-west-2"}, "not an S3 bucket ARN; give a bucket name or arn:aws:s3:::BUCKET"},
		{[]string{"mirror", "arn:aws:s3:::Bad_Name", "--to", "us-west-2"}, `invalid source bucket name "Bad_Name"`},
		{[]string{"mirror", "good-bucket", "--to", "us-west-2", "--dest", "arn:aws:s3:::x/y"}, `invalid destination "arn:aws:s3:::x/y": that is an object ARN`},
	}
	for _, c := range cases {
		r := bm(t, env, "", c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("bucketmirror %v: exit %d stderr %q; want exit 2 mentioning %q", c.args, r.code, r.stderr, c.want)
		}
	}
	if r := bm(t, env, "", "mirror", "--help"); r.code != 0 || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "Exit codes") {
		t.Errorf("mirror --help: exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestMissingRegionAndCredentials(t *testing.T) {
	r := bm(t, []string{"AWS_ENDPOINT_URL=" + cloud.Endpoint, "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y", "AWS_CONFIG_FILE=/nonexistent"}, "", "status")
	if r.code != 1 || strings.TrimSpace(r.stderr) != "bucketmirror: no AWS Region: set AWS_REGION (or a region in your AWS profile)" {
		t.Errorf("without a Region: exit %d stderr %q", r.code, r.stderr)
	}
	r = bm(t, []string{"AWS_REGION=us-east-1", "AWS_ENDPOINT_URL=" + cloud.Endpoint, "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_EC2_METADATA_DISABLED=true"}, "", "status")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "bucketmirror: no AWS credentials") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("without credentials: exit %d stderr %q; want one clear line", r.code, r.stderr)
	}
}

func TestMirrorPlanStatusCleanup(t *testing.T) {
	ctx := context.Background()
	env := localEnv("cli-flow")
	if r := bm(t, env, "", "setup"); r.code != 0 {
		t.Fatalf("setup: %d %s", r.code, r.stderr)
	}
	if r := bm(t, env, "", "setup"); r.code != 0 {
		t.Fatalf("second setup (idempotent): %d %s", r.code, r.stderr)
	}
	createBucket(t, "cli-source")
	_, err := s3c("us-east-1").PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String("cli-source"),
		CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"https://example.com"}}}}})
	if err != nil {
		t.Fatal(err)
	}

	r := bm(t, env, "", "plan", "cli-source", "--to", "us-west-2")
	if r.code != 0 || !strings.Contains(r.stdout, "+ cors") || !strings.Contains(r.stdout, "https://example.com") {
		t.Fatalf("plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// The bucket's ARN is the same source: the same plan, word for word.
	if byARN := bm(t, env, "", "plan", "arn:aws:s3:::cli-source", "--to", "us-west-2"); byARN.code != 0 || byARN.stdout != r.stdout {
		t.Fatalf("plan by ARN: exit %d\n%s\n%s\nwant the same output as by name:\n%s", byARN.code, byARN.stdout, byARN.stderr, r.stdout)
	}
	planned := strings.Fields(strings.SplitN(r.stdout, "->", 2)[1])[0]
	if bucketExists(t, planned) {
		t.Fatalf("plan created the destination %s", planned)
	}

	r = bm(t, env, "", "mirror", "arn:aws:s3:::cli-source", "--to", "us-west-2", "--json")
	if r.code != 0 {
		t.Fatalf("mirror: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var out struct{ DestBucket, Status string }
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Status != "FINISHED" || out.DestBucket == "" {
		t.Fatalf("mirror --json = %s (%v)", r.stdout, err)
	}
	if _, err := s3c("us-west-2").GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String(out.DestBucket)}); err != nil {
		t.Errorf("destination has no CORS: %v", err)
	}

	r = bm(t, env, "", "status", "--json")
	var mirrors []struct{ Source, Region, Dest, Status string }
	if err := json.Unmarshal([]byte(r.stdout), &mirrors); err != nil || len(mirrors) != 1 || mirrors[0].Dest != out.DestBucket || mirrors[0].Status != "FINISHED" {
		t.Fatalf("status --json = %s (%v)", r.stdout, err)
	}
	if r := bm(t, env, "", "status"); !strings.Contains(r.stdout, "SOURCE") || !strings.Contains(r.stdout, out.DestBucket) {
		t.Errorf("status table:\n%s", r.stdout)
	}

	// Refusals: a source that does not exist, a destination that is not
	// ours, another destination for a mirrored source, a destination in
	// another Region than --to.
	createBucket(t, "someone-elses")
	createBucket(t, "cli-source-2")
	if _, err := s3c("us-west-2").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("someone-elses-west"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintUsWest2}}); err != nil {
		t.Fatal(err)
	}
	before := bucketCount(t)
	r = bm(t, env, "", "mirror", "no-such-source", "--to", "us-west-2")
	if r.code != 1 || !strings.Contains(r.stderr, `"no-such-source" does not exist`) {
		t.Errorf("nonexistent source: exit %d stderr %q", r.code, r.stderr)
	}
	r = bm(t, env, "", "mirror", "cli-source-2", "--to", "us-west-2", "--dest", "someone-elses-west")
	if r.code != 1 || !strings.Contains(r.stderr, `"someone-elses-west" is not bucketmirror's`) {
		t.Errorf("foreign destination: exit %d stderr %q", r.code, r.stderr)
	}
	r = bm(t, env, "", "mirror", "cli-source", "--to", "us-west-2", "--dest", "someone-elses-west")
	if r.code != 1 || !strings.Contains(r.stderr, `is mirrored to "`+out.DestBucket+`"`) || !strings.Contains(r.stderr, "refusing to repoint") {
		t.Errorf("another destination for a mirrored source: exit %d stderr %q", r.code, r.stderr)
	}
	r = bm(t, env, "", "mirror", "cli-source-2", "--to", "us-west-2", "--dest", "someone-elses")
	if r.code != 1 || !strings.Contains(r.stderr, `exists in us-east-1, not in us-west-2`) {
		t.Errorf("destination in another Region: exit %d stderr %q", r.code, r.stderr)
	}
	if after := bucketCount(t); after != before {
		t.Errorf("refused mirrors created buckets: %d before, %d after", before, after)
	}
	if tags, err := s3c("us-east-1").GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("someone-elses")}); err == nil && len(tags.TagSet) > 0 {
		t.Errorf("the foreign bucket was tagged: %v", tags.TagSet)
	}
	if tags, err := s3c("us-west-2").GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("someone-elses-west")}); err == nil && len(tags.TagSet) > 0 {
		t.Errorf("the foreign bucket was tagged: %v", tags.TagSet)
	}

	// cleanup asks first, then deletes only what carries the source tag.
	if r := bm(t, env, "n\n", "cleanup"); r.code != 0 || !strings.Contains(r.stdout, "nothing deleted") || !bucketExists(t, out.DestBucket) {
		t.Fatalf("cleanup answered no: exit %d %s", r.code, r.stdout)
	}
	if r := bm(t, env, "", "cleanup", "--yes"); r.code != 0 || !strings.Contains(r.stdout, "deleted "+out.DestBucket) {
		t.Fatalf("cleanup --yes: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	if bucketExists(t, out.DestBucket) || !bucketExists(t, "cli-source") || !bucketExists(t, "someone-elses") || !bucketExists(t, "someone-elses-west") {
		t.Error("cleanup deleted the wrong buckets")
	}
}

func TestLocalPrintsEnvAndStops(t *testing.T) {
	cmd := exec.Command(binary, "local")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	env := map[string]string{}
	sc := bufio.NewScanner(stdout)
	// As long as the local cloud itself waits for moto (readyTimeout), plus
	// the deployment: on a busy machine moto alone took 45–85 s.
	deadline := time.AfterFunc(4*time.Minute, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		line := sc.Text()
		if line == "ready" {
			break
		}
		kv, ok := strings.CutPrefix(line, "export ")
		if !ok {
			t.Fatalf("unexpected line %q", line)
		}
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "BUCKETMIRROR_TABLE", "BUCKETMIRROR_STATE_MACHINE_ARN"} {
		if env[k] == "" {
			t.Errorf("local did not print %s (got %v)", k, env)
		}
	}
	if r := bm(t, []string{"AWS_ENDPOINT_URL=" + env["AWS_ENDPOINT_URL"], "AWS_REGION=" + env["AWS_REGION"], "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y", "BUCKETMIRROR_TABLE=" + env["BUCKETMIRROR_TABLE"]}, "", "status", "--json"); r.code != 0 {
		t.Errorf("status against the printed environment: exit %d %s", r.code, r.stderr)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("local did not exit cleanly on SIGTERM: %v", err)
	}
	if r := bm(t, []string{"AWS_ENDPOINT_URL=" + env["AWS_ENDPOINT_URL"], "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y"}, "", "status"); r.code == 0 {
		t.Error("the local cloud still answers after local exited")
	}
}

func TestSweep(t *testing.T) {
	ctx := context.Background()
	table := "cli-sweep"
	m := mirror.NewMirrorer(cloud.AWSConfig(), mirror.Config{Table: table, TagPrefix: "bucketmirror:", AccountID: localcloud.AccountID}, bucketconfig.Options{}, nil)
	arn, err := localdeploy.Workflow(ctx, cloud, m)
	if err != nil {
		t.Fatal(err)
	}
	env := append(localEnv(table), "BUCKETMIRROR_REGIONS=us-east-1 us-west-2", "BUCKETMIRROR_STATE_MACHINE_ARN="+arn)
	regions := types.Tag{Key: aws.String("bucketmirror:destination-regions"), Value: aws.String("us-west-2")}
	createBucket(t, "sweep-local-src", regions)

	r := bm(t, env, "", "sweep", "--local", "--json")
	var sum struct{ Scanned, Started, Skipped, Failed, Invalid int }
	if err := json.Unmarshal([]byte(r.stdout), &sum); r.code != 0 || err != nil || sum.Started != 1 || sum.Failed != 0 {
		t.Fatalf("first sweep --local: exit %d %+v %v\n%s", r.code, sum, err, r.stderr)
	}
	r = bm(t, env, "", "sweep", "--local", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &sum); r.code != 0 || err != nil || sum.Started != 0 || sum.Skipped != 1 {
		t.Fatalf("second sweep --local: exit %d %+v %v\n%s", r.code, sum, err, r.stderr)
	}
	// --retry-failed only lifts the failure backoff: an unchanged mirror is
	// still skipped.
	r = bm(t, env, "", "sweep", "--local", "--json", "--retry-failed")
	if err := json.Unmarshal([]byte(r.stdout), &sum); r.code != 0 || err != nil || sum.Started != 0 || sum.Skipped != 1 {
		t.Fatalf("sweep --local --retry-failed: exit %d %+v %v\n%s", r.code, sum, err, r.stderr)
	}

	// Through the deployed state machine, and a bad tag value: exit 1 after
	// doing the good bucket, with the bad one named.
	createBucket(t, "sweep-sfn-src", regions)
	createBucket(t, "sweep-bad-src", types.Tag{Key: aws.String("bucketmirror:destination-regions"), Value: aws.String("us-west-2,eu-west-1")})
	r = bm(t, env, "", "sweep")
	if r.code != 1 || !strings.Contains(r.stdout, "sweep-sfn-src") || !strings.Contains(r.stdout, "started") || !strings.Contains(r.stdout, "sweep-bad-src") || !strings.Contains(r.stdout, "invalid") {
		t.Fatalf("sweep through Step Functions: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// Each started execution is printed with its name and ARN.
	execLine := regexp.MustCompile(`(?m)^  (sweep-sfn-src-us-west-2-[0-9a-f]+)\s+(arn:aws:states:us-east-1:` + localcloud.AccountID + `:execution:bucketmirror-mirror:sweep-sfn-src-us-west-2-[0-9a-f]+)$`)
	started := execLine.FindStringSubmatch(r.stdout)
	if !strings.Contains(r.stdout, "executions started (1):") || started == nil || !strings.HasSuffix(started[2], ":"+started[1]) {
		t.Fatalf("sweep did not list the execution it started by name and ARN:\n%s", r.stdout)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		rec, err := m.Store.GetMirror(ctx, "sweep-sfn-src", "us-west-2")
		if err == nil && rec != nil && rec.Status == "FINISHED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the execution started by sweep did not finish: %+v %v", rec, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// --wait: one execution that succeeds, one that fails (its explicit
	// destination exists and is not bucketmirror's); each final status is
	// printed, the failure with its error, and the exit code says so.
	tagged := func(name string, extra ...types.Tag) {
		createBucket(t, name, append([]types.Tag{regions}, extra...)...)
	}
	if _, err := s3c("us-west-2").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("dest-foreign-cli"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "us-west-2"}}); err != nil {
		t.Fatal(err)
	}
	tagged("sweep-wait-ok")
	tagged("sweep-wait-bad", types.Tag{Key: aws.String("bucketmirror:destination-bucket"), Value: aws.String("dest-foreign-cli")})
	r = bm(t, env, "", "sweep", "--wait")
	okLine := regexp.MustCompile(`(?m)^  sweep-wait-ok-us-west-2-[0-9a-f]+  SUCCEEDED$`)
	badLine := regexp.MustCompile(`(?m)^  sweep-wait-bad-us-west-2-[0-9a-f]+  FAILED  \S.*$`)
	if r.code != 1 || !strings.Contains(r.stdout, "waiting for them to finish:") || !okLine.MatchString(r.stdout) || !badLine.MatchString(r.stdout) {
		t.Fatalf("sweep --wait: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// status shows each mirror's last execution and its final status.
	r = bm(t, env, "", "status", "--json")
	var rows []struct {
		Source, Region, LastRunID string
		LastExecution             *struct{ Name, ARN, Status, Error string } `json:"lastExecution"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("status --json = %s (%v)", r.stdout, err)
	}
	want := map[string]string{"sweep-sfn-src": "SUCCEEDED", "sweep-wait-ok": "SUCCEEDED", "sweep-wait-bad": "FAILED", "sweep-local-src": "in-process"}
	for _, row := range rows {
		status, ok := want[row.Source]
		if !ok {
			continue
		}
		delete(want, row.Source)
		if e := row.LastExecution; e == nil || e.Name != row.LastRunID || e.Status != status || (status == "FAILED") != (e.Error != "") {
			t.Errorf("status of %s: last execution %+v, want %s (run %s)", row.Source, row.LastExecution, status, row.LastRunID)
		}
	}
	if len(want) > 0 {
		t.Errorf("status lists no mirror of %v:\n%s", want, r.stdout)
	}
	if r := bm(t, env, "", "status"); !strings.Contains(r.stdout, "EXECUTION STATUS") || !strings.Contains(r.stdout, "FAILED") {
		t.Errorf("status table:\n%s", r.stdout)
	}

	if r := bm(t, []string{"AWS_REGION=us-east-1"}, "", "sweep"); r.code != 1 && r.code != 2 {
		t.Errorf("sweep without credentials or state machine: exit %d", r.code)
	}
}

// A newcomer's sweep: credentials, a table and tagged buckets, no
// BUCKETMIRROR_REGIONS. Sources in three Regions are found through
// ListBuckets' BucketRegion and each Region's Tagging API; the variable, when
// set, narrows the search.
func TestSweepNeedsNoRegions(t *testing.T) {
	ctx := context.Background()
	// A prefix of its own keeps the other tests' tagged buckets out of this
	// account-wide search.
	env := append(localEnv("cli-regions"), "BUCKETMIRROR_TAG_PREFIX=zc:")
	if r := bm(t, env, "", "setup"); r.code != 0 {
		t.Fatalf("setup: %d %s", r.code, r.stderr)
	}
	sources := []struct{ name, region, to string }{
		{"zc-east-src", "us-east-1", "us-west-2"},
		{"zc-west-src", "us-west-2", "eu-west-1"},
		{"zc-eu-src", "eu-west-1", "us-east-1"},
	}
	for _, s := range sources {
		in := &s3.CreateBucketInput{Bucket: aws.String(s.name)}
		if s.region != "us-east-1" {
			in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(s.region)}
		}
		if _, err := s3c(s.region).CreateBucket(ctx, in); err != nil {
			t.Fatal(err)
		}
		if _, err := s3c(s.region).PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(s.name),
			Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("zc:destination-regions"), Value: aws.String(s.to)}}}}); err != nil {
			t.Fatal(err)
		}
	}
	type decision struct{ Source, SourceRegion, Region, Action, Reason string }
	var sum struct {
		Started, Skipped, Failed int
		Decisions                []decision
	}

	// Narrowed to us-west-2 (with the destinations open): only its source.
	r := bm(t, append(env, "BUCKETMIRROR_REGIONS=us-west-2", "BUCKETMIRROR_DESTINATION_REGIONS=us-east-1 us-west-2 eu-west-1"), "", "sweep", "--local", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &sum); r.code != 0 || err != nil || sum.Started != 1 || len(sum.Decisions) != 1 || sum.Decisions[0].Source != "zc-west-src" {
		t.Fatalf("sweep narrowed to us-west-2: exit %d %+v %v\n%s", r.code, sum, err, r.stderr)
	}

	// No Region variable at all.
	sum.Decisions = nil
	r = bm(t, env, "", "sweep", "--local", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &sum); r.code != 0 || err != nil || sum.Failed != 0 || sum.Started != 2 || sum.Skipped != 1 {
		t.Fatalf("sweep with no Regions: exit %d %+v %v\n%s", r.code, sum, err, r.stderr)
	}
	for _, s := range sources {
		i := slices.IndexFunc(sum.Decisions, func(d decision) bool { return d.Source == s.name })
		if i < 0 || sum.Decisions[i].SourceRegion != s.region || sum.Decisions[i].Region != s.to {
			t.Errorf("%s (%s -> %s): decision %+v", s.name, s.region, s.to, sum.Decisions)
		}
	}
	r = bm(t, env, "", "status", "--json")
	var mirrors []struct{ Source, Region, Dest, Status string }
	if err := json.Unmarshal([]byte(r.stdout), &mirrors); err != nil || len(mirrors) != 3 {
		t.Fatalf("status --json = %s (%v)", r.stdout, err)
	}
	for _, m := range mirrors {
		if m.Status != "FINISHED" {
			t.Errorf("mirror %+v not FINISHED", m)
		}
		if _, err := s3c(m.Region).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(m.Dest)}); err != nil {
			t.Errorf("destination %s of %s in %s: %v", m.Dest, m.Source, m.Region, err)
		}
	}
}
