package mirror_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

// TestNewDestinationInFewRounds: Create reads the source at once and makes
// the destination with its Object Lock, ownership and tags in the
// CreateBucket call (nothing else written), and Configure writes none of
// them again, checks ownership from its snapshot and records the
// destination's hash without reading it a second time.
func TestNewDestinationInFewRounds(t *testing.T) {
	ctx := awsclient.WithCauses(context.Background())
	rec := &awsclient.Recorder{}
	cfg := cloud.AWSConfig()
	cfg.APIOptions = append(cfg.APIOptions, rec.APIOption)
	m := mirror.NewMirrorer(cfg, mirror.Config{Table: "bucketmirror-test", TagPrefix: "bucketmirror:", AccountID: localcloud.AccountID},
		bucketconfig.Options{PropagationTimeout: time.Second}, nil)
	src, dst := bucketName(t, "rounds-src"), bucketName(t, "rounds-dst")
	c := s3c("us-east-1")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &src, ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: &src, OwnershipControls: &s3types.OwnershipControls{
		Rules: []s3types.OwnershipControlsRule{{ObjectOwnership: s3types.ObjectOwnershipBucketOwnerPreferred}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: &src, Tagging: &s3types.Tagging{TagSet: []s3types.Tag{
		{Key: aws.String("team"), Value: aws.String("data")}, {Key: aws.String("bucketmirror:destination-regions"), Value: aws.String("us-west-2")}}}}); err != nil {
		t.Fatal(err)
	}
	in := mirror.Input{SourceBucketARN: "arn:aws:s3:::" + src, DestBucketARN: "arn:aws:s3:::" + dst, SourceAccountNumber: localcloud.AccountID,
		DestAccountNumber: localcloud.AccountID, SourceRegion: "us-east-1", DestRegion: "us-west-2", RunID: "rounds-1"}
	rec.Take()
	st, err := m.Create(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Created {
		t.Error("Create did not say it created the destination")
	}
	var s3Ops []string
	for _, call := range rec.Take() {
		if call.Op[:3] == "S3." {
			s3Ops = append(s3Ops, call.Op[3:])
		}
	}
	slices.Sort(s3Ops)
	if want := []string{"CreateBucket", "GetBucketOwnershipControls", "GetBucketTagging", "GetObjectLockConfiguration"}; !slices.Equal(s3Ops, want) {
		t.Errorf("Create made S3 calls %v, want %v (source reads and one CreateBucket)", s3Ops, want)
	}
	d := s3c("us-west-2")
	tags, err := d.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &dst})
	if err != nil {
		t.Fatal(err)
	}
	gotTags := map[string]string{}
	for _, tag := range tags.TagSet {
		gotTags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	if gotTags["team"] != "data" || gotTags["bucketmirror:source"] != "arn:aws:s3:::"+src || len(gotTags) != 2 {
		t.Errorf("destination created with tags %v, want team=data and the source tag only", gotTags)
	}
	own, err := d.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: &dst})
	if err != nil || own.OwnershipControls.Rules[0].ObjectOwnership != s3types.ObjectOwnershipBucketOwnerPreferred {
		t.Errorf("destination ownership %+v, %v; want BucketOwnerPreferred from CreateBucket", own, err)
	}
	lock, err := d.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: &dst})
	if err != nil || lock.ObjectLockConfiguration.ObjectLockEnabled != s3types.ObjectLockEnabledEnabled {
		t.Errorf("destination Object Lock %+v, %v; want enabled", lock, err)
	}

	if _, err := m.Configure(ctx, st); err != nil {
		t.Fatal(err)
	}
	for _, call := range rec.Take() {
		switch call.Op {
		case "S3.PutBucketTagging", "S3.PutBucketOwnershipControls", "S3.DeleteBucketOwnershipControls", "S3.PutObjectLockConfiguration":
			t.Errorf("Configure wrote %s, which Create had written already", call.Op)
		}
	}
	recd, err := m.Store.GetMirror(ctx, src, "us-west-2")
	if err != nil || recd == nil || recd.Status != inventory.StatusFinished {
		t.Fatalf("mirror record %+v, %v", recd, err)
	}
	if got := m.Engine.Snapshot(ctx, bucketconfig.Bucket{Name: dst, Region: "us-west-2"}).Hash(); got != recd.DestHash {
		t.Errorf("recorded destination hash %s, a fresh read gives %s: the hash from the plan is not what S3 holds", recd.DestHash, got)
	}
}
