package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
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
	Kinds           []string         `json:"kinds_on_source"`
	CatalogKinds    int              `json:"catalog_kinds"`
	DependencyDepth int              `json:"dependency_depth"`
	Levels          []configureLevel `json:"levels"`
	// VerifiedInLine: after a run of each mode a fresh plan had nothing to do.
	VerifiedInLine bool    `json:"verified_in_line"`
	SpeedupAt25    float64 `json:"speedup_at_25ms"`
	LimitRatioAt25 float64 `json:"limit_ratio_at_25ms"`
	// LatencySpeedupAt25: see configureLevel.LatencySpeedup.
	LatencySpeedupAt25 float64  `json:"latency_speedup_at_25ms"`
	ConcurrentOps      string   `json:"concurrent_ops_per_run"`
	SequentialOps      string   `json:"sequential_ops_per_run"`
	FirstFailures      []string `json:"first_failures,omitempty"`
	// CriticalPath is the chain of calls, each starting when the one
	// before it ended, that ends the concurrent run at 25 ms (inferred
	// from the timeline).
	CriticalPath []string `json:"critical_path_at_25ms,omitempty"`
	// EmulatorFloorMS is the concurrent median at 0 ms: the local cloud's
	// own service time, which latency adds to.
	EmulatorFloorMS float64 `json:"emulator_floor_ms"`
	// KindResults is action/status per kind of one concurrent run.
	KindResults map[string]string `json:"kind_results"`
	// TimelineAt25 is every call of one concurrent run at 25 ms.
	TimelineAt25 []timedCall `json:"timeline_at_25ms,omitempty"`
	DurationS    float64     `json:"duration_s"`
}

// benchConfigure times Engine.Configure of one fully configured source,
// sequential (the blog's approach) against the dependency-ordered concurrent
// plan, through toxiproxy adding latency each way.
func benchConfigure(ctx context.Context, cloud *localcloud.Cloud, levels []int, runsAt func(int) int) (*configureResult, error) {
	began := time.Now()
	direct := awsclient.New(cloud.AWSConfig())
	src := bucketconfig.Bucket{Name: "bench-configure-source", Region: srcRegion}
	kinds, err := fullSource(ctx, direct, src, "bench-configure-logs", "bench-configure-replica")
	if err != nil {
		return nil, err
	}
	res := &configureResult{Kinds: kinds, CatalogKinds: len(bucketconfig.Kinds), DependencyDepth: 0}
	progress("configure: source %s carries %d of %d catalog kinds; dependency depth %d", src.Name, len(kinds), len(bucketconfig.Kinds), res.DependencyDepth)

	proxy, err := newFaultProxy("configure", cloud.Endpoint)
	if err != nil {
		return nil, err
	}
	defer proxy.Close()
	counter := newCallCounter()
	cfg := cloud.AWSConfig()
	cfg.BaseEndpoint = aws.String(proxy.Endpoint)
	cfg.Retryer = awsclient.NewRetryer
	cfg.APIOptions = append(cfg.APIOptions, counter.apiOption)
	clients := awsclient.New(cfg)
	engines := map[bool]*bucketconfig.Engine{
		true:  bucketconfig.New(clients, bucketconfig.Options{AccountID: localcloud.AccountID, Sequential: true}),
		false: bucketconfig.New(clients, bucketconfig.Options{AccountID: localcloud.AccountID}),
	}
	dest := map[bool]bucketconfig.Bucket{
		true:  {Name: "bench-configure-dest-seq", Region: dstRegion},
		false: {Name: "bench-configure-dest-conc", Region: dstRegion},
	}
	// A fresh destination for every run: deleted and created again (with
	// Object Lock, as the create step does for an Object Lock source),
	// outside the timed section and outside the proxy.
	reset := func(seq bool) error {
		if err := deleteBucket(ctx, direct, dest[seq]); err != nil {
			return err
		}
		if err := createBucket(ctx, direct, dest[seq], true); err != nil {
			return err
		}
		// moto keeps a deleted bucket's tags (its tagger is keyed by ARN)
		// and hands them to the next bucket of that name: drop them.
		_, err := direct.S3(dstRegion).DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: aws.String(dest[seq].Name)})
		return err
	}
	var timeline []timedCall
	var lastResults []bucketconfig.Result
	run := func(seq bool) (time.Duration, map[string]int, []string, error) {
		if err := reset(seq); err != nil {
			return 0, nil, nil, err
		}
		counter.take()
		start := time.Now()
		_, results, err := engines[seq].Configure(ctx, bucketconfig.Mirror{Source: src, Dest: dest[seq]})
		took := time.Since(start)
		calls, _ := counter.take()
		lastResults = results
		if counter.timeline != nil {
			counter.mu.Lock()
			for i := range timeline {
				timeline[i].StartMS = ms(timeline[i].Start - time.Duration(start.UnixNano()))
				timeline[i].EndMS = ms(timeline[i].End - time.Duration(start.UnixNano()))
			}
			counter.timeline = nil
			counter.mu.Unlock()
		}
		return took, calls, configureFailures(results), err
	}

	// Warm-up (connections, the log bucket in the destination Region) and a
	// correctness check of both modes, untimed.
	verifier := bucketconfig.New(direct, bucketconfig.Options{AccountID: localcloud.AccountID})
	res.VerifiedInLine = true
	for _, seq := range []bool{true, false} {
		_, calls, failed, err := run(seq)
		if err != nil {
			return nil, err
		}
		if len(failed) > 0 {
			res.FirstFailures = failed
			progress("configure: warm-up (sequential=%v) had failures: %v", seq, failed)
		}
		p, err := verifier.Plan(ctx, bucketconfig.Mirror{Source: src, Dest: dest[seq]})
		if err != nil {
			return nil, err
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
			res.KindResults = map[string]string{}
			for _, r := range lastResults {
				res.KindResults[r.Kind] = string(r.Action) + "/" + string(r.Status)
			}
		}
	}

	for _, l := range levels {
		if err := proxy.latency(l, 0); err != nil {
			return nil, err
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
				if !seq && i == 0 && l == 25 {
					// The timeline of one concurrent run shows the
					// critical path: which calls wait for which.
					timeline = nil
					counter.mu.Lock()
					counter.timeline = &timeline
					counter.mu.Unlock()
				}
				took, calls, failed, err := run(seq)
				if !seq && i == 0 && l == 25 {
					slices.SortFunc(timeline, func(a, b timedCall) int { return cmp.Compare(a.StartMS, b.StartMS) })
					res.TimelineAt25 = timeline
					res.CriticalPath = criticalPath(timeline)
				}
				if err != nil {
					return nil, err
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
			limit := float64((res.DependencyDepth + 1) * 2 * l)
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
		res.Levels = append(res.Levels, lv)
		res.derive()
		limit := "-"
		if lv.LimitMS != nil {
			limit = fmt.Sprintf("%.0f ms (concurrent is %.2f× it)", *lv.LimitMS, *lv.LimitRatio)
		}
		progress("configure: L=%3d ms, %d runs each: sequential median %.0f ms, concurrent median %.0f ms, speedup %.2f×, limit %s",
			l, n, lv.Sequential.Median, lv.Concurrent.Median, lv.Speedup, limit)
	}
	proxy.clear()
	res.DurationS = round1(time.Since(began).Seconds())
	return res, nil
}

// criticalPath walks back from the call that ended last: each step is the
// call that ended latest before (within 1 ms of) the current one started.
func criticalPath(tl []timedCall) []string {
	if len(tl) == 0 {
		return nil
	}
	cur := tl[0]
	for _, c := range tl {
		if c.EndMS > cur.EndMS {
			cur = c
		}
	}
	chain := []string{fmt.Sprintf("%s (%.0f-%.0f ms)", strings.TrimPrefix(cur.Op, "S3."), cur.StartMS, cur.EndMS)}
	for {
		var prev *timedCall
		for i := range tl {
			c := &tl[i]
			if c.EndMS <= cur.StartMS+1 && (prev == nil || c.EndMS > prev.EndMS) {
				prev = c
			}
		}
		if prev == nil {
			break
		}
		cur = *prev
		chain = append(chain, fmt.Sprintf("%s (%.0f-%.0f ms)", strings.TrimPrefix(cur.Op, "S3."), cur.StartMS, cur.EndMS))
	}
	slices.Reverse(chain)
	return chain
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
