package mirror_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/localdeploy"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
	"github.com/bucketmirror/bucketmirror/statemachine"
)

var (
	cloud      *localcloud.Cloud
	mirrorer   *mirror.Mirrorer
	machineARN string
	// denyCORSOn makes PutBucketCors on this destination answer AccessDenied,
	// an error the emulator cannot produce on its own.
	denyCORSOn atomic.Value
	// hangCreateOf makes CreateBucket of this bucket wait until its context
	// ends, as a stuck call to S3 would (the emulator always answers).
	hangCreateOf atomic.Value
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx := context.Background()
	var err error
	if cloud, err = localcloud.Start(ctx, localcloud.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cloud.Close()
	denyCORSOn.Store("")
	hangCreateOf.Store("")
	cfg := cloud.AWSConfig()
	cfg.APIOptions = append(cfg.APIOptions, injectAccessDenied)
	mirrorer = mirror.NewMirrorer(cfg, mirror.Config{Table: "bucketmirror-test", TagPrefix: "bucketmirror:", AccountID: localcloud.AccountID},
		bucketconfig.Options{PropagationTimeout: time.Second}, nil)
	if machineARN, err = localdeploy.Workflow(ctx, cloud, mirrorer); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "moto log tail:\n%s\n", cloud.LogTail(30))
	}
	return code
}

func injectAccessDenied(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("injectAccessDenied",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if p, ok := in.Parameters.(*s3.PutBucketCorsInput); ok && aws.ToString(p.Bucket) == denyCORSOn.Load().(string) {
				return middleware.InitializeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied (injected by the test)"}
			}
			if p, ok := in.Parameters.(*s3.CreateBucketInput); ok && aws.ToString(p.Bucket) == hangCreateOf.Load().(string) {
				<-ctx.Done()
				return middleware.InitializeOutput{}, middleware.Metadata{}, ctx.Err()
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

var seq atomic.Int64

func bucketName(t *testing.T, what string) string {
	return fmt.Sprintf("wf-%d-%s", seq.Add(1), what)
}

func s3c(region string) *s3.Client { return mirrorer.Clients.S3(region) }

func createSource(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s3c("us-east-1").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
}

func payload(source, dest string) string {
	m := map[string]string{
		"sourceBucketARN": "arn:aws:s3:::" + source, "sourceAccountNumber": localcloud.AccountID,
		"destAccountNumber": localcloud.AccountID, "sourceRegion": "us-east-1", "destRegion": "us-west-2",
	}
	if dest != "" {
		m["destBucketARN"] = "arn:aws:s3:::" + dest
	}
	b, _ := json.Marshal(m)
	return string(b)
}

var execSeq atomic.Int64

func execute(t *testing.T, input string) *sfn.DescribeExecutionOutput {
	t.Helper()
	return executeOn(t, machineARN, fmt.Sprintf("exec-%d", execSeq.Add(1)), input)
}

func runs(t *testing.T, source string) []inventory.Run {
	t.Helper()
	rs, err := mirrorer.Store.Runs(context.Background(), source, "us-west-2")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func bucketCount(t *testing.T) int {
	t.Helper()
	out, err := s3c("us-east-1").ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Buckets)
}

func TestWorkflowMirrorsManyKinds(t *testing.T) {
	ctx := context.Background()
	subscribe(t)
	src, dst := bucketName(t, "src"), bucketName(t, "dst")
	createSource(t, src)
	c := s3c("us-east-1")
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/*"}]}`, localcloud.AccountID, src)
	steps := []error{
		func() error {
			_, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &src, Policy: &policy})
			return err
		}(),
		func() error {
			_, err := c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: &src, CORSConfiguration: &s3types.CORSConfiguration{CORSRules: []s3types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"*"}}}}})
			return err
		}(),
		func() error {
			_, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: &src, Tagging: &s3types.Tagging{TagSet: []s3types.Tag{
				{Key: aws.String("team"), Value: aws.String("data")}, {Key: aws.String("bucketmirror:destination-regions"), Value: aws.String("us-west-2")}}}})
			return err
		}(),
		func() error {
			_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &src, VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
			return err
		}(),
		func() error {
			_, err := c.PutBucketRequestPayment(ctx, &s3.PutBucketRequestPaymentInput{Bucket: &src, RequestPaymentConfiguration: &s3types.RequestPaymentConfiguration{Payer: s3types.PayerRequester}})
			return err
		}(),
	}
	for _, err := range steps {
		if err != nil {
			t.Fatal(err)
		}
	}
	out := execute(t, payload(src, dst))
	if out.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s: %s %s", out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
	}
	d := s3c("us-west-2")
	got, err := d.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &dst})
	if err != nil || !strings.Contains(aws.ToString(got.Policy), "arn:aws:s3:::"+dst+"/*") {
		t.Errorf("destination policy %v: %v", aws.ToString(got.Policy), err)
	}
	if _, err := d.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: &dst}); err != nil {
		t.Errorf("destination CORS: %v", err)
	}
	rs := runs(t, src)
	if len(rs) != 1 {
		t.Fatalf("%d run records, want 1", len(rs))
	}
	r := rs[0]
	if r.Status != inventory.StatusFinished || r.Dest != dst || r.SourceHash == "" {
		t.Errorf("run record = %+v", r)
	}
	var srcSnap, dstSnap map[string]json.RawMessage
	if err := json.Unmarshal(r.SourceSnapshot, &srcSnap); err != nil {
		t.Fatalf("source snapshot: %v", err)
	}
	if err := json.Unmarshal(r.DestSnapshot, &dstSnap); err != nil {
		t.Fatalf("destination snapshot: %v", err)
	}
	for _, kind := range []string{"policy", "cors", "tags", "versioning", "requester-pays"} {
		if srcSnap[kind] == nil || dstSnap[kind] == nil {
			t.Errorf("kind %s missing from a snapshot (source %s, destination %s)", kind, srcSnap[kind], dstSnap[kind])
		}
	}
	rec, err := mirrorer.Store.GetMirror(ctx, src, "us-west-2")
	if err != nil || rec == nil || rec.Status != inventory.StatusFinished || rec.AppliedHash != r.SourceHash {
		t.Errorf("mirror record = %+v, %v", rec, err)
	}
	ev := awaitEvent(t, "Mirror Run Finished", func(d map[string]string) bool { return d["dest"] == dst })
	if ev["source"] != src || ev["region"] != "us-west-2" || ev["sourceArn"] != "arn:aws:s3:::"+src || ev["mode"] != "stepfunctions" {
		t.Errorf("Mirror Run Finished detail = %v", ev)
	}
}

func TestWorkflowBlogPayloadTwice(t *testing.T) {
	src := bucketName(t, "blog")
	createSource(t, src)
	before := bucketCount(t)
	for i := range 2 {
		out := execute(t, payload(src, ""))
		if out.Status != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("execution %d: %s %s %s", i, out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
		}
	}
	if after := bucketCount(t); after != before+1 {
		t.Errorf("%d buckets after two runs of one payload, want %d (one destination)", after, before+1)
	}
	rs := runs(t, src)
	if len(rs) != 2 || rs[0].Dest != rs[1].Dest || !strings.HasPrefix(rs[0].Dest, "dest-") {
		t.Fatalf("runs = %+v, want two runs on one dest-* bucket", rs)
	}
	for _, r := range rs {
		if r.Status != inventory.StatusFinished {
			t.Errorf("run %s status %s", r.RunID, r.Status)
		}
	}
}

func TestWorkflowNonexistentSource(t *testing.T) {
	src := bucketName(t, "missing")
	before := bucketCount(t)
	out := execute(t, payload(src, ""))
	if out.Status != sfntypes.ExecutionStatusFailed || aws.ToString(out.Error) != "SourceNotFoundError" {
		t.Fatalf("execution %s error %q, want FAILED with SourceNotFoundError", out.Status, aws.ToString(out.Error))
	}
	if after := bucketCount(t); after != before {
		t.Errorf("a bucket was left behind: %d buckets, want %d", after, before)
	}
	rs := runs(t, src)
	if len(rs) != 1 || rs[0].Status != inventory.StatusFailed || !strings.Contains(rs[0].Error, src) {
		t.Fatalf("runs = %+v, want one FAILED run naming the source", rs)
	}
	rec, err := mirrorer.Store.GetMirror(context.Background(), src, "us-west-2")
	if err != nil || rec == nil || rec.Status != inventory.StatusFailed {
		t.Errorf("mirror record = %+v, %v; want FAILED", rec, err)
	}
}

func TestWorkflowFailingKind(t *testing.T) {
	ctx := context.Background()
	subscribe(t)
	src, dst := bucketName(t, "denied"), bucketName(t, "denied-dst")
	createSource(t, src)
	_, err := s3c("us-east-1").PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: &src, CORSConfiguration: &s3types.CORSConfiguration{
		CORSRules: []s3types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"*"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	denyCORSOn.Store(dst)
	defer denyCORSOn.Store("")
	out := execute(t, payload(src, dst))
	if out.Status != sfntypes.ExecutionStatusFailed || aws.ToString(out.Error) != "ConfigureError" {
		t.Fatalf("execution %s error %q, want FAILED with ConfigureError", out.Status, aws.ToString(out.Error))
	}
	rs := runs(t, src)
	if len(rs) != 1 {
		t.Fatalf("%d runs, want 1", len(rs))
	}
	r := rs[0]
	if r.Status != inventory.StatusFailed || !strings.Contains(r.Error, "cors") || !strings.Contains(r.Error, "AccessDenied") {
		t.Errorf("run = status %s error %q, want FAILED naming cors and AccessDenied", r.Status, r.Error)
	}
	var results []bucketconfig.Result
	if err := json.Unmarshal([]byte(r.Results), &results); err != nil {
		t.Fatal(err)
	}
	applied := 0
	for _, res := range results {
		if res.Kind == "cors" && (res.Status != bucketconfig.StatusFailed || res.Code != "AccessDenied") {
			t.Errorf("cors result = %+v", res)
		}
		if res.Status == bucketconfig.StatusApplied || res.Status == bucketconfig.StatusUnchanged || res.Status == bucketconfig.StatusRemoved {
			applied++
		}
	}
	if applied == 0 {
		t.Error("no other kind was applied: one failing kind must not stop the others")
	}
	ev := awaitEvent(t, "Mirror Run Failed", func(d map[string]string) bool { return d["sourceArn"] == "arn:aws:s3:::"+src })
	if !strings.HasPrefix(ev["error"], "ConfigureError: ") || !strings.Contains(ev["error"], "AccessDenied") || ev["region"] != "us-west-2" {
		t.Errorf("Mirror Run Failed detail = %v", ev)
	}
}

// TestWorkflowCrashIsRecorded: when a step dies without recording anything
// (a panic, a timeout), the state machine's MarkFailed states still leave a
// FAILED run and mirror record behind.
func TestWorkflowCrashIsRecorded(t *testing.T) {
	ctx := context.Background()
	cloud.Register("crashing-create", lambda.NewHandler(func(context.Context, json.RawMessage) (string, error) {
		panic("simulated crash")
	}))
	def, err := statemachine.Definition(map[string]string{
		"CreateFunctionArn":    cloud.FunctionARN("crashing-create"),
		"ConfigureFunctionArn": cloud.FunctionARN(localdeploy.ConfigureFunction),
		"TableName":            mirrorer.Store.Table(),
		"EventBusName":         "default",
	})
	if err != nil {
		t.Fatal(err)
	}
	client := sfn.NewFromConfig(cloud.AWSConfig())
	sm, err := client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("crashing"), Definition: aws.String(def),
		RoleArn: aws.String("arn:aws:iam::123456789012:role/test")})
	if err != nil {
		t.Fatal(err)
	}
	src := bucketName(t, "crash")
	createSource(t, src)
	start, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String("crash-1"), Input: aws.String(payload(src, ""))})
	if err != nil {
		t.Fatal(err)
	}
	var out *sfn.DescribeExecutionOutput
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if out, err = client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: start.ExecutionArn}); err != nil {
			t.Fatal(err)
		}
		if out.Status != sfntypes.ExecutionStatusRunning || time.Now().After(deadline) {
			break
		}
	}
	if out.Status != sfntypes.ExecutionStatusFailed || aws.ToString(out.Error) != "Runtime.Panic" {
		t.Fatalf("execution %s error %q, want FAILED with Runtime.Panic", out.Status, aws.ToString(out.Error))
	}
	rs := runs(t, src)
	if len(rs) != 1 || rs[0].Status != inventory.StatusFailed || rs[0].Error != "Runtime.Panic" || !strings.Contains(rs[0].Cause, "simulated crash") || rs[0].RunID != "crash-1" {
		t.Fatalf("runs = %+v, want one FAILED run written by MarkRunFailed", rs)
	}
	rec, err := mirrorer.Store.GetMirror(ctx, src, "us-west-2")
	if err != nil || rec == nil || rec.Status != inventory.StatusFailed || rec.LastRunID != "crash-1" || !strings.Contains(rec.LastError, "simulated crash") {
		t.Errorf("mirror record = %+v, %v; want FAILED pointing at the crashed run", rec, err)
	}
}

// TestConfigureRefusesForeignBucket: configure invoked on its own with a
// destination that is not bucketmirror's writes nothing to it.
func TestConfigureRefusesForeignBucket(t *testing.T) {
	ctx := context.Background()
	src, foreign := bucketName(t, "cfg-src"), bucketName(t, "cfg-foreign")
	createSource(t, src)
	if _, err := s3c("us-west-2").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(foreign),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintUsWest2}}); err != nil {
		t.Fatal(err)
	}
	_, err := s3c("us-east-1").PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: &src, CORSConfiguration: &s3types.CORSConfiguration{
		CORSRules: []s3types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"*"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	var in mirror.Input
	if err := json.Unmarshal([]byte(payload(src, foreign)), &in); err != nil {
		t.Fatal(err)
	}
	st, err := mirrorer.ConfigureHandler(ctx, mirror.ConfigureEvent{State: mirror.State{Input: in, DestBucket: foreign, Status: mirror.StatusCreated}})
	var fe *mirror.ForeignBucketError
	if !errors.As(err, &fe) || st.Status != mirror.StatusFailed {
		t.Fatalf("configure on a foreign bucket: %+v, %v; want ForeignBucketError", st, err)
	}
	if _, err := s3c("us-west-2").GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: &foreign}); err == nil {
		t.Error("configure wrote CORS to a bucket that is not bucketmirror's")
	}
	if tags, err := s3c("us-west-2").GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &foreign}); err == nil && len(tags.TagSet) > 0 {
		t.Errorf("configure tagged the foreign bucket: %v", tags.TagSet)
	}
}
