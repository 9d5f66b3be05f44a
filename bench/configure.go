package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

// configureLevel is the measurement at one injected latency.
type configureLevel struct {
	LatencyMS  int   `json:"latency_ms_each_way"`
	RTTMS      int   `json:"rtt_ms"`
	Sequential stats `json:"sequential"`
	Concurrent stats `json:"concurrent"`
	// Speedup is the sequential median over the concurrent median.
	Speedup float64 `json:"speedup"`
	// LimitMS is (DependencyDepth()+1 read round) × RTT; LimitRatio the
	// concurrent median over it (1.0 would be the physical limit). Both are
	// absent at 0 ms, where there is no injected round trip to count.
	LimitMS    *float64 `json:"limit_ms,omitempty"`
	LimitRatio *float64 `json:"limit_ratio,omitempty"`
	// RoundsObserved is (concurrent median - the 0 ms median) / RTT: the
	// round trips the concurrent run waits for one after another.
	RoundsObserved *float64 `json:"serial_rounds_observed,omitempty"`
	// LatencySpeedup compares only what latency adds: (sequential - its
	// 0 ms median) / (concurrent - its 0 ms median), taking out the local
	// cloud's service time, which real S3 does not have.
	LatencySpeedup *float64 `json:"latency_speedup,omitempty"`
	// Calls per run (SDK operations; attempts include retries).
	SequentialCalls int `json:"sequential_calls_per_run"`
	ConcurrentCalls int `json:"concurrent_calls_per_run"`
	// FailedRuns counts runs where any kind failed or was skipped.
	FailedRuns int `json:"failed_runs"`
}

type configureResult struct {
	Kinds        []string `json:"kinds_on_source"`
	CatalogKinds int      `json:"catalog_kinds"`
	// WriteRounds is the longest chain of writes the measured plan must make
	// one after another (Plan.WriteRounds): with the read round, the
	// plan's lower bound in round trips.
	WriteRounds int              `json:"write_rounds"`
	Levels      []configureLevel `json:"levels"`
	// RoundsAt100 is the concurrent median at 100 ms each way over the RTT
	// (200 ms): the round trips one configure waits for, emulator time
	// included (issue 14's target: at most 3.5).
	RoundsAt100 float64 `json:"rounds_at_100ms"`
	// VerifiedInLine: after a run of each mode a fresh plan had nothing to do.
	VerifiedInLine bool    `json:"verified_in_line"`
	SpeedupAt25    float64 `json:"speedup_at_25ms"`
	LimitRatioAt25 float64 `json:"limit_ratio_at_25ms"`
	// LatencySpeedupAt25: see configureLevel.LatencySpeedup.
	LatencySpeedupAt25 float64  `json:"latency_speedup_at_25ms"`
	ConcurrentOps      string   `json:"concurrent_ops_per_run"`
	SequentialOps      string   `json:"sequential_ops_per_run"`
	FirstFailures      []string `json:"first_failures,omitempty"`
	// CriticalPath is the chain of calls that ends the concurrent run at
	// 100 ms, each the call the next one waited for (recorded by the engine,
	// see awsclient.Recorder), first to last.
	CriticalPath []string `json:"critical_path_at_100ms,omitempty"`
	// EmulatorFloorMS is the concurrent median at 0 ms: the local cloud's
	// own service time, which latency adds to.
	EmulatorFloorMS float64 `json:"emulator_floor_ms"`
	// KindResults is action/status per kind of one concurrent run.
	KindResults map[string]string `json:"kind_results"`
	// TimelineAt100 is every call of one concurrent run at 100 ms.
	TimelineAt100 []timedCall `json:"timeline_at_100ms,omitempty"`
	DurationS     float64     `json:"duration_s"`
}

// newMirrorResult is a new destination made and configured as the
// workflow runs it: Mirrorer.Create, then Mirrorer.Configure.
type newMirrorResult struct {
	LatencyMS int   `json:"latency_ms_each_way"`
	RTTMS     int   `json:"rtt_ms"`
	Runs      stats `json:"runs"`
	// RoundsAt100 is the median over the RTT (issue 14's target: at most 5).
	RoundsAt100 float64 `json:"rounds_at_100ms"`
	// FloorMS is the median at 0 ms: the emulator's own time.
	FloorMS float64 `json:"emulator_floor_ms"`
	// EmulatorCPUMS is the moto process's CPU time (user + system) per run
	// at 0 ms, which the rounds at 100 ms pay wherever a round's requests
	// queue for the one Python process.
	EmulatorCPUMS float64  `json:"emulator_cpu_ms_per_run"`
	S3Calls       int      `json:"s3_calls_per_run"`
	DynamoCalls   int      `json:"dynamodb_calls_per_run"`
	FailedRuns    int      `json:"failed_runs"`
	CriticalPath  []string `json:"critical_path_at_100ms,omitempty"`
	// Timeline is every call of one run at 100 ms.
	Timeline []timedCall `json:"timeline_at_100ms,omitempty"`
}

// benchConfigure times Engine.Configure of one fully configured source,
// sequential (the blog's approach) against the plan applied concurrently in
// dependency order, through toxiproxy adding latency each way; then a new
// mirror (create and configure) at 0 and 100 ms.
func benchConfigure(ctx context.Context, cloud *localcloud.Cloud, levels []int, runsAt func(int) int) (*configureResult, *newMirrorResult, error) {
	began := time.Now()
	direct := awsclient.New(cloud.AWSConfig())
	src := bucketconfig.Bucket{Name: "bench-configure-source", Region: srcRegion}
	kinds, err := fullSource(ctx, direct, src, "bench-configure-logs", "bench-configure-replica")
	if err != nil {
		return nil, nil, err
	}
	res := &configureResult{Kinds: kinds, CatalogKinds: len(bucketconfig.Kinds)}
	progress("configure: source %s carries %d of %d catalog kinds", src.Name, len(kinds), len(bucketconfig.Kinds))

	proxy, err := newFaultProxy("configure", cloud.Endpoint)
	if err != nil {
		return nil, nil, err
	}
	defer proxy.Close()
	counter := newCallCounter()
	recorder := &awsclient.Recorder{}
	cfg := cloud.AWSConfig()
	cfg.BaseEndpoint = aws.String(proxy.Endpoint)
	cfg.Retryer = awsclient.NewRetryer
	// The clients as the Lambdas and the CLI build them (awsclient.Load):
	// the same HTTP client, keeping connections warm.
	cfg.HTTPClient = awsclient.NewHTTPClient()
	cfg.APIOptions = append(cfg.APIOptions, counter.apiOption, recorder.APIOption)
	clients := awsclient.New(cfg)
	engines := map[bool]*bucketconfig.Engine{
		true:  bucketconfig.New(clients, bucketconfig.Options{AccountID: localcloud.AccountID, Sequential: true}),
		false: bucketconfig.New(clients, bucketconfig.Options{AccountID: localcloud.AccountID}),
	}
	dest := map[bool]bucketconfig.Bucket{
		true:  {Name: "bench-configure-dest-seq", Region: dstRegion},
		false: {Name: "bench-configure-dest-conc", Region: dstRegion},
	}
	verifier := bucketconfig.New(direct, bucketconfig.Options{AccountID: localcloud.AccountID})
	// A fresh destination for every run, deleted and created again outside
	// the timed section and outside the proxy, as the create step makes it:
	// with the source's Object Lock, ownership and tags in CreateBucket.
	create, err := createLikeCreateStep(ctx, verifier, direct, src)
	if err != nil {
		return nil, nil, err
	}
	reset := func(seq bool) error {
		if err := deleteBucket(ctx, direct, dest[seq]); err != nil {
			return err
		}
		return create(dest[seq])
	}
	var lastResults []bucketconfig.Result
	var lastPlan *bucketconfig.Plan
	run := func(seq bool) (time.Duration, map[string]int, []string, []awsclient.Call, time.Time, error) {
		if err := reset(seq); err != nil {
			return 0, nil, nil, nil, time.Time{}, err
		}
		counter.take()
		recorder.Take()
		start := time.Now()
		p, results, err := engines[seq].Configure(awsclient.WithCauses(ctx), bucketconfig.Mirror{Source: src, Dest: dest[seq]})
		took := time.Since(start)
		calls, _ := counter.take()
		lastResults, lastPlan = results, p
		return took, calls, configureFailures(results), recorder.Take(), start, err
	}

	// Warm-up (connections, the log bucket in the destination Region) and a
	// correctness check of both modes, untimed.
	res.VerifiedInLine = true
	for _, seq := range []bool{true, false} {
		_, calls, failed, _, _, err := run(seq)
		if err != nil {
			return nil, nil, err
		}
		if len(failed) > 0 {
			res.FirstFailures = failed
			progress("configure: warm-up (sequential=%v) had failures: %v", seq, failed)
		}
		p, err := verifier.Plan(ctx, bucketconfig.Mirror{Source: src, Dest: dest[seq]})
		if err != nil {
			return nil, nil, err
		}
		if n := p.Changes(); n != 0 {
			res.VerifiedInLine = false
			for _, s := range p.Steps {
				if s.Action != bucketconfig.ActionNone && s.Action != bucketconfig.ActionReport {
					progress("configure: after a run (sequential=%v) %s is still %s", seq, s.Kind, s.Action)
				}
			}
		}
		if seq {
			res.SequentialOps = topOps(calls, 8)
		} else {
			res.ConcurrentOps = topOps(calls, 8)
			res.WriteRounds = lastPlan.WriteRounds()
			res.KindResults = map[string]string{}
			for _, r := range lastResults {
				res.KindResults[r.Kind] = string(r.Action) + "/" + string(r.Status)
			}
		}
	}
	progress("configure: the plan writes in %d round(s) after its read round", res.WriteRounds)

	for _, l := range levels {
		if err := proxy.latency(l, 0); err != nil {
			return nil, nil, err
		}
		n := runsAt(l)
		lv := configureLevel{LatencyMS: l, RTTMS: 2 * l}
		var seqTimes, concTimes []time.Duration
		seqCalls, concCalls := 0, 0
		for i := range n {
			order := []bool{true, false}
			if i%2 == 1 {
				order = []bool{false, true}
			}
			for _, seq := range order {
				took, calls, failed, recorded, start, err := run(seq)
				if err != nil {
					return nil, nil, err
				}
				if !seq && i == 0 && l == 100 {
					res.TimelineAt100, res.CriticalPath = timelineOf(recorded, start)
				}
				if len(failed) > 0 {
					lv.FailedRuns++
					if res.FirstFailures == nil {
						res.FirstFailures = failed
					}
				}
				if seq {
					seqTimes = append(seqTimes, took)
					seqCalls += total(calls)
				} else {
					concTimes = append(concTimes, took)
					concCalls += total(calls)
				}
			}
		}
		lv.Sequential, lv.Concurrent = summarize(seqTimes), summarize(concTimes)
		lv.SequentialCalls, lv.ConcurrentCalls = seqCalls/n, concCalls/n
		lv.Speedup = round2(lv.Sequential.Median / lv.Concurrent.Median)
		if l > 0 {
			limit := float64((res.WriteRounds + 1) * 2 * l)
			ratio := round2(lv.Concurrent.Median / limit)
			lv.LimitMS, lv.LimitRatio = &limit, &ratio
		}
		if l == 0 {
			res.EmulatorFloorMS = lv.Concurrent.Median
		} else {
			rounds := round1((lv.Concurrent.Median - res.EmulatorFloorMS) / float64(2*l))
			lv.RoundsObserved = &rounds
		}
		if l == 25 {
			res.SpeedupAt25 = lv.Speedup
			if lv.LimitRatio != nil {
				res.LimitRatioAt25 = *lv.LimitRatio
			}
		}
		if l == 100 {
			res.RoundsAt100 = round2(lv.Concurrent.Median / 200)
		}
		res.Levels = append(res.Levels, lv)
		res.derive()
		limit := "-"
		if lv.LimitMS != nil {
			limit = fmt.Sprintf("%.0f ms (concurrent is %.2f× it)", *lv.LimitMS, *lv.LimitRatio)
		}
		progress("configure: L=%3d ms, %d runs each: sequential median %.0f ms, concurrent median %.0f ms (%.2f RTTs), speedup %.2f×, limit %s",
			l, n, lv.Sequential.Median, lv.Concurrent.Median, lv.Concurrent.Median/float64(max(2*l, 1)), lv.Speedup, limit)
	}
	proxy.clear()
	nm, err := benchNewMirror(ctx, cloud, proxy, cfg, counter, recorder, src, runsAt(100))
	if err != nil {
		return nil, nil, err
	}
	proxy.clear()
	res.DurationS = round1(time.Since(began).Seconds())
	return res, nm, nil
}

// createLikeCreateStep returns a function creating a destination of src as
// the create step does (pkg/mirror ensureBucket): CreateBucket with the
// source's Object Lock, ownership and tags (the source tag among them).
func createLikeCreateStep(ctx context.Context, e *bucketconfig.Engine, clients *awsclient.Clients, src bucketconfig.Bucket) (func(bucketconfig.Bucket) error, error) {
	lock, err := e.ObjectLockEnabled(ctx, src)
	if err != nil {
		return nil, err
	}
	own, err := e.Ownership(ctx, src)
	if err != nil {
		return nil, err
	}
	tags, err := e.Tags(ctx, src)
	if err != nil {
		return nil, err
	}
	ownership := s3types.ObjectOwnershipObjectWriter
	if own != nil {
		ownership = *own
	}
	destTags := e.DestinationTags(src, tags)
	return func(b bucketconfig.Bucket) error {
		in := &s3.CreateBucketInput{Bucket: aws.String(b.Name), ObjectLockEnabledForBucket: aws.Bool(lock), ObjectOwnership: ownership,
			CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(b.Region), Tags: destTags}}
		if _, err := clients.S3(b.Region).CreateBucket(ctx, in); err != nil {
			return fmt.Errorf("creating bucket %s: %w", b, err)
		}
		return nil
	}, nil
}

// benchNewMirror times a new destination made and configured as the
// workflow runs it: Mirrorer.Create, then Mirrorer.Configure with the state
// Create returned. S3 calls go through the proxy; DynamoDB calls do not: the
// Lambdas and their table are in the same (home) Region, a round trip of a
// millisecond or two, while the buckets' Regional endpoints are the far ones.
func benchNewMirror(ctx context.Context, cloud *localcloud.Cloud, proxy *faultProxy, cfg aws.Config, counter *callCounter,
	recorder *awsclient.Recorder, src bucketconfig.Bucket, runs int) (*newMirrorResult, error) {
	direct := cloud.AWSConfig()
	direct.APIOptions = append(direct.APIOptions, counter.apiOption, recorder.APIOption)
	clients := awsclient.New(cfg)
	const table = "bench-new-mirror"
	m := &mirror.Mirrorer{Clients: clients, TagPrefix: "bucketmirror:",
		Engine: bucketconfig.New(clients, bucketconfig.Options{AccountID: localcloud.AccountID}),
		Store:  inventory.New(dynamodb.NewFromConfig(direct), table),
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := m.Store.CreateTable(ctx); err != nil {
		return nil, err
	}
	dest := bucketconfig.Bucket{Name: "bench-new-mirror-dest", Region: dstRegion}
	directClients := awsclient.New(cloud.AWSConfig())
	res := &newMirrorResult{LatencyMS: 100, RTTMS: 200}
	seq := 0
	one := func() (time.Duration, []awsclient.Call, time.Time, map[string]int, error) {
		if err := deleteBucket(ctx, directClients, dest); err != nil {
			return 0, nil, time.Time{}, nil, err
		}
		seq++
		in := mirror.Input{SourceBucketARN: src.ARN(), DestBucketARN: "arn:aws:s3:::" + dest.Name, SourceAccountNumber: localcloud.AccountID,
			DestAccountNumber: localcloud.AccountID, SourceRegion: src.Region, DestRegion: dest.Region, RunID: fmt.Sprintf("bench-%d", seq)}
		counter.take()
		recorder.Take()
		rctx := awsclient.WithCauses(ctx)
		start := time.Now()
		st, err := m.Create(rctx, in)
		if err == nil {
			st, err = m.Configure(rctx, st)
		}
		took := time.Since(start)
		calls, _ := counter.take()
		if err != nil || st.Status != mirror.StatusFinished {
			res.FailedRuns++
			progress("new mirror: run %d: %s %v", seq, st.Status, err)
		}
		return took, recorder.Take(), start, calls, nil
	}
	if _, _, _, _, err := one(); err != nil { // warm-up
		return nil, err
	}
	var floor []time.Duration
	cpu0, cpuErr := processCPU(cloud.MotoPID())
	for range runs {
		took, _, _, _, err := one()
		if err != nil {
			return nil, err
		}
		floor = append(floor, took)
	}
	res.FloorMS = summarize(floor).Median
	if cpu1, err := processCPU(cloud.MotoPID()); err == nil && cpuErr == nil {
		res.EmulatorCPUMS = round1(float64((cpu1 - cpu0).Microseconds()) / 1000 / float64(runs))
	}
	if err := proxy.latency(100, 0); err != nil {
		return nil, err
	}
	var times []time.Duration
	for i := range runs {
		took, recorded, start, calls, err := one()
		if err != nil {
			return nil, err
		}
		times = append(times, took)
		if i == 0 {
			res.Timeline, res.CriticalPath = timelineOf(recorded, start)
			svc := byService(calls)
			res.S3Calls, res.DynamoCalls = svc["S3"], svc["DynamoDB"]
		}
	}
	res.Runs = summarize(times)
	res.RoundsAt100 = round2(res.Runs.Median / 200)
	progress("new mirror: L=100 ms, %d runs: median %.0f ms = %.2f RTTs (0 ms: %.0f ms); critical path %s",
		runs, res.Runs.Median, res.RoundsAt100, res.FloorMS, strings.Join(res.CriticalPath, " → "))
	return res, nil
}

// timelineOf turns recorded calls into a timeline relative to start, and
// derives the critical path from the recorded causes: from the call that
// ended last, each step back is the call it waited for.
func timelineOf(calls []awsclient.Call, start time.Time) ([]timedCall, []string) {
	tl := make([]timedCall, len(calls))
	byID := map[int64]int{}
	for i, c := range calls {
		tl[i] = timedCall{Op: c.Op, ID: c.ID, Cause: c.Cause, StartMS: ms(c.Start.Sub(start)), EndMS: ms(c.End.Sub(start))}
	}
	slices.SortFunc(tl, func(a, b timedCall) int { return cmp.Or(cmp.Compare(a.StartMS, b.StartMS), cmp.Compare(a.ID, b.ID)) })
	for i, c := range tl {
		byID[c.ID] = i
	}
	if len(tl) == 0 {
		return tl, nil
	}
	last := 0
	for i, c := range tl {
		if c.EndMS > tl[last].EndMS {
			last = i
		}
	}
	var chain []string
	for i, ok := last, true; ok; i, ok = byID[tl[i].Cause] {
		tl[i].Critical = true
		chain = append(chain, fmt.Sprintf("%s (%.0f-%.0f ms)", strings.TrimPrefix(tl[i].Op, "S3."), tl[i].StartMS, tl[i].EndMS))
	}
	slices.Reverse(chain)
	return tl, chain
}

// derive fills the figures computed from the levels (also used by -render).
func (res *configureResult) derive() {
	var seq0, conc0 float64
	for i := range res.Levels {
		lv := &res.Levels[i]
		if lv.LatencyMS == 0 {
			seq0, conc0 = lv.Sequential.Median, lv.Concurrent.Median
			continue
		}
		if conc := lv.Concurrent.Median - conc0; conc > 0 {
			v := round2((lv.Sequential.Median - seq0) / conc)
			lv.LatencySpeedup = &v
			if lv.LatencyMS == 25 {
				res.LatencySpeedupAt25 = v
			}
		}
	}
}
