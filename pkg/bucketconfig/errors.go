package bucketconfig

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// S3 error codes, all in one place. Each kind names the codes that mean "not
// configured" for it; nothing else compares code strings.
const (
	codeNoSuchBucket                = "NoSuchBucket"
	codeNoSuchBucketPolicy          = "NoSuchBucketPolicy"
	codeNoSuchLifecycle             = "NoSuchLifecycleConfiguration"
	codeNoSuchEncryption            = "ServerSideEncryptionConfigurationNotFoundError"
	codeNoSuchCORS                  = "NoSuchCORSConfiguration"
	codeNoSuchTagSet                = "NoSuchTagSet"
	codeNoSuchPublicAccessBlock     = "NoSuchPublicAccessBlockConfiguration"
	codeNoSuchOwnershipControls     = "OwnershipControlsNotFoundError"
	codeNoSuchObjectLock            = "ObjectLockConfigurationNotFoundError"
	codeNoSuchWebsite               = "NoSuchWebsiteConfiguration"
	codeNoSuchReplication           = "ReplicationConfigurationNotFoundError"
	codeNoSuchConfiguration         = "NoSuchConfiguration" // inventory, analytics, metrics, intelligent-tiering
	codeNoSuchMetadataConfiguration = "MetadataConfigurationNotFound"
	// The legacy GetBucketMetadataTableConfiguration answers a bucket without
	// a configuration with V1APIsNotAllowed (405) on accounts that never used
	// V1 (docs/s3-conformance.md, s3-metadata-v1-not-allowed); the older
	// not-found name is kept for accounts that still have V1.
	codeV1APIsNotAllowed    = "V1APIsNotAllowed"
	codeNoSuchMetadataTable = "MetadataTableConfigurationNotFound"
	codeNotImplemented      = "NotImplemented"
	// What a Region answers for a bucket API it does not offer: 405 in the
	// aws partition (Transfer Acceleration in af-south-1), 400
	// UnsupportedArgument in GovCloud (docs/s3-conformance.md).
	codeMethodNotAllowed    = "MethodNotAllowed"
	codeUnsupportedArgument = "UnsupportedArgument"
	// CreateBucket of a name this account already owns (outside us-east-1) /
	// that another account owns.
	codeBucketAlreadyOwnedByYou = "BucketAlreadyOwnedByYou"
	codeBucketAlreadyExists     = "BucketAlreadyExists"
	// KMS DescribeKey for a key or alias that does not exist in the Region.
	codeKMSNotFound = "NotFoundException"
	// PutBucketOwnershipControls BucketOwnerEnforced while the bucket ACL grants to anyone but the owner.
	codeInvalidBucketACLWithOwnership = "InvalidBucketAclWithObjectOwnership"

	codeOperationAborted    = "OperationAborted" // 409: a conflicting write on the same bucket is in flight
	codeAccessDenied        = "AccessDenied"
	codePermanentRedirect   = "PermanentRedirect"
	codeAuthHeaderMalformed = "AuthorizationHeaderMalformed"
)

// Class is what bucketmirror does about an AWS error.
type Class int

const (
	ClassOther     Class = iota // terminal: report it
	ClassNotFound               // the configuration (or bucket) does not exist
	ClassDenied                 // not allowed: report it, go on with other kinds
	ClassRetryable              // throttled or a conflicting write: retry, bounded
	ClassRedirect               // the bucket is in another Region
)

var (
	deniedCodes    = map[string]bool{codeAccessDenied: true, "Forbidden": true /* HEAD requests: no body, no code */, "AllAccessDisabled": true, "InvalidAccessKeyId": true, "SignatureDoesNotMatch": true}
	retryableCodes = map[string]bool{codeOperationAborted: true, "SlowDown": true, "Throttling": true, "ThrottlingException": true, "RequestTimeout": true, "ServiceUnavailable": true, "InternalError": true}
	redirectCodes  = map[string]bool{codePermanentRedirect: true, codeAuthHeaderMalformed: true, "IllegalLocationConstraintException": true}
)

// ErrorCode returns the AWS error code of err, or "".
func ErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// Classify says what an AWS error means for bucketmirror. notFound are the
// codes that mean "absent" for the call at hand.
func Classify(err error, notFound ...string) Class {
	if err == nil {
		return ClassOther
	}
	code := ErrorCode(err)
	for _, c := range notFound {
		if code == c {
			return ClassNotFound
		}
	}
	switch {
	case deniedCodes[code]:
		return ClassDenied
	case retryableCodes[code]:
		return ClassRetryable
	case redirectCodes[code]:
		return ClassRedirect
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusMovedPermanently {
		return ClassRedirect
	}
	return ClassOther
}

// unavailableCodes answer a request in a Region that does not offer the
// API (or one of its arguments). On a read (a GET without arguments) nothing
// else can make S3 answer them. On a write of a destination they are taken
// the same way: the document written is the one S3 accepted in the source
// Region, so an argument refused here is one this Region does not offer
// (CreateBucket Tags, docs/s3-conformance.md create-bucket-tags-not-in-region).
var unavailableCodes = map[string]bool{codeMethodNotAllowed: true, codeUnsupportedArgument: true, codeNotImplemented: true}

// isUnavailable says whether a read error means the Region does not offer
// the kind's API.
func isUnavailable(err error) bool { return err != nil && unavailableCodes[ErrorCode(err)] }

// IsNoSuchBucket says whether err is S3's NoSuchBucket.
func IsNoSuchBucket(err error) bool { return ErrorCode(err) == codeNoSuchBucket }

func isNotFound(err error, codes ...string) bool {
	return err != nil && Classify(err, codes...) == ClassNotFound
}

// KindError is the failure of one operation on one kind of one bucket. Its
// message names all four and the AWS error code:
//
//	applying lifecycle to bucket "x" in eu-west-1: AccessDenied: ...
type KindError struct {
	Op     string // reading, applying, deleting, transforming
	Kind   string
	Bucket string
	Region string
	Err    error
}

func (e *KindError) Error() string {
	prep := "of"
	switch e.Op {
	case "applying":
		prep = "to"
	case "deleting":
		prep = "from"
	}
	return fmt.Sprintf("%s %s %s bucket %q in %s: %v", e.Op, e.Kind, prep, e.Bucket, e.Region, e.Err)
}

func (e *KindError) Unwrap() error { return e.Err }

// Code is the AWS error code behind the failure, if any.
func (e *KindError) Code() string { return ErrorCode(e.Err) }

// Retry bounds. Two writes racing on one bucket give 409 OperationAborted;
// a bucket just created may answer NoSuchBucket for a while (S3 is
// eventually consistent for bucket creation across its fleet).
const (
	conflictAttempts          = 6
	conflictBaseDelay         = 200 * time.Millisecond
	DefaultPropagationTimeout = 2 * time.Minute
)

// RetryWrite runs a write to a destination bucket, retrying conflicts and,
// until propagation runs out, NoSuchBucket right after creation.
func RetryWrite(ctx context.Context, propagation time.Duration, fn func() error) error {
	deadline := time.Now().Add(propagation)
	delay := conflictBaseDelay
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		code := ErrorCode(err)
		switch {
		case code == codeOperationAborted && attempt < conflictAttempts:
		case code == codeNoSuchBucket && time.Now().Add(delay).Before(deadline):
		default:
			if code == codeNoSuchBucket && propagation > 0 {
				return fmt.Errorf("bucket not visible after %s (propagation timeout): %w", propagation, err)
			}
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}
