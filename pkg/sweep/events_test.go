package sweep_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

// receivedEvent is an EventBridge event as an SQS target receives it.
type receivedEvent struct {
	Source     string            `json:"source"`
	DetailType string            `json:"detail-type"`
	Resources  []string          `json:"resources"`
	Detail     sweep.EventDetail `json:"detail"`
	// RawDetail is the detail as sent, for types whose detail is not an
	// EventDetail (Sweep Finished).
	RawDetail string `json:"-"`
}

// eventQueue is a bus of its own with a rule {"source":["bucketmirror"]}
// whose target is an SQS queue: what another team would set up.
type eventQueue struct {
	bus, queueURL string
	sqs           *sqs.Client
}

func newEventQueue(t *testing.T, name string) *eventQueue {
	t.Helper()
	ctx := t.Context()
	eb := eventbridge.NewFromConfig(cloud.AWSConfig())
	q := &eventQueue{bus: name, sqs: sqs.NewFromConfig(cloud.AWSConfig())}
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	created, err := q.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	q.queueURL = aws.ToString(created.QueueUrl)
	attrs, err := q.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: created.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name + "-all"), EventBusName: aws.String(name),
		EventPattern: aws.String(`{"source":["bucketmirror"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name + "-all"), EventBusName: aws.String(name),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}}}); err != nil {
		t.Fatal(err)
	}
	return q
}

// receive reads events until n have arrived (and a little longer, to catch
// extras), or fails.
func (q *eventQueue) receive(t *testing.T, n int) []receivedEvent {
	t.Helper()
	var got []receivedEvent
	quietUntil := time.Time{}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		out, err := q.sqs.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.queueURL), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var ev receivedEvent
			var raw struct {
				Detail json.RawMessage `json:"detail"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
				t.Fatalf("message %s: %v", aws.ToString(m.Body), err)
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &raw); err != nil {
				t.Fatalf("message %s: %v", aws.ToString(m.Body), err)
			}
			ev.RawDetail = string(raw.Detail)
			got = append(got, ev)
			if _, err := q.sqs.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(q.queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
		if len(got) >= n {
			if quietUntil.IsZero() {
				quietUntil = time.Now().Add(200 * time.Millisecond)
			}
			if time.Now().After(quietUntil) {
				break
			}
		}
		if len(out.Messages) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if len(got) != n {
		t.Fatalf("%d events on the queue, want %d: %+v", len(got), n, got)
	}
	return got
}

// only returns the one event of detailType about source, failing otherwise.
func only(t *testing.T, evs []receivedEvent, detailType, source string) receivedEvent {
	t.Helper()
	var match []receivedEvent
	for _, ev := range evs {
		if ev.DetailType == detailType && ev.Detail.Source == source {
			match = append(match, ev)
		}
	}
	if len(match) != 1 {
		t.Fatalf("%d %q events about %s, want 1; all: %+v", len(match), detailType, source, evs)
	}
	ev := match[0]
	if ev.Source != sweep.EventSource || !slices.Contains(ev.Resources, "arn:aws:s3:::"+source) {
		t.Errorf("%s event: source %q resources %v", detailType, ev.Source, ev.Resources)
	}
	return ev
}

func TestEventsReachSQS(t *testing.T) {
	q := newEventQueue(t, fmt.Sprintf("sweep-events-%d", seq.Add(1)))
	e := newEnv(t, withBus(q.bus))
	src := e.source("ev", "us-west-2")
	dest := e.m.DerivedName(src, "us-west-2")
	bad := e.source("ev-bad", "mars-1")
	// The explicit destination exists and is not bucketmirror's: the run fails.
	foreign := e.bucket("foreign")
	e.createBucket(foreign, "us-west-2", nil)
	taken := e.bucket("taken")
	e.createBucket(taken, homeRegion, map[string]string{e.tag("destination-regions"): "us-west-2", e.tag("destination-bucket"): foreign})

	sum := e.sweep()
	wantCounts(t, sum, 1, 0, 1, 1, 0)
	evs := q.receive(t, 5)
	started := only(t, evs, sweep.DetailRunStarted, src)
	run := wantDecision(t, sum, src, "us-west-2", sweep.ActionStarted, "new")
	if d := started.Detail; d.Region != "us-west-2" || d.Reason != "new" || d.Execution != run.Execution || d.Mode != "local" || d.SourceRegion != homeRegion || d.SourceHash == "" {
		t.Errorf("run started detail %+v", d)
	}
	if d := only(t, evs, sweep.DetailRunFinished, src).Detail; d.Dest != dest || d.Execution != run.Execution || d.SourceHash == "" {
		t.Errorf("run finished detail %+v", d)
	}
	only(t, evs, sweep.DetailRunStarted, taken)
	if d := only(t, evs, sweep.DetailRunFailed, taken).Detail; d.Stage != "run" || !strings.Contains(d.Error, foreign) || d.Dest != foreign {
		t.Errorf("run failed detail %+v", d)
	}
	if d := only(t, evs, sweep.DetailInvalid, bad).Detail; d.Region != "mars-1" || !strings.Contains(d.Error, bad) || !strings.Contains(d.Error, "mars-1") {
		t.Errorf("invalid detail %+v", d)
	}

	// Drift on one source, the other untagged.
	if _, err := e.s3(homeRegion).PutBucketVersioning(e.ctx, &s3.PutBucketVersioningInput{Bucket: &src,
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	e.setTags(taken, homeRegion, map[string]string{"team": "data"})
	sum = e.sweep()
	wantCounts(t, sum, 1, 0, 0, 1, 1)
	evs = q.receive(t, 4)
	drift := only(t, evs, sweep.DetailDriftDetected, src).Detail
	if drift.Reason != "source-changed" || drift.AppliedHash == "" || drift.SourceHash == drift.AppliedHash || drift.Dest != dest {
		t.Errorf("drift detail %+v", drift)
	}
	if d := only(t, evs, sweep.DetailRunStarted, src).Detail; d.Reason != "source-changed" || d.SourceHash != drift.SourceHash {
		t.Errorf("run started after drift %+v", d)
	}
	only(t, evs, sweep.DetailRunFinished, src)
	if d := only(t, evs, sweep.DetailDetached, taken).Detail; d.Reason != "tag-removed" || d.PreviousStatus != "FAILED" || d.Region != "us-west-2" {
		t.Errorf("detached detail %+v", d)
	}

	// Nothing changed, nothing said.
	e.sweep()
	q.receive(t, 0)
}

// failEntries is a PutEvents middleware that makes EventBridge report the
// first entry of the first call failed (ThrottlingException, the emulator
// never does) and the entries about one bucket failed on every call.
type failEntries struct {
	calls  atomic.Int64
	always string // a bucket name
}

func (f *failEntries) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("failEntries",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			put, ok := in.Parameters.(*eventbridge.PutEventsInput)
			if !ok {
				return next.HandleInitialize(ctx, in)
			}
			first := f.calls.Add(1) == 1
			failed := map[int]string{}
			var pass []ebtypes.PutEventsRequestEntry
			for i, entry := range put.Entries {
				switch {
				case first && i == 0:
					failed[i] = "ThrottlingException"
				case strings.Contains(aws.ToString(entry.Detail), `"`+f.always+`"`):
					failed[i] = "InternalFailure"
				default:
					pass = append(pass, entry)
				}
			}
			out := middleware.InitializeOutput{Result: &eventbridge.PutEventsOutput{}}
			var md middleware.Metadata
			if len(pass) > 0 {
				in.Parameters = &eventbridge.PutEventsInput{Entries: pass}
				var err error
				if out, md, err = next.HandleInitialize(ctx, in); err != nil {
					return out, md, err
				}
			}
			res := out.Result.(*eventbridge.PutEventsOutput)
			var entries []ebtypes.PutEventsResultEntry
			for i := range put.Entries {
				if code, ok := failed[i]; ok {
					entries = append(entries, ebtypes.PutEventsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("injected by the test")})
					continue
				}
				entries, res.Entries = append(entries, res.Entries[0]), res.Entries[1:]
			}
			res.Entries, res.FailedEntryCount = entries, int32(len(failed))
			return out, md, nil
		}), middleware.After)
}

func TestEventsBatchedAndRetried(t *testing.T) {
	q := newEventQueue(t, fmt.Sprintf("sweep-retry-%d", seq.Add(1)))
	inject := &failEntries{}
	e := newEnv(t, withBus(q.bus), withAPIOption(inject.middleware))
	// Invalid tags are the cheapest events: one each, no runs.
	var sources []string
	for range 12 {
		sources = append(sources, e.source("batch", "mars-1"))
	}
	inject.always = sources[5]

	sum := e.sweep()
	wantCounts(t, sum, 0, 0, 0, 12, 0)
	evs := q.receive(t, 11)
	for _, src := range sources {
		if src != inject.always {
			only(t, evs, sweep.DetailInvalid, src)
		}
	}
	if sum.EventsPublished != 11 || sum.EventsFailed != 1 || !strings.Contains(sum.EventErrors, "Mirror Invalid") || !strings.Contains(sum.EventErrors, "InternalFailure") {
		t.Errorf("events published %d failed %d (%s), want 11 and 1 naming the detail type and code", sum.EventsPublished, sum.EventsFailed, sum.EventErrors)
	}
	// Twelve events: a batch of ten and one of two, the throttled entry
	// retried in a call of its own, the failing one retried until the bound.
	if n := e.rec.count("EventBridge.PutEvents"); n < 3 || n > 6 {
		t.Errorf("%d PutEvents calls for 12 events in batches of 10 with retries", n)
	}
}
