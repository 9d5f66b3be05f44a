package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
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
	PeakRSSMB                  float64 `json:"peak_rss_mb"`
	MotoPeakRSSMB              float64 `json:"moto_peak_rss_mb"`
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
	r.SecondSweepStartExecutions = second.Pass.StartExecutions + second.Pass.Starts
	r.SecondSweepDynamoReads, r.SecondSweepDynamoWrites = second.Pass.DynamoReads, second.Pass.DynamoWrites
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

// createMany creates n buckets name(i) in srcRegion, 8 at a time; tagged(i)
// ones get the regions tag and a CORS rule.
func createMany(ctx context.Context, clients *awsclient.Clients, n int, name func(int) string, tagged func(int) []types.Tag) error {
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var done atomic.Int64
	var wg sync.WaitGroup
	c := clients.S3(srcRegion)
	for range 8 {
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
	cfg := cloud.AWSConfig()
	cfg.Retryer = awsclient.NewRetryer
	cfg.APIOptions = append(cfg.APIOptions, counter.apiOption)
	m := mirror.NewMirrorer(cfg, mirror.Config{Table: "bench-sweep", TagPrefix: "bucketmirror:", AccountID: localcloud.AccountID}, bucketconfig.Options{}, discardLog)
	machineARN, err := m.DeployLocal(ctx, cloud)
	if err != nil {
		return err
	}
	sweepAt := func(pointName string, nBuckets, nTagged, nNew int, local bool) error {
		var starter *countingStarter
		mode := "stepfunctions"
		if local {
			starter, mode = &countingStarter{next: &sweep.LocalStarter{Mirrorer: m}}, "local"
		} else {
			// The production path: executions of the deployed state
			// machine; with nothing changed it must start none.
			starter = &countingStarter{next: sweep.NewSFNStarter(cfg, machineARN)}
		}
		progress("sweep %s: %d buckets, %d tagged (%d new), %s starter", pointName, nBuckets, nTagged, nNew, mode)
		p, err := measureSweep(ctx, cloud, cfg, m, counter, starter, mode, nTagged)
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
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
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
	s, err := sweep.New(cfg, sweep.Config{Regions: []string{srcRegion, dstRegion}, AccountID: localcloud.AccountID, Owner: "bench"}, m, starter, discardLog)
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
	p := sweepPass{Mode: mode, WallS: round1(wall.Seconds()), APICalls: total(calls), Attempts: total(attempts), ByService: byService(calls), ByOp: calls,
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
