package mirror_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

func input(t *testing.T, src, dest, destRegion string) mirror.Input {
	t.Helper()
	var in mirror.Input
	if err := json.Unmarshal([]byte(payload(src, dest)), &in); err != nil {
		t.Fatal(err)
	}
	in.DestRegion = destRegion
	return in
}

// refused checks that Create refused in with an InvalidInputError whose
// message holds want, and left no mirror record and no bucket behind.
func refused(t *testing.T, m *mirror.Mirrorer, what string, in mirror.Input, want string) {
	t.Helper()
	before := bucketCount(t)
	_, err := m.Create(context.Background(), in)
	var invalid *mirror.InvalidInputError
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: %v, want InvalidInputError with %q", what, err, want)
	}
	src := strings.TrimPrefix(in.SourceBucketARN, "arn:aws:s3:::")
	if rec, err := m.Store.GetMirror(context.Background(), src, in.DestRegion); err != nil || rec != nil {
		t.Errorf("%s: the refused request wrote the mirror record %+v (%v)", what, rec, err)
	}
	if after := bucketCount(t); after != before {
		t.Errorf("%s: the refused request created a bucket (%d, then %d)", what, before, after)
	}
}

// TestRequestsOutsideTheDeploymentAreRefused: a destination Region the
// deployment may not write and an existing
// destination whose real Region is not destRegion are refused before any
// write, with no record. (Other accounts are reached through their member
// role: TestCrossAccount*.)
func TestRequestsOutsideTheDeploymentAreRefused(t *testing.T) {
	ctx := context.Background()
	narrow := mirror.NewMirrorer(cloud.AWSConfig(), mirror.Config{Table: mirrorer.Store.Table(), TagPrefix: "bucketmirror:",
		AccountID: localcloud.AccountID, DestRegions: []string{"us-west-2"}}, bucketconfig.Options{PropagationTimeout: time.Second}, nil)
	src := bucketName(t, "outside")
	createSource(t, src)

	refused(t, narrow, "destRegion not allowed", input(t, src, "", "eu-west-1"), "not an allowed destination Region")

	// A destination that exists in us-west-2, asked for as eu-central-1: it
	// used to be accepted and recorded under REGION#eu-central-1.
	dest := "dest-" + bucketName(t, "west")
	if _, err := s3c("us-west-2").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(dest),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintUsWest2,
			Tags: []s3types.Tag{{Key: aws.String("bucketmirror:source"), Value: aws.String("arn:aws:s3:::" + src)}}}}); err != nil {
		t.Fatal(err)
	}
	refused(t, mirrorer, "destination in another Region", input(t, src, dest, "eu-central-1"), "exists in us-west-2, not in eu-central-1")
}

// TestAdoptWithABAC: adopting an existing destination that has ABAC
// enabled writes the source tag through S3 Control TagResource (S3 refuses
// PutBucketTagging on such a bucket), like every other tag write.
func TestAdoptWithABAC(t *testing.T) {
	ctx := context.Background()
	src, dest := bucketName(t, "abac-src"), "dest-"+bucketName(t, "abac-dst")
	createSource(t, src)
	if _, err := s3c("us-west-2").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(dest),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintUsWest2}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c("us-west-2").PutBucketAbac(ctx, &s3.PutBucketAbacInput{Bucket: aws.String(dest),
		AbacStatus: &s3types.AbacStatus{Status: s3types.BucketAbacStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	in := input(t, src, dest, "us-west-2")
	in.Adopt = true
	if st, err := mirrorer.Run(ctx, in); err != nil || st.Status != mirror.StatusFinished {
		t.Fatalf("adopting an ABAC destination: %+v, %v", st, err)
	}
	tags, err := s3c("us-west-2").GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(dest)})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tag := range tags.TagSet {
		found = found || aws.ToString(tag.Key) == "bucketmirror:source" && aws.ToString(tag.Value) == "arn:aws:s3:::"+src
	}
	if !found {
		t.Errorf("the adopted ABAC destination has tags %v, want bucketmirror:source", tags.TagSet)
	}
}
