package bucketconfig

import (
	"cmp"
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// lifecycleConfig is a bucket's lifecycle configuration. Rules keep their
// order: S3 returns them as written, and reordering would be a change.
type lifecycleConfig struct {
	Rules []types.LifecycleRule `json:"rules"`
	// TransitionDefaultMinimumObjectSize is stored with the rules and reset
	// by DeleteBucketLifecycle.
	TransitionDefaultMinimumObjectSize types.TransitionDefaultMinimumObjectSize `json:"transitionDefaultMinimumObjectSize"`
}

// lifecycleKind copies lifecycle rules unchanged: they name storage
// classes, prefixes and tags, nothing Region-bound.
var lifecycleKind = &spec[lifecycleConfig]{
	name:         "lifecycle",
	readActions:  []string{"s3:GetLifecycleConfiguration"},
	writeActions: []string{"s3:PutLifecycleConfiguration"}, // DeleteBucketLifecycle is authorised by s3:PutLifecycleConfiguration
	get: func(ctx context.Context, e *Engine, b Bucket) (*lifecycleConfig, error) {
		out, err := e.s3(b).GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &b.Name})
		if isNotFound(err, codeNoSuchLifecycle) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if len(out.Rules) == 0 {
			return nil, nil
		}
		v := &lifecycleConfig{Rules: out.Rules, TransitionDefaultMinimumObjectSize: out.TransitionDefaultMinimumObjectSize}
		// Since September 2024 S3 applies all_storage_classes_128K when a
		// configuration is written without the header; a response without
		// it means the same.
		if v.TransitionDefaultMinimumObjectSize == "" {
			v.TransitionDefaultMinimumObjectSize = types.TransitionDefaultMinimumObjectSizeAllStorageClasses128k
		}
		for i := range v.Rules {
			// Tags of an And filter are a conjunction: their order means nothing.
			if f := v.Rules[i].Filter; f != nil && f.And != nil {
				slices.SortFunc(f.And.Tags, func(a, b types.Tag) int {
					return cmp.Or(cmp.Compare(aws.ToString(a.Key), aws.ToString(b.Key)), cmp.Compare(aws.ToString(a.Value), aws.ToString(b.Value)))
				})
			}
		}
		return v, nil
	},
	put: func(ctx context.Context, e *Engine, b Bucket, v *lifecycleConfig) error {
		_, err := e.s3(b).PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
			Bucket:                             &b.Name,
			LifecycleConfiguration:             &types.BucketLifecycleConfiguration{Rules: v.Rules},
			TransitionDefaultMinimumObjectSize: v.TransitionDefaultMinimumObjectSize,
		})
		return err
	},
	del: func(ctx context.Context, e *Engine, b Bucket) error {
		_, err := e.s3(b).DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: &b.Name})
		return err
	},
}
