package mirror_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/localdeploy"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
	"github.com/bucketmirror/bucketmirror/statemachine"
)

// createForeign makes a bucket in us-west-2 that is not bucketmirror's (no
// source tag), with CORS so that a write to it would show.
func createForeign(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s3c("us-west-2").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintUsWest2}}); err != nil {
		t.Fatal(err)
	}
}

func mirrorRecord(t *testing.T, src string) inventory.Mirror {
	t.Helper()
	rec, err := mirrorer.Store.GetMirror(context.Background(), src, "us-west-2")
	if err != nil || rec == nil {
		t.Fatalf("mirror record of %s: %+v, %v", src, rec, err)
	}
	return *rec
}

// sameRecord compares what a refused request must not change.
func sameRecord(t *testing.T, what string, got, want inventory.Mirror) {
	t.Helper()
	if got.Dest != want.Dest || got.Status != want.Status || got.LastRunID != want.LastRunID || got.LastError != want.LastError ||
		got.AppliedHash != want.AppliedHash || got.DestHash != want.DestHash {
		t.Errorf("%s changed the mirror record:\n got %+v\nwant %+v", what, got, want)
	}
}

// TestRefusedDestinationChangesNoRecord reproduces the record corruption: a
// create whose destBucketARN names a foreign bucket for an already mirrored
// source used to return ForeignBucketError and leave the mirror record
// pointing at the foreign bucket, FAILED, orphaning the healthy
// destination. A request naming a destination other than the recorded one
// is refused before any AWS call (unless adopting explicitly), and changes
// no record - through the state machine and through the CLI's path.
func TestRefusedDestinationChangesNoRecord(t *testing.T) {
	ctx := context.Background()
	src, foreign, other := bucketName(t, "repoint-src"), bucketName(t, "repoint-foreign"), bucketName(t, "repoint-other")
	createSource(t, src)
	createForeign(t, foreign)
	if out := execute(t, payload(src, "")); out.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("first mirror: %s %s %s", out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
	}
	healthy := mirrorRecord(t, src)
	if healthy.Status != inventory.StatusFinished || healthy.Dest == "" {
		t.Fatalf("after the first run the record is %+v, want FINISHED with a destination", healthy)
	}

	for _, dest := range []string{foreign, other} {
		out := execute(t, payload(src, dest))
		if out.Status != sfntypes.ExecutionStatusFailed || aws.ToString(out.Error) != "DestinationConflictError" {
			t.Errorf("create naming %s for a source mirrored to %s: %s %q %s, want FAILED with DestinationConflictError",
				dest, healthy.Dest, out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
		}
		sameRecord(t, "a refused execution naming "+dest, mirrorRecord(t, src), healthy)

		var in mirror.Input
		if err := json.Unmarshal([]byte(payload(src, dest)), &in); err != nil {
			t.Fatal(err)
		}
		_, err := mirrorer.Create(ctx, in)
		var conflict *mirror.DestinationConflictError
		if !errors.As(err, &conflict) || conflict.Recorded != healthy.Dest || conflict.Requested != dest {
			t.Errorf("Create naming %s: %v, want DestinationConflictError naming %s and %s", dest, err, healthy.Dest, dest)
		}
		sameRecord(t, "a refused Create naming "+dest, mirrorRecord(t, src), healthy)
	}
	if tags, err := s3c("us-west-2").GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &foreign}); err == nil && len(tags.TagSet) > 0 {
		t.Errorf("the foreign bucket was tagged: %v", tags.TagSet)
	}
	if _, err := s3c("us-west-2").HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &other}); err == nil {
		t.Errorf("a refused request created %s", other)
	}
	// A later run of the blog payload still finds the healthy destination.
	if out := execute(t, payload(src, "")); out.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("mirror after the refusals: %s %s %s", out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
	}
	if rec := mirrorRecord(t, src); rec.Dest != healthy.Dest || rec.Status != inventory.StatusFinished {
		t.Errorf("after the refusals the record is %+v, want FINISHED on %s", rec, healthy.Dest)
	}
}

// TestDeadlineIsRecordedNotRetried: a step that runs out of time inside the
// Lambda returns DeadlineError (which the state machine does not retry: a
// retried TransientError of a whole timeout would outlive the execution),
// and has recorded the run FAILED before the Lambda's own deadline, on a
// context of its own.
func TestDeadlineIsRecordedNotRetried(t *testing.T) {
	src, dst := bucketName(t, "deadline-src"), "dest-"+bucketName(t, "deadline-dst")
	createSource(t, src)
	hangCreateOf.Store(dst)
	defer hangCreateOf.Store("")
	var in mirror.Input
	if err := json.Unmarshal([]byte(payload(src, dst)), &in); err != nil {
		t.Fatal(err)
	}
	in.RunID = "deadline-1"
	// The Lambda's deadline: the work gets two seconds, the record the rest.
	ctx, cancel := context.WithTimeout(context.Background(), mirror.RecordTimeout+2*time.Second)
	defer cancel()
	st, err := mirrorer.CreateHandler(ctx, mirror.Event{Input: in})
	var deadline *mirror.DeadlineError
	var transient *mirror.TransientError
	if !errors.As(err, &deadline) || errors.As(err, &transient) || st.Status != mirror.StatusFailed {
		t.Fatalf("create that ran out of time: %+v, %T %v; want DeadlineError", st, err, err)
	}
	if ctx.Err() != nil {
		t.Error("the handler returned after the Lambda's deadline: no time was kept to record the run")
	}
	rs := runs(t, src)
	if len(rs) != 1 || rs[0].Status != inventory.StatusFailed || rs[0].RunID != "deadline-1" || !strings.Contains(rs[0].Error, "deadline") {
		t.Errorf("runs = %+v, want one FAILED run recording the deadline", rs)
	}
}

// deployMachine deploys the real ASL with its create step and table
// replaced, for failure paths the default machine cannot reach.
func deployMachine(t *testing.T, name, createFunction, table string) string {
	t.Helper()
	def, err := statemachine.Definition(map[string]string{
		"CreateFunctionArn":    cloud.FunctionARN(createFunction),
		"ConfigureFunctionArn": cloud.FunctionARN(localdeploy.ConfigureFunction),
		"TableName":            table,
		"EventBusName":         "default",
	})
	if err != nil {
		t.Fatal(err)
	}
	sm, err := sfn.NewFromConfig(cloud.AWSConfig()).CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{
		Name: aws.String(name), Definition: aws.String(def), RoleArn: aws.String("arn:aws:iam::123456789012:role/test")})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(sm.StateMachineArn)
}

func executeOn(t *testing.T, machine, name, input string) *sfn.DescribeExecutionOutput {
	t.Helper()
	ctx := context.Background()
	client := sfn.NewFromConfig(cloud.AWSConfig())
	start, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String(name), Input: aws.String(input)})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: start.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		if out.Status != sfntypes.ExecutionStatusRunning {
			return out
		}
	}
	t.Fatalf("execution %s did not finish within 60s", name)
	return nil
}

// TestEveryFailurePathEndsRecordedOrPublished: input the failure states
// cannot address (no sourceBucketARN or destRegion, not an object) and a
// table the failure states cannot write both end in Failed with the
// step's error and a Mirror Run Failed event, instead of an uncatchable
// States.Runtime error with no record and no event; an invalid request
// records its run but creates no mirror record.
func TestEveryFailurePathEndsRecordedOrPublished(t *testing.T) {
	subscribe(t)
	for i, input := range []string{`{}`, `[]`, `"text"`, `{"sourceBucketARN": 5, "destRegion": "us-west-2"}`, `{"payload": {"sourceBucketARN": "arn:aws:s3:::x"}}`} {
		name := fmt.Sprintf("unusable-%d", i)
		out := executeOn(t, machineARN, name, input)
		if out.Status != sfntypes.ExecutionStatusFailed || aws.ToString(out.Error) != "InvalidInputError" {
			t.Errorf("input %s: %s %q %s, want FAILED with InvalidInputError", input, out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
			continue
		}
		ev := awaitEvent(t, "Mirror Run Failed", func(d map[string]string) bool { return d["execution"] == name })
		if !strings.HasPrefix(ev["error"], "InvalidInputError: ") {
			t.Errorf("input %s: Mirror Run Failed detail %v", input, ev)
		}
	}

	cloud.Register("crashing-create-2", lambda.NewHandler(func(context.Context, json.RawMessage) (string, error) {
		panic("simulated crash")
	}))
	noTable := deployMachine(t, "no-table", "crashing-create-2", "no-such-table")
	src := bucketName(t, "no-table")
	createSource(t, src)
	out := executeOn(t, noTable, "no-table-1", payload(src, ""))
	if out.Status != sfntypes.ExecutionStatusFailed || aws.ToString(out.Error) != "Runtime.Panic" {
		t.Errorf("with the table unreachable: %s %q %s, want FAILED with the step's Runtime.Panic", out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
	}
	ev := awaitEvent(t, "Mirror Run Failed", func(d map[string]string) bool { return d["execution"] == "no-table-1" })
	if ev["sourceArn"] != "arn:aws:s3:::"+src || !strings.HasPrefix(ev["error"], "Runtime.Panic: ") {
		t.Errorf("with the table unreachable: Mirror Run Failed detail %v", ev)
	}

	bad := bucketName(t, "bad-region")
	createSource(t, bad)
	input := strings.Replace(payload(bad, ""), `"destRegion":"us-west-2"`, `"destRegion":"mars-1"`, 1)
	out = executeOn(t, machineARN, "bad-region-1", input)
	if out.Status != sfntypes.ExecutionStatusFailed || aws.ToString(out.Error) != "InvalidInputError" {
		t.Errorf("destRegion mars-1: %s %q, want FAILED with InvalidInputError", out.Status, aws.ToString(out.Error))
	}
	if rec, err := mirrorer.Store.GetMirror(context.Background(), bad, "mars-1"); err != nil || rec != nil {
		t.Errorf("an invalid request created the mirror record %+v (%v)", rec, err)
	}
	rs, err := mirrorer.Store.Runs(context.Background(), bad, "mars-1")
	if err != nil || len(rs) != 1 || rs[0].Status != inventory.StatusFailed {
		t.Errorf("runs of the invalid request = %+v, %v; want its one FAILED run (the audit of the execution)", rs, err)
	}
}
