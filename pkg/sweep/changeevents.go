package sweep

import (
	"slices"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
)

// changeEvents is the one list of CloudTrail calls (eventSource
// s3.amazonaws.com) that can change a mirror, each with the configuration
// kinds it can change. The handler accepts exactly these; template.yaml's
// bucket-change rule and deploy/forwarder.yaml's forwarding rule list
// exactly these (deploy/ tests compare them, name by name).
//
// nil kinds means a full reconcile: the call changes the bucket as a whole
// (CreateBucket, DeleteBucket) or the tag contract itself.
//
// CloudTrail records some calls under a name other than the API's
// (PutBucketLifecycleConfiguration as PutBucketLifecycle, PutPublicAccessBlock
// as PutBucketPublicAccessBlock,
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-s3-info.html);
// both spellings are listed. The S3 Metadata calls are not: bucketmirror
// only reports metadata configurations (a full sweep keeps that report
// current), so they change nothing it would write.
var changeEvents = map[string][]string{
	"CreateBucket": nil,
	"DeleteBucket": nil,

	// Tagging changes the tags kind and, through the control tags, which
	// mirrors exist; reconcile reads the tags from S3 either way and starts
	// or detaches mirrors by the contract, and copies only tags (and ABAC,
	// whose writes must follow tags) to the mirrors that stay.
	"PutBucketTagging":    {"tags"},
	"DeleteBucketTagging": {"tags"},
	// S3 Control TagResource/UntagResource on a general purpose bucket (the
	// only way to change its tags with ABAC on); the bucket is in
	// requestParameters.resourceArn
	// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_TagResource.html).
	"TagResource":   {"tags"},
	"UntagResource": {"tags"},
	"PutBucketAbac": {"abac"},

	"PutBucketPolicy":    {"policy"},
	"DeleteBucketPolicy": {"policy"},

	"PutBucketLifecycle":              {"lifecycle"},
	"PutBucketLifecycleConfiguration": {"lifecycle"},
	"DeleteBucketLifecycle":           {"lifecycle"},

	"PutBucketEncryption":    {"encryption"},
	"DeleteBucketEncryption": {"encryption"},

	"PutBucketCors":    {"cors"},
	"DeleteBucketCors": {"cors"},

	// Block Public Access gates policy and ACL: a relaxed BPA may make the
	// destination accept what the source has, so those are compared too.
	"PutPublicAccessBlock":          {"public-access-block", "policy", "acl"},
	"DeletePublicAccessBlock":       {"public-access-block", "policy", "acl"},
	"PutBucketPublicAccessBlock":    {"public-access-block", "policy", "acl"},
	"DeleteBucketPublicAccessBlock": {"public-access-block", "policy", "acl"},

	// Ownership BucketOwnerEnforced disables ACLs (S3 resets them).
	"PutBucketOwnershipControls":    {"ownership", "acl"},
	"DeleteBucketOwnershipControls": {"ownership", "acl"},
	"PutBucketAcl":                  {"acl"},

	// Suspending versioning can leave Object Lock and replication unusable.
	"PutBucketVersioning":        {"versioning", "object-lock", "replication"},
	"PutObjectLockConfiguration": {"object-lock"},

	"PutBucketWebsite":    {"website"},
	"DeleteBucketWebsite": {"website"},

	"PutBucketLogging": {"logging"},

	"PutBucketNotification":              {"notifications"},
	"PutBucketNotificationConfiguration": {"notifications"},

	"PutBucketReplication":    {"replication"},
	"DeleteBucketReplication": {"replication"},

	"PutBucketRequestPayment": {"requester-pays"},

	"PutBucketAccelerateConfiguration": {"accelerate"},
	"PutAccelerateConfiguration":       {"accelerate"},

	"PutBucketIntelligentTieringConfiguration":    {"intelligent-tiering"},
	"DeleteBucketIntelligentTieringConfiguration": {"intelligent-tiering"},
	"PutBucketInventoryConfiguration":             {"inventory"},
	"DeleteBucketInventoryConfiguration":          {"inventory"},
	"PutBucketAnalyticsConfiguration":             {"analytics"},
	"DeleteBucketAnalyticsConfiguration":          {"analytics"},
	"PutBucketMetricsConfiguration":               {"metrics"},
	"DeleteBucketMetricsConfiguration":            {"metrics"},
}

// BucketChangeEvents returns the CloudTrail event names the sweep acts on,
// sorted: the one list both templates' rules must match.
func BucketChangeEvents() []string {
	names := make([]string, 0, len(changeEvents))
	for n := range changeEvents {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// KindsOfEvent returns the configuration kinds a CloudTrail call can
// change, in catalog order; nil means every kind (a full reconcile). ok is
// false for a call the sweep does not act on.
func KindsOfEvent(eventName string) (kinds []string, ok bool) {
	ks, ok := changeEvents[eventName]
	if !ok || ks == nil {
		return nil, ok
	}
	for _, k := range bucketconfig.Kinds {
		if slices.Contains(ks, k.Name()) {
			kinds = append(kinds, k.Name())
		}
	}
	return kinds, true
}
