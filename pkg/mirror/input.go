package mirror

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
)

// Input is the state machine input: the original blog's payload unchanged,
// plus optional fields of ours.
type Input struct {
	SourceBucketARN     string `json:"sourceBucketARN"`
	DestBucketARN       string `json:"destBucketARN,omitempty"`
	SourceAccountNumber string `json:"sourceAccountNumber"`
	DestAccountNumber   string `json:"destAccountNumber"`
	SourceRegion        string `json:"sourceRegion"`
	DestRegion          string `json:"destRegion"`

	// RunID names the run; the state machine passes the execution name.
	RunID string `json:"runId,omitempty"`
	// StartedAt is the run's start (RFC3339); the state machine passes the
	// execution's start time so MarkFailed can address the run record.
	StartedAt string `json:"startedAt,omitempty"`
	// DeterministicName derives the destination name from source and Region
	// (the sweep), instead of a random dest- name (the blog).
	DeterministicName bool `json:"deterministicName,omitempty"`
	// Adopt allows using an existing destination bucket that does not carry
	// bucketmirror's source tag, and moving the mirror to it from the
	// destination recorded before.
	Adopt bool `json:"adopt,omitempty"`
	// Kinds, when set, makes the run targeted: only these configuration
	// kinds are read on both buckets, compared and applied (a change event
	// that can have touched only them). It needs the existing destination
	// in destBucketARN and a FINISHED mirror record with per-kind hashes;
	// without them the run covers every kind.
	Kinds []string `json:"kinds,omitempty"`
	// Repoint allows moving the mirror from its recorded destination to
	// DestBucketARN (a bucketmirror bucket): the sweep sets it when the
	// source's destination-bucket tag names another bucket than the record.
	Repoint bool `json:"repoint,omitempty"`
}

// State is what the create step returns and the configure step reads: the
// input with the destination filled in, and the step's status.
type State struct {
	Input
	SourceBucket string `json:"sourceBucket,omitempty"`
	DestBucket   string `json:"destBucket"`
	Status       string `json:"status"`
	Error        string `json:"error,omitempty"`
	// Created says the create step made the destination in this run (it
	// did not exist before): configure then waits out the new bucket's
	// propagation while reading it, and may add the source tag that
	// CreateBucket should have written.
	Created bool `json:"created,omitempty"`
	// FailedKind and ErrorCode name the first failing kind, when configure fails.
	FailedKind string `json:"failedKind,omitempty"`
	ErrorCode  string `json:"errorCode,omitempty"`
}

// Step statuses the state machine's Choice states test.
const (
	StatusCreated  = "CREATED"
	StatusFinished = "FINISHED"
	StatusFailed   = "FAILED"
)

// InvalidInputError is a payload that cannot be acted on; nothing was touched.
type InvalidInputError struct {
	Field  string
	Value  string
	Reason string
}

func (e *InvalidInputError) Error() string {
	return fmt.Sprintf("invalid %s %q: %s", e.Field, e.Value, e.Reason)
}

func invalid(field, value, format string, args ...any) *InvalidInputError {
	return &InvalidInputError{Field: field, Value: value, Reason: fmt.Sprintf(format, args...)}
}

var (
	bucketNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	accountRE    = regexp.MustCompile(`^[0-9]{12}$`)
)

// ValidateBucketName applies S3's general purpose bucket naming rules.
func ValidateBucketName(name string) error {
	switch {
	case !bucketNameRE.MatchString(name):
		return fmt.Errorf("must be 3-63 characters of lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit")
	case strings.Contains(name, ".."):
		return fmt.Errorf("must not contain two adjacent periods")
	case net.ParseIP(name) != nil:
		return fmt.Errorf("must not be formatted as an IP address")
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return fmt.Errorf("must not start with the reserved prefix %q", p)
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return fmt.Errorf("must not end with the reserved suffix %q", s)
		}
	}
	return nil
}

// Regions are the commercial, China and GovCloud Regions bucketmirror knows.
var Regions = []string{
	"af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
	"ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2",
	"eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1",
	"me-central-1", "me-south-1", "mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
	"cn-north-1", "cn-northwest-1", "us-gov-east-1", "us-gov-west-1",
}

// ValidateRegion accepts known Region codes only.
func ValidateRegion(region string) error {
	if !slices.Contains(Regions, region) {
		return fmt.Errorf("not a known AWS Region code")
	}
	return nil
}

// BucketFromARN returns the bucket name of arn:aws:s3:::NAME.
func BucketFromARN(field, arn string) (string, error) {
	var name string
	for _, partition := range []string{"aws", "aws-cn", "aws-us-gov"} {
		if rest, ok := strings.CutPrefix(arn, "arn:"+partition+":s3:::"); ok {
			name = rest
		}
	}
	if name == "" {
		return "", invalid(field, arn, "must be a bucket ARN, arn:aws:s3:::BUCKET")
	}
	if err := ValidateBucketName(name); err != nil {
		return "", invalid(field, arn, "bucket name %s", err)
	}
	return name, nil
}

// Validate checks everything that can be checked without AWS and returns
// the source and (possibly empty) destination bucket names.
func (in Input) Validate() (source, dest string, err error) {
	if source, err = BucketFromARN("sourceBucketARN", in.SourceBucketARN); err != nil {
		return "", "", err
	}
	if in.DestBucketARN != "" {
		if dest, err = BucketFromARN("destBucketARN", in.DestBucketARN); err != nil {
			return "", "", err
		}
	}
	if err := ValidateRegion(in.SourceRegion); err != nil {
		return "", "", invalid("sourceRegion", in.SourceRegion, "%s", err)
	}
	if err := ValidateRegion(in.DestRegion); err != nil {
		return "", "", invalid("destRegion", in.DestRegion, "%s", err)
	}
	if !accountRE.MatchString(in.SourceAccountNumber) {
		return "", "", invalid("sourceAccountNumber", in.SourceAccountNumber, "must be a 12-digit AWS account id")
	}
	if !accountRE.MatchString(in.DestAccountNumber) {
		return "", "", invalid("destAccountNumber", in.DestAccountNumber, "must be a 12-digit AWS account id")
	}
	if dest == source {
		return "", "", invalid("destBucketARN", in.DestBucketARN, "must differ from the source bucket")
	}
	if in.SourceRegion == in.DestRegion && dest == "" && in.DeterministicName {
		return "", "", invalid("destRegion", in.DestRegion, "must differ from sourceRegion for a derived destination name")
	}
	if _, err := bucketconfig.KindsNamed(in.Kinds); err != nil {
		return "", "", invalid("kinds", strings.Join(in.Kinds, ","), "%s", err)
	}
	if in.Kinds != nil && len(in.Kinds) == 0 {
		return "", "", invalid("kinds", "", "names no kind; leave it out for a run of every kind")
	}
	if in.StartedAt != "" {
		if _, err := parseTime(in.StartedAt); err != nil {
			return "", "", invalid("startedAt", in.StartedAt, "must be an RFC 3339 time")
		}
	}
	return source, dest, nil
}
