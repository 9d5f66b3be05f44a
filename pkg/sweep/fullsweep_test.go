package sweep_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/localdeploy"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

// fullSweep is the sweep state machine deployed for one env: its
// handlers run on a Sweeper of the env's prefix and table, whose decisions
// are collected as the children make them.
type fullSweep struct {
	e       *env
	s       *sweep.Sweeper
	arn     string
	mu      sync.Mutex
	decided []sweep.Decision
	// last is the last run's execution as Step Functions describes it.
	last *sfn.DescribeExecutionOutput
}

// fullSweepOptions: inlineBytes is Config.InlineBytes (0: the default, so
// a test's few batches go inline; -1: always a manifest), bus the event bus.
type fullSweepOptions struct {
	inlineBytes int
	bus         string
}

func (e *env) deployFullSweep(batchSize int, o fullSweepOptions) *fullSweep {
	e.t.Helper()
	f := &fullSweep{e: e}
	s, err := sweep.New(e.cfg, sweep.Config{TagPrefix: e.prefix, Regions: regions, AccountID: localcloud.AccountID, Owner: "full",
		Concurrency: 4, ManifestBucket: "dest-sweep-manifests-test", BatchSize: batchSize, MapConcurrency: 3,
		Accounts: e.opts.accounts, Organization: e.opts.organization, InlineBytes: o.inlineBytes, EventBus: o.bus}, e.m, &sweep.LocalStarter{Mirrorer: e.m}, quiet())
	if err != nil {
		e.t.Fatal(err)
	}
	s.Metrics = e.emf
	s.Progress = func(d sweep.Decision) {
		f.mu.Lock()
		f.decided = append(f.decided, d)
		f.mu.Unlock()
	}
	f.s = s
	if f.arn, err = localdeploy.DeploySweep(e.ctx, cloud, s, fmt.Sprintf("bucketmirror-sweep-%d", seq.Add(1))); err != nil {
		e.t.Fatal(err)
	}
	return f
}

// run starts an execution of the sweep state machine, waits for it and
// returns its final status and the aggregate's summary, and the decisions
// the children made; f.last is the execution as DescribeExecution ended it.
func (f *fullSweep) run() (sfntypes.ExecutionStatus, sweep.Summary, []sweep.Decision) {
	t := f.e.t
	t.Helper()
	f.mu.Lock()
	f.decided = nil
	f.mu.Unlock()
	client := sfn.NewFromConfig(cloud.AWSConfig())
	// Named: moto 5.2.1 names an unnamed execution "None" (AWS generates a
	// UUID), so a second unnamed start would collide.
	started, err := client.StartExecution(f.e.ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(f.arn),
		Name: aws.String(fmt.Sprintf("sweep-%d", seq.Add(1))), Input: aws.String(`{"detail-type":"Scheduled Event","source":"aws.events"}`)})
	if err != nil {
		t.Fatalf("starting the sweep state machine: %v", err)
	}
	var out *sfn.DescribeExecutionOutput
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if out, err = client.DescribeExecution(f.e.ctx, &sfn.DescribeExecutionInput{ExecutionArn: started.ExecutionArn}); err != nil {
			t.Fatalf("describing the sweep execution: %v", err)
		}
		if out.Status != sfntypes.ExecutionStatusRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sweep execution still running after 3 minutes")
		}
	}
	f.last = out
	var sum sweep.Summary
	if out.Status == sfntypes.ExecutionStatusSucceeded {
		if err := json.Unmarshal([]byte(aws.ToString(out.Output)), &sum); err != nil {
			t.Fatalf("sweep execution output %s: %v", aws.ToString(out.Output), err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	decided := slices.Clone(f.decided)
	slices.SortFunc(decided, func(a, b sweep.Decision) int { return strings.Compare(a.Source+" "+a.Region, b.Source+" "+b.Region) })
	return out.Status, sum, decided
}

// world is a set of sources in every state a sweep decides about, built
// twice from the same script so that the Lambda path and the state machine
// see the same account.
type world struct {
	e       *env
	sources map[string]string // role -> bucket
}

var worldRoles = []string{"new-a", "new-b", "unchanged", "source-changed", "destination-changed", "untagged", "invalid"}

func buildWorld(e *env) *world {
	e.t.Helper()
	w := &world{e: e, sources: map[string]string{}}
	for _, role := range worldRoles {
		if strings.HasPrefix(role, "new-") {
			continue
		}
		w.sources[role] = e.source(role, "us-west-2")
	}
	if sum := e.sweep(); sum.Started != 5 || sum.Failed != 0 {
		e.t.Fatalf("setting up the world: %+v\n%s", sum, describe(sum))
	}
	w.sources["new-a"] = e.source("new-a", "us-west-2")
	w.sources["new-b"] = e.source("new-b", "us-west-2 eu-central-1")
	cors := &s3types.CORSConfiguration{CORSRules: []s3types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"*"}}}}
	if _, err := e.s3(homeRegion).PutBucketCors(e.ctx, &s3.PutBucketCorsInput{Bucket: aws.String(w.sources["source-changed"]), CORSConfiguration: cors}); err != nil {
		e.t.Fatal(err)
	}
	dest := e.m.DerivedName(w.sources["destination-changed"], "us-west-2")
	if _, err := e.s3("us-west-2").PutBucketCors(e.ctx, &s3.PutBucketCorsInput{Bucket: aws.String(dest), CORSConfiguration: cors}); err != nil {
		e.t.Fatal(err)
	}
	e.setTags(w.sources["untagged"], homeRegion, map[string]string{"team": "x"})
	e.setTags(w.sources["invalid"], homeRegion, map[string]string{e.tag("destination-regions"): "us-west-2 mars-north-1"})
	return w
}

// roleOf maps a decision to its source's role in w.
func (w *world) decisions(ds []sweep.Decision) []string {
	var out []string
	for _, d := range ds {
		for role, b := range w.sources {
			if b == d.Source {
				out = append(out, fmt.Sprintf("%s %s %s/%s", role, d.Region, d.Action, d.Reason))
			}
		}
	}
	slices.Sort(out)
	return out
}

func TestFullSweepStateMachineDecidesAsTheLambdaPath(t *testing.T) {
	lambdaPath, machinePath := newEnv(t), newEnv(t)
	lw, mw := buildWorld(lambdaPath), buildWorld(machinePath)
	want := lw.decisions(lambdaPath.sweep().Decisions)

	// 7 sources: 4 batches, so 4 children, through a manifest (the inline
	// path is the other tests').
	f := machinePath.deployFullSweep(2, fullSweepOptions{inlineBytes: -1})
	status, sum, decided := f.run()
	if status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("sweep execution %s", status)
	}
	if got := mw.decisions(decided); !slices.Equal(got, want) {
		t.Errorf("state machine decisions:\n  %s\nLambda path:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if sum.Via != "distributed-map" || sum.Scope != "full" || sum.Batches != 4 || len(sum.FailedBatches) != 0 || sum.Scanned != 7 {
		t.Errorf("summary %+v, want full via distributed-map over 4 batches of 7 sources", sum)
	}
	// Started: new-a (1), new-b (2), source-changed, destination-changed;
	// skipped: unchanged, and invalid's us-west-2 (its other Region is the
	// invalid one); detached: untagged.
	wantCounts(t, sum, 5, 2, 0, 1, 1)
	if !strings.Contains(machinePath.emf.String(), `"Scope":"full"`) || !strings.Contains(machinePath.emf.String(), `"FailedBatches"`) {
		t.Errorf("no EMF line for the full sweep: %s", machinePath.emf.String())
	}

	// Nothing changed: a second run starts nothing and writes nothing but
	// its manifest and its Sweep Finished event.
	machinePath.rec.reset()
	status, sum, _ = f.run()
	if status != sfntypes.ExecutionStatusSucceeded || sum.Started != 0 || sum.Failed != 0 {
		t.Errorf("second run: %s, %+v", status, sum)
	}
	if w := machinePath.rec.writes(); !slices.Equal(w, []string{"S3.PutObject", "EventBridge.PutEvents"}) {
		t.Errorf("second run wrote %v, want its manifest, then its sweep event", w)
	}
	if n := machinePath.rec.count("S3.GetBucketLocation"); n != 0 {
		t.Errorf("second run asked S3 for %d buckets' Regions; the Tagging API named them", n)
	}
}

// failingBatch is the reconcile-batch function crashing on one batch, as a
// Lambda killed for memory would: an error the emulator cannot produce.
type failingBatch struct {
	next  lambda.Handler
	index int
}

func (f failingBatch) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var b sweep.Batch
	if err := json.Unmarshal(payload, &b); err == nil && b.Index == f.index {
		return nil, fmt.Errorf("batch %d: Runtime.OutOfMemory", b.Index)
	}
	return f.next.Invoke(ctx, payload)
}

func TestFullSweepToleratesAndReportsAFailedBatch(t *testing.T) {
	q := newEventQueue(t, fmt.Sprintf("full-sweep-events-%d", seq.Add(1)))
	e := newEnv(t)
	var sources []string
	for i := range 10 {
		sources = append(sources, e.source(fmt.Sprintf("batch-%d", i), "us-west-2"))
	}
	slices.Sort(sources) // the order of the batches
	// Ten batches of one, inline: one failed child is the 10% the Map
	// tolerates (ToleratedFailurePercentage 10; more fails it, see below).
	f := e.deployFullSweep(1, fullSweepOptions{bus: q.bus})
	h := &sweep.FullSweepHandler{Sweeper: f.s}
	cloud.Register(localdeploy.SweepBatchFunction, failingBatch{next: lambda.NewHandler(h.Batch), index: 1})
	t.Cleanup(func() { cloud.Register(localdeploy.SweepBatchFunction, lambda.NewHandler(h.Batch)) })

	e.rec.reset()
	status, sum, _ := f.run()
	if status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("sweep execution %s (%s: %s), want the failed batch tolerated", status, aws.ToString(f.last.Error), aws.ToString(f.last.Cause))
	}
	if !slices.Equal(sum.FailedBatches, []int{1}) || sum.Unreached != 1 || !slices.Equal(sum.UnreachedSources, sources[1:2]) {
		t.Errorf("failed batches %v, unreached %d %v; want [1], 1 %v", sum.FailedBatches, sum.Unreached, sum.UnreachedSources, sources[1:2])
	}
	if sum.Started != 9 || sum.Batches != 10 {
		t.Errorf("started %d of %d batches, want the other batches' 9 of 10", sum.Started, sum.Batches)
	}
	if n := e.rec.count("S3.PutObject") + e.rec.count("S3.GetObject"); n != 0 {
		t.Errorf("%d manifest writes and reads for ten small batches, want them inline", n)
	}
	for i, src := range sources {
		if m := e.mirror(src, "us-west-2"); (i != 1) != (m != nil) {
			t.Errorf("%s: mirror record %+v, reached = %v", src, m, i != 1)
		}
	}
	ev := sweepEvent(t, q.receive(t, 19)) // 9 Run Started, 9 Run Finished, 1 Sweep Finished
	if ev.Sweep != aws.ToString(f.last.Name) || ev.Via != "distributed-map" || ev.Scope != "full" || ev.Started != 9 || ev.Batches != 10 ||
		!slices.Equal(ev.FailedBatches, []int{1}) || ev.Unreached != 1 || !slices.Equal(ev.UnreachedSources, sources[1:2]) || !ev.Complete || ev.Error != "" {
		t.Errorf("Sweep Finished %+v, want the summary of execution %s", ev, aws.ToString(f.last.Name))
	}

	// The next run reaches it, and only it.
	cloud.Register(localdeploy.SweepBatchFunction, lambda.NewHandler(h.Batch))
	status, sum, _ = f.run()
	if status != sfntypes.ExecutionStatusSucceeded || sum.Started != 1 || len(sum.FailedBatches) != 0 {
		t.Errorf("next run: %s, %+v", status, sum)
	}
}

// sweepEvent returns the one Sweep Finished event among evs.
func sweepEvent(t *testing.T, evs []receivedEvent) sweep.SweepEventDetail {
	t.Helper()
	var found []sweep.SweepEventDetail
	for _, ev := range evs {
		if ev.DetailType != sweep.DetailSweepFinished {
			continue
		}
		var d sweep.SweepEventDetail
		if err := json.Unmarshal([]byte(ev.RawDetail), &d); err != nil {
			t.Fatalf("Sweep Finished detail %s: %v", ev.RawDetail, err)
		}
		if ev.Source != sweep.EventSource || len(ev.Resources) != 0 {
			t.Errorf("Sweep Finished event: source %q resources %v", ev.Source, ev.Resources)
		}
		found = append(found, d)
	}
	if len(found) != 1 {
		t.Fatalf("%d Sweep Finished events, want 1: %+v", len(found), evs)
	}
	return found[0]
}

func TestFullSweepFailsWhenMoreBatchesFailThanTolerated(t *testing.T) {
	q := newEventQueue(t, fmt.Sprintf("full-sweep-fail-%d", seq.Add(1)))
	e := newEnv(t)
	var sources []string
	for i := range 5 {
		sources = append(sources, e.source(fmt.Sprintf("over-%d", i), "us-west-2"))
	}
	slices.Sort(sources)
	// Batches [0,1] [2,3] [4] through a manifest; batch 1 failing is a third
	// of the children, more than the 10% tolerated: the Map fails, its Catch
	// goes on to Aggregate, which reports and fails the execution.
	f := e.deployFullSweep(2, fullSweepOptions{inlineBytes: -1, bus: q.bus})
	h := &sweep.FullSweepHandler{Sweeper: f.s}
	cloud.Register(localdeploy.SweepBatchFunction, failingBatch{next: lambda.NewHandler(h.Batch), index: 1})
	t.Cleanup(func() { cloud.Register(localdeploy.SweepBatchFunction, lambda.NewHandler(h.Batch)) })

	status, _, _ := f.run()
	if status != sfntypes.ExecutionStatusFailed || aws.ToString(f.last.Error) != "SweepError" ||
		!strings.Contains(aws.ToString(f.last.Cause), "States.ExceedToleratedFailureThreshold") {
		t.Fatalf("sweep execution %s (%s: %s), want FAILED by the aggregate naming the exceeded threshold",
			status, aws.ToString(f.last.Error), aws.ToString(f.last.Cause))
	}
	// The failed Map returns no results, so the aggregate counts every
	// batch failed and names their sources from the manifest.
	if emf := e.emf.String(); !strings.Contains(emf, `"FailedBatches":3`) || !strings.Contains(emf, `"Unreached":5`) {
		t.Errorf("aggregate's EMF line does not report the failed Map: %s", emf)
	}
	ev := sweepEvent(t, q.receive(t, 7)) // batches 0 and 2: 3 Run Started, 3 Run Finished; 1 Sweep Finished
	if ev.Complete || !strings.Contains(ev.Error, "States.ExceedToleratedFailureThreshold") || !slices.Equal(ev.FailedBatches, []int{0, 1, 2}) ||
		ev.Unreached != 5 || !slices.Equal(ev.UnreachedSources, sources) {
		t.Errorf("Sweep Finished %+v, want it incomplete, naming the threshold and all 5 sources", ev)
	}
	// The children that succeeded did their work before the Map failed.
	for i, src := range sources {
		if m := e.mirror(src, "us-west-2"); (i < 2 || i > 3) != (m != nil) {
			t.Errorf("%s: mirror record %+v", src, m)
		}
	}

	cloud.Register(localdeploy.SweepBatchFunction, lambda.NewHandler(h.Batch))
	status, sum, _ := f.run()
	if status != sfntypes.ExecutionStatusSucceeded || sum.Started != 2 || len(sum.FailedBatches) != 0 {
		t.Errorf("next run: %s, %+v", status, sum)
	}
}

func TestSweepStopsBeforeItsDeadline(t *testing.T) {
	e := newEnv(t)
	var sources []string
	for i := range 3 {
		sources = append(sources, e.source(fmt.Sprintf("late-%d", i), "us-west-2"))
	}
	slices.Sort(sources)
	s, err := sweep.New(e.cfg, sweep.Config{TagPrefix: e.prefix, Regions: regions, AccountID: localcloud.AccountID, Concurrency: 1,
		DeadlineMargin: time.Hour}, e.m, &sweep.LocalStarter{Mirrorer: e.m}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	s.Metrics = nil
	// Less than the margin left: nothing is taken, everything is reported.
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Minute)
	defer cancel()
	sum, err := s.Sweep(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Unreached != 3 || sum.Started != 0 || !slices.Equal(sum.UnreachedSources, sources) {
		t.Errorf("unreached %d %v, started %d; want all 3 unreached", sum.Unreached, sum.UnreachedSources, sum.Started)
	}
	for _, src := range sources {
		wantDecision(t, sum, src, "", sweep.ActionSkipped, sweep.ReasonDeadline)
		if m := e.mirror(src, "us-west-2"); m != nil {
			t.Errorf("%s has a record %+v after a sweep that did not reach it", src, m)
		}
	}
	// No lease is left behind: a sweep with time reaches every source.
	if sum := e.sweep(); sum.Started != 3 {
		t.Errorf("next sweep started %d, want 3:\n%s", sum.Started, describe(sum))
	}
}
