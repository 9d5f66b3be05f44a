package bucketconfig

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// abacKind copies attribute-based access control (tag-based authorisation)
// of the bucket. Disabled is the default and what del writes, so it reads as
// absent. The catalog applies it after tags: once it is on, the destination's
// tags decide access, so they must be the source's first (and tags then go
// through S3 Control, see tagsKind).
var abacKind = &spec[types.AbacStatus]{
	name:         "abac",
	readActions:  []string{"s3:GetBucketABAC"},
	writeActions: []string{"s3:PutBucketABAC"},
	get: func(ctx context.Context, e *Engine, b Bucket) (*types.AbacStatus, error) {
		out, err := e.s3(b).GetBucketAbac(ctx, &s3.GetBucketAbacInput{Bucket: &b.Name})
		if err != nil {
			return nil, err
		}
		if out.AbacStatus == nil || out.AbacStatus.Status != types.BucketAbacStatusEnabled {
			return nil, nil
		}
		return &types.AbacStatus{Status: types.BucketAbacStatusEnabled}, nil
	},
	put: func(ctx context.Context, e *Engine, b Bucket, v *types.AbacStatus) error {
		return putAbac(ctx, e, b, v.Status)
	},
	del: func(ctx context.Context, e *Engine, b Bucket) error {
		return putAbac(ctx, e, b, types.BucketAbacStatusDisabled)
	},
}

func putAbac(ctx context.Context, e *Engine, b Bucket, status types.BucketAbacStatus) error {
	_, err := e.s3(b).PutBucketAbac(ctx, &s3.PutBucketAbacInput{Bucket: &b.Name,
		AbacStatus: &types.AbacStatus{Status: status}})
	return err
}

// abacEnabled says whether b has ABAC enabled. Stores that do not implement
// ABAC (S3-compatible ones) and Regions that do not offer it have it off.
func abacEnabled(ctx context.Context, e *Engine, b Bucket) (bool, error) {
	out, err := e.s3(b).GetBucketAbac(ctx, &s3.GetBucketAbacInput{Bucket: &b.Name})
	if isUnavailable(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return out.AbacStatus != nil && out.AbacStatus.Status == types.BucketAbacStatusEnabled, nil
}
