package sweep

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"

	"github.com/aws/aws-lambda-go/events"
)

// Detail types and sources of the EventBridge events the handler accepts.
const (
	scheduledDetailType = "Scheduled Event"
	scheduledSource     = "aws.events"
	cloudTrailType      = "AWS API Call via CloudTrail"
	s3EventSource       = "s3.amazonaws.com"
)

// BucketChangeEvents are the CloudTrail event names (eventSource
// s3.amazonaws.com) that reconcile the bucket they name: every call that
// changes a configuration kind of the catalog or the bucket's tags, plus
// CreateBucket (a bucket created with tags) and DeleteBucket (its mirrors
// are detached). CloudTrail records some calls under a name other than the
// API's (PutBucketLifecycleConfiguration as PutBucketLifecycle,
// PutPublicAccessBlock as PutBucketPublicAccessBlock); both spellings are
// listed. The SAM template's rule pattern is built from this list.
var BucketChangeEvents = []string{
	"CreateBucket", "DeleteBucket",
	"PutBucketTagging", "DeleteBucketTagging",
	"PutBucketPolicy", "DeleteBucketPolicy",
	"PutBucketLifecycle", "PutBucketLifecycleConfiguration", "DeleteBucketLifecycle",
	"PutBucketEncryption", "DeleteBucketEncryption",
	"PutBucketCors", "DeleteBucketCors",
	"PutPublicAccessBlock", "DeletePublicAccessBlock", "PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock",
	"PutBucketOwnershipControls", "DeleteBucketOwnershipControls",
	"PutBucketAcl",
	"PutBucketVersioning",
	"PutBucketWebsite", "DeleteBucketWebsite",
	"PutBucketLogging",
	"PutBucketNotification", "PutBucketNotificationConfiguration",
	"PutBucketReplication", "DeleteBucketReplication",
	"PutBucketRequestPayment",
	"PutBucketAccelerateConfiguration", "PutAccelerateConfiguration",
	"PutObjectLockConfiguration",
	"PutBucketIntelligentTieringConfiguration", "DeleteBucketIntelligentTieringConfiguration",
	"PutBucketInventoryConfiguration", "DeleteBucketInventoryConfiguration",
	"PutBucketAnalyticsConfiguration", "DeleteBucketAnalyticsConfiguration",
	"PutBucketMetricsConfiguration", "DeleteBucketMetricsConfiguration",
	"PutBucketAbac",
	"CreateBucketMetadataConfiguration", "DeleteBucketMetadataConfiguration",
	"CreateBucketMetadataTableConfiguration", "DeleteBucketMetadataTableConfiguration",
	"UpdateBucketMetadataInventoryTableConfiguration", "UpdateBucketMetadataJournalTableConfiguration",
}

// InvalidEventError: the sweep function was invoked with an event it does
// not handle. Nothing was done; retrying the same event cannot help.
type InvalidEventError struct{ Reason string }

func (e *InvalidEventError) Error() string { return "invalid sweep event: " + e.Reason }

// SweepError: the sweep could not look at every bucket (a Tagging API
// Region or the inventory failed); what it could do is done and counted.
type SweepError struct{ Message string }

func (e *SweepError) Error() string { return e.Message }

// CloudTrailDetail is the part of an "AWS API Call via CloudTrail" event's
// detail the handler reads.
type CloudTrailDetail struct {
	EventSource       string `json:"eventSource"`
	EventName         string `json:"eventName"`
	AWSRegion         string `json:"awsRegion"`
	ErrorCode         string `json:"errorCode,omitempty"`
	RequestParameters struct {
		BucketName string `json:"bucketName"`
	} `json:"requestParameters"`
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
}

// ParseEvent classifies a sweep function payload: an EventBridge Scheduled
// Event (full sweep), an "AWS API Call via CloudTrail" event for one of
// BucketChangeEvents (that bucket), or {"buckets": [...]} (those buckets).
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
		switch {
		case d.EventSource != s3EventSource:
			return Request{}, &InvalidEventError{Reason: fmt.Sprintf("CloudTrail event from %q; only %s calls are handled", d.EventSource, s3EventSource)}
		case !slices.Contains(BucketChangeEvents, d.EventName):
			return Request{}, &InvalidEventError{Reason: fmt.Sprintf("CloudTrail event %s is not a bucket configuration or tagging call", d.EventName)}
		case d.RequestParameters.BucketName == "":
			return Request{}, &InvalidEventError{Reason: fmt.Sprintf("CloudTrail event %s names no bucket (requestParameters.bucketName)", d.EventName)}
		case d.ErrorCode != "":
			return Request{Trigger: "cloudtrail", Ignore: fmt.Sprintf("%s on %s failed (%s): nothing changed", d.EventName, d.RequestParameters.BucketName, d.ErrorCode)}, nil
		}
		return Request{Trigger: "cloudtrail", Buckets: []string{d.RequestParameters.BucketName}}, nil
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
	if req.Ignore != "" {
		h.Log.InfoContext(ctx, "sweep event ignored", "trigger", req.Trigger, "reason", req.Ignore)
		return Summary{Scope: "targeted", Decisions: []Decision{}}, nil
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
