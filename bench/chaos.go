package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

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

// Faults of the chaos run, per new connection through the proxy (toxiproxy
// decides per connection): the request reset before it reaches the cloud,
// the response reset after the cloud acted on the request, or the request
// swallowed and the connection closed a second later. Plus latency jitter
// on every connection.
var chaosToxics = []struct {
	name, kind, stream string
	toxicity           float64
	attrs              map[string]any
}{
	{"reset_request", "reset_peer", "upstream", 0.04, map[string]any{"timeout": 0}},
	{"reset_response", "reset_peer", "downstream", 0.03, map[string]any{"timeout": 0}},
	{"timeout", "timeout", "upstream", 0.03, map[string]any{"timeout": 1000}},
	{"jitter_up", "latency", "upstream", 1, map[string]any{"latency": 3, "jitter": 3}},
	{"jitter_down", "latency", "downstream", 1, map[string]any{"latency": 3, "jitter": 3}},
}

// chaosSweep is one sweep under faults and the state it left.
type chaosSweep struct {
	Sweep      int     `json:"sweep"`
	Concurrent bool    `json:"concurrent,omitempty"`
	WallS      float64 `json:"wall_s"`
	Started    int     `json:"started"`
	Failed     int     `json:"failed"`
	Skipped    int     `json:"skipped"`
	Calls      int     `json:"api_calls"`
	Attempts   int     `json:"api_attempts"`
	// Retries = attempts - calls: the requests the faults made the SDK redo.
	Retries    int        `json:"retries"`
	FirstError string     `json:"first_error,omitempty"`
	State      chaosCheck `json:"state"`
}

// chaosCheck is the state of every mirror, read outside the fault proxy.
type chaosCheck struct {
	Finished   int `json:"finished"`
	FailedRecs int `json:"failed_records"`
	InFlight   int `json:"in_flight_records"`
	NoRecord   int `json:"sources_without_record"`
	// Duplicates are destination buckets beyond the first for one source
	// and Region (by their bucketmirror:source tag).
	Duplicates int `json:"duplicate_buckets"`
	// Untagged are non-source buckets without a bucketmirror:source tag: a
	// bucket created but never claimed.
	Untagged int `json:"untagged_buckets"`
	// HalfConfigured: destinations whose configuration differs from the
	// source (or that have no record, or a record still in flight after the
	// sweep returned) while no FAILED record says so.
	HalfConfigured int `json:"half_configured_without_failed_record"`
	// InLine: FINISHED mirrors verified equal to their source (full check).
	InLine    int  `json:"verified_in_line"`
	FullCheck bool `json:"full_check"`
	Converged bool `json:"converged"`
}

type chaosResult struct {
	Buckets                           int          `json:"buckets"`
	Faults                            string       `json:"faults"`
	SweepsToConverge                  int          `json:"sweeps_to_converge"`
	Converged                         bool         `json:"converged"`
	DuplicateBuckets                  int          `json:"duplicate_buckets"`
	RunsWithoutAudit                  int          `json:"runs_without_audit"`
	HalfConfiguredWithoutFailedRecord int          `json:"half_configured_without_failed_record"`
	Runs                              int          `json:"runs"`
	Retries                           int          `json:"retries"`
	Sweeps                            []chaosSweep `json:"sweeps"`
	// Two sweeps started at once, after a change to half the sources and
	// new tagged buckets.
	Concurrent *concurrentSweeps `json:"two_sweeps_at_once"`
	DurationS  float64           `json:"duration_s"`
}

type concurrentSweeps struct {
	ChangedSources int `json:"changed_sources"`
	NewSources     int `json:"new_sources"`
	StartsA        int `json:"starts_sweep_a"`
	StartsB        int `json:"starts_sweep_b"`
	// MirrorsRunTwice counts mirrors both sweeps ran (the lease should
	// make it 0); LeaseHeld counts decisions skipped because the other
	// sweep held the lease or had just acted.
	MirrorsRunTwice   int  `json:"mirrors_run_twice"`
	LeaseSkips        int  `json:"lease_or_concurrent_skips"`
	SweepsToConverge  int  `json:"sweeps_to_converge_after"`
	Converged         bool `json:"converged"`
	DuplicateBuckets  int  `json:"duplicate_buckets"`
	RunsWithoutAudit  int  `json:"runs_without_audit"`
	HalfConfiguredMax int  `json:"half_configured_without_failed_record"`
}

type chaosEnv struct {
	cloud    *localcloud.Cloud
	direct   *awsclient.Clients
	verifier *bucketconfig.Engine
	store    *inventory.Store
	ddb      *dynamodb.Client
	table    string
	sources  []string
	m        *mirror.Mirrorer
	cfg      aws.Config
	counter  *callCounter
	runs     []string
	// sweeps counts the sweeps made; each one's clock is sweepInterval
	// after the one before, as the deployed schedule would space them, so a
	// mirror in failure backoff is retried as it would be in production.
	sweeps int
}

// sweepInterval is the template's default schedule, rate(6 hours).
const sweepInterval = 6 * time.Hour

func chaosSourceName(i int) string { return fmt.Sprintf("bench-chaos-%03d", i) }

// configureSource gives a chaos source several kinds, so that a run has
// several writes that faults can leave half done.
func configureSource(ctx context.Context, clients *awsclient.Clients, name string, variant int) error {
	c := clients.S3(srcRegion)
	b := aws.String(name)
	return withRetry(ctx, "configuring "+name, func() error {
		if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b, Tagging: &types.Tagging{TagSet: []types.Tag{
			{Key: aws.String(regionsTag), Value: aws.String(dstRegion)}, {Key: aws.String("variant"), Value: aws.String(fmt.Sprint(variant))}}}}); err != nil {
			return err
		}
		if _, err := c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: b, CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{
			{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{fmt.Sprintf("https://%s-%d.example.com", name, variant)}}}}}); err != nil {
			return err
		}
		if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b, VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
			return err
		}
		if _, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: b, LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{
			{ID: aws.String("expire"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")}, Expiration: &types.LifecycleExpiration{Days: aws.Int32(int32(7 + variant))}}}}}); err != nil {
			return err
		}
		if _, err := c.PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{Bucket: b, WebsiteConfiguration: &types.WebsiteConfiguration{IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")}}}); err != nil {
			return err
		}
		_, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(fmt.Sprintf(
			`{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecure%d","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::%[2]s","arn:aws:s3:::%[2]s/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, variant, name))})
		return err
	})
}

func benchChaos(ctx context.Context, cloud *localcloud.Cloud, n, maxSweeps int) (*chaosResult, error) {
	began := time.Now()
	env := &chaosEnv{cloud: cloud, direct: awsclient.New(cloud.AWSConfig()), table: "bench-chaos", counter: newCallCounter()}
	env.verifier = bucketconfig.New(env.direct, bucketconfig.Options{AccountID: localcloud.AccountID})
	env.ddb = dynamodb.NewFromConfig(cloud.AWSConfig())
	env.store = inventory.New(env.ddb, env.table)
	for i := range n {
		env.sources = append(env.sources, chaosSourceName(i))
	}
	if err := createMany(ctx, env.direct, n, chaosSourceName, func(int) []types.Tag { return nil }); err != nil {
		return nil, err
	}
	for i, s := range env.sources {
		if err := configureSource(ctx, env.direct, s, 0); err != nil {
			return nil, fmt.Errorf("source %d: %w", i, err)
		}
	}
	proxy, err := newFaultProxy("chaos", cloud.Endpoint)
	if err != nil {
		return nil, err
	}
	defer proxy.Close()
	var faults []string
	for _, t := range chaosToxics {
		if err := proxy.toxic(t.name, t.kind, t.stream, t.toxicity, t.attrs); err != nil {
			return nil, err
		}
		faults = append(faults, fmt.Sprintf("%s %s %s p=%.2f %v", t.name, t.kind, t.stream, t.toxicity, t.attrs))
	}
	env.cfg = cloud.AWSConfig()
	env.cfg.BaseEndpoint = aws.String(proxy.Endpoint)
	env.cfg.Retryer = awsclient.NewRetryer
	env.cfg.APIOptions = append(env.cfg.APIOptions, env.counter.apiOption)
	env.m = mirror.NewMirrorer(env.cfg, mirror.Config{Table: env.table, TagPrefix: "bucketmirror:", AccountID: localcloud.AccountID}, bucketconfig.Options{}, discardLog)
	if err := withRetry(ctx, "creating the table", func() error { return env.m.Store.CreateTable(ctx) }); err != nil {
		return nil, err
	}
	res := &chaosResult{Buckets: n, Faults: strings.Join(faults, "; ")}
	progress("chaos: %d tagged sources; faults: %s", n, res.Faults)

	converge := func(first int) (int, bool, int, error) {
		worstHalf := 0
		for i := first; i < first+maxSweeps; i++ {
			cs, err := env.sweepOnce(ctx, i)
			if err != nil {
				return i, false, worstHalf, err
			}
			worstHalf = max(worstHalf, cs.State.HalfConfigured)
			res.Sweeps = append(res.Sweeps, cs)
			if cs.State.Converged {
				return i - first + 1, true, worstHalf, nil
			}
		}
		return maxSweeps, false, worstHalf, nil
	}
	sweeps, ok, worstHalf, err := converge(1)
	if err != nil {
		return res, err
	}
	res.SweepsToConverge, res.Converged = sweeps, ok
	res.HalfConfiguredWithoutFailedRecord = worstHalf

	// Two sweeps at once: change half the sources, add new tagged ones,
	// and start two sweepers together.
	cc := &concurrentSweeps{ChangedSources: n / 2, NewSources: max(n/5, 1)}
	for i := range cc.ChangedSources {
		if err := configureSource(ctx, env.direct, env.sources[i], 1); err != nil {
			return res, err
		}
	}
	for i := n; i < n+cc.NewSources; i++ {
		name := chaosSourceName(i)
		if err := createBucket(ctx, env.direct, bucketconfig.Bucket{Name: name, Region: srcRegion}, false); err != nil {
			return res, err
		}
		if err := configureSource(ctx, env.direct, name, 0); err != nil {
			return res, err
		}
		env.sources = append(env.sources, name)
	}
	progress("chaos: changed %d sources, added %d; two sweeps at once", cc.ChangedSources, cc.NewSources)
	cs, startsA, startsB, err := env.twoSweeps(ctx, len(res.Sweeps)+1)
	if err != nil {
		return res, err
	}
	res.Sweeps = append(res.Sweeps, cs)
	cc.StartsA, cc.StartsB = len(startsA), len(startsB)
	cc.MirrorsRunTwice = len(intersect(runMirrors(startsA), runMirrors(startsB)))
	cc.LeaseSkips = cs.Skipped
	cc.HalfConfiguredMax = cs.State.HalfConfigured
	cc.Converged = cs.State.Converged
	if !cc.Converged {
		sweeps, ok, half, err := converge(len(res.Sweeps) + 1)
		if err != nil {
			return res, err
		}
		cc.SweepsToConverge, cc.Converged = sweeps, ok
		cc.HalfConfiguredMax = max(cc.HalfConfiguredMax, half)
	}
	cc.SweepsToConverge++ // the concurrent pair counts as one

	// Final accounting, outside the proxy (the last sweep's check already
	// compared every mirror with its source when it converged).
	final := res.Sweeps[len(res.Sweeps)-1].State
	if !final.FullCheck {
		if final, err = env.check(ctx, true); err != nil {
			return res, err
		}
	}
	missing, err := env.runsWithoutAudit(ctx)
	if err != nil {
		return res, err
	}
	cc.DuplicateBuckets, cc.RunsWithoutAudit = final.Duplicates, missing
	res.Concurrent = cc
	res.DuplicateBuckets = final.Duplicates
	res.RunsWithoutAudit = missing
	res.HalfConfiguredWithoutFailedRecord = max(res.HalfConfiguredWithoutFailedRecord, cc.HalfConfiguredMax, final.HalfConfigured)
	res.Runs = len(env.runs)
	for _, s := range res.Sweeps {
		res.Retries += s.Retries
	}
	res.DurationS = round1(time.Since(began).Seconds())
	return res, nil
}

// runMirrors maps run names to the mirror (source) they ran.
func runMirrors(runs []string) []string {
	var out []string
	for _, r := range runs {
		// ExecutionName is SOURCE-REGION-HASH.
		if i := strings.LastIndex(r, "-"+dstRegion+"-"); i > 0 {
			out = append(out, r[:i])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func (env *chaosEnv) newSweeper(starter sweep.Starter, owner string) (*sweep.Sweeper, error) {
	s, err := sweep.New(env.cfg, sweep.Config{Regions: []string{srcRegion, dstRegion}, AccountID: localcloud.AccountID, Owner: owner}, env.m, starter, discardLog)
	if err != nil {
		return nil, err
	}
	s.Metrics = nil
	offset := time.Duration(env.sweeps) * sweepInterval
	s.Now = func() time.Time { return time.Now().Add(offset) }
	return s, nil
}

func (env *chaosEnv) sweepOnce(ctx context.Context, i int) (chaosSweep, error) {
	env.sweeps++
	starter := &countingStarter{next: &sweep.LocalStarter{Mirrorer: env.m}}
	s, err := env.newSweeper(starter, "chaos")
	if err != nil {
		return chaosSweep{}, err
	}
	env.counter.take()
	began := time.Now()
	sum, serr := s.Sweep(ctx, nil)
	cs := chaosSweep{Sweep: i, WallS: round1(time.Since(began).Seconds()), Started: sum.Started, Failed: sum.Failed, Skipped: sum.Skipped}
	calls, attempts := env.counter.take()
	cs.Calls, cs.Attempts = total(calls), total(attempts)
	cs.Retries = cs.Attempts - cs.Calls
	env.runs = append(env.runs, starter.take()...)
	cs.FirstError = firstError(sum, serr)
	cs.State, err = env.check(ctx, false)
	if err != nil {
		return cs, err
	}
	progress("chaos sweep %d: %.1f s, started %d, failed %d, skipped %d, %d retries; state: %d finished, %d failed, %d in flight, %d without record, %d duplicates, %d half-configured without FAILED, converged=%v",
		i, cs.WallS, cs.Started, cs.Failed, cs.Skipped, cs.Retries, cs.State.Finished, cs.State.FailedRecs, cs.State.InFlight, cs.State.NoRecord, cs.State.Duplicates, cs.State.HalfConfigured, cs.State.Converged)
	if cs.FirstError != "" {
		progress("  first error: %s", truncate(cs.FirstError, 300))
	}
	return cs, nil
}

func (env *chaosEnv) twoSweeps(ctx context.Context, i int) (chaosSweep, []string, []string, error) {
	env.sweeps++ // both at the same moment
	starterA := &countingStarter{next: &sweep.LocalStarter{Mirrorer: env.m}}
	starterB := &countingStarter{next: &sweep.LocalStarter{Mirrorer: env.m}}
	a, err := env.newSweeper(starterA, "chaos-a")
	if err != nil {
		return chaosSweep{}, nil, nil, err
	}
	b, err := env.newSweeper(starterB, "chaos-b")
	if err != nil {
		return chaosSweep{}, nil, nil, err
	}
	env.counter.take()
	began := time.Now()
	var wg sync.WaitGroup
	var sumA, sumB sweep.Summary
	var errA, errB error
	wg.Add(2)
	go func() { defer wg.Done(); sumA, errA = a.Sweep(ctx, nil) }()
	go func() { defer wg.Done(); sumB, errB = b.Sweep(ctx, nil) }()
	wg.Wait()
	cs := chaosSweep{Sweep: i, Concurrent: true, WallS: round1(time.Since(began).Seconds()),
		Started: sumA.Started + sumB.Started, Failed: sumA.Failed + sumB.Failed}
	for _, sum := range []sweep.Summary{sumA, sumB} {
		for _, d := range sum.Decisions {
			if d.Action == sweep.ActionSkipped && (d.Reason == "lease-held" || d.Reason == "changed-concurrently" || d.Reason == "in-progress") {
				cs.Skipped++
			}
		}
	}
	calls, attempts := env.counter.take()
	cs.Calls, cs.Attempts = total(calls), total(attempts)
	cs.Retries = cs.Attempts - cs.Calls
	runsA, runsB := starterA.take(), starterB.take()
	env.runs = append(env.runs, runsA...)
	env.runs = append(env.runs, runsB...)
	cs.FirstError = firstError(sumA, errA)
	if cs.FirstError == "" {
		cs.FirstError = firstError(sumB, errB)
	}
	cs.State, err = env.check(ctx, false)
	if err != nil {
		return cs, nil, nil, err
	}
	progress("chaos two sweeps at once: %.1f s, started %d+%d, failed %d, lease/concurrent skips %d, %d retries; state: %d finished, %d failed, %d in flight, %d duplicates, %d half-configured without FAILED, converged=%v",
		cs.WallS, sumA.Started, sumB.Started, cs.Failed, cs.Skipped, cs.Retries, cs.State.Finished, cs.State.FailedRecs, cs.State.InFlight, cs.State.Duplicates, cs.State.HalfConfigured, cs.State.Converged)
	return cs, runsA, runsB, nil
}

func firstError(sum sweep.Summary, err error) string {
	if err != nil {
		return err.Error()
	}
	for _, d := range sum.Decisions {
		if d.Error != "" {
			return d.Source + ": " + d.Error
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// check reads the state outside the fault proxy. Without full, a FINISHED
// mirror is trusted unless every mirror is FINISHED, in which case (or with
// full) each is compared with its source by a fresh plan.
func (env *chaosEnv) check(ctx context.Context, full bool) (chaosCheck, error) {
	var c chaosCheck
	recs, err := env.store.Mirrors(ctx)
	if err != nil {
		return c, err
	}
	byRegion := map[string]*inventory.Mirror{}
	for i := range recs {
		if recs[i].Region == dstRegion {
			byRegion[recs[i].Source] = &recs[i]
		}
	}
	isSource := map[string]bool{}
	for _, s := range env.sources {
		isSource[s] = true
		switch rec := byRegion[s]; {
		case rec == nil:
			c.NoRecord++
		case rec.Status == inventory.StatusFinished:
			c.Finished++
		case rec.Status == inventory.StatusFailed:
			c.FailedRecs++
		default:
			c.InFlight++
		}
	}
	// Destination buckets, by the source tag they carry.
	s3c := env.direct.S3(dstRegion)
	dests := map[string][]string{}
	p := s3.NewListBucketsPaginator(s3c, &s3.ListBucketsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return c, fmt.Errorf("listing buckets: %w", err)
		}
		for _, b := range page.Buckets {
			name := aws.ToString(b.Name)
			if isSource[name] {
				continue
			}
			out, err := s3c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(name)})
			if err != nil && bucketconfig.ErrorCode(err) != "NoSuchTagSet" {
				return c, fmt.Errorf("reading tags of %s: %w", name, err)
			}
			src := ""
			if out != nil {
				for _, t := range out.TagSet {
					if aws.ToString(t.Key) == "bucketmirror:source" {
						src = strings.TrimPrefix(aws.ToString(t.Value), "arn:aws:s3:::")
					}
				}
			}
			if src == "" {
				c.Untagged++
				continue
			}
			dests[src] = append(dests[src], name)
		}
	}
	full = full || (c.Finished == len(env.sources))
	c.FullCheck = full
	for src, names := range dests {
		c.Duplicates += len(names) - 1
		rec := byRegion[src]
		switch {
		case rec == nil:
			c.HalfConfigured++ // a destination nobody recorded
			continue
		case rec.Status == inventory.StatusFailed:
			continue // the FAILED record says what is left to do
		case rec.Status != inventory.StatusFinished:
			c.HalfConfigured++ // still STARTED/CREATED after the sweep returned
			continue
		case !full:
			continue
		}
		m := bucketconfig.Mirror{Source: bucketconfig.Bucket{Name: src, Region: srcRegion}, Dest: bucketconfig.Bucket{Name: rec.Dest, Region: dstRegion}}
		plan, err := env.verifier.Plan(ctx, m)
		if err != nil {
			return c, err
		}
		if plan.Changes() > 0 || plan.Source.Err() != nil {
			c.HalfConfigured++
		} else {
			c.InLine++
		}
	}
	c.Converged = c.Finished == len(env.sources) && c.InLine == len(env.sources) && c.Duplicates == 0 && c.HalfConfigured == 0
	return c, nil
}

// runsWithoutAudit counts the runs the sweeps started that left no run
// record in the table.
func (env *chaosEnv) runsWithoutAudit(ctx context.Context) (int, error) {
	recorded := map[string]bool{}
	p := dynamodb.NewScanPaginator(env.ddb, &dynamodb.ScanInput{
		TableName:                 aws.String(env.table),
		FilterExpression:          aws.String("#t = :run"),
		ExpressionAttributeNames:  map[string]string{"#t": "type"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":run": &ddbtypes.AttributeValueMemberS{Value: "run"}},
		ProjectionExpression:      aws.String("runId"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		for _, item := range page.Items {
			if v, ok := item["runId"].(*ddbtypes.AttributeValueMemberS); ok {
				recorded[v.Value] = true
			}
		}
	}
	missing := 0
	for _, r := range env.runs {
		if !recorded[r] {
			missing++
			progress("chaos: run %s has no audit record", r)
		}
	}
	return missing, nil
}
