package bucketconfig

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// accelerateKind copies S3 Transfer Acceleration. Once set it can only be
// Suspended, never unset again, so Suspended reads as absent (like a bucket
// where it was never set) and is what removing it writes.
var accelerateKind = &spec[types.BucketAccelerateStatus]{
	name:         "accelerate",
	readActions:  []string{"s3:GetAccelerateConfiguration"},
	writeActions: []string{"s3:PutAccelerateConfiguration"},
	get: func(ctx context.Context, e *Engine, b Bucket) (*types.BucketAccelerateStatus, error) {
		out, err := e.s3(b).GetBucketAccelerateConfiguration(ctx, &s3.GetBucketAccelerateConfigurationInput{Bucket: &b.Name})
		if err != nil {
			return nil, err
		}
		if out.Status != types.BucketAccelerateStatusEnabled {
			return nil, nil
		}
		status := out.Status
		return &status, nil
	},
	put: func(ctx context.Context, e *Engine, b Bucket, v *types.BucketAccelerateStatus) error {
		return putAccelerate(ctx, e, b, *v)
	},
	del: func(ctx context.Context, e *Engine, b Bucket) error {
		return putAccelerate(ctx, e, b, types.BucketAccelerateStatusSuspended)
	},
	xform: func(_ context.Context, _ *Engine, m Mirror, v *types.BucketAccelerateStatus) (*types.BucketAccelerateStatus, []Note, error) {
		// Accelerated endpoints are virtual-hosted (BUCKET.s3-accelerate...),
		// so S3 refuses acceleration for names with dots (InvalidRequest).
		if v != nil && strings.Contains(m.Dest.Name, ".") {
			return nil, nil, fmt.Errorf("enabling transfer acceleration on bucket %q in %s: S3 does not accelerate bucket names containing dots", m.Dest.Name, m.Dest.Region)
		}
		return v, nil, nil
	},
}

func putAccelerate(ctx context.Context, e *Engine, b Bucket, status types.BucketAccelerateStatus) error {
	_, err := e.s3(b).PutBucketAccelerateConfiguration(ctx, &s3.PutBucketAccelerateConfigurationInput{Bucket: &b.Name,
		AccelerateConfiguration: &types.AccelerateConfiguration{Status: status}})
	return err
}
