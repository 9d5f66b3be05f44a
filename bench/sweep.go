package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/localdeploy"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

const regionsTag = "bucketmirror:destination-regions"

// sweepPass is one Sweep call measured.
type sweepPass struct {
	Mode      string         `json:"mode"` // local (LocalStarter) or stepfunctions (SFNStarter)
	WallS     float64        `json:"wall_s"`
	APICalls  int            `json:"api_calls"`
	Attempts  int            `json:"api_attempts"`
	ByService map[string]int `json:"calls_by_service"`
	ByOp      map[string]int `json:"calls_by_operation"`
	// DynamoDB operations (a TransactWriteItems writes two items).
	DynamoReads  int `json:"dynamodb_reads"`
	DynamoWrites int `json:"dynamodb_writes"`
	// Starts counts Starter.Start calls (in-process runs for LocalStarter);
	// StartExecutions counts Step Functions StartExecution API calls.
	// Via: lambda (sweep.Sweep in one call) or distributed-map (the sweep
	// state machine; Batches children, MaxBatch the largest).
	Via             string  `json:"via"`
	Batches         int     `json:"batches,omitempty"`
	MaxBatch        int     `json:"max_sources_per_invocation,omitempty"`
	Starts          int     `json:"starts"`
	StartExecutions int     `json:"start_executions"`
	Started         int     `json:"decisions_started"`
	Skipped         int     `json:"decisions_skipped"`
	Failed          int     `json:"decisions_failed"`
	PeakRSSMB       float64 `json:"peak_rss_mb"`
	MotoPeakRSSMB   float64 `json:"moto_peak_rss_mb"`
	CallsPerTagged  float64 `json:"calls_per_tagged_bucket"`
	MSPerTagged     float64 `json:"ms_per_tagged_bucket"`
	FirstError      string  `json:"first_error,omitempty"`
	// Settled counts runs the setup re-sweeps after this in-process sweep
	// started (mirrors whose first run the overloaded emulator failed or
	// timed out), unmeasured.
	Settled int `json:"settled_runs,omitempty"`
}

// sweepPoint is one measured sweep at one size of the account.
type sweepPoint struct {
	Name    string `json:"name"`
	Buckets int    `json:"buckets"`
	Tagged  int    `json:"tagged"`
	// NewTagged are tagged buckets without a mirror yet (a first sweep for
	// them); the others are unchanged since the last sweep.
	NewTagged int       `json:"new_tagged"`
	Pass      sweepPass `json:"pass"`
}

type sweepResult struct {
	// The stable keys describe the largest account measured; the first
	// sweep's figures are per new mirror, measured on its first 100-200.
	Buckets                    int     `json:"buckets"`
	Tagged                     int     `json:"tagged"`
	FirstSweepS                float64 `json:"first_sweep_s"`
	FirstSweepAPICalls         int     `json:"first_sweep_api_calls"`
	FirstSweepCallsPerNew      float64 `json:"first_sweep_calls_per_new_mirror"`
	FirstSweepMSPerNew         float64 `json:"first_sweep_ms_per_new_mirror"`
	SecondSweepS               float64 `json:"second_sweep_s"`
	SecondSweepAPICalls        int     `json:"second_sweep_api_calls"`
	SecondSweepStartExecutions int     `json:"second_sweep_start_executions"`
	SecondSweepDynamoReads     int     `json:"second_sweep_dynamodb_reads"`
	SecondSweepDynamoWrites    int     `json:"second_sweep_dynamodb_writes"`
	// Via is how the unchanged sweeps ran: "distributed-map" (the sweep
	// state machine, the production path of a full sweep).
	Via string `json:"via"`
	// CallsPerUnchangedMirror: API calls of a full sweep of the largest
	// account with nothing changed, per tagged bucket, in a round that reads
	// sources only (DestinationReadEvery > 1, between destination rounds);
	// ...ReadingDestinations: the same in a round that reads both sides.
	CallsPerUnchangedMirror                    float64 `json:"calls_per_unchanged_mirror"`
	CallsPerUnchangedMirrorReadingDestinations float64 `json:"calls_per_unchanged_mirror_reading_destinations"`
	// CallsPerUnchangedMirrorDefault is what a deployment with the
	// template's default DestinationReadEvery pays per full sweep on
	// average: (reading both sides + (N-1) × sources only) / N.
	CallsPerUnchangedMirrorDefault float64 `json:"calls_per_unchanged_mirror_default_deployment"`
	DefaultDestinationReadEvery    int     `json:"default_destination_read_every"`
	// DestinationReadCallsPerMirror is what reading a destination adds
	// (both sides − sources only): a full sweep with DestinationReadEvery
	// = N costs CallsPerUnchangedMirror + DestinationReadCallsPerMirror / N
	// per unchanged mirror on average, tabled for a few N in
	// CallsPerUnchangedMirrorEveryN; DestinationReadEveryForTarget is the
	// smallest N whose average meets sweepCallsTarget.
	DestinationReadCallsPerMirror float64            `json:"destination_read_calls_per_mirror,omitempty"`
	CallsPerUnchangedMirrorEveryN map[string]float64 `json:"calls_per_unchanged_mirror_by_destination_read_every,omitempty"`
	DestinationReadEveryForTarget int                `json:"destination_read_every_for_target,omitempty"`
	// MaxReadsPerKindPerSide is the most any one S3 read operation (Get*,
	// List* but ListBuckets) was called per bucket read in the unchanged
	// sweeps: 1 when no kind is read twice; ReadKinds how many distinct
	// read operations a source costs.
	MaxReadsPerKindPerSide                float64 `json:"max_reads_per_kind_per_side,omitempty"`
	ReadKinds                             int     `json:"s3_read_operations_per_bucket,omitempty"`
	S3CallsPerUnchangedMirror             float64 `json:"s3_calls_per_unchanged_mirror"`
	S3CallsPerUnchangedMirrorReadingDests float64 `json:"s3_calls_per_unchanged_mirror_reading_destinations"`
	// MaxSourcesPerInvocation is the largest batch one reconcile-batch
	// invocation got (bounded by the batch size, not by the account).
	MaxSourcesPerInvocation int `json:"max_sources_per_invocation"`
	BatchSize               int `json:"batch_size"`
	MapConcurrency          int `json:"map_concurrency"`
	// WallS is the wall time of the largest unchanged full sweep (reading
	// destinations), SourcesOnlyWallS of the sources-only round.
	WallS            float64 `json:"wall_s"`
	SourcesOnlyWallS float64 `json:"sources_only_wall_s"`
	PeakRSSMB        float64 `json:"peak_rss_mb"`
	MotoPeakRSSMB    float64 `json:"moto_peak_rss_mb"`
	// SetupConcurrency is how many buckets, and sources of the in-process
	// first sweeps, were set up at once.
	SetupConcurrency int `json:"setup_concurrency,omitempty"`
	// Autogroup is the bench process's scheduler autogroup
	// (/proc/self/autogroup) at the end of the part: with
	// sched_autogroup, nice(1) ranks processes only within their session,
	// so the other sessions' niced work shares the CPU with the emulator
	// unless the bench's own session is given a lower autogroup nice.
	Autogroup string `json:"autogroup,omitempty"`
	// SetupResweeps: for each in-process setup sweep, how many unmeasured
	// full sweeps (retrying failed mirrors at once) it took until one found
	// every mirror unchanged — 1 when the setup sweep left nothing to
	// repair. The bench fails rather than measure an unconverged setup.
	SetupResweeps map[string]int `json:"setup_resweeps,omitempty"`
	// SetupBucketsPerS is how fast the local cloud creates buckets.
	SetupBucketsPerS float64 `json:"setup_buckets_per_s"`
	SetupS           float64 `json:"setup_s"`
	// Extrapolated1000 estimates the 1,000 tagged buckets from the
	// per-bucket figures measured (linear, as the growth figures show).
	// Absent when 1,000 or more were measured.
	Extrapolated1000 map[string]float64 `json:"extrapolated_1000_tagged,omitempty"`
	Points           []sweepPoint       `json:"points"`
	// Growth: ratio of a figure when only the bucket count grows (untagged
	// buckets added) and when only the tagged count grows.
	Growth map[string]float64 `json:"growth,omitempty"`
}

func (r *sweepResult) point(name string) *sweepPoint {
	for i := range r.Points {
		if r.Points[i].Name == name {
			return &r.Points[i]
		}
	}
	return nil
}

func (r *sweepResult) finish() {
	first, second := r.point("first"), r.point("second-large")
	if first == nil || second == nil {
		return
	}
	r.Buckets, r.Tagged = second.Buckets, second.Tagged
	r.FirstSweepS, r.FirstSweepAPICalls = first.Pass.WallS, first.Pass.APICalls
	if grown := r.point("grown-tagged-new"); grown != nil {
		r.FirstSweepS, r.FirstSweepAPICalls = grown.Pass.WallS, grown.Pass.APICalls
	}
	r.FirstSweepCallsPerNew = round1(float64(first.Pass.APICalls) / float64(max(first.NewTagged, 1)))
	r.FirstSweepMSPerNew = round1(first.Pass.WallS * 1000 / float64(max(first.NewTagged, 1)))
	r.SecondSweepS, r.SecondSweepAPICalls = second.Pass.WallS, second.Pass.APICalls
	// Every started decision is one StartExecution (results measured before
	// the bench stopped discounting the children's starts show 0 calls).
	r.SecondSweepStartExecutions = max(second.Pass.StartExecutions+second.Pass.Starts, second.Pass.Started)
	r.SecondSweepDynamoReads, r.SecondSweepDynamoWrites = second.Pass.DynamoReads, second.Pass.DynamoWrites
	r.Via, r.WallS = second.Pass.Via, second.Pass.WallS
	perTagged := func(p *sweepPoint, n int) float64 { return round2(float64(n) / float64(max(p.Tagged, 1))) }
	r.CallsPerUnchangedMirrorReadingDestinations = perTagged(second, second.Pass.APICalls)
	r.S3CallsPerUnchangedMirrorReadingDests = perTagged(second, second.Pass.ByService["S3"])
	if only := r.point("second-large-sources-only"); only != nil {
		r.CallsPerUnchangedMirror = perTagged(only, only.Pass.APICalls)
		r.S3CallsPerUnchangedMirror = perTagged(only, only.Pass.ByService["S3"])
		r.SourcesOnlyWallS = only.Pass.WallS
	}
	r.DefaultDestinationReadEvery = sweep.DefaultDestinationReadEvery
	r.DestinationReadCallsPerMirror, r.CallsPerUnchangedMirrorEveryN, r.DestinationReadEveryForTarget = 0, nil, 0
	if only := r.CallsPerUnchangedMirror; only > 0 {
		dest := r.CallsPerUnchangedMirrorReadingDestinations - only
		every := func(n int) float64 { return round2(only + dest/float64(n)) }
		r.CallsPerUnchangedMirrorDefault = every(r.DefaultDestinationReadEvery)
		r.DestinationReadCallsPerMirror = round2(dest)
		r.CallsPerUnchangedMirrorEveryN = map[string]float64{}
		for _, n := range []int{1, 2, 4, 8, 12, 24} {
			r.CallsPerUnchangedMirrorEveryN[fmt.Sprint(n)] = every(n)
		}
		if only < sweepCallsTarget {
			r.DestinationReadEveryForTarget = int(math.Ceil(dest / (sweepCallsTarget - only)))
		}
	}
	// A round reading both sides reads each of its tagged sources and
	// their destinations (one each here), the sources-only round each
	// source.
	r.MaxReadsPerKindPerSide, r.ReadKinds = 0, 0
	for _, pt := range []struct {
		p     *sweepPoint
		sides int
	}{{second, 2}, {r.point("second-large-sources-only"), 1}} {
		if pt.p == nil || pt.p.Tagged == 0 {
			continue
		}
		kinds := 0
		for op, n := range pt.p.Pass.ByOp {
			if name, ok := strings.CutPrefix(op, "S3."); ok && name != "ListBuckets" && (strings.HasPrefix(name, "Get") || strings.HasPrefix(name, "List")) {
				kinds++
				r.MaxReadsPerKindPerSide = max(r.MaxReadsPerKindPerSide, round2(float64(n)/float64(pt.p.Tagged*pt.sides)))
			}
		}
		r.ReadKinds = max(r.ReadKinds, kinds)
	}
	r.MaxSourcesPerInvocation = 0
	for _, p := range r.Points {
		r.MaxSourcesPerInvocation = max(r.MaxSourcesPerInvocation, p.Pass.MaxBatch)
	}
	for _, p := range r.Points {
		r.PeakRSSMB = max(r.PeakRSSMB, p.Pass.PeakRSSMB)
		r.MotoPeakRSSMB = max(r.MotoPeakRSSMB, p.Pass.MotoPeakRSSMB)
	}
	r.Extrapolated1000 = nil
	if r.Tagged < 1000 {
		perTaggedSecond := second.Pass.WallS / float64(max(second.Tagged, 1))
		r.Extrapolated1000 = map[string]float64{
			"first_sweep_s":          round1(r.FirstSweepMSPerNew),
			"first_sweep_api_calls":  round1(r.FirstSweepCallsPerNew * 1000),
			"second_sweep_s":         round1(perTaggedSecond * 1000),
			"second_sweep_api_calls": round1(float64(second.Pass.APICalls) / float64(max(second.Tagged, 1)) * 1000),
		}
	}
	ratio := func(x, y float64) float64 {
		if y == 0 {
			return 0
		}
		return round2(x / y)
	}
	small, large := r.point("second-small"), r.point("second-more-buckets")
	if small != nil && large != nil {
		if r.Growth == nil {
			r.Growth = map[string]float64{}
		}
		r.Growth["buckets_factor"] = ratio(float64(large.Buckets), float64(small.Buckets))
		r.Growth["buckets_second_sweep_time"] = ratio(large.Pass.WallS, small.Pass.WallS)
		r.Growth["buckets_second_sweep_api_calls"] = ratio(float64(large.Pass.APICalls), float64(small.Pass.APICalls))
		r.Growth["buckets_peak_rss"] = ratio(large.Pass.PeakRSSMB, small.Pass.PeakRSSMB)
	}
	if large != nil {
		if r.Growth == nil {
			r.Growth = map[string]float64{}
		}
		r.Growth["tagged_factor"] = ratio(float64(second.Tagged), float64(large.Tagged))
		r.Growth["tagged_second_sweep_time"] = ratio(second.Pass.WallS, large.Pass.WallS)
		r.Growth["tagged_second_sweep_api_calls"] = ratio(float64(second.Pass.APICalls), float64(large.Pass.APICalls))
		r.Growth["tagged_peak_rss"] = ratio(second.Pass.PeakRSSMB, large.Pass.PeakRSSMB)
	}
}

// sweepCallsTarget is issue 19's target for calls per unchanged mirror.
const sweepCallsTarget = 24.0

// countingStarter counts the runs a sweep starts (and remembers their
// names) before handing them to the real starter.
type countingStarter struct {
	next sweep.Starter
	mu   sync.Mutex
	runs []string
}

func (c *countingStarter) Start(ctx context.Context, name string, in mirror.Input) error {
	c.mu.Lock()
	c.runs = append(c.runs, name)
	c.mu.Unlock()
	return c.next.Start(ctx, name, in)
}

// Synchronous passes on whether the real starter waits for the run.
func (c *countingStarter) Synchronous() bool {
	s, ok := c.next.(interface{ Synchronous() bool })
	return ok && s.Synchronous()
}

func (c *countingStarter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.runs
	c.runs = nil
	return r
}

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// createMany creates n buckets name(i) in srcRegion, setupConcurrency at a
// time; tagged(i)
// ones get the regions tag and a CORS rule.
func createMany(ctx context.Context, clients *awsclient.Clients, n int, name func(int) string, tagged func(int) []types.Tag) error {
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var done atomic.Int64
	var wg sync.WaitGroup
	c := clients.S3(srcRegion)
	for range setupConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				b := name(i)
				err := withRetry(ctx, "creating "+b, func() error {
					_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
					if bucketconfig.ErrorCode(err) == "BucketAlreadyOwnedByYou" {
						return nil
					}
					return err
				})
				if tags := tagged(i); err == nil && tags != nil {
					err = withRetry(ctx, "tagging "+b, func() error {
						_, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(b), Tagging: &types.Tagging{TagSet: tags}})
						return err
					})
					if err == nil {
						err = withRetry(ctx, "cors on "+b, func() error {
							_, err := c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String(b), CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{
								{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"https://" + b + ".example.com"}}}}})
							return err
						})
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				if d := done.Add(1); d%2000 == 0 {
					progress("  created %d/%d buckets", d, n)
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// benchSweep grows one account in steps and sweeps it at each: first
// small (buckets/10 buckets, tagged/2 tagged) for a first and a second
// sweep, then with all the buckets (only untagged ones added), then with
// all the tagged ones (the new half gets its first sweep), and a last
// second sweep of the whole account.
func benchSweep(ctx context.Context, cloud *localcloud.Cloud, buckets, tagged int, res *sweepResult) error {
	direct := awsclient.New(cloud.AWSConfig())
	smallBuckets, smallTagged := buckets/10, tagged/2
	name := func(i int) string { return fmt.Sprintf("bench-sweep-%05d", i) }
	tags := []types.Tag{{Key: aws.String(regionsTag), Value: aws.String(dstRegion)}, {Key: aws.String("team"), Value: aws.String("bench")}}
	// Tagged buckets are spread evenly: in the small account every
	// (smallBuckets/smallTagged)th, in the full one the second half of the
	// tagged ones among the buckets added.
	smallEvery := smallBuckets / max(smallTagged, 1)
	bigEvery := (buckets - smallBuckets) / max(tagged-smallTagged, 1)
	isTagged := func(i int) bool {
		if i < smallBuckets {
			return i%smallEvery == 0 && i/smallEvery < smallTagged
		}
		j := i - smallBuckets
		return j%bigEvery == 0 && j/bigEvery < tagged-smallTagged
	}
	setup := func(from, to int, withTags bool) error {
		began := time.Now()
		err := createMany(ctx, direct, to-from, func(i int) string { return name(from + i) }, func(i int) []types.Tag {
			if withTags && isTagged(from+i) {
				return tags
			}
			return nil
		})
		took := time.Since(began)
		res.SetupS = round1(res.SetupS + took.Seconds())
		if to-from > 0 {
			res.SetupBucketsPerS = round1(float64(to-from) / took.Seconds())
		}
		progress("sweep: created buckets %d..%d in %.1f s (%.0f/s)", from, to-1, took.Seconds(), float64(to-from)/took.Seconds())
		return err
	}
	counter := newCallCounter()
	var sweepVia func(pointName string, nBuckets, nTagged, nNew int, local bool, machine *benchMachine) error
	cfg := cloud.AWSConfig()
	cfg.Retryer = awsclient.NewRetryer
	cfg.APIOptions = append(cfg.APIOptions, counter.apiOption)
	m := mirror.NewMirrorer(cfg, mirror.Config{Table: "bench-sweep", TagPrefix: "bucketmirror:", AccountID: localcloud.AccountID}, bucketconfig.Options{}, discardLog)
	machineARN, err := localdeploy.Workflow(ctx, cloud, m)
	if err != nil {
		return err
	}
	// The full sweep's production path: the sweep state machine, its
	// reconcile-batch children starting executions of the mirror state
	// machine. everyRound reads destinations in every round; sourcesOnly
	// (DestinationReadEvery 2, its round counter set so the next round is
	// an even one) reads sources only, as between destination rounds.
	res.BatchSize, res.MapConcurrency = benchBatchSize, benchMapConcurrency
	everyRound, err := deployBenchSweep(ctx, cloud, cfg, m, machineARN, "bench-sweep-every-round", 1)
	if err != nil {
		return err
	}
	sourcesOnly, err := deployBenchSweep(ctx, cloud, cfg, m, machineARN, "bench-sweep-sources-only", 2)
	if err != nil {
		return err
	}
	sweepAt := func(pointName string, nBuckets, nTagged, nNew int, local bool) error {
		return sweepVia(pointName, nBuckets, nTagged, nNew, local, everyRound)
	}
	sweepVia = func(pointName string, nBuckets, nTagged, nNew int, local bool, machine *benchMachine) error {
		var p sweepPass
		var err error
		if local {
			starter := &countingStarter{next: &sweep.LocalStarter{Mirrorer: m}}
			progress("sweep %s: %d buckets, %d tagged (%d new), in-process starter", pointName, nBuckets, nTagged, nNew)
			p, err = measureSweep(ctx, cloud, cfg, m, counter, starter, "local", nTagged)
			if err == nil {
				// The measured sweeps after this one must find every mirror
				// unchanged, or they measure a repair instead: converge the
				// setup first (not measured).
				var n int
				n, p.Settled, err = converge(ctx, cfg, m, pointName)
				res.SetupResweeps[pointName] = n
			}
		} else {
			progress("sweep %s: %d buckets, %d tagged (%d new), sweep state machine %s", pointName, nBuckets, nTagged, nNew, machine.name)
			p, err = measureMachineSweep(ctx, cloud, counter, machine, nTagged)
		}
		if err != nil {
			return err
		}
		if p.Started != nNew || p.Failed != 0 {
			progress("sweep %s: started %d, failed %d (want %d, 0): %s", pointName, p.Started, p.Failed, nNew, p.FirstError)
		}
		res.Points = append(res.Points, sweepPoint{Name: pointName, Buckets: nBuckets, Tagged: nTagged, NewTagged: nNew, Pass: p})
		return nil
	}
	steps := []func() error{
		func() error { return setup(0, smallBuckets, true) },
		func() error { return sweepAt("first", smallBuckets, smallTagged, smallTagged, true) },
		func() error { return sweepAt("second-small", smallBuckets, smallTagged, 0, false) },
		func() error { return setup(smallBuckets, buckets, false) },
		func() error { return sweepAt("second-more-buckets", buckets, smallTagged, 0, false) },
		func() error { return tagMany(ctx, direct, smallBuckets, buckets, name, isTagged, tags) },
		func() error { return sweepAt("grown-tagged-new", buckets, tagged, tagged-smallTagged, true) },
		func() error { return sweepAt("second-large", buckets, tagged, 0, false) },
		func() error {
			return sweepVia("second-large-sources-only", buckets, tagged, 0, false, sourcesOnly)
		},
	}
	res.SetupConcurrency, res.SetupResweeps = setupConcurrency, map[string]int{}
	if ag, err := os.ReadFile("/proc/self/autogroup"); err == nil {
		res.Autogroup = strings.TrimSpace(string(ag))
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	if ag, err := os.ReadFile("/proc/self/autogroup"); err == nil {
		res.Autogroup = strings.TrimSpace(string(ag))
	}
	return nil
}

// tagMany tags (and gives a CORS rule to) the buckets in [from, to) that
// isTagged picks.
func tagMany(ctx context.Context, clients *awsclient.Clients, from, to int, name func(int) string, isTagged func(int) bool, tags []types.Tag) error {
	c := clients.S3(srcRegion)
	for i := from; i < to; i++ {
		if !isTagged(i) {
			continue
		}
		b := name(i)
		if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(b), Tagging: &types.Tagging{TagSet: tags}}); err != nil {
			return err
		}
		if _, err := c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String(b), CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{
			{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"https://" + b + ".example.com"}}}}}); err != nil {
			return err
		}
	}
	return nil
}

func measureSweep(ctx context.Context, cloud *localcloud.Cloud, cfg aws.Config, m *mirror.Mirrorer, counter *callCounter, starter *countingStarter, mode string, tagged int) (sweepPass, error) {
	// These sweeps set the account up (the mirrors the measured sweeps find
	// unchanged): in-process runs wait on the emulator's round trips, so
	// they go setupConcurrency sources at a time rather than the default 8.
	s, err := sweep.New(cfg, sweep.Config{Regions: []string{srcRegion, dstRegion}, AccountID: localcloud.AccountID, Owner: "bench",
		Concurrency: setupConcurrency}, m, starter, discardLog)
	if err != nil {
		return sweepPass{}, err
	}
	s.Metrics = nil
	var n atomic.Int64
	s.Progress = func(d sweep.Decision) {
		if k := n.Add(1); tagged >= 10 && k%int64(tagged/5) == 0 {
			progress("  %s sweep: %d/%d decisions", mode, k, tagged)
		}
	}
	counter.take()
	starter.take()
	resetPeakRSS(0)
	resetPeakRSS(cloud.MotoPID())
	began := time.Now()
	sum, err := s.Sweep(ctx, nil)
	wall := time.Since(began)
	calls, attempts := counter.take()
	p := sweepPass{Mode: mode, Via: "lambda", WallS: round1(wall.Seconds()), APICalls: total(calls), Attempts: total(attempts), ByService: byService(calls), ByOp: calls,
		Starts: len(starter.take()), StartExecutions: calls["SFN.StartExecution"], Started: sum.Started, Skipped: sum.Skipped, Failed: sum.Failed,
		PeakRSSMB: peakRSS(0), MotoPeakRSSMB: peakRSS(cloud.MotoPID())}
	p.DynamoReads, p.DynamoWrites = dynamo(calls)
	if tagged > 0 {
		p.CallsPerTagged = round1(float64(p.APICalls) / float64(tagged))
		p.MSPerTagged = round1(float64(wall.Milliseconds()) / float64(tagged))
	}
	for _, d := range sum.Decisions {
		if d.Error != "" {
			p.FirstError = d.Source + ": " + d.Error
			break
		}
	}
	if err != nil {
		p.FirstError = err.Error()
	}
	progress("sweep (%s): %.1f s, %d API calls (%s), DynamoDB %d reads / %d writes, %d starts, %d StartExecution, peak RSS %.0f MB (moto %.0f MB)",
		mode, p.WallS, p.APICalls, topOps(byService(calls), 6), p.DynamoReads, p.DynamoWrites, p.Starts, p.StartExecutions, p.PeakRSSMB, p.MotoPeakRSSMB)
	return p, nil
}

// Settings of the bench's sweep state machine: the template's default batch
// size, and a Map concurrency the 2-core machine's emulator can serve.
// setupConcurrency is how many buckets (and, in the first, in-process
// sweeps, sources with their runs) are set up at once, twice the default 8:
// the 1,000 mirrors the measured sweeps need are most of the bench's time.
const (
	benchBatchSize      = sweep.DefaultBatchSize
	benchMapConcurrency = 4
	setupConcurrency    = 16
)

// benchMachine is one deployment of the sweep state machine; maxBatch is
// the largest batch one reconcile-batch invocation got.
type benchMachine struct {
	name, arn string
	// handlers points the local cloud's sweep functions at this machine's
	// sweeper (both deployments share the function names).
	handlers func()
	mu       sync.Mutex
	maxBatch int
}

// deployBenchSweep deploys the sweep state machine with a sweeper on the
// counted config (its children start executions of the mirror state
// machine), wrapping the reconcile-batch handler to see each batch's size.
func deployBenchSweep(ctx context.Context, cloud *localcloud.Cloud, cfg aws.Config, m *mirror.Mirrorer, machineARN, name string, destinationReadEvery int) (*benchMachine, error) {
	s, err := sweep.New(cfg, sweep.Config{Regions: []string{srcRegion, dstRegion}, AccountID: localcloud.AccountID, Owner: "bench",
		ManifestBucket: "dest-bench-sweep-manifests", BatchSize: benchBatchSize, MapConcurrency: benchMapConcurrency,
		DestinationReadEvery: destinationReadEvery}, m, sweep.NewSFNStarter(cfg, machineARN), discardLog)
	if err != nil {
		return nil, err
	}
	s.Metrics = nil
	bm := &benchMachine{name: name}
	if bm.arn, err = localdeploy.DeploySweep(ctx, cloud, s, name); err != nil {
		return nil, err
	}
	if destinationReadEvery > 1 {
		// Round 1 would read destinations: use it up outside the measure.
		if _, err := m.Store.NextSweepRound(ctx); err != nil {
			return nil, err
		}
	}
	bm.register(cloud, s)
	return bm, nil
}

// register (re)points the local cloud's reconcile-batch function at this
// machine's sweeper; both deployments share the function name.
func (bm *benchMachine) register(cloud *localcloud.Cloud, s *sweep.Sweeper) {
	h := &sweep.FullSweepHandler{Sweeper: s}
	next := lambda.NewHandler(h.Batch)
	bm.handlers = func() {
		cloud.Register(localdeploy.SweepListFunction, lambda.NewHandler(h.List))
		cloud.Register(localdeploy.SweepAggregateFunction, lambda.NewHandler(h.Aggregate))
		cloud.Register(localdeploy.SweepBatchFunction, batchSizeRecorder{next: next, bm: bm})
	}
}

type batchSizeRecorder struct {
	next lambda.Handler
	bm   *benchMachine
}

func (r batchSizeRecorder) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var b sweep.Batch
	if err := json.Unmarshal(payload, &b); err == nil {
		r.bm.mu.Lock()
		r.bm.maxBatch = max(r.bm.maxBatch, len(b.Sources))
		r.bm.mu.Unlock()
	}
	return r.next.Invoke(ctx, payload)
}

// measureMachineSweep runs one execution of the sweep state machine and
// measures it as measureSweep measures a Sweep call: calls of every client
// (the list, reconcile-batch and aggregate handlers run in this process),
// wall time from StartExecution to the end, peak RSS of both processes.
func measureMachineSweep(ctx context.Context, cloud *localcloud.Cloud, counter *callCounter, bm *benchMachine, tagged int) (sweepPass, error) {
	bm.handlers()
	// Not counted: the sweep's calls are measured, not the bench's.
	client := sfn.NewFromConfig(cloud.AWSConfig())
	bm.mu.Lock()
	bm.maxBatch = 0
	bm.mu.Unlock()
	counter.take()
	resetPeakRSS(0)
	resetPeakRSS(cloud.MotoPID())
	began := time.Now()
	start, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(bm.arn),
		Name: aws.String(fmt.Sprintf("bench-%d", began.UnixNano())), Input: aws.String(`{}`)})
	if err != nil {
		return sweepPass{}, fmt.Errorf("starting the sweep state machine: %w", err)
	}
	var out *sfn.DescribeExecutionOutput
	for {
		if out, err = client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: start.ExecutionArn}); err != nil {
			return sweepPass{}, err
		}
		if out.Status != sfntypes.ExecutionStatusRunning {
			break
		}
		select {
		case <-ctx.Done():
			return sweepPass{}, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	wall := time.Since(began)
	calls, attempts := counter.take()
	// client (the bench's StartExecution and polling) is built from the
	// uncounted config: every SFN.StartExecution counted is a child's start
	// of a mirror execution.
	var sum sweep.Summary
	if out.Status == sfntypes.ExecutionStatusSucceeded {
		if err := json.Unmarshal([]byte(aws.ToString(out.Output)), &sum); err != nil {
			return sweepPass{}, fmt.Errorf("sweep output: %w", err)
		}
	}
	bm.mu.Lock()
	maxBatch := bm.maxBatch
	bm.mu.Unlock()
	p := sweepPass{Mode: "stepfunctions", Via: sum.Via, Batches: sum.Batches, MaxBatch: maxBatch, WallS: round1(wall.Seconds()),
		APICalls: total(calls), Attempts: total(attempts), ByService: byService(calls), ByOp: calls,
		StartExecutions: calls["SFN.StartExecution"], Started: sum.Started, Skipped: sum.Skipped, Failed: sum.Failed,
		PeakRSSMB: peakRSS(0), MotoPeakRSSMB: peakRSS(cloud.MotoPID())}
	p.DynamoReads, p.DynamoWrites = dynamo(calls)
	if tagged > 0 {
		p.CallsPerTagged = round1(float64(p.APICalls) / float64(tagged))
		p.MSPerTagged = round1(float64(wall.Milliseconds()) / float64(tagged))
	}
	if out.Status != sfntypes.ExecutionStatusSucceeded {
		p.FirstError = fmt.Sprintf("sweep execution %s: %s %s", out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
	} else if len(sum.FailedBatches) > 0 || sum.Unreached > 0 {
		p.FirstError = fmt.Sprintf("failed batches %v, unreached %d", sum.FailedBatches, sum.Unreached)
	}
	progress("sweep (%s via %s): %.1f s, %d API calls (%s), %d batches of at most %d, DynamoDB %d reads / %d writes, started %d, peak RSS %.0f MB (moto %.0f MB)",
		bm.name, p.Via, p.WallS, p.APICalls, topOps(byService(calls), 6), p.Batches, p.MaxBatch, p.DynamoReads, p.DynamoWrites, p.Started, p.PeakRSSMB, p.MotoPeakRSSMB)
	return p, nil
}

// model is the 100,000-tagged model from this result's measured S3 calls
// per unchanged mirror; nil before the Distributed Map path was measured.
func (r *sweepResult) model() *modelResult {
	if r.S3CallsPerUnchangedMirrorReadingDests == 0 {
		return nil
	}
	only := r.S3CallsPerUnchangedMirror
	if only == 0 {
		only = r.S3CallsPerUnchangedMirrorReadingDests
	}
	return modelFullSweep(r.S3CallsPerUnchangedMirrorReadingDests, only, sweep.DefaultBatchSize, sweep.DefaultMapConcurrency, sweep.DefaultConcurrency)
}

// maxSetupResweeps bounds converge: a setup that still has mirrors to
// repair after this many full sweeps is broken, not slow.
const maxSetupResweeps = 4

// converge re-sweeps the account in-process until a full sweep finds every
// mirror unchanged: nothing started, nothing failed, nothing in flight or
// backing off. FAILED mirrors are retried at once (SweepRetryingFailed) and
// LocalStarter waits for each run, so a sweep that starts nothing means no
// execution is left to wait for. It returns the sweeps run (the last one
// the sweep that started nothing) and the runs they started; an error when
// maxSetupResweeps did not converge, naming what was still not unchanged.
func converge(ctx context.Context, cfg aws.Config, m *mirror.Mirrorer, pointName string) (sweeps, started int, err error) {
	// The setup's runs are in-process and over when a sweep returns, so a
	// mirror still STARTED or CREATED at the next re-sweep is a run that
	// died without recording its end (the loaded emulator timed out its
	// record write): restart it now rather than after the deployment's
	// 30-minute in-flight window.
	s, err := sweep.New(cfg, sweep.Config{Regions: []string{srcRegion, dstRegion}, AccountID: localcloud.AccountID, Owner: "bench-setup",
		Concurrency: setupConcurrency, InFlightWindow: time.Nanosecond}, m, &sweep.LocalStarter{Mirrorer: m}, discardLog)
	if err != nil {
		return 0, 0, err
	}
	s.Metrics = nil
	var left []sweep.Decision
	for sweeps = 1; sweeps <= maxSetupResweeps; sweeps++ {
		sum, err := s.SweepRetryingFailed(ctx, nil)
		if err != nil {
			return sweeps, started, fmt.Errorf("setup re-sweep %d after %s: %w", sweeps, pointName, err)
		}
		started += sum.Started
		left = unsettled(sum)
		if len(left) == 0 {
			progress("sweep %s: setup converged, re-sweep %d found every mirror unchanged (%d runs started by re-sweeps)", pointName, sweeps, started)
			return sweeps, started, nil
		}
		d := left[0]
		progress("sweep %s: setup re-sweep %d: %d mirrors not unchanged (first %s -> %s: %s %s %s)", pointName, sweeps, len(left), d.Source, d.Region, d.Action, d.Reason, d.Error)
	}
	d := left[0]
	return maxSetupResweeps, started, fmt.Errorf("setup after %s did not converge in %d re-sweeps: %d mirrors still not unchanged (first %s -> %s: %s %s %s); not measuring a sweep that would repair them",
		pointName, maxSetupResweeps, len(left), d.Source, d.Region, d.Action, d.Reason, d.Error)
}

// unsettled are a sweep's decisions other than "unchanged".
func unsettled(sum sweep.Summary) []sweep.Decision {
	var out []sweep.Decision
	for _, d := range sum.Decisions {
		if d.Action != sweep.ActionSkipped || d.Reason != "unchanged" {
			out = append(out, d)
		}
	}
	return out
}
