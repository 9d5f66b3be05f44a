// Package sweep is bucketmirror's reconciler. It finds the source buckets
// tagged <prefix>destination-regions, decides per source × Region whether
// the mirror needs a run — new, source changed (drift), destination changed
// or deleted (repair) — and starts one under a deterministic name and a
// DynamoDB lease; unchanged mirrors are skipped without a single write.
// Mirrors whose source dropped the tag are marked DETACHED (the destination
// is kept), bad tag values INVALID. Every sweep ends with a Summary, logged
// as one JSON line and published as EMF metrics; inventory changes are
// published as EventBridge events.
package sweep

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/emf"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

// Decision actions; every decision has exactly one, and the Summary counts
// them.
const (
	ActionStarted  = "started"
	ActionSkipped  = "skipped"
	ActionFailed   = "failed"
	ActionInvalid  = "invalid"
	ActionDetached = "detached"
)

// Counts are a sweep's tallies, the same in its Summary, in a full sweep
// batch's BatchSummary and in the Sweep Finished event (embedded, so the
// JSON fields are theirs).
type Counts struct {
	// Scanned counts the buckets looked at.
	Scanned  int `json:"scanned"`
	Started  int `json:"started"`
	Skipped  int `json:"skipped"`
	Failed   int `json:"failed"`
	Invalid  int `json:"invalid"`
	Detached int `json:"detached"`
	// Unreached counts the sources skipped for want of time (reason
	// deadline, or a batch of the full sweep that failed): the next sweep
	// gets to them.
	Unreached int `json:"unreached"`
}

func (c *Counts) add(o Counts) {
	c.Scanned += o.Scanned
	c.Started += o.Started
	c.Skipped += o.Skipped
	c.Failed += o.Failed
	c.Invalid += o.Invalid
	c.Detached += o.Detached
	c.Unreached += o.Unreached
}

// Decision is what the sweep did about one source × destination Region.
type Decision struct {
	Source       string `json:"source"`
	SourceRegion string `json:"sourceRegion,omitempty"`
	// SourceAccount is the account the source is in (set when the sweep
	// looks in more accounts than the deployment's own).
	SourceAccount string `json:"sourceAccount,omitempty"`
	// Region is the destination Region ("" for decisions about the bucket
	// as a whole, such as skipping a destination bucket).
	Region string `json:"region,omitempty"`
	Dest   string `json:"dest,omitempty"`
	Action string `json:"action"`
	// Reason says why: for started (and failed) runs new, source-changed,
	// destination-changed, destination-missing, destination-renamed, retry,
	// tag-fixed, reattached, stalled; for skipped ones unchanged,
	// in-progress, failed-backoff, lease-held, changed-concurrently, is-destination,
	// not-tagged, not-found, account-unreachable; for detached tag-removed, region-removed,
	// source-deleted; invalid-tag for invalid.
	Reason string `json:"reason"`
	// Kinds are the configuration kinds a targeted decision compared (and
	// its run applies); empty when every kind was.
	Kinds     []string `json:"kinds,omitempty"`
	Execution string   `json:"execution,omitempty"`
	// ExecutionARN is the Step Functions execution a started run is (empty
	// for in-process runs).
	ExecutionARN string `json:"executionArn,omitempty"`
	SourceHash   string `json:"sourceHash,omitempty"`
	Error        string `json:"error,omitempty"`
	// ExecutionStatus and ExecutionError are the execution's final status
	// and "Error: cause", once waited for (`sweep --wait`).
	ExecutionStatus string `json:"executionStatus,omitempty"`
	ExecutionError  string `json:"executionError,omitempty"`
}

// Summary is the outcome of one sweep. Started+Skipped+Failed+Invalid+
// Detached = len(Decisions).
type Summary struct {
	// Scope is "full" (every tagged bucket) or "targeted" (named buckets).
	Scope string `json:"scope"`
	Counts
	// UnreachedSources names the first sources Unreached counts.
	UnreachedSources []string `json:"unreachedSources,omitempty"`
	// Via is how a full sweep ran: "lambda" (one sweep invocation) or
	// "distributed-map" (the sweep state machine); Batches and
	// FailedBatches count the latter's items.
	Via           string `json:"via,omitempty"`
	Batches       int    `json:"batches,omitempty"`
	FailedBatches []int  `json:"failedBatches,omitempty"`
	// EventsPublished and EventsFailed count EventBridge entries; failed
	// ones were retried (bounded) and are described in EventErrors.
	EventsPublished int    `json:"eventsPublished"`
	EventsFailed    int    `json:"eventsFailed"`
	EventErrors     string `json:"eventErrors,omitempty"`
	// Accounts counts the accounts looked in for sources (BUCKETMIRROR_ACCOUNTS;
	// 1 for the deployment's own), AccountErrors the ones that could not be:
	// the member role missing or denying, each with the AWS error code.
	Accounts      int            `json:"accounts,omitempty"`
	AccountErrors []AccountError `json:"accountErrors,omitempty"`
	DurationMS    int64          `json:"durationMs"`
	Decisions     []Decision     `json:"decisions"`
}

// Sweeper reconciles tagged buckets. Build it with New; Log, Metrics,
// Progress and Now may be changed before the first Sweep.
type Sweeper struct {
	cfg     Config
	home    string
	clients *awsclient.Clients
	engine  *bucketconfig.Engine
	store   *inventory.Store
	starter Starter
	awsCfg  aws.Config
	events  PutEventsAPI

	viewsMu sync.Mutex
	views   map[string]*accountView

	// orgMu guards the Organization's ACTIVE accounts as last listed
	// (orgAt), which admit change events (admitAccount).
	orgMu       sync.Mutex
	orgAccounts []string
	orgAt       time.Time

	// Log receives the summary line (and decisions at debug level).
	Log *slog.Logger
	// Metrics receives the EMF line (os.Stdout, where Lambda sends it to
	// CloudWatch); nil writes none — the CLI's --json needs stdout to itself.
	Metrics io.Writer
	// Progress, when set, is called after each decision, one at a time.
	Progress func(Decision)
	// Now is the clock (time.Now by default).
	Now func() time.Time
}

// New wires a Sweeper from one loaded aws.Config (its Region is the home
// Region) and the Mirrorer whose engine, store and S3 clients it shares.
// starter is an SFNStarter (deployed state machine) or a LocalStarter
// (in-process, `sweep --local`).
func New(cfg aws.Config, c Config, m *mirror.Mirrorer, starter Starter, log *slog.Logger) (*Sweeper, error) {
	c = c.withDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	if m.TagPrefix != "" && m.TagPrefix != c.TagPrefix {
		return nil, fmt.Errorf("sweep tag prefix %q differs from the mirrorer's %q", c.TagPrefix, m.TagPrefix)
	}
	if starter == nil {
		return nil, errors.New("sweep needs a starter (SFNStarter or LocalStarter)")
	}
	if log == nil {
		log = slog.Default()
	}
	if m.Clients.Account() == "" {
		// Clients that do not know the deployment's account cannot act in
		// another one; teach them (the mirrorer shares them).
		m.Clients.WithMemberRole(c.AccountID, c.Member)
	}
	s := &Sweeper{
		cfg: c, home: cfg.Region, clients: m.Clients, engine: m.Engine, store: m.Store, starter: starter,
		awsCfg: cfg, views: map[string]*accountView{},
		events: eventbridge.NewFromConfig(cfg),
		Log:    log, Metrics: os.Stdout, Now: time.Now,
	}
	return s, nil
}

// Config returns the effective configuration.
func (s *Sweeper) Config() Config { return s.cfg }

func (s *Sweeper) mode() string {
	if isSynchronous(s.starter) {
		return "local"
	}
	return "stepfunctions"
}

func isSynchronous(st Starter) bool {
	sy, ok := st.(synchronous)
	return ok && sy.Synchronous()
}

// source is one bucket under reconciliation.
type source struct {
	Name   string
	Region string // "" until known
	// Account is the account the bucket is in ("" until known: the
	// deployment's own unless its records say otherwise).
	Account string
	Tags    map[string]string
	// Records are the bucket's mirror records by destination Region; nil
	// until loaded (the full sweep has them from its inventory scan).
	Records map[string]*inventory.Mirror
	// lookup: read Region and tags from S3 itself instead of trusting the
	// Tagging API (named buckets, and inventory sources it did not list).
	lookup bool
	// seenIn are the Regions whose Tagging API listed the bucket.
	seenIn []string
	gone   bool
	// change is set when a change event named the bucket: a destination is
	// then reconciled as the mirror it belongs to, and only change.Kinds
	// are compared (nil: every kind).
	change *Change
	// regionHinted: Region came from the event, not from S3.
	regionHinted bool
	// onlyRegion restricts the reconcile to the mirror in this destination
	// Region (an event about that destination).
	onlyRegion string
}

// Change is what a CloudTrail event says changed.
type Change struct {
	// Bucket is the bucket the call named: a source or a destination.
	Bucket string
	// Region is where the call was made (a hint; "" looks it up).
	Region string
	// Kinds are the configuration kinds the call can have changed; nil
	// means every kind.
	Kinds []string
	// Account is the account the bucket is in ("" or the deployment's own:
	// here). The handler admits only the deployment's accounts
	// (admitAccount).
	Account string
}

// run is the state of one Sweep call.
type run struct {
	*Sweeper
	owner string
	pub   *publisher
	// retryFailed ignores the failure backoff.
	retryFailed bool
	// skipDestinations: a full sweep round that compares unchanged
	// sources with their records only (Config.DestinationReadEvery).
	skipDestinations bool

	mu        sync.Mutex
	scanned   int
	decisions []Decision
	// accounts counts the accounts looked in; unreachable are the ones that
	// could not be (see reach).
	accountCount int
	unreachable  map[string]AccountError
	// sourceAccounts names each source's account, for its decisions.
	sourceAccounts map[string]string
	// regionWanted are the inventory's sources (true: no record says the
	// source's Region) and listedRegion the Regions ListBuckets gave for
	// those: a full sweep keeps no Region of the account's other buckets.
	regionWanted map[string]bool
	listedRegion map[string]string
}

// Sweep reconciles every tagged bucket (buckets == nil) or just the named
// ones (a CloudTrail event, a direct invoke). Per-bucket failures are
// counted in the Summary and the sweep goes on with the others; the error is
// for what kept it from looking at every bucket (a Tagging API Region that
// failed, the inventory scan).
func (s *Sweeper) Sweep(ctx context.Context, buckets []string) (Summary, error) {
	return s.sweep(ctx, buckets, false)
}

// SweepRetryingFailed is Sweep, except that FAILED mirrors are retried at
// once instead of waiting out their backoff: for an operator who fixed the
// cause outside the source (a direct invoke, `sweep --retry-failed`).
func (s *Sweeper) SweepRetryingFailed(ctx context.Context, buckets []string) (Summary, error) {
	return s.sweep(ctx, buckets, true)
}

// SweepChange reconciles the mirrors a change event touches: the bucket's
// own mirrors if it is a source, the mirror it belongs to if it is a
// destination (tag <prefix>source), comparing and applying only
// change.Kinds on both sides.
func (s *Sweeper) SweepChange(ctx context.Context, change Change) (Summary, error) {
	began := s.now()
	r := &run{Sweeper: s, owner: s.cfg.Owner + "-" + randomHex(4), pub: &publisher{client: s.events, bus: s.cfg.EventBus}}
	src := &source{Name: change.Bucket, Account: change.Account, lookup: true, change: &change}
	if change.Region != "" && mirror.ValidateRegion(change.Region) == nil {
		src.Region, src.regionHinted = change.Region, true
	}
	r.process(ctx, []*source{src})
	r.publishAccountErrors(ctx, r.accountErrors())
	r.pub.flush(ctx)
	sum := r.summary("targeted", s.now().Sub(began))
	s.report(ctx, sum)
	return sum, nil
}

func (s *Sweeper) sweep(ctx context.Context, buckets []string, retryFailed bool) (Summary, error) {
	began := s.now()
	r := &run{Sweeper: s, owner: s.cfg.Owner + "-" + randomHex(4), pub: &publisher{client: s.events, bus: s.cfg.EventBus}, retryFailed: retryFailed}
	scope := "full"
	var work []*source
	var errs []error
	if buckets == nil {
		var err error
		if work, errs, err = r.selectAll(ctx); err != nil {
			return Summary{Scope: scope}, err
		}
	} else {
		scope = "targeted"
		for _, b := range slices.Compact(slices.Sorted(slices.Values(buckets))) {
			work = append(work, &source{Name: b, lookup: true})
		}
	}
	r.process(ctx, work)
	for _, e := range r.accountErrors() {
		r.publishAccountErrors(ctx, []AccountError{e})
		errs = append(errs, errors.New(e.Error))
	}
	r.pub.flush(ctx)
	sum := r.summary(scope, s.now().Sub(began))
	if scope == "full" {
		sum.Via = "lambda"
	}
	s.report(ctx, sum)
	return sum, errors.Join(errs...)
}

func (s *Sweeper) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// process reconciles the sources, Config.Concurrency at a time. It stops
// taking new sources DeadlineMargin before ctx's deadline (a Lambda's
// timeout): the ones in flight finish and release their leases, the rest
// are recorded unreached (skipped, reason deadline) for the next sweep,
// instead of the runtime killing the invocation with leases held.
func (r *run) process(ctx context.Context, work []*source) {
	sem := make(chan struct{}, r.cfg.Concurrency)
	var wg sync.WaitGroup
	for i, src := range work {
		sem <- struct{}{}
		if r.outOfTime(ctx) {
			<-sem
			for _, rest := range work[i:] {
				r.record(Decision{Source: rest.Name, SourceRegion: rest.Region, Action: ActionSkipped, Reason: ReasonDeadline})
			}
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r.reconcile(ctx, src)
		}()
	}
	wg.Wait()
}

// ReasonDeadline marks a source a sweep did not reach before its deadline.
const ReasonDeadline = "deadline"

// outOfTime says the sweep must take no new source: ctx is done or its
// deadline is less than DeadlineMargin away.
func (r *run) outOfTime(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	deadline, ok := ctx.Deadline()
	return ok && time.Until(deadline) < r.cfg.DeadlineMargin
}

// record adds a decision; Progress sees decisions one at a time.
func (r *run) record(d Decision) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d.SourceAccount == "" {
		d.SourceAccount = r.sourceAccounts[d.Source]
	}
	r.decisions = append(r.decisions, d)
	r.Log.Debug("sweep decision", "bucket", d.Source, "region", d.Region, "action", d.Action, "reason", d.Reason, "run", d.Execution, "error", d.Error)
	if r.Progress != nil {
		r.Progress(d)
	}
}

func (r *run) summary(scope string, took time.Duration) Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	sum := Summary{Scope: scope, Counts: Counts{Scanned: r.scanned}, DurationMS: took.Milliseconds(), Decisions: slices.Clone(r.decisions),
		Accounts: r.accountCount, AccountErrors: sortedAccountErrors(r.unreachable)}
	slices.SortStableFunc(sum.Decisions, func(a, b Decision) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Region, b.Region))
	})
	for _, d := range sum.Decisions {
		switch d.Action {
		case ActionStarted:
			sum.Started++
		case ActionSkipped:
			sum.Skipped++
			if d.Reason == ReasonDeadline {
				sum.Unreached++
				if len(sum.UnreachedSources) < maxLoggedDecisions {
					sum.UnreachedSources = append(sum.UnreachedSources, d.Source)
				}
			}
		case ActionFailed:
			sum.Failed++
		case ActionInvalid:
			sum.Invalid++
		case ActionDetached:
			sum.Detached++
		}
	}
	published, failures := r.pub.result()
	sum.EventsPublished, sum.EventsFailed = published, r.pub.failedCount()
	sum.EventErrors = joinFailures(failures)
	if sum.Decisions == nil {
		sum.Decisions = []Decision{}
	}
	return sum
}

// maxLoggedDecisions bounds the summary log line (a CloudWatch Logs event
// holds 256 KB); unchanged buckets are never listed.
const maxLoggedDecisions = 100

// report logs the summary as one JSON line and writes its EMF metrics.
func (s *Sweeper) report(ctx context.Context, sum Summary) {
	var notable []Decision
	for _, d := range sum.Decisions {
		if d.Reason != "unchanged" && len(notable) < maxLoggedDecisions {
			notable = append(notable, d)
		}
	}
	level := slog.LevelInfo
	if sum.Failed > 0 || sum.EventsFailed > 0 || sum.Unreached > 0 || len(sum.AccountErrors) > 0 {
		level = slog.LevelWarn
	}
	s.Log.LogAttrs(ctx, level, "sweep finished",
		slog.String("scope", sum.Scope), slog.Int("scanned", sum.Scanned), slog.Int("started", sum.Started),
		slog.Int("skipped", sum.Skipped), slog.Int("failed", sum.Failed), slog.Int("invalid", sum.Invalid),
		slog.Int("detached", sum.Detached), slog.Int("unreached", sum.Unreached), slog.Any("unreachedSources", sum.UnreachedSources),
		slog.String("via", sum.Via), slog.Int("batches", sum.Batches), slog.Any("failedBatches", sum.FailedBatches),
		slog.Int("accounts", sum.Accounts), slog.Any("accountErrors", sum.AccountErrors),
		slog.Int("eventsPublished", sum.EventsPublished),
		slog.Int("eventsFailed", sum.EventsFailed), slog.String("eventErrors", sum.EventErrors),
		slog.Int64("durationMs", sum.DurationMS), slog.Any("decisions", notable))
	if s.Metrics == nil {
		return
	}
	err := emf.Write(s.Metrics, s.now(), [][2]string{{"Scope", sum.Scope}}, []emf.Metric{
		emf.Count("Scanned", sum.Scanned),
		emf.Count("Started", sum.Started),
		emf.Count("Skipped", sum.Skipped),
		emf.Count("Failed", sum.Failed),
		emf.Count("Invalid", sum.Invalid),
		emf.Count("Detached", sum.Detached),
		emf.Count("Unreached", sum.Unreached),
		emf.Count("FailedBatches", len(sum.FailedBatches)),
		emf.Count("AccountsFailed", len(sum.AccountErrors)),
		emf.Count("EventsFailed", sum.EventsFailed),
		emf.Milliseconds("Duration", time.Duration(sum.DurationMS)*time.Millisecond),
	})
	if err != nil {
		s.Log.Warn("writing sweep metrics", "error", err)
	}
}
