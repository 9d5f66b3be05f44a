package mirror_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

// create-bucket-tags-not-in-region: where a Region has no tag-on-create,
// CreateBucket with CreateBucketConfiguration Tags answers 400
// UnsupportedArgument. A new destination there is created without them and
// tagged at once, and the mirror finishes, with the kinds GovCloud does not
// offer as notes.
func TestDestinationWithoutTagOnCreate(t *testing.T) {
	ctx := context.Background()
	probe := bucketName(t, "probe")
	_, err := s3c("us-gov-east-1").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(probe), CreateBucketConfiguration: &types.CreateBucketConfiguration{
		LocationConstraint: "us-gov-east-1", Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}})
	if bucketconfig.ErrorCode(err) != "UnsupportedArgument" {
		t.Fatalf("CreateBucket with Tags in us-gov-east-1: %v, want UnsupportedArgument (as real S3 without tag-on-create)", err)
	}

	src := bucketName(t, "gov")
	if _, err := s3c("us-gov-west-1").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(src),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "us-gov-west-1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c("us-gov-west-1").PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(src),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("team"), Value: aws.String("data")}}}}); err != nil {
		t.Fatal(err)
	}
	in := mirror.Input{SourceBucketARN: "arn:aws-us-gov:s3:::" + src, SourceAccountNumber: localcloud.AccountID, DestAccountNumber: localcloud.AccountID,
		SourceRegion: "us-gov-west-1", DestRegion: "us-gov-east-1"}
	st, err := mirrorer.Create(ctx, in)
	if err != nil || st.Status != mirror.StatusCreated || !st.Created {
		t.Fatalf("create in us-gov-east-1: %+v, %v; want CREATED without tag-on-create", st, err)
	}
	// Tagged before the create step returned: a run stopped now leaves a
	// bucket the next run knows as its own.
	out, err := s3c("us-gov-east-1").GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(st.DestBucket)})
	if err != nil || !hasTag(out.TagSet, mirrorer.SourceTag(), "arn:aws:s3:::"+src) {
		t.Fatalf("new destination's tags %+v (%v), want the source tag", out, err)
	}
	st, err = mirrorer.Configure(ctx, st)
	if err != nil || st.Status != mirror.StatusFinished {
		t.Fatalf("configure: %+v, %v; want FINISHED", st, err)
	}
	out, err = s3c("us-gov-east-1").GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(st.DestBucket)})
	if err != nil || !hasTag(out.TagSet, "team", "data") || !hasTag(out.TagSet, mirrorer.SourceTag(), "arn:aws:s3:::"+src) {
		t.Errorf("destination's tags %+v (%v), want the source's and the source tag", out, err)
	}
	rs, err := mirrorer.Store.Runs(ctx, src, "us-gov-east-1")
	if err != nil || len(rs) != 1 || rs[0].Status != inventory.StatusFinished {
		t.Fatalf("runs %+v (%v), want one FINISHED", rs, err)
	}
	for _, kind := range []string{"accelerate", "abac", "metadata"} {
		if !strings.Contains(rs[0].Results, kind+" is not available in us-gov-") {
			t.Errorf("run results do not say %s is not available in GovCloud: %s", kind, rs[0].Results)
		}
	}
}

func hasTag(tags []types.Tag, k, v string) bool {
	for _, t := range tags {
		if aws.ToString(t.Key) == k && aws.ToString(t.Value) == v {
			return true
		}
	}
	return false
}
