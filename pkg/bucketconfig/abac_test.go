package bucketconfig

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	controltypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

// s3OpRecorder records the S3 operations an engine sends.
type s3OpRecorder struct {
	mu  sync.Mutex
	ops []string
}

func (r *s3OpRecorder) option(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("recordS3Operation",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				r.mu.Lock()
				r.ops = append(r.ops, awsmiddleware.GetOperationName(ctx))
				r.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
}

func (r *s3OpRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = nil
}

func (r *s3OpRecorder) sent(op string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.ops, op)
}

func (f *fixture) putABAC(b Bucket, status types.BucketAbacStatus) {
	f.t.Helper()
	_, err := f.clients.S3(b.Region).PutBucketAbac(f.ctx, &s3.PutBucketAbacInput{Bucket: &b.Name, AbacStatus: &types.AbacStatus{Status: status}})
	f.must(err)
}

func (f *fixture) readABAC(b Bucket) types.BucketAbacStatus {
	f.t.Helper()
	out, err := f.clients.S3(b.Region).GetBucketAbac(f.ctx, &s3.GetBucketAbacInput{Bucket: &b.Name})
	f.must(err)
	if out.AbacStatus == nil {
		return ""
	}
	return out.AbacStatus.Status
}

func TestABAC(t *testing.T) {
	f := newFixture(t)
	rec := &s3OpRecorder{}
	f.engine = New(awsclient.New(cloud.AWSConfig(), rec.option), f.engine.opts)
	source := "bucketmirror:source=arn:aws:s3:::" + f.m.Source.Name

	f.putTags(f.m.Source, "team", "data", "env", "prod", "bucketmirror:destination-regions", "us-west-2")
	f.putABAC(f.m.Source, types.BucketAbacStatusEnabled)
	if r := f.configure("abac"); r.Status != StatusApplied {
		t.Fatalf("first configure: abac %s (%s), want applied", r.Status, r.Error)
	}
	if got := f.readABAC(f.m.Dest); got != types.BucketAbacStatusEnabled {
		t.Errorf("destination ABAC = %q, want Enabled", got)
	}
	f.wantTags(f.m.Dest, source, "env=prod", "team=data")
	for _, kind := range []string{"abac", "tags"} {
		if s := f.planAction(kind); s.Action != ActionNone {
			t.Fatalf("after configure, plan for %s is %s (current %s, desired %s), want none", kind, s.Action, s.Current, s.Desired)
		}
	}

	// The source's tags change (through S3 Control: it has ABAC on too).
	control := f.clients.S3Control(srcRegion)
	arn := f.m.Source.ARN()
	_, err := control.TagResource(f.ctx, &s3control.TagResourceInput{AccountId: aws.String(localcloud.AccountID), ResourceArn: &arn,
		Tags: []controltypes.Tag{{Key: aws.String("team"), Value: aws.String("analytics")}, {Key: aws.String("owner"), Value: aws.String("ana")}}})
	f.must(err)
	_, err = control.UntagResource(f.ctx, &s3control.UntagResourceInput{AccountId: aws.String(localcloud.AccountID), ResourceArn: &arn, TagKeys: []string{"env"}})
	f.must(err)
	// S3 refuses PutBucketTagging on a bucket with ABAC on.
	_, err = f.dst().PutBucketTagging(f.ctx, &s3.PutBucketTaggingInput{Bucket: &f.m.Dest.Name, Tagging: &types.Tagging{TagSet: tagList("x", "y")}})
	if err == nil {
		t.Fatal("the local cloud accepted PutBucketTagging on a bucket with ABAC enabled")
	}

	rec.reset()
	if r := f.configure("tags"); r.Status != StatusApplied || r.Action != ActionUpdate {
		t.Fatalf("second configure: tags %s/%s (%s), want update/applied", r.Action, r.Status, r.Error)
	}
	if rec.sent("PutBucketTagging") || rec.sent("DeleteBucketTagging") {
		t.Errorf("tags of an ABAC bucket were written with S3 bucket tagging: %v", rec.ops)
	}
	f.wantTags(f.m.Dest, source, "owner=ana", "team=analytics")
	listed, err := f.clients.S3Control(dstRegion).ListTagsForResource(f.ctx, &s3control.ListTagsForResourceInput{
		AccountId: aws.String(localcloud.AccountID), ResourceArn: aws.String(f.m.Dest.ARN())})
	f.must(err)
	if len(listed.Tags) != 3 {
		t.Errorf("S3 Control lists %d destination tags, want 3", len(listed.Tags))
	}
	if s := f.planAction("tags"); s.Action != ActionNone {
		t.Errorf("after the S3 Control write, plan for tags is %s, want none", s.Action)
	}

	// ABAC off and tags gone on the source: tags are removed (still through
	// S3 Control, ABAC being turned off only after them), the source tag
	// stays, then ABAC is turned off.
	_, err = control.UntagResource(f.ctx, &s3control.UntagResourceInput{AccountId: aws.String(localcloud.AccountID), ResourceArn: &arn,
		TagKeys: []string{"team", "owner"}})
	f.must(err)
	f.putABAC(f.m.Source, types.BucketAbacStatusDisabled)
	rec.reset()
	_, results, err := f.engine.Configure(f.ctx, f.m)
	f.must(err)
	for _, r := range results {
		if (r.Kind == "tags" || r.Kind == "abac") && r.Status != StatusRemoved {
			t.Errorf("%s: %s (%s), want removed", r.Kind, r.Status, r.Error)
		}
	}
	if rec.sent("PutBucketTagging") || rec.sent("DeleteBucketTagging") {
		t.Errorf("tags were removed with S3 bucket tagging while ABAC was on: %v", rec.ops)
	}
	f.wantTags(f.m.Dest, source)
	if got := f.readABAC(f.m.Dest); got != types.BucketAbacStatusDisabled {
		t.Errorf("destination ABAC = %q, want Disabled", got)
	}
	for _, kind := range []string{"abac", "tags"} {
		if s := f.planAction(kind); s.Action != ActionNone || s.Current != nil {
			t.Errorf("after removal, plan for %s is %s (current %s), want none and absent", kind, s.Action, s.Current)
		}
	}
}

func TestABACRoundTrip(t *testing.T) {
	f := newFixture(t)
	f.roundTrip("abac",
		func() { f.putABAC(f.m.Source, types.BucketAbacStatusEnabled) },
		func() { f.putABAC(f.m.Source, types.BucketAbacStatusDisabled) },
		func() {
			if got := f.readABAC(f.m.Dest); got != types.BucketAbacStatusEnabled {
				t.Errorf("destination ABAC = %q, want Enabled", got)
			}
		})
	if got := f.readABAC(f.m.Dest); got != types.BucketAbacStatusDisabled {
		t.Errorf("destination ABAC after removal = %q, want Disabled", got)
	}
}
