package bucketconfig

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// lifecycleRules covers every filter shape and action S3 has; rule order is
// deliberately not sorted by ID, since S3 keeps the order as written.
func lifecycleRules() []types.LifecycleRule {
	return []types.LifecycleRule{
		{ID: aws.String("z-prefix"), Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
			Transitions: []types.Transition{
				{Days: aws.Int32(30), StorageClass: types.TransitionStorageClassStandardIa},
				{Days: aws.Int32(90), StorageClass: types.TransitionStorageClassGlacier},
			},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(365)}},
		{ID: aws.String("tag"), Status: types.ExpirationStatusEnabled,
			Filter:     &types.LifecycleRuleFilter{Tag: &types.Tag{Key: aws.String("class"), Value: aws.String("scratch")}},
			Expiration: &types.LifecycleExpiration{Date: aws.Time(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))}},
		{ID: aws.String("and"), Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{And: &types.LifecycleRuleAndOperator{
				Prefix: aws.String("data/"),
				Tags: []types.Tag{
					{Key: aws.String("team"), Value: aws.String("red")},
					{Key: aws.String("env"), Value: aws.String("prod")},
				},
				ObjectSizeGreaterThan: aws.Int64(1024),
				ObjectSizeLessThan:    aws.Int64(10 << 20),
			}},
			NoncurrentVersionTransitions: []types.NoncurrentVersionTransition{
				{NoncurrentDays: aws.Int32(30), StorageClass: types.TransitionStorageClassStandardIa, NewerNoncurrentVersions: aws.Int32(2)},
			},
			NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(60), NewerNoncurrentVersions: aws.Int32(3)}},
		{ID: aws.String("small"), Status: types.ExpirationStatusDisabled,
			Filter:                         &types.LifecycleRuleFilter{ObjectSizeLessThan: aws.Int64(512)},
			AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(7)}},
		{ID: aws.String("big"), Status: types.ExpirationStatusEnabled,
			Filter:     &types.LifecycleRuleFilter{ObjectSizeGreaterThan: aws.Int64(1 << 30)},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(10)}},
		{ID: aws.String("markers"), Status: types.ExpirationStatusEnabled,
			Filter:                         &types.LifecycleRuleFilter{Prefix: aws.String("")},
			Expiration:                     &types.LifecycleExpiration{ExpiredObjectDeleteMarker: aws.Bool(true)},
			AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(3)}},
	}
}

func TestLifecycle(t *testing.T) {
	f := newFixture(t)
	rules := lifecycleRules()
	f.roundTrip("lifecycle",
		func() {
			_, err := f.src().PutBucketLifecycleConfiguration(f.ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: &f.m.Source.Name,
				LifecycleConfiguration:             &types.BucketLifecycleConfiguration{Rules: rules},
				TransitionDefaultMinimumObjectSize: types.TransitionDefaultMinimumObjectSizeVariesByStorageClass})
			f.must(err)
		},
		func() {
			_, err := f.src().DeleteBucketLifecycle(f.ctx, &s3.DeleteBucketLifecycleInput{Bucket: &f.m.Source.Name})
			f.must(err)
		},
		func() {
			out, err := f.dst().GetBucketLifecycleConfiguration(f.ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &f.m.Dest.Name})
			f.must(err)
			if out.TransitionDefaultMinimumObjectSize != types.TransitionDefaultMinimumObjectSizeVariesByStorageClass {
				t.Errorf("destination TransitionDefaultMinimumObjectSize = %q, want varies_by_storage_class", out.TransitionDefaultMinimumObjectSize)
			}
			want := lifecycleRules()
			// The And filter's tags come back sorted by key: their order means nothing.
			want[2].Filter.And.Tags[0], want[2].Filter.And.Tags[1] = want[2].Filter.And.Tags[1], want[2].Filter.And.Tags[0]
			if len(out.Rules) != len(want) {
				t.Fatalf("destination has %d rules, want %d", len(out.Rules), len(want))
			}
			for i := range want {
				got, _ := json.Marshal(out.Rules[i])
				exp, _ := json.Marshal(want[i])
				if string(got) != string(exp) {
					t.Errorf("destination rule %d\n got %s\nwant %s", i, got, exp)
				}
			}
			and := out.Rules[2].Filter.And
			if aws.ToInt64(and.ObjectSizeGreaterThan) != 1024 || aws.ToInt64(and.ObjectSizeLessThan) != 10<<20 ||
				aws.ToInt32(out.Rules[2].NoncurrentVersionExpiration.NewerNoncurrentVersions) != 3 ||
				aws.ToInt64(out.Rules[3].Filter.ObjectSizeLessThan) != 512 || aws.ToInt64(out.Rules[4].Filter.ObjectSizeGreaterThan) != 1<<30 {
				t.Errorf("object size filters or newer noncurrent versions lost: %+v / %+v", and, out.Rules[2].NoncurrentVersionExpiration)
			}
		})
}

// A configuration written without the header gets S3's default, on the
// source and on the destination alike: the two must compare equal.
func TestLifecycleDefaultMinimumObjectSize(t *testing.T) {
	f := newFixture(t)
	_, err := f.src().PutBucketLifecycleConfiguration(f.ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: &f.m.Source.Name,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: lifecycleRules()[:1]}})
	f.must(err)
	if r := f.configure("lifecycle"); r.Status != StatusApplied {
		t.Fatalf("lifecycle is %s (%s), want applied", r.Status, r.Error)
	}
	out, err := f.dst().GetBucketLifecycleConfiguration(f.ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &f.m.Dest.Name})
	f.must(err)
	if out.TransitionDefaultMinimumObjectSize != types.TransitionDefaultMinimumObjectSizeAllStorageClasses128k || len(out.Rules) != 1 {
		t.Errorf("destination: %d rules, minimum size %q", len(out.Rules), out.TransitionDefaultMinimumObjectSize)
	}
	if s := f.planAction("lifecycle"); s.Action != ActionNone {
		t.Errorf("plan after configure is %s (current %s, desired %s)", s.Action, s.Current, s.Desired)
	}
}

// A destination rule the source does not have is replaced, not merged.
func TestLifecycleReplacesDestinationRules(t *testing.T) {
	f := newFixture(t)
	_, err := f.dst().PutBucketLifecycleConfiguration(f.ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: &f.m.Dest.Name,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: lifecycleRules()[4:5]}})
	f.must(err)
	_, err = f.src().PutBucketLifecycleConfiguration(f.ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: &f.m.Source.Name,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: lifecycleRules()[1:2]}})
	f.must(err)
	if s := f.planAction("lifecycle"); s.Action != ActionUpdate {
		t.Fatalf("plan is %s, want update", s.Action)
	}
	f.configure("lifecycle")
	out, err := f.dst().GetBucketLifecycleConfiguration(f.ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &f.m.Dest.Name})
	f.must(err)
	if len(out.Rules) != 1 || aws.ToString(out.Rules[0].ID) != "tag" {
		t.Errorf("destination rules = %+v, want only the source's rule \"tag\"", out.Rules)
	}
}
