package sweep

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// EventSource is the source of every event the sweep publishes; a rule
// pattern {"source":["bucketmirror"]} receives them all.
const EventSource = "bucketmirror"

// Detail types of the sweep's events. Every event's detail is an
// EventDetail; each type's comment says which fields it carries. resources
// holds the source bucket's ARN and, when known, the destination's.
const (
	// DetailDriftDetected: a FINISHED mirror no longer matches — the source
	// changed since it was applied, or the destination was changed or
	// deleted behind bucketmirror's back. Fields: source, sourceRegion,
	// region, dest, reason (source-changed | destination-changed |
	// destination-missing), appliedHash, sourceHash, and for the destination
	// reasons recordedDestHash and observedDestHash. A Run Started follows.
	DetailDriftDetected = "Mirror Drift Detected"
	// DetailRunStarted: a run was started. Fields: source, sourceRegion,
	// region, dest (empty for a new mirror with a derived name), reason (new
	// | source-changed | destination-changed | destination-missing |
	// destination-renamed | retry | tag-fixed | reattached | stalled),
	// execution (the deterministic execution name, also the run id),
	// sourceHash, mode (stepfunctions | local).
	DetailRunStarted = "Mirror Run Started"
	// DetailRunFinished: a run finished. Fields: source, sourceRegion,
	// region, dest, execution, mode; in-process runs (sweep --local) add
	// sourceHash (the hash now applied); the state machine's
	// PublishRunFinished state adds sourceArn.
	DetailRunFinished = "Mirror Run Finished"
	// DetailRunFailed: starting a run failed, or a run failed. Fields:
	// source, sourceRegion, region, dest, execution, mode, stage (start |
	// run), error; the state machine's PublishRunFailed state sends
	// sourceArn, region, execution, mode and error ("ErrorName: cause").
	DetailRunFailed = "Mirror Run Failed"
	// DetailDetached: the source no longer asks for this mirror; the
	// destination is kept, bucketmirror stops updating it. Fields: source,
	// region, dest, reason (tag-removed | region-removed | source-deleted),
	// previousStatus.
	DetailDetached = "Mirror Detached"
	// DetailInvalid: a source's tag value cannot be acted on; sent when the
	// INVALID record is written, not on every sweep. Fields: source,
	// sourceRegion, region (the offending token, "-" when the value names no
	// Region), error (names the bucket and the value).
	DetailInvalid = "Mirror Invalid"
	// DetailAccountUnreachable: the sweep could not look for sources in an
	// account (BUCKETMIRROR_ACCOUNTS): its member role is missing, does not
	// trust this deployment, or denies the listing; the other accounts were
	// swept. Sent once per sweep and account. Fields: account, role (the
	// member role's ARN), errorCode (the AWS error code, e.g. AccessDenied),
	// error. resources holds the role's ARN.
	DetailAccountUnreachable = "Sweep Account Unreachable"
	// DetailSweepFinished: a full sweep on the sweep state machine ended
	// (its aggregate step publishes it, failed or not), one event per sweep.
	// Its detail is a SweepEventDetail, not an EventDetail; resources is
	// empty.
	DetailSweepFinished = "Sweep Finished"
)

// SweepEventDetail is the detail of a Sweep Finished event: the sweep's
// Summary without its decisions (the per-mirror events carry those), and
// what made it incomplete.
type SweepEventDetail struct {
	// Sweep is the sweep state machine's execution name.
	Sweep string `json:"sweep"`
	Scope string `json:"scope"`
	Via   string `json:"via"`
	Counts
	UnreachedSources []string `json:"unreachedSources,omitempty"`
	Batches          int      `json:"batches"`
	FailedBatches    []int    `json:"failedBatches,omitempty"`
	EventsPublished  int      `json:"eventsPublished"`
	EventsFailed     int      `json:"eventsFailed"`
	DurationMS       int64    `json:"durationMs"`
	// Complete is false when the sweep did not look at every source: a
	// Tagging API Region failed, or the Distributed Map failed (more
	// failed batches than it tolerates); Error says which.
	Complete bool   `json:"complete"`
	Error    string `json:"error,omitempty"`
}

// sweepEventSources bounds the names a Sweep Finished event carries
// (an entry may be 256 KB).
const sweepEventSources = 20

// EventDetail is the detail of every event the sweep publishes; which
// fields are set depends on the detail type (see the Detail* constants).
type EventDetail struct {
	Source           string `json:"source,omitempty"`
	SourceARN        string `json:"sourceArn,omitempty"` // set by the state machine's events
	SourceRegion     string `json:"sourceRegion,omitempty"`
	Region           string `json:"region"`
	Dest             string `json:"dest,omitempty"`
	Reason           string `json:"reason,omitempty"`
	Execution        string `json:"execution,omitempty"`
	Mode             string `json:"mode,omitempty"`
	Stage            string `json:"stage,omitempty"`
	AppliedHash      string `json:"appliedHash,omitempty"`
	SourceHash       string `json:"sourceHash,omitempty"`
	RecordedDestHash string `json:"recordedDestHash,omitempty"`
	ObservedDestHash string `json:"observedDestHash,omitempty"`
	PreviousStatus   string `json:"previousStatus,omitempty"`
	Error            string `json:"error,omitempty"`
	Account          string `json:"account,omitempty"`
	Role             string `json:"role,omitempty"`
	ErrorCode        string `json:"errorCode,omitempty"`
}

// PutEventsAPI is the part of the EventBridge client the publisher uses.
type PutEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Batching and retry bounds of PutEvents.
const (
	maxEntriesPerPut = 10 // PutEvents' limit
	maxPutAttempts   = 4  // per entry: the first try and three retries
	putRetryBase     = 200 * time.Millisecond
)

// permanentEntryCodes are per-entry failures that a retry cannot fix.
var permanentEntryCodes = map[string]bool{"InvalidArgument": true, "MalformedDetail": true, "AccessDeniedException": true}

// publisher batches events into PutEvents calls of up to ten entries and
// retries the entries a call reports failed (FailedEntryCount), bounded.
type publisher struct {
	client PutEventsAPI
	bus    string

	mu        sync.Mutex
	buf       []ebtypes.PutEventsRequestEntry
	published int
	failed    []string // one line per entry given up on
}

func (p *publisher) add(ctx context.Context, detailType string, d EventDetail) {
	raw, err := json.Marshal(d)
	if err != nil {
		p.recordFailure(1, fmt.Sprintf("%s of %s: encoding detail: %v", detailType, d.Source, err))
		return
	}
	var resources []string
	switch {
	case d.Source != "":
		resources = append(resources, "arn:aws:s3:::"+d.Source)
	case d.Role != "":
		resources = append(resources, d.Role)
	}
	if d.Dest != "" {
		resources = append(resources, "arn:aws:s3:::"+d.Dest)
	}
	p.addRaw(ctx, detailType, raw, resources)
}

// addSweep queues the Sweep Finished event of sum.
func (p *publisher) addSweep(ctx context.Context, sweepID string, sum Summary, err error) {
	d := SweepEventDetail{Sweep: sweepID, Scope: sum.Scope, Via: sum.Via, Counts: sum.Counts,
		UnreachedSources: sum.UnreachedSources[:min(len(sum.UnreachedSources), sweepEventSources)],
		Batches:          sum.Batches, FailedBatches: sum.FailedBatches, EventsPublished: sum.EventsPublished,
		EventsFailed: sum.EventsFailed, DurationMS: sum.DurationMS, Complete: err == nil}
	if err != nil {
		d.Error = err.Error()
	}
	raw, jerr := json.Marshal(d)
	if jerr != nil {
		p.recordFailure(1, fmt.Sprintf("%s of %s: encoding detail: %v", DetailSweepFinished, sweepID, jerr))
		return
	}
	p.addRaw(ctx, DetailSweepFinished, raw, []string{})
}

func (p *publisher) addRaw(ctx context.Context, detailType string, raw []byte, resources []string) {
	entry := ebtypes.PutEventsRequestEntry{
		Source:       aws.String(EventSource),
		DetailType:   aws.String(detailType),
		Detail:       aws.String(string(raw)),
		EventBusName: aws.String(p.bus),
		Resources:    resources,
	}
	p.mu.Lock()
	p.buf = append(p.buf, entry)
	var batch []ebtypes.PutEventsRequestEntry
	if len(p.buf) >= maxEntriesPerPut {
		batch, p.buf = p.buf, nil
	}
	p.mu.Unlock()
	if batch != nil {
		p.send(ctx, batch)
	}
}

// flush sends what is buffered.
func (p *publisher) flush(ctx context.Context) {
	p.mu.Lock()
	batch := p.buf
	p.buf = nil
	p.mu.Unlock()
	if len(batch) > 0 {
		p.send(ctx, batch)
	}
}

func (p *publisher) send(ctx context.Context, batch []ebtypes.PutEventsRequestEntry) {
	pending := batch
	for attempt := 1; len(pending) > 0; attempt++ {
		out, err := p.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: pending})
		if err != nil {
			// The SDK already retried the call itself.
			p.recordFailure(len(pending), fmt.Sprintf("putting %d events on bus %s: %v", len(pending), p.bus, err))
			return
		}
		var retry []ebtypes.PutEventsRequestEntry
		var gaveUp []string
		for i, res := range out.Entries {
			if i >= len(pending) || res.ErrorCode == nil {
				continue
			}
			code := aws.ToString(res.ErrorCode)
			if permanentEntryCodes[code] || attempt >= maxPutAttempts {
				gaveUp = append(gaveUp, fmt.Sprintf("%s event on bus %s: %s: %s (after %d attempts)",
					aws.ToString(pending[i].DetailType), p.bus, code, aws.ToString(res.ErrorMessage), attempt))
				continue
			}
			retry = append(retry, pending[i])
		}
		p.mu.Lock()
		p.published += len(pending) - len(retry) - len(gaveUp)
		p.failed = append(p.failed, gaveUp...)
		p.mu.Unlock()
		pending = retry
		if len(pending) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			p.recordFailure(len(pending), fmt.Sprintf("putting %d events on bus %s: %v", len(pending), p.bus, ctx.Err()))
			return
		case <-time.After(putRetryBase << (attempt - 1)):
		}
	}
}

func (p *publisher) recordFailure(n int, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range n {
		p.failed = append(p.failed, msg)
	}
}

// result returns how many events were published and the failures, one
// distinct line each.
func (p *publisher) result() (int, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var distinct []string
	seen := map[string]bool{}
	for _, f := range p.failed {
		if !seen[f] {
			seen[f] = true
			distinct = append(distinct, f)
		}
	}
	return p.published, distinct
}

func (p *publisher) failedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.failed)
}

// joinFailures shortens a list of failures for a summary.
func joinFailures(fs []string) string {
	const shown = 5
	if len(fs) > shown {
		return strings.Join(fs[:shown], "; ") + fmt.Sprintf("; and %d more", len(fs)-shown)
	}
	return strings.Join(fs, "; ")
}
