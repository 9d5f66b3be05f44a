package bucketconfig

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	s3controltypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

// Behaviours of real S3 that the local cloud emulates (docs/s3-conformance.md)
// and that the engine must live with. Each test drives the engine over the
// wire against the emulated answer.

// s3-metadata-v1-not-allowed: a real account's fresh bucket answers the V1
// Get with V1APIsNotAllowed, so the engine must trust V2's not-found and not
// ask V1 at all where V2 is offered.
func TestMetadataTrustsV2(t *testing.T) {
	f := newFixture(t)
	_, err := f.src().GetBucketMetadataTableConfiguration(f.ctx, &s3.GetBucketMetadataTableConfigurationInput{Bucket: &f.m.Source.Name})
	if ErrorCode(err) != codeV1APIsNotAllowed {
		t.Fatalf("V1 Get of a fresh bucket: %v, want %s (as real S3)", err, codeV1APIsNotAllowed)
	}
	calls := f.countCalls()
	snap := f.engine.Snapshot(f.ctx, f.m.Source)
	if err := snap.Errors["metadata"]; err != nil {
		t.Fatalf("reading metadata of a fresh bucket failed: %v", err)
	}
	if v, ok := snap.Values["metadata"]; ok {
		t.Errorf("fresh bucket's metadata reads as %+v, want absent", v)
	}
	if n := calls.get("GetBucketMetadataTableConfiguration"); n != 0 {
		t.Errorf("the engine asked the V1 API %d times where V2 answers", n)
	}
	if n := calls.get("GetBucketMetadataConfiguration"); n != 1 {
		t.Errorf("the engine asked the V2 API %d times, want 1", n)
	}
}

// moveDest puts the fixture's destination into region.
func (f *fixture) moveDest(region string) {
	f.t.Helper()
	f.m.Dest = Bucket{Name: uniqueBucket(f.t, "dst"), Region: region}
	f.createBucket(f.m.Dest, false)
}

// resultOf runs the engine, fails on any failed or skipped kind, and returns
// every result by kind.
func (f *fixture) resultsByKind() map[string]Result {
	f.t.Helper()
	_, results, err := f.engine.Configure(f.ctx, f.m)
	if err != nil {
		f.t.Fatalf("configure: %v", err)
	}
	out := map[string]Result{}
	for _, r := range results {
		if r.Status == StatusFailed || r.Status == StatusSkipped {
			f.t.Errorf("kind %s: %s %s", r.Kind, r.Status, r.Error)
		}
		out[r.Kind] = r
	}
	if !Succeeded(results) {
		f.t.Errorf("the run failed; a feature a Region lacks must be a note")
	}
	return out
}

// s3-accelerate-not-in-region: Transfer Acceleration answers 405
// MethodNotAllowed in af-south-1. A source with acceleration on mirrors
// there with a not-copied note, run after run, never a failure.
func TestAccelerateNotInDestinationRegion(t *testing.T) {
	f := newFixture(t)
	f.moveDest("af-south-1")
	_, err := f.dst().GetBucketAccelerateConfiguration(f.ctx, &s3.GetBucketAccelerateConfigurationInput{Bucket: &f.m.Dest.Name})
	if ErrorCode(err) != codeMethodNotAllowed {
		t.Fatalf("accelerate in af-south-1: %v, want %s", err, codeMethodNotAllowed)
	}
	f.putAccelerate(f.m.Source, types.BucketAccelerateStatusEnabled)
	for run := 1; run <= 2; run++ {
		r := f.resultsByKind()["accelerate"]
		if r.Status != StatusReported {
			t.Errorf("run %d: accelerate is %s (%s), want reported", run, r.Status, r.Error)
		}
		n, ok := noteMentioning(r, "not available in af-south-1", codeMethodNotAllowed, f.m.Source.Name)
		if !ok || n.Severity != SeverityNotCopied {
			t.Errorf("run %d: no not-copied note naming af-south-1: %+v", run, r.Notes)
		}
	}
	// Without acceleration on the source there is nothing to report but the fact.
	f.putAccelerate(f.m.Source, types.BucketAccelerateStatusSuspended)
	r := f.resultsByKind()["accelerate"]
	if _, ok := noteMentioning(r, "not available in af-south-1"); !ok || r.Status == StatusFailed {
		t.Errorf("accelerate with a suspended source: %s %+v", r.Status, r.Notes)
	}
}

// s3-accelerate-not-in-partition, s3-feature-not-in-region: in GovCloud
// acceleration answers 400 UnsupportedArgument, and (here) S3 Metadata and
// ABAC are not offered. A mirror between two GovCloud Regions reports each
// as not available and finishes.
func TestFeaturesNotInGovCloud(t *testing.T) {
	f := newFixture(t)
	f.m.Source = Bucket{Name: uniqueBucket(t, "src"), Region: "us-gov-west-1"}
	f.createBucket(f.m.Source, false)
	f.moveDest("us-gov-east-1")
	_, err := f.src().GetBucketAccelerateConfiguration(f.ctx, &s3.GetBucketAccelerateConfigurationInput{Bucket: &f.m.Source.Name})
	if ErrorCode(err) != codeUnsupportedArgument {
		t.Fatalf("accelerate in us-gov-west-1: %v, want %s", err, codeUnsupportedArgument)
	}
	results := f.resultsByKind()
	for _, kind := range []string{"accelerate", "metadata", "abac"} {
		r := results[kind]
		if _, ok := noteMentioning(r, kind+" is not available in us-gov-west-1"); !ok {
			t.Errorf("%s: %s, notes %+v; want a note that it is not available in us-gov-west-1", kind, r.Status, r.Notes)
		}
	}
}

// s3-acl-owner-enforced: with BucketOwnerEnforced every PutBucketAcl is
// refused, even a private one, so the engine must never send one there.
func TestOwnerEnforcedRefusesEveryACL(t *testing.T) {
	f := newFixture(t)
	_, err := f.dst().PutBucketOwnershipControls(f.ctx, &s3.PutBucketOwnershipControlsInput{Bucket: &f.m.Dest.Name,
		OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}})
	f.must(err)
	_, err = f.dst().PutBucketAcl(f.ctx, &s3.PutBucketAclInput{Bucket: &f.m.Dest.Name, ACL: types.BucketCannedACLPrivate})
	if ErrorCode(err) != "AccessControlListNotSupported" {
		t.Fatalf("private ACL on a BucketOwnerEnforced bucket: %v, want AccessControlListNotSupported", err)
	}
	// A source with the same ownership mirrors without an ACL write failing.
	_, err = f.src().PutBucketOwnershipControls(f.ctx, &s3.PutBucketOwnershipControlsInput{Bucket: &f.m.Source.Name,
		OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}})
	f.must(err)
	results := f.resultsByKind()
	if r := results["acl"]; r.Status == StatusFailed {
		t.Errorf("acl: %s", r.Error)
	}
}

// otherAccount is a fixture whose buckets live in a member account of the
// local Organization, reached as that account's administrators would
// (localcloud.AccountConfig); it returns the fixture and the account.
func otherAccount(t *testing.T) (*fixture, string) {
	t.Helper()
	ctx := context.Background()
	account, err := cloud.CreateMemberAccount(ctx, "bucketconfig-test")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := cloud.AccountConfig(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	clients := awsclient.New(cfg)
	f := &fixture{t: t, ctx: ctx, clients: clients, engine: New(clients, Options{AccountID: account}),
		m: Mirror{Source: Bucket{Name: uniqueBucket(t, "src"), Region: srcRegion}, Dest: Bucket{Name: uniqueBucket(t, "dst"), Region: dstRegion}}}
	f.createBucket(f.m.Source, false)
	f.createBucket(f.m.Dest, false)
	return f, account
}

const publicReadPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/*"}]}`

func (f *fixture) putBPA(b Bucket, on bool) {
	f.t.Helper()
	_, err := f.clients.S3(b.Region).PutPublicAccessBlock(f.ctx, &s3.PutPublicAccessBlockInput{Bucket: &b.Name,
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(on),
			IgnorePublicAcls: aws.Bool(on), BlockPublicPolicy: aws.Bool(on), RestrictPublicBuckets: aws.Bool(on)}})
	f.must(err)
}

// s3-bpa-block-public-policy: the emulator refuses a public policy under
// BlockPublicPolicy, so the catalog's "BPA before policy" edge is tested by
// a call that fails when the order is wrong. A public source with BPA off
// mirrors onto a destination that starts, like a new real bucket, with BPA
// on.
func TestPublicPolicyMirrorsThroughBPA(t *testing.T) {
	f := newFixture(t)
	f.putBPA(f.m.Dest, true)
	_, err := f.dst().PutBucketPolicy(f.ctx, &s3.PutBucketPolicyInput{Bucket: &f.m.Dest.Name, Policy: aws.String(fmt.Sprintf(publicReadPolicy, f.m.Dest.Name))})
	if ErrorCode(err) != codeAccessDenied {
		t.Fatalf("public policy under BlockPublicPolicy: %v, want AccessDenied", err)
	}
	f.putBPA(f.m.Source, false)
	_, err = f.src().PutBucketPolicy(f.ctx, &s3.PutBucketPolicyInput{Bucket: &f.m.Source.Name, Policy: aws.String(fmt.Sprintf(publicReadPolicy, f.m.Source.Name))})
	f.must(err)
	if !PolicyIsPublic(json.RawMessage(fmt.Sprintf(publicReadPolicy, "x"))) {
		t.Fatal("PolicyIsPublic misses Principal * without conditions")
	}
	results := f.resultsByKind()
	if r := results["policy"]; r.Status != StatusApplied {
		t.Errorf("policy: %s (%s), want applied", r.Status, r.Error)
	}
	out, err := f.dst().GetBucketPolicy(f.ctx, &s3.GetBucketPolicyInput{Bucket: &f.m.Dest.Name})
	f.must(err)
	if !strings.Contains(aws.ToString(out.Policy), "arn:aws:s3:::"+f.m.Dest.Name+"/*") {
		t.Errorf("destination policy %s", aws.ToString(out.Policy))
	}
}

// s3-account-block-public-policy: the destination account blocks public
// policies at account level (S3 Control PutPublicAccessBlock). The policy
// kind fails with an error naming that setting; every other kind applies.
func TestAccountBPABlocksPublicPolicy(t *testing.T) {
	f, account := otherAccount(t)
	f.putBPA(f.m.Source, false)
	_, err := f.src().PutBucketPolicy(f.ctx, &s3.PutBucketPolicyInput{Bucket: &f.m.Source.Name, Policy: aws.String(fmt.Sprintf(publicReadPolicy, f.m.Source.Name))})
	f.must(err)
	_, err = f.src().PutBucketCors(f.ctx, &s3.PutBucketCorsInput{Bucket: &f.m.Source.Name, CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"https://example.com"}}}}})
	f.must(err)
	_, err = f.clients.S3Control(dstRegion).PutPublicAccessBlock(f.ctx, &s3control.PutPublicAccessBlockInput{AccountId: aws.String(account),
		PublicAccessBlockConfiguration: &s3controltypes.PublicAccessBlockConfiguration{BlockPublicPolicy: aws.Bool(true)}})
	f.must(err)
	_, results, err := f.engine.Configure(f.ctx, f.m)
	f.must(err)
	for _, r := range results {
		switch {
		case r.Kind == "policy":
			if r.Status != StatusFailed || r.Code != codeAccessDenied {
				t.Errorf("policy: %s %s, want failed with AccessDenied", r.Status, r.Error)
			}
			for _, want := range []string{"account " + account, "account-level Block Public Access", "BlockPublicPolicy", "PutPublicAccessBlock", f.m.Dest.Name} {
				if !strings.Contains(r.Error, want) {
					t.Errorf("policy error %q does not name %q", r.Error, want)
				}
			}
		case r.Kind == "cors" && r.Status != StatusApplied:
			t.Errorf("cors: %s %s, want applied beside the refused policy", r.Status, r.Error)
		case r.Status == StatusFailed:
			t.Errorf("%s: failed: %s", r.Kind, r.Error)
		}
	}
}

// Region-bound policy conditions are never copied silently: unmapped, the
// kind fails naming statement, key and value; mapped, they are rewritten.
func TestPolicyRegionBoundConditions(t *testing.T) {
	srcKey := "arn:aws:kms:" + srcRegion + ":123456789012:key/1111"
	policy := func(bucket string) string {
		return `{"Version":"2012-10-17","Statement":[` +
			`{"Sid":"OnlyFromVpce","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::` + bucket + `/*","Condition":{"StringNotEquals":{"aws:SourceVpce":"vpce-0src"}}},` +
			`{"Sid":"VpcArnIsPortable","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::` + bucket + `/*","Condition":{"ArnEquals":{"aws:SourceVpcArn":"arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1"},"StringEquals":{"aws:SourceAccount":"123456789012"}}},` +
			`{"Sid":"KeyOnly","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::` + bucket + `/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption-aws-kms-key-id":"` + srcKey + `","aws:SourceVpc":["vpc-0src"]}}}]}`
	}
	f := newFixture(t)
	_, err := f.src().PutBucketPolicy(f.ctx, &s3.PutBucketPolicyInput{Bucket: &f.m.Source.Name, Policy: aws.String(policy(f.m.Source.Name))})
	f.must(err)
	_, results, err := f.engine.Configure(f.ctx, f.m)
	f.must(err)
	for _, r := range results {
		if r.Kind != "policy" {
			continue
		}
		if r.Status != StatusFailed {
			t.Fatalf("policy with unmapped Region-bound conditions: %s, want failed", r.Status)
		}
		for _, want := range []string{`statement "OnlyFromVpce" aws:SourceVpce = vpce-0src`, `statement "KeyOnly" aws:SourceVpc = vpc-0src`,
			`statement "KeyOnly" s3:x-amz-server-side-encryption-aws-kms-key-id = ` + srcKey, "BUCKETMIRROR_POLICY_VALUE_MAP", dstRegion} {
			if !strings.Contains(r.Error, want) {
				t.Errorf("error %q lacks %q", r.Error, want)
			}
		}
		if strings.Contains(r.Error, "aws:SourceVpcArn") || strings.Contains(r.Error, "aws:SourceAccount") {
			t.Errorf("portable conditions reported: %s", r.Error)
		}
	}
	if _, err := f.dst().GetBucketPolicy(f.ctx, &s3.GetBucketPolicyInput{Bucket: &f.m.Dest.Name}); ErrorCode(err) != codeNoSuchBucketPolicy {
		t.Errorf("the destination got a policy anyway: %v", err)
	}

	dstKey := "arn:aws:kms:" + dstRegion + ":123456789012:key/2222"
	f.engine = New(f.clients, Options{AccountID: localcloud.AccountID,
		PolicyValues: map[string]string{"vpce-0src": "vpce-0dst", "vpc-0src": "vpc-0dst"}, KMSKeys: map[string]string{srcKey: dstKey}})
	if r := f.configure("policy"); r.Status != StatusApplied {
		t.Fatalf("mapped policy: %s %s", r.Status, r.Error)
	}
	out, err := f.dst().GetBucketPolicy(f.ctx, &s3.GetBucketPolicyInput{Bucket: &f.m.Dest.Name})
	f.must(err)
	got := aws.ToString(out.Policy)
	for _, want := range []string{"vpce-0dst", "vpc-0dst", dstKey, "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1"} {
		if !strings.Contains(got, want) {
			t.Errorf("destination policy lacks %s: %s", want, got)
		}
	}
	if strings.Contains(got, "vpce-0src") || strings.Contains(got, srcKey) {
		t.Errorf("destination policy kept a source value: %s", got)
	}
}

const mfaToken = "arn:aws:iam::123456789012:mfa/root-account-mfa-device 123456"

// s3-versioning-mfa-required: a destination where a human enabled MFA
// delete refuses every versioning write without the root user's MFA. The
// mirror does not fail for it, run after run; it leaves a manual step whose
// command works on the destination.
func TestMFADeleteOnDestinationIsAManualStep(t *testing.T) {
	f := newFixture(t)
	f.putVersioning(f.m.Dest, types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled, MFADelete: types.MFADeleteEnabled}, mfaToken)
	_, err := f.dst().PutBucketVersioning(f.ctx, &s3.PutBucketVersioningInput{Bucket: &f.m.Dest.Name,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
	if ErrorCode(err) != codeAccessDenied {
		t.Fatalf("versioning write without MFA on an MFA delete bucket: %v, want AccessDenied", err)
	}
	// The source was never versioned: the plan suspends the destination.
	for run := 1; run <= 2; run++ {
		r := f.resultsByKind()["versioning"]
		if r.Status != StatusManual || r.Action != ActionDelete {
			t.Fatalf("run %d: versioning %s/%s (%s), want delete/manual", run, r.Action, r.Status, r.Error)
		}
		n, ok := noteMentioning(r, "MFA delete enabled", f.m.Dest.Name, "AccessDenied")
		want := `aws s3api put-bucket-versioning --region ` + dstRegion + ` --bucket ` + f.m.Dest.Name +
			` --versioning-configuration Status=Suspended,MFADelete=Enabled --mfa "SERIAL CODE"`
		if !ok || n.Severity != SeverityManual || n.Command != want || n.Kind != "versioning" {
			t.Fatalf("run %d: notes %+v, want a manual note with %s", run, r.Notes, want)
		}
	}
	// What the command does, with the root user's MFA: accepted.
	f.putVersioning(f.m.Dest, types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended, MFADelete: types.MFADeleteEnabled}, mfaToken)
	if r := f.resultsByKind()["versioning"]; r.Status != StatusUnchanged {
		t.Errorf("after the manual step: versioning %s (%s), want unchanged", r.Status, r.Error)
	}
}

// s3-versioning-mfa-lifecycle: S3 refuses MFA delete on a bucket with
// lifecycle rules, so a source whose rules are copied gets a note that says
// so instead of a command that would fail on the destination.
func TestMFADeleteNoteKnowsLifecycle(t *testing.T) {
	f := newFixture(t)
	lifecycle := &s3.PutBucketLifecycleConfigurationInput{Bucket: &f.m.Source.Name, LifecycleConfiguration: &types.BucketLifecycleConfiguration{
		Rules: []types.LifecycleRule{{ID: aws.String("expire"), Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")}, Expiration: &types.LifecycleExpiration{Days: aws.Int32(7)}}}}}
	_, err := f.src().PutBucketLifecycleConfiguration(f.ctx, lifecycle)
	f.must(err)
	_, err = f.src().PutBucketVersioning(f.ctx, &s3.PutBucketVersioningInput{Bucket: &f.m.Source.Name, MFA: aws.String(mfaToken),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled, MFADelete: types.MFADeleteEnabled}})
	if ErrorCode(err) != "InvalidBucketState" {
		t.Fatalf("MFA delete on a bucket with lifecycle rules: %v, want InvalidBucketState", err)
	}
	// The source got MFA delete first and its rules after (S3 keeps both).
	_, err = f.src().DeleteBucketLifecycle(f.ctx, &s3.DeleteBucketLifecycleInput{Bucket: &f.m.Source.Name})
	f.must(err)
	f.putVersioning(f.m.Source, types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled, MFADelete: types.MFADeleteEnabled}, mfaToken)
	_, err = f.src().PutBucketLifecycleConfiguration(f.ctx, lifecycle)
	f.must(err)

	results := f.resultsByKind()
	r := results["versioning"]
	if _, ok := noteMentioning(r, "lifecycle rules", "InvalidBucketState", f.m.Dest.Name); !ok || r.Status != StatusManual {
		t.Fatalf("versioning %s, notes %+v: want a manual note that lifecycle rules block MFA delete", r.Status, r.Notes)
	}
	if results["lifecycle"].Status != StatusApplied {
		t.Fatalf("lifecycle: %s", results["lifecycle"].Status)
	}
	// Indeed the command fails on the destination as bucketmirror left it.
	_, err = f.dst().PutBucketVersioning(f.ctx, &s3.PutBucketVersioningInput{Bucket: &f.m.Dest.Name, MFA: aws.String(mfaToken),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled, MFADelete: types.MFADeleteEnabled}})
	if ErrorCode(err) != "InvalidBucketState" {
		t.Errorf("enabling MFA delete on the destination: %v, want InvalidBucketState", err)
	}
}

// s3-notification-target-policy: S3 refuses a target whose resource policy
// does not admit it for this bucket. A mapped queue that exists but whose
// policy admits only another bucket fails with a message saying which
// policy to change and how.
func TestNotificationTargetPolicyNamed(t *testing.T) {
	targets := map[string]string{}
	f := newFixture(t, func(o *Options) { o.NotificationTargets = targets })
	srcQueue := f.createQueue(srcRegion, f.m.Source.Name)
	other := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},` +
		`"Action":"sqs:SendMessage","Resource":"*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::some-other-bucket"}}}]}`
	dstQueue := f.createQueueWithPolicy(dstRegion, f.m.Dest.Name, other)
	targets[srcQueue] = dstQueue
	f.must(f.putNotifications(f.m.Source, &types.NotificationConfiguration{
		QueueConfigurations: []types.QueueConfiguration{queueNotification("uploads", srcQueue)}}))
	// The emulator's own answer, as S3's: the queue exists, its policy does not admit the bucket.
	err := f.putNotifications(f.m.Dest, &types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{queueNotification("x", dstQueue)}})
	if ErrorCode(err) != "InvalidArgument" || !strings.Contains(err.Error(), "Unable to validate the following destination configurations") {
		t.Fatalf("queue policy admitting another bucket: %v, want InvalidArgument", err)
	}
	_, results, err := f.engine.Configure(f.ctx, f.m)
	f.must(err)
	for _, r := range results {
		if r.Kind != "notifications" {
			continue
		}
		if r.Status != StatusFailed || r.Code != "InvalidArgument" {
			t.Fatalf("notifications: %s %s, want failed with InvalidArgument", r.Status, r.Error)
		}
		for _, want := range []string{"SQS queue " + dstQueue, "access policy", "s3.amazonaws.com", "sqs:SendMessage", `aws:SourceArn "arn:aws:s3:::` + f.m.Dest.Name + `"`} {
			if !strings.Contains(r.Error, want) {
				t.Errorf("error %q does not say %q", r.Error, want)
			}
		}
	}
}

// writeGapRegion refuses CORS writes with 405 while its CORS read answers:
// the configured gap of this package's local cloud (main_test.go).
const (
	writeGapRegion = "ca-west-1"
	writeGapConfig = `[{"subresource": "cors", "methods": ["PUT", "DELETE"], "regions": ["` + writeGapRegion + `"], "code": "MethodNotAllowed"}]`
)

// s3-feature-not-in-region (write): a destination Region whose read of a
// kind answers but whose write is refused as a method it does not offer.
// The source's configuration cannot exist there: a not-copied note naming
// the Region, run after run, never a failure.
func TestWriteRefusedByDestinationRegion(t *testing.T) {
	f := newFixture(t)
	f.moveDest(writeGapRegion)
	rules := &types.CORSConfiguration{CORSRules: []types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"https://example.com"}}}}
	_, err := f.dst().GetBucketCors(f.ctx, &s3.GetBucketCorsInput{Bucket: &f.m.Dest.Name})
	if ErrorCode(err) != codeNoSuchCORS {
		t.Fatalf("CORS read in %s: %v, want %s (the read is offered)", writeGapRegion, err, codeNoSuchCORS)
	}
	_, err = f.dst().PutBucketCors(f.ctx, &s3.PutBucketCorsInput{Bucket: &f.m.Dest.Name, CORSConfiguration: rules})
	if ErrorCode(err) != codeMethodNotAllowed {
		t.Fatalf("CORS write in %s: %v, want %s", writeGapRegion, err, codeMethodNotAllowed)
	}
	_, err = f.src().PutBucketCors(f.ctx, &s3.PutBucketCorsInput{Bucket: &f.m.Source.Name, CORSConfiguration: rules})
	f.must(err)
	for run := 1; run <= 2; run++ {
		r := f.resultsByKind()["cors"]
		if r.Status != StatusReported {
			t.Errorf("run %d: cors is %s (%s), want reported", run, r.Status, r.Error)
		}
		n, ok := noteMentioning(r, "not available in "+writeGapRegion, codeMethodNotAllowed, f.m.Source.Name, f.m.Dest.Name)
		if !ok || n.Severity != SeverityNotCopied {
			t.Errorf("run %d: no not-copied note naming %s: %+v", run, writeGapRegion, r.Notes)
		}
	}
	// The same code from a Region that offers the write is not this case:
	// the kind's other Regions still copy it.
	f.moveDest(dstRegion)
	if r := f.resultsByKind()["cors"]; r.Status != StatusApplied {
		t.Errorf("cors into %s: %s %s, want applied", dstRegion, r.Status, r.Error)
	}
}
