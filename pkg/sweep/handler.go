package sweep

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"

	"github.com/aws/aws-lambda-go/events"

	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

// Detail types and sources of the EventBridge events the handler accepts.
const (
	scheduledDetailType = "Scheduled Event"
	scheduledSource     = "aws.events"
	cloudTrailType      = "AWS API Call via CloudTrail"
	s3EventSource       = "s3.amazonaws.com"
)

// InvalidEventError: the sweep function was invoked with an event it does
// not handle. Nothing was done; retrying the same event cannot help.
type InvalidEventError struct{ Reason string }

func (e *InvalidEventError) Error() string { return "invalid sweep event: " + e.Reason }

// SweepError: the sweep could not look at every bucket (a Tagging API
// Region or the inventory failed); what it could do is done and counted.
type SweepError struct{ Message string }

func (e *SweepError) Error() string { return e.Message }

// CloudTrailDetail is the part of an "AWS API Call via CloudTrail" event's
// detail the handler reads. The shape is CloudTrail's record format
// (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html);
// events/README.md lists the captured examples the tests use.
type CloudTrailDetail struct {
	EventSource string `json:"eventSource"`
	EventName   string `json:"eventName"`
	AWSRegion   string `json:"awsRegion"`
	ErrorCode   string `json:"errorCode,omitempty"`
	// RecipientAccountID is the account whose CloudTrail recorded the call:
	// the bucket's owner for a bucket call (CloudTrail record contents,
	// recipientAccountId). A forwarded event keeps it.
	RecipientAccountID string `json:"recipientAccountId,omitempty"`
	UserIdentity       struct {
		Type           string `json:"type"`
		ARN            string `json:"arn"`
		SessionContext struct {
			SessionIssuer struct {
				ARN string `json:"arn"`
			} `json:"sessionIssuer"`
		} `json:"sessionContext"`
	} `json:"userIdentity"`
	RequestParameters struct {
		BucketName string `json:"bucketName"`
		// ResourceARN is where S3 Control's TagResource and UntagResource
		// name the bucket (arn:aws:s3:::NAME for a general purpose bucket).
		ResourceARN string `json:"resourceArn"`
	} `json:"requestParameters"`
}

// bucket is the bucket the call was about, or "" when it names none (or
// names an S3 resource that is not a general purpose bucket).
func (d CloudTrailDetail) bucket() string {
	if d.RequestParameters.BucketName != "" {
		return d.RequestParameters.BucketName
	}
	name, _ := bucketOfARN(d.RequestParameters.ResourceARN)
	return name
}

// DirectRequest is the payload of a direct invoke: reconcile these buckets.
type DirectRequest struct {
	Buckets []string `json:"buckets"`
}

// Request is what an event asks the sweep to do.
type Request struct {
	// Trigger is scheduled, cloudtrail or direct.
	Trigger string
	// Buckets are the buckets to reconcile; nil means every tagged bucket.
	Buckets []string
	// Ignore says there is nothing to do (a CloudTrail call that failed),
	// and why.
	Ignore string
	// Kinds are the configuration kinds a CloudTrail call can have changed
	// (KindsOfEvent); nil means every kind.
	Kinds []string
	// Region is where the call was made (the bucket's Region for bucket
	// calls): a hint that saves looking the bucket up.
	Region string
	// Caller is the IAM role behind the call (sessionIssuer.arn), when the
	// caller used a role.
	Caller string
	// Event is the CloudTrail event name.
	Event string
	// Account is the account the bucket is in: detail.recipientAccountId,
	// else the envelope's account (EventBridge keeps the sending account's
	// id on an event forwarded to another account's bus); "" when neither
	// names one (the deployment's own).
	Account string
}

// ParseEvent classifies a sweep function payload: an EventBridge Scheduled
// Event (full sweep), an "AWS API Call via CloudTrail" event for one of
// the change events (that bucket, only the kinds the call can change), or {"buckets": [...]} (those buckets).
// Anything else is an *InvalidEventError.
func ParseEvent(raw []byte) (Request, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return Request{}, &InvalidEventError{Reason: fmt.Sprintf("not a JSON object: %v", err)}
	}
	if _, ok := probe["buckets"]; ok {
		var req DirectRequest
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return Request{}, &InvalidEventError{Reason: fmt.Sprintf(`a direct invoke is {"buckets": ["name", ...]}: %v`, err)}
		}
		if len(req.Buckets) == 0 {
			return Request{}, &InvalidEventError{Reason: `"buckets" names no bucket (a full sweep is the scheduled event)`}
		}
		return Request{Trigger: "direct", Buckets: req.Buckets}, nil
	}
	if _, ok := probe["detail-type"]; !ok {
		return Request{}, &InvalidEventError{Reason: `neither an EventBridge event (no "detail-type") nor a direct invoke {"buckets": [...]}`}
	}
	var ev events.CloudWatchEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return Request{}, &InvalidEventError{Reason: fmt.Sprintf("malformed EventBridge event: %v", err)}
	}
	switch {
	case ev.DetailType == scheduledDetailType && ev.Source == scheduledSource:
		return Request{Trigger: "scheduled"}, nil
	case ev.DetailType == cloudTrailType:
		var d CloudTrailDetail
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			return Request{}, &InvalidEventError{Reason: fmt.Sprintf("malformed CloudTrail detail: %v", err)}
		}
		kinds, known := KindsOfEvent(d.EventName)
		bucket := d.bucket()
		account := cmp.Or(d.RecipientAccountID, ev.AccountID)
		switch {
		case d.RecipientAccountID != "" && ev.AccountID != "" && d.RecipientAccountID != ev.AccountID:
			// The bucket's account is not knowable: the scheduled sweep,
			// which lists each account's own buckets, covers it.
			return Request{}, &InvalidEventError{Reason: fmt.Sprintf("CloudTrail event %s on %s: account %s and detail.recipientAccountId %s differ; the bucket's account is unknown",
				d.EventName, cmp.Or(bucket, "a bucket"), ev.AccountID, d.RecipientAccountID)}
		case account != "" && !accountRE.MatchString(account):
			return Request{}, &InvalidEventError{Reason: fmt.Sprintf("CloudTrail event %s: account %q is not a 12-digit AWS account id", d.EventName, account)}
		case d.EventSource != s3EventSource:
			return Request{}, &InvalidEventError{Reason: fmt.Sprintf("CloudTrail event from %q; only %s calls are handled", d.EventSource, s3EventSource)}
		case !known:
			return Request{}, &InvalidEventError{Reason: fmt.Sprintf("CloudTrail event %s is not a bucket configuration or tagging call", d.EventName)}
		case d.ErrorCode != "":
			return Request{Trigger: "cloudtrail", Event: d.EventName, Account: account, Ignore: fmt.Sprintf("%s on %s failed (%s): nothing changed", d.EventName, cmp.Or(bucket, "a bucket"), d.ErrorCode)}, nil
		case bucket == "" && d.RequestParameters.ResourceARN != "":
			// TagResource also tags access points, Storage Lens groups and
			// S3 Access Grants: none of them is a bucket to mirror.
			return Request{Trigger: "cloudtrail", Event: d.EventName, Account: account, Ignore: fmt.Sprintf("%s on %s: not a general purpose bucket", d.EventName, d.RequestParameters.ResourceARN)}, nil
		case bucket == "":
			return Request{}, &InvalidEventError{Reason: fmt.Sprintf("CloudTrail event %s names no bucket (requestParameters.bucketName or resourceArn)", d.EventName)}
		}
		return Request{Trigger: "cloudtrail", Event: d.EventName, Buckets: []string{bucket}, Kinds: kinds,
			Region: d.AWSRegion, Caller: d.UserIdentity.SessionContext.SessionIssuer.ARN, Account: account}, nil
	}
	return Request{}, &InvalidEventError{Reason: fmt.Sprintf("EventBridge event %q from %q is neither a Scheduled Event nor an S3 AWS API Call via CloudTrail", ev.DetailType, ev.Source)}
}

// Handler is the sweep Lambda's handler.
type Handler struct {
	Sweeper *Sweeper
	Log     *slog.Logger
}

// NewHandler returns the handler of the sweep function.
func NewHandler(s *Sweeper, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	return &Handler{Sweeper: s, Log: log}
}

// Handle runs the sweep an event asks for. Buckets that failed are in the
// Summary (and its Failed metric), not an error: the next scheduled sweep
// retries them, and a Lambda retry would redo the whole sweep.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (Summary, error) {
	req, err := ParseEvent(raw)
	if err != nil {
		h.Log.ErrorContext(ctx, "sweep event refused", "error", err)
		return Summary{}, err
	}
	if req.Trigger == "cloudtrail" {
		// An account the deployment does not work in is refused before
		// anything is read there (or anything is assumed).
		if err := h.Sweeper.admitAccount(ctx, req.Account, req.Event, req.Buckets); err != nil {
			h.Log.ErrorContext(ctx, "sweep event refused", "account", req.Account, "error", err)
			return Summary{}, err
		}
	}
	if req.Ignore == "" && req.Caller != "" && (slices.Contains(h.Sweeper.cfg.OwnRoles, req.Caller) || h.Sweeper.isMemberRole(req.Caller, req.Account)) {
		// bucketmirror's own writes (create and configure, in another
		// account through its member role) are the repair, not damage:
		// acting on them would only read both sides again.
		req.Ignore = fmt.Sprintf("%s on %s was made by bucketmirror's own role %s", req.Event, req.Buckets[0], req.Caller)
	}
	if req.Ignore != "" {
		h.Log.InfoContext(ctx, "sweep event ignored", "trigger", req.Trigger, "reason", req.Ignore)
		return Summary{Scope: "targeted", Decisions: []Decision{}}, nil
	}
	if req.Trigger == "cloudtrail" {
		sum, err := h.Sweeper.SweepChange(ctx, Change{Bucket: req.Buckets[0], Region: req.Region, Kinds: req.Kinds, Account: req.Account})
		if err != nil {
			h.Log.ErrorContext(ctx, "sweep incomplete", "trigger", req.Trigger, "error", err)
			return sum, &SweepError{Message: err.Error()}
		}
		return sum, nil
	}
	sweep := h.Sweeper.Sweep
	if req.Trigger == "direct" {
		// Someone named these buckets: a FAILED one is retried now rather
		// than after its backoff.
		sweep = h.Sweeper.SweepRetryingFailed
	}
	sum, err := sweep(ctx, req.Buckets)
	if err != nil {
		h.Log.ErrorContext(ctx, "sweep incomplete", "trigger", req.Trigger, "error", err)
		return sum, &SweepError{Message: err.Error()}
	}
	return sum, nil
}

// SweepEventShape is what the sweep function takes, for MalformedEventError.
const SweepEventShape = `a JSON object: an EventBridge Scheduled Event, an S3 "AWS API Call via CloudTrail" event, or a direct invoke {"buckets": ["name", ...]}`

// Lambda is the sweep function's Lambda handler: a body that is not a JSON
// object is refused with a MalformedEventError before Handle parses it.
func (h *Handler) Lambda() mirror.EventHandler[json.RawMessage, Summary] {
	return mirror.EventHandler[json.RawMessage, Summary]{Function: "sweep", Expected: SweepEventShape, Log: h.Log, Handle: h.Handle}
}
