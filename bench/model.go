package main

import "math"

// The full-sweep model for an account of 1,000,000 buckets with 100,000
// tagged (issue 19): minutes and US dollars per full sweep with nothing
// changed, from published quotas and prices (us-east-1) and the calls per
// unchanged mirror the sweep part measured. Every input names its source;
// the latencies, which AWS does not publish, are marked as assumptions.

type modelInput struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Source string  `json:"source"`
}

type modelResult struct {
	// The stable keys.
	FullSweepMinutes100kTagged float64 `json:"full_sweep_minutes_100k_tagged"`
	CostUSDPerFullSweep100k    float64 `json:"cost_usd_per_full_sweep_100k_tagged"`
	// The same in a round that reads sources only (DestinationReadEvery).
	FullSweepMinutesSourcesOnly float64 `json:"full_sweep_minutes_100k_tagged_sources_only"`
	CostUSDSourcesOnly          float64 `json:"cost_usd_per_full_sweep_100k_tagged_sources_only"`
	// Parts of the time and the cost.
	ListMinutes    float64            `json:"list_minutes"`
	MapMinutes     float64            `json:"map_minutes"`
	CostBreakdown  map[string]float64 `json:"cost_breakdown_usd"`
	Formula        string             `json:"formula"`
	Inputs         []modelInput       `json:"inputs"`
	BindingLimit   string             `json:"binding_limit"`
	MeasuredInputs string             `json:"measured_inputs"`
}

// Published figures (us-east-1).
const (
	modelBuckets = 1_000_000
	modelTagged  = 100_000

	// S3 request prices, S3 Standard: GET and "all other requests" (every
	// bucket configuration Get is one), and LIST (ListBuckets).
	priceS3GetPer1000  = 0.0004
	priceS3ListPer1000 = 0.005
	// Lambda, arm64: per GB-second (first 7.5 billion) and per request.
	priceLambdaGBs     = 0.0000133334
	priceLambdaRequest = 0.20 / 1e6
	// Step Functions: Standard per state transition; Express per request
	// and per GB-second of duration, billed in 64 MB chunks and 100 ms.
	priceSFNTransition     = 25.0 / 1e6
	priceExpressRequest    = 1.0 / 1e6
	priceExpressGBs        = 0.00001667
	priceDynamoReadRequest = 0.125 / 1e6

	// Quotas.
	quotaDistributedMapChildren = 10_000 // child executions running at once
	quotaLambdaConcurrency      = 1_000  // default per account and Region
	quotaTaggingPageSize        = 100    // GetResources ResourcesPerPage maximum
	quotaListBucketsPage        = 10_000 // ListBuckets MaxBuckets maximum
	quotaStartExecutionRefill   = 300    // per second, us-east-1 (150 elsewhere)

	// Assumptions (not published): one S3 control-plane GET from a Lambda
	// in the home Region; a source and its destination in another Region
	// read concurrently take the slower side's time.
	assumeS3GetSeconds         = 0.05
	assumeCrossRegionGetSecond = 0.10
	assumeTaggingPageSeconds   = 0.30
	assumeListBucketsPageS     = 1.0
	assumeLambdaOverheadS      = 0.3 // init and invoke per child
)

// modelFullSweep computes the model; s3PerMirror and s3PerMirrorSourcesOnly
// are the measured S3 calls per unchanged mirror (reading destinations, and
// sources only), batchSize and mapConcurrency the template's defaults,
// concurrency the sources one child reconciles at once.
func modelFullSweep(s3PerMirror, s3PerMirrorSourcesOnly float64, batchSize, mapConcurrency, concurrency int) *modelResult {
	m := &modelResult{CostBreakdown: map[string]float64{}}
	batches := math.Ceil(modelTagged / float64(batchSize))
	children := math.Min(float64(mapConcurrency), math.Min(quotaDistributedMapChildren, quotaLambdaConcurrency))

	// List step: Tagging API pages, one after the other per Region (the
	// model puts every source in one Region, the slowest case), ListBuckets
	// pages for the Regions, and the inventory scan (1 MB pages of ~300 B
	// records).
	taggingPages := math.Ceil(modelTagged / quotaTaggingPageSize)
	listPages := math.Ceil(modelBuckets / quotaListBucketsPage)
	scanPages := math.Ceil(modelTagged * 300 / 1e6)
	listSeconds := taggingPages*assumeTaggingPageSeconds + listPages*assumeListBucketsPageS + scanPages*assumeS3GetSeconds
	m.ListMinutes = round2(listSeconds / 60)

	// Map: each child reconciles its batch Concurrency sources at a time;
	// one source costs one round of its kinds' Gets (read concurrently), its
	// destination's in parallel from another Region.
	childSeconds := func(perMirror float64, readsDest bool) float64 {
		t := assumeS3GetSeconds
		if readsDest {
			t = assumeCrossRegionGetSecond
		}
		return math.Ceil(float64(batchSize)/float64(concurrency))*t + assumeLambdaOverheadS
	}
	mapSeconds := func(readsDest bool) float64 {
		return math.Ceil(batches/children) * childSeconds(0, readsDest)
	}
	m.MapMinutes = round2(mapSeconds(true) / 60)
	m.FullSweepMinutes100kTagged = round2((listSeconds + mapSeconds(true)) / 60)
	m.FullSweepMinutesSourcesOnly = round2((listSeconds + mapSeconds(false)) / 60)

	cost := func(perMirror float64, readsDest bool, breakdown map[string]float64) float64 {
		s3 := modelTagged*perMirror/1000*priceS3GetPer1000 + listPages/1000*priceS3ListPer1000
		lambdaGBs := batches*childSeconds(perMirror, readsDest)*0.5 + listSeconds*1.0 + 2*0.5
		lambda := lambdaGBs*priceLambdaGBs + (batches+2)*priceLambdaRequest
		express := batches*priceExpressRequest + batches*math.Ceil(childSeconds(perMirror, readsDest)*10)/10*0.0625*priceExpressGBs
		// The parent's own transitions, and (conservatively) one per child.
		standard := (6 + batches) * priceSFNTransition
		dynamo := scanPages * 1e6 / 4096 / 2 * priceDynamoReadRequest
		if breakdown != nil {
			breakdown["s3_requests"] = round4(s3)
			breakdown["lambda"] = round4(lambda)
			breakdown["step_functions_express_children"] = round4(express)
			breakdown["step_functions_standard_transitions"] = round4(standard)
			breakdown["dynamodb_scan"] = round4(dynamo)
		}
		return s3 + lambda + express + standard + dynamo
	}
	m.CostUSDPerFullSweep100k = round2(cost(s3PerMirror, true, m.CostBreakdown))
	m.CostUSDSourcesOnly = round2(cost(s3PerMirrorSourcesOnly, false, nil))
	m.BindingLimit = "none of the quotas: at the template's SweepMaxConcurrency the Map runs that many children; raising it towards the 1,000 Lambda concurrency (Distributed Map allows 10,000 children) shortens the Map part proportionally, leaving the list step's serial Tagging API pages. An unchanged sweep starts no execution, so the StartExecution refill (300/s) binds only on the runs a changed account needs (1,000 changes: under 4 s)."
	m.MeasuredInputs = "S3 calls per unchanged mirror, from this run's sweep part (local cloud, same code): reading both sides, and sources only"
	m.Formula = "minutes = [ceil(T/100)·t_tag + ceil(B/10000)·t_listbuckets + ceil(T·300 B/1 MB)·t_get + ceil(ceil(T/b)/C)·(ceil(b/c)·t_mirror + t_lambda)] / 60; " +
		"USD = T·k·$0.0004/1000 + ceil(B/10000)·$0.005/1000 + Lambda GB-s·$0.0000133334 + requests·$0.20/1M + ceil(T/b)·($1/1M + ceil10(t_child)·0.0625 GB·$0.00001667) + (6 + ceil(T/b))·$25/1M + scan RRU·$0.125/1M; " +
		"T = 100,000 tagged, B = 1,000,000 buckets, b = batch size, C = min(MaxConcurrency, 1,000 Lambda, 10,000 Map children), c = sources per child at once, k = S3 calls per unchanged mirror (measured)"
	m.Inputs = []modelInput{
		{"tagged sources T", modelTagged, "buckets", "issue 19"},
		{"buckets B", modelBuckets, "buckets", "S3 allows up to 1,000,000 general purpose buckets per account on request: https://docs.aws.amazon.com/AmazonS3/latest/userguide/BucketRestrictions.html"},
		{"S3 calls per unchanged mirror, reading destinations k", s3PerMirror, "calls", "measured (sweep part, second-large)"},
		{"S3 calls per unchanged mirror, sources only", s3PerMirrorSourcesOnly, "calls", "measured (sweep part, second-large-sources-only)"},
		{"batch size b", float64(batchSize), "sources", "template.yaml SweepBatchSize default"},
		{"Map concurrency C", float64(mapConcurrency), "children", "template.yaml SweepMaxConcurrency default"},
		{"sources per child at once c", float64(concurrency), "sources", "sweep.DefaultConcurrency"},
		{"S3 GET and other requests", priceS3GetPer1000, "USD per 1,000", "https://aws.amazon.com/s3/pricing/ (S3 Standard, GET, SELECT, and all other requests)"},
		{"S3 LIST requests", priceS3ListPer1000, "USD per 1,000", "https://aws.amazon.com/s3/pricing/ (PUT, COPY, POST, LIST requests)"},
		{"Lambda arm64 duration", priceLambdaGBs, "USD per GB-s", "https://aws.amazon.com/lambda/pricing/ (Arm, first 7.5 billion GB-s)"},
		{"Lambda requests", 0.20, "USD per million", "https://aws.amazon.com/lambda/pricing/"},
		{"Step Functions Standard transitions", 25, "USD per million", "https://aws.amazon.com/step-functions/pricing/"},
		{"Step Functions Express requests", 1, "USD per million", "https://aws.amazon.com/step-functions/pricing/ (Express: per request, duration in 64 MB chunks and 100 ms)"},
		{"Step Functions Express duration", priceExpressGBs, "USD per GB-s", "https://aws.amazon.com/step-functions/pricing/ (first 1,000 GB-hours)"},
		{"DynamoDB on-demand reads", 0.125, "USD per million read request units", "https://aws.amazon.com/dynamodb/pricing/on-demand/"},
		{"Distributed Map children at once", quotaDistributedMapChildren, "executions", "https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html (10,000 parallel child workflow executions)"},
		{"Lambda concurrency", quotaLambdaConcurrency, "executions", "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html (1,000 per Region by default)"},
		{"StartExecution refill", quotaStartExecutionRefill, "per second", "https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html (us-east-1, us-west-2, eu-west-1; 150 elsewhere)"},
		{"Tagging API page", quotaTaggingPageSize, "resources", "https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html (ResourcesPerPage at most 100)"},
		{"ListBuckets page", quotaListBucketsPage, "buckets", "https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html (MaxBuckets 1-10,000)"},
		{"S3 GET latency t_get", assumeS3GetSeconds, "s", "assumption (not published)"},
		{"cross-Region mirror read t_mirror", assumeCrossRegionGetSecond, "s", "assumption (not published): source and destination read concurrently, the farther side"},
		{"Tagging API page t_tag", assumeTaggingPageSeconds, "s", "assumption (not published)"},
		{"ListBuckets page t_listbuckets", assumeListBucketsPageS, "s", "assumption (not published)"},
		{"Lambda overhead per child t_lambda", assumeLambdaOverheadS, "s", "assumption (init of a Go arm64 bootstrap and invoke)"},
	}
	return m
}

func round4(f float64) float64 { return math.Round(f*10000) / 10000 }
