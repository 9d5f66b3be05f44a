package sweep

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

// The full sweep on Step Functions (statemachine/sweep.asl.json): a list
// step writes the tagged sources as pre-batched items to a manifest in
// S3, a Distributed Map runs one EXPRESS child per batch that reconciles
// its sources exactly as Sweep does, and an aggregate step adds the
// batches' summaries into one. Work per Lambda invocation is bounded by the
// batch, not by the account.

// BatchSource is one source in a batch: what the list step learnt about it,
// so the child reads nothing twice (Region, the Tagging API's tags, the
// inventory records).
type BatchSource struct {
	Name   string `json:"name"`
	Region string `json:"region,omitempty"`
	// Account is the account the source is in (empty: the deployment's own).
	Account string            `json:"account,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
	// Lookup: read Region and tags from S3 itself (listed in the inventory,
	// not by the Tagging API).
	Lookup  bool               `json:"lookup,omitempty"`
	Records []inventory.Mirror `json:"records,omitempty"`
}

// Batch is one item of the manifest, the input of one child workflow.
type Batch struct {
	// Sweep is the full sweep's id (its execution name), for the logs.
	Sweep string `json:"sweep"`
	Index int    `json:"batch"`
	// ReadDestinations is false in the rounds that compare unchanged
	// sources with their records only (Config.DestinationReadEvery).
	ReadDestinations bool          `json:"readDestinations"`
	Sources          []BatchSource `json:"sources"`
}

// ListRequest is the list step's input (the state machine passes its
// execution name).
type ListRequest struct {
	Sweep string `json:"sweep"`
}

// Listing is the list step's output: the batches themselves (Inline,
// Items) when they are small, else where the manifest is; and the Map's
// settings (MaxConcurrencyPath reads maxConcurrency, so the template
// parameter reaches the Map without a definition substitution).
type Listing struct {
	Sweep string `json:"sweep"`
	// Inline: the batches are Items, and the state machine's Choice sends
	// them to the Map that reads ItemsPath; otherwise Bucket and Key name
	// the manifest the other Map's ItemReader reads.
	Inline           bool    `json:"inline"`
	Items            []Batch `json:"items,omitempty"`
	Bucket           string  `json:"bucket,omitempty"`
	Key              string  `json:"key,omitempty"`
	Batches          int     `json:"batches"`
	Sources          int     `json:"sources"`
	MaxConcurrency   int     `json:"maxConcurrency"`
	Round            int     `json:"round"`
	ReadDestinations bool    `json:"readDestinations"`
	// Errors are what kept the listing from seeing every bucket (a Tagging
	// API Region that failed); the aggregate reports them.
	Errors []string `json:"errors,omitempty"`
	// Accounts counts the accounts looked in, AccountErrors the ones that
	// could not be (the aggregate reports them: summary, event, metric).
	Accounts      int            `json:"accounts,omitempty"`
	AccountErrors []AccountError `json:"accountErrors,omitempty"`
	// ListMS is how long listing took.
	ListMS int64 `json:"listMs"`
}

// BatchSummary is a child's output: counts only, plus a few names, so that
// a thousand of them stay within the 256 KiB a state's data may hold.
type BatchSummary struct {
	Batch int `json:"batch"`
	Counts
	EventsPublished int      `json:"eventsPublished"`
	EventsFailed    int      `json:"eventsFailed"`
	DurationMS      int64    `json:"durationMs"`
	FailedSources   []string `json:"failedSources,omitempty"`
	UnreachedNames  []string `json:"unreachedSources,omitempty"`
	// AccountErrors are accounts this batch could not act in (a member role
	// removed since the listing); the aggregate reports them.
	AccountErrors []AccountError `json:"accountErrors,omitempty"`
}

// AggregateRequest is the aggregate step's input: the listing and the
// Map's results, one per batch (null, or an error object, for a batch whose
// child failed), or MapError when the Map itself failed (more failed
// children than tolerated).
type AggregateRequest struct {
	Listing  Listing           `json:"listing"`
	Results  []json.RawMessage `json:"results"`
	MapError json.RawMessage   `json:"mapError,omitempty"`
}

// namesPerBatch bounds the names a BatchSummary carries.
const namesPerBatch = 5

// manifestPrefix is where manifests go in ManifestBucket; the bucket's
// lifecycle rule expires them.
const manifestPrefix = "sweeps/"

// List is the full sweep's first step: it selects every tagged source (and
// every source the inventory knows) as Sweep does, cuts them into batches
// of Config.BatchSize and returns them inline when their JSON is at most
// Config.InlineBytes, else writes them as one JSON array to the manifest
// bucket.
func (s *Sweeper) List(ctx context.Context, req ListRequest) (Listing, error) {
	began := s.now()
	if req.Sweep == "" {
		req.Sweep = "sweep-" + began.Format("20060102T150405Z") + "-" + randomHex(4)
	}
	r := &run{Sweeper: s}
	work, errs, err := r.selectAll(ctx)
	if err != nil {
		return Listing{}, err
	}
	l := Listing{Sweep: req.Sweep, Bucket: s.cfg.ManifestBucket, Key: manifestPrefix + req.Sweep + ".json",
		Sources: len(work), MaxConcurrency: s.cfg.MapConcurrency, Round: 1, ReadDestinations: true}
	if s.cfg.DestinationReadEvery > 1 {
		if l.Round, err = s.store.NextSweepRound(ctx); err != nil {
			return Listing{}, err
		}
		l.ReadDestinations = (l.Round-1)%s.cfg.DestinationReadEvery == 0
	}
	batches := []Batch{}
	for chunk := range slices.Chunk(work, s.cfg.BatchSize) {
		b := Batch{Sweep: l.Sweep, Index: len(batches), ReadDestinations: l.ReadDestinations}
		for _, src := range chunk {
			b.Sources = append(b.Sources, batchSource(src))
		}
		batches = append(batches, b)
	}
	l.Batches = len(batches)
	body, err := json.Marshal(batches)
	if err != nil {
		return Listing{}, fmt.Errorf("encoding the sweep manifest: %w", err)
	}
	where := "inline"
	if len(body) <= s.cfg.InlineBytes {
		// Small: no manifest to write, read and expire.
		l.Inline, l.Items, l.Bucket, l.Key = true, batches, "", ""
	} else {
		if s.cfg.ManifestBucket == "" {
			return Listing{}, fmt.Errorf("the full sweep's %d batches (%d bytes) need a manifest bucket: set BUCKETMIRROR_SWEEP_BUCKET", len(batches), len(body))
		}
		if _, err := s.clients.S3(s.home).PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(l.Bucket), Key: aws.String(l.Key), Body: bytes.NewReader(body),
			ContentType: aws.String("application/json"), ServerSideEncryption: s3types.ServerSideEncryptionAes256,
		}); err != nil {
			return Listing{}, fmt.Errorf("writing the sweep manifest s3://%s/%s: %w", l.Bucket, l.Key, err)
		}
		where = "s3://" + l.Bucket + "/" + l.Key
	}
	l.Accounts, l.AccountErrors = r.accountCount, r.accountErrors()
	for _, e := range l.AccountErrors {
		errs = append(errs, errors.New(e.Error))
	}
	for _, e := range errs {
		l.Errors = append(l.Errors, e.Error())
	}
	l.ListMS = s.now().Sub(began).Milliseconds()
	s.Log.InfoContext(ctx, "sweep listed", "sweep", l.Sweep, "sources", l.Sources, "batches", l.Batches, "round", l.Round,
		"readDestinations", l.ReadDestinations, "manifest", where, "errors", l.Errors)
	return l, nil
}

func batchSource(src *source) BatchSource {
	b := BatchSource{Name: src.Name, Region: src.Region, Account: src.Account, Tags: src.Tags, Lookup: src.lookup}
	for _, region := range slices.Sorted(maps.Keys(src.Records)) {
		b.Records = append(b.Records, *src.Records[region])
	}
	return b
}

func (b BatchSource) source() *source {
	src := &source{Name: b.Name, Region: b.Region, Account: b.Account, Tags: b.Tags, lookup: b.Lookup, Records: map[string]*inventory.Mirror{}}
	if src.Tags == nil && !b.Lookup {
		src.Tags = map[string]string{}
	}
	for i := range b.Records {
		src.Records[b.Records[i].Place()] = &b.Records[i]
	}
	return src
}

// ReconcileBatch is one child of the full sweep: it reconciles the batch's
// sources exactly as Sweep would (same decisions, leases, backoff, events),
// stops taking new ones before its deadline, and returns the counts. Its
// own log line and EMF metrics (scope batch) carry the details.
func (s *Sweeper) ReconcileBatch(ctx context.Context, b Batch) (BatchSummary, error) {
	began := s.now()
	r := &run{Sweeper: s, owner: s.cfg.Owner + "-" + randomHex(4), pub: &publisher{client: s.events, bus: s.cfg.EventBus},
		skipDestinations: !b.ReadDestinations}
	work := make([]*source, 0, len(b.Sources))
	for _, bs := range b.Sources {
		if bs.Name == "" {
			return BatchSummary{}, &InvalidEventError{Reason: fmt.Sprintf("batch %d of sweep %s has a source without a name", b.Index, b.Sweep)}
		}
		work = append(work, bs.source())
	}
	r.process(ctx, work)
	r.pub.flush(ctx)
	sum := r.summary("batch", s.now().Sub(began))
	s.report(ctx, sum)
	out := BatchSummary{Batch: b.Index, Counts: sum.Counts, EventsPublished: sum.EventsPublished,
		EventsFailed: sum.EventsFailed, DurationMS: sum.DurationMS, AccountErrors: sum.AccountErrors}
	for _, d := range sum.Decisions {
		if d.Action == ActionFailed && len(out.FailedSources) < namesPerBatch && !slices.Contains(out.FailedSources, d.Source) {
			out.FailedSources = append(out.FailedSources, d.Source)
		}
	}
	out.UnreachedNames = sum.UnreachedSources[:min(len(sum.UnreachedSources), namesPerBatch)]
	return out, nil
}

// Aggregate is the full sweep's last step: it adds the batches' summaries
// into one Summary (scope full, via distributed-map), finds the batches
// whose child failed and counts their sources unreached (reading the
// manifest for their names), and logs it and writes its EMF metrics as a
// Lambda sweep does. Failed batches within the Map's tolerance are
// reported, not an error; it returns a *SweepError, after reporting, when
// the listing missed a Region or the Map itself failed: the state machine
// then fails and its alarm fires.
func (s *Sweeper) Aggregate(ctx context.Context, req AggregateRequest) (Summary, error) {
	sum := Summary{Scope: "full", Via: "distributed-map", Batches: req.Listing.Batches, Decisions: []Decision{},
		Accounts: req.Listing.Accounts, AccountErrors: slices.Clone(req.Listing.AccountErrors)}
	seen := map[int]bool{}
	var durationMS int64
	var errs []error
	for _, raw := range req.Results {
		var b BatchSummary
		// A failed child's result is null or an error object, which has
		// no "batch" field: decode strictly enough to tell them apart.
		if len(raw) == 0 || string(raw) == "null" || !bytes.Contains(raw, []byte(`"batch"`)) || json.Unmarshal(raw, &b) != nil {
			continue
		}
		if b.Batch < 0 || b.Batch >= req.Listing.Batches || seen[b.Batch] {
			continue
		}
		seen[b.Batch] = true
		sum.Counts.add(b.Counts)
		sum.EventsPublished += b.EventsPublished
		sum.EventsFailed += b.EventsFailed
		durationMS = max(durationMS, b.DurationMS)
		sum.UnreachedSources = appendBounded(sum.UnreachedSources, b.UnreachedNames...)
		for _, e := range b.AccountErrors {
			if !slices.ContainsFunc(sum.AccountErrors, func(have AccountError) bool { return have.Account == e.Account }) {
				sum.AccountErrors = append(sum.AccountErrors, e)
				errs = append(errs, errors.New(e.Error))
			}
		}
	}
	slices.SortFunc(sum.AccountErrors, func(a, b AccountError) int { return cmp.Compare(a.Account, b.Account) })
	for i := range req.Listing.Batches {
		if !seen[i] {
			sum.FailedBatches = append(sum.FailedBatches, i)
		}
	}
	for _, e := range req.Listing.Errors {
		errs = append(errs, errors.New(e))
	}
	if len(sum.FailedBatches) > 0 {
		n, names, err := s.batchSources(ctx, req.Listing, sum.FailedBatches)
		if err != nil {
			errs = append(errs, err)
		}
		// Tolerated (the Map's ToleratedFailurePercentage): counted and
		// named, the FailedBatches metric's alarm fires, the next sweep
		// gets to them; the sweep itself succeeds.
		sum.Unreached += n
		sum.UnreachedSources = appendBounded(sum.UnreachedSources, names...)
		s.Log.WarnContext(ctx, "sweep batches failed", "sweep", req.Listing.Sweep, "failedBatches", sum.FailedBatches,
			"of", req.Listing.Batches, "unreached", n)
	}
	if len(req.MapError) > 0 && string(req.MapError) != "null" {
		errs = append(errs, fmt.Errorf("the Distributed Map of sweep %s failed: %s", req.Listing.Sweep, req.MapError))
	}
	sum.DurationMS = req.Listing.ListMS + durationMS
	// The sweep's own events go out before the report, so that a failure
	// to publish them is counted and logged with the rest: one per
	// unreachable account (the children leave these to the aggregate, one
	// per account and sweep however many batches met the account), and the
	// Sweep Finished event.
	r := &run{Sweeper: s, pub: &publisher{client: s.events, bus: s.cfg.EventBus}}
	if len(sum.AccountErrors) > 0 {
		r.publishAccountErrors(ctx, sum.AccountErrors)
	}
	r.pub.addSweep(ctx, req.Listing.Sweep, sum, errors.Join(errs...))
	r.pub.flush(ctx)
	published, failures := r.pub.result()
	sum.EventsPublished += published
	sum.EventsFailed += r.pub.failedCount()
	// The batches' event errors are in their own log lines.
	sum.EventErrors = joinFailures(failures)
	s.report(ctx, sum)
	if len(errs) > 0 {
		return sum, &SweepError{Message: errors.Join(errs...).Error()}
	}
	return sum, nil
}

// batchSources counts the sources of the given batches in the manifest and
// names the first of them.
func (s *Sweeper) batchSources(ctx context.Context, l Listing, indexes []int) (int, []string, error) {
	if l.Inline {
		n, names := countSources(l.Items, indexes)
		return n, names, nil
	}
	out, err := s.clients.S3(s.home).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(l.Bucket), Key: aws.String(l.Key)})
	if err != nil {
		return 0, nil, fmt.Errorf("reading the sweep manifest s3://%s/%s for the failed batches: %w", l.Bucket, l.Key, err)
	}
	defer out.Body.Close()
	raw, err := io.ReadAll(out.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("reading the sweep manifest s3://%s/%s: %w", l.Bucket, l.Key, err)
	}
	var batches []Batch
	if err := json.Unmarshal(raw, &batches); err != nil {
		return 0, nil, fmt.Errorf("decoding the sweep manifest s3://%s/%s: %w", l.Bucket, l.Key, err)
	}
	n, names := countSources(batches, indexes)
	return n, names, nil
}

// countSources counts the sources of the given batches and names the first
// of them.
func countSources(batches []Batch, indexes []int) (int, []string) {
	n := 0
	var names []string
	for _, b := range batches {
		if slices.Contains(indexes, b.Index) {
			n += len(b.Sources)
			for _, src := range b.Sources {
				names = appendBounded(names, src.Name)
			}
		}
	}
	return n, names
}

func appendBounded(names []string, more ...string) []string {
	for _, n := range more {
		if len(names) >= maxLoggedDecisions {
			break
		}
		names = append(names, n)
	}
	return names
}

// FullSweepHandler serves the sweep state machine's three Lambda steps.
type FullSweepHandler struct {
	Sweeper *Sweeper
}

// Shapes the full sweep's steps take (the sweep state machine's Parameters
// in statemachine/sweep.asl.json), for their refusals.
const (
	ListEventShape      = `{"sweep": "<execution name>"} (the sweep state machine's ListSources step)`
	BatchEventShape     = `a batch of the manifest {"sweep": ..., "batch": N, "readDestinations": bool, "sources": [...]} (one item of the Distributed Map)`
	AggregateEventShape = `{"listing": <the list step's result>, "results": [...], "mapError": ...} (the sweep state machine's Aggregate step)`
)

// refuse logs an event a full-sweep step does not take, once, and names
// the shape it does.
func (h *FullSweepHandler) refuse(ctx context.Context, function, expected string) error {
	err := &InvalidEventError{Reason: "the " + function + " function takes " + expected}
	h.Sweeper.Log.ErrorContext(ctx, "event refused", "function", function, "error", err)
	return err
}

// List is the list function's handler. An event without the sweep's name
// is not the state machine's (a CloudTrail or direct sweep event sent to
// the wrong function): refused before any listing is written.
func (h *FullSweepHandler) List(ctx context.Context, req ListRequest) (Listing, error) {
	if req.Sweep == "" {
		return Listing{}, h.refuse(ctx, "sweep-list", ListEventShape)
	}
	l, err := h.Sweeper.List(ctx, req)
	if err != nil {
		h.Sweeper.Log.ErrorContext(ctx, "sweep listing failed", "error", err)
		return l, &SweepError{Message: err.Error()}
	}
	return l, nil
}

// Batch is the reconcile-batch function's handler.
func (h *FullSweepHandler) Batch(ctx context.Context, b Batch) (BatchSummary, error) {
	// The list step never writes an empty batch.
	if len(b.Sources) == 0 || b.Sweep == "" {
		return BatchSummary{}, h.refuse(ctx, "sweep-batch", BatchEventShape)
	}
	return h.Sweeper.ReconcileBatch(ctx, b)
}

// Aggregate is the aggregate function's handler. Without the list step's
// result there is nothing to add up.
func (h *FullSweepHandler) Aggregate(ctx context.Context, req AggregateRequest) (Summary, error) {
	if req.Listing.Sweep == "" {
		return Summary{}, h.refuse(ctx, "sweep-aggregate", AggregateEventShape)
	}
	sum, err := h.Sweeper.Aggregate(ctx, req)
	if err != nil {
		h.Sweeper.Log.ErrorContext(ctx, "sweep incomplete", "sweep", req.Listing.Sweep, "error", err)
	}
	return sum, err
}

// ListLambda, BatchLambda and AggregateLambda are the three steps' Lambda
// handlers: a body that is not a JSON object, or has a field the step's
// input does not (its input is exactly what the state machine's
// Parameters, or the list step's manifest, make), is refused with a
// MalformedEventError naming the shape, as the other functions do.
func (h *FullSweepHandler) ListLambda() mirror.EventHandler[ListRequest, Listing] {
	return mirror.EventHandler[ListRequest, Listing]{Function: "sweep-list", Strict: true, Expected: ListEventShape, Log: h.Sweeper.Log, Handle: h.List}
}

// BatchLambda: see ListLambda.
func (h *FullSweepHandler) BatchLambda() mirror.EventHandler[Batch, BatchSummary] {
	return mirror.EventHandler[Batch, BatchSummary]{Function: "sweep-batch", Strict: true, Expected: BatchEventShape, Log: h.Sweeper.Log, Handle: h.Batch}
}

// AggregateLambda: see ListLambda.
func (h *FullSweepHandler) AggregateLambda() mirror.EventHandler[AggregateRequest, Summary] {
	return mirror.EventHandler[AggregateRequest, Summary]{Function: "sweep-aggregate", Strict: true, Expected: AggregateEventShape, Log: h.Sweeper.Log, Handle: h.Aggregate}
}
