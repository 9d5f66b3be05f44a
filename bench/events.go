package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
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

// eventsResult is the events part: what a change event costs and how fast
// it repairs, through the real sweep handler and the real CloudTrail
// fixtures of events/.
type eventsResult struct {
	LatencyMS int `json:"latency_ms"`
	// CallsPerSingleKindEvent: S3 calls (sweep and run) for a source CORS
	// change delivered as its CloudTrail event (target <= 8).
	CallsPerSingleKindEvent int `json:"calls_per_single_kind_event"`
	// CallsPerSingleKindEventAllKinds: the same change reconciled reading
	// every kind on both sides, as before per-kind reconciles.
	CallsPerSingleKindEventAllKinds int `json:"calls_per_single_kind_event_all_kinds"`
	// CallsPerDestinationRepair: S3 calls for a CORS rule deleted by hand on
	// a destination, from its event to the repair.
	CallsPerDestinationRepair int `json:"calls_per_destination_repair"`
	// RepairMSAt25ms: median time from handing the destination event to
	// the handler until the destination is repaired, at LatencyMS each way.
	RepairMSAt25ms float64 `json:"repair_ms_at_25ms"`
	RepairRuns     int     `json:"repair_runs"`
	// OtherCalls are the non-S3 calls of the single-kind event (DynamoDB
	// inventory, leases, run record; EventBridge).
	OtherCalls      map[string]int `json:"other_calls_single_kind_event"`
	S3Ops           map[string]int `json:"s3_ops_single_kind_event"`
	RepairS3Ops     map[string]int `json:"s3_ops_destination_repair"`
	OwnWriteCalls   int            `json:"calls_for_own_write_event"`
	LoopStarts      int            `json:"loop_starts"`
	FullSweepStarts int            `json:"full_sweep_starts_after_repairs"`
	Path            string         `json:"path"`
}

const eventsLatencyMS = 25

// benchEvents measures change events on one mirror (us-east-1 ->
// us-west-2) whose source carries several kinds, with every client of the
// sweep and of the run behind toxiproxy adding 25 ms each way.
func benchEvents(ctx context.Context, cloud *localcloud.Cloud) (*eventsResult, error) {
	direct := awsclient.New(cloud.AWSConfig())
	src := bucketconfig.Bucket{Name: "bench-events-source", Region: srcRegion}
	if err := createBucket(ctx, direct, src, false); err != nil {
		return nil, err
	}
	// Tags, CORS, versioning, lifecycle, website and a policy, as the chaos
	// part's sources.
	if err := configureSource(ctx, direct, src.Name, 0); err != nil {
		return nil, err
	}
	proxy, err := newFaultProxy("events", cloud.Endpoint)
	if err != nil {
		return nil, err
	}
	defer proxy.Close()
	if err := proxy.latency(eventsLatencyMS, 0); err != nil {
		return nil, err
	}
	counter := newCallCounter()
	cfg := cloud.AWSConfig()
	cfg.BaseEndpoint = aws.String(proxy.Endpoint)
	cfg.Retryer = awsclient.NewRetryer
	cfg.APIOptions = append(cfg.APIOptions, counter.apiOption)
	m := mirror.NewMirrorer(cfg, mirror.Config{Table: "bench-events", TagPrefix: "bucketmirror:", AccountID: localcloud.AccountID}, bucketconfig.Options{}, discardLog)
	if err := m.Store.CreateTable(ctx); err != nil {
		return nil, err
	}
	// The role the fixture's own write carries stands for the configure
	// function's role.
	s, err := sweep.New(cfg, sweep.Config{Regions: []string{srcRegion, dstRegion}, AccountID: localcloud.AccountID, Owner: "bench-events",
		OwnRoles: []string{"arn:aws:iam::123456789012:role/bucketmirror-ConfigureFunctionRole-EXAMPLE1A2B3"}}, m, &sweep.LocalStarter{Mirrorer: m}, discardLog)
	if err != nil {
		return nil, err
	}
	s.Metrics = nil
	h := sweep.NewHandler(s, discardLog)
	if sum, err := s.Sweep(ctx, nil); err != nil || sum.Started != 1 {
		return nil, fmt.Errorf("first sweep: %v, %+v", err, sum)
	}
	dest := m.DerivedName(src.Name, dstRegion)
	names := strings.NewReplacer("example-source-bucket", src.Name, "dest-example-source-bucket-us-west-2", dest)
	deliver := func(file string) (sweep.Summary, error) {
		raw, err := os.ReadFile("events/" + file)
		if err != nil {
			return sweep.Summary{}, err
		}
		return h.Handle(ctx, json.RawMessage(names.Replace(string(raw))))
	}
	putCORS := func(bucket, region, origin string) error {
		_, err := direct.S3(region).PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String(bucket), CORSConfiguration: &types.CORSConfiguration{
			CORSRules: []types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{origin}}}}})
		return err
	}
	wantStarted := func(what string, sum sweep.Summary, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if sum.Started != 1 || sum.Failed != 0 {
			return fmt.Errorf("%s: started %d failed %d: %+v", what, sum.Started, sum.Failed, sum.Decisions)
		}
		return nil
	}
	res := &eventsResult{LatencyMS: eventsLatencyMS, Path: "sweep handler + in-process run (LocalStarter), every client behind toxiproxy"}

	// A source change of one kind, delivered as its event.
	if err := putCORS(src.Name, srcRegion, "https://one.example.com"); err != nil {
		return nil, err
	}
	counter.take()
	sum, err := deliver("cloudtrail-put-bucket-cors.json")
	if err := wantStarted("source CORS event", sum, err); err != nil {
		return nil, err
	}
	calls, _ := counter.take()
	res.CallsPerSingleKindEvent = byService(calls)["S3"]
	res.S3Ops, res.OtherCalls = map[string]int{}, map[string]int{}
	for op, n := range calls {
		if strings.HasPrefix(op, "S3.") {
			res.S3Ops[op] = n
		} else {
			res.OtherCalls[op] = n
		}
	}
	// The same kind of change reconciled reading every kind (an event
	// without kinds, as every event was before).
	if err := putCORS(src.Name, srcRegion, "https://two.example.com"); err != nil {
		return nil, err
	}
	counter.take()
	sum, err = s.SweepChange(ctx, sweep.Change{Bucket: src.Name, Region: srcRegion})
	if err := wantStarted("source CORS, every kind", sum, err); err != nil {
		return nil, err
	}
	calls, _ = counter.take()
	res.CallsPerSingleKindEventAllKinds = byService(calls)["S3"]

	// Destination damage by hand, then its event; timed to the repair.
	var took []time.Duration
	for i := range 5 {
		if _, err := direct.S3(dstRegion).DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: aws.String(dest)}); err != nil {
			return nil, err
		}
		counter.take()
		began := time.Now()
		sum, err := deliver("cloudtrail-delete-bucket-cors-destination.json")
		if err := wantStarted("destination CORS event", sum, err); err != nil {
			return nil, err
		}
		took = append(took, time.Since(began))
		calls, _ := counter.take()
		if i == 0 {
			res.CallsPerDestinationRepair = byService(calls)["S3"]
			res.RepairS3Ops = map[string]int{}
			for op, n := range calls {
				if strings.HasPrefix(op, "S3.") {
					res.RepairS3Ops[op] = n
				}
			}
		}
		out, err := direct.S3(dstRegion).GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String(dest)})
		if err != nil || len(out.CORSRules) == 0 {
			return nil, fmt.Errorf("destination not repaired after its event: %v", err)
		}
	}
	slices.Sort(took)
	res.RepairMSAt25ms, res.RepairRuns = ms(took[len(took)/2]), len(took)

	// The repair's own write fed back: dropped by role, and without the
	// role filter found equal (a loop cannot form).
	counter.take()
	if sum, err := deliver("cloudtrail-put-bucket-cors-by-bucketmirror.json"); err != nil || len(sum.Decisions) != 0 {
		return nil, fmt.Errorf("own write: %v %+v", err, sum)
	}
	calls, _ = counter.take()
	res.OwnWriteCalls = total(calls)
	loose, err := sweep.New(cfg, sweep.Config{Regions: []string{srcRegion, dstRegion}, AccountID: localcloud.AccountID, Owner: "bench-events"}, m, &sweep.LocalStarter{Mirrorer: m}, discardLog)
	if err != nil {
		return nil, err
	}
	loose.Metrics = nil
	raw, _ := os.ReadFile("events/cloudtrail-put-bucket-cors-by-bucketmirror.json")
	sum, err = sweep.NewHandler(loose, discardLog).Handle(ctx, json.RawMessage(names.Replace(string(raw))))
	if err != nil {
		return nil, err
	}
	res.LoopStarts = sum.Started
	full, err := s.Sweep(ctx, nil)
	if err != nil {
		return nil, err
	}
	res.FullSweepStarts = full.Started
	progress("events: %d S3 calls per one-kind source event (%d reading every kind), %d per destination repair, repair in %.0f ms at %d ms",
		res.CallsPerSingleKindEvent, res.CallsPerSingleKindEventAllKinds, res.CallsPerDestinationRepair, res.RepairMSAt25ms, eventsLatencyMS)
	return res, nil
}
