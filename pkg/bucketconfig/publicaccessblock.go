package bucketconfig

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// publicAccessBlockKind copies the bucket-level Block Public Access settings
// (the account-level ones belong to the account, not the bucket). A source
// without them (created before April 2023) is absent here, and the
// destination's all-on default is deleted to match; four explicit false
// flags are a configuration of their own and are copied as such.
var publicAccessBlockKind = &spec[types.PublicAccessBlockConfiguration]{
	name:         "public-access-block",
	readActions:  []string{"s3:GetBucketPublicAccessBlock"},
	writeActions: []string{"s3:PutBucketPublicAccessBlock"}, // DeletePublicAccessBlock is authorised by s3:PutBucketPublicAccessBlock
	get: func(ctx context.Context, e *Engine, b Bucket) (*types.PublicAccessBlockConfiguration, error) {
		out, err := e.s3(b).GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &b.Name})
		if isNotFound(err, codeNoSuchPublicAccessBlock) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		c := out.PublicAccessBlockConfiguration
		if c == nil {
			return nil, nil
		}
		// An omitted flag is false; spell all four out so equal settings
		// marshal alike.
		return &types.PublicAccessBlockConfiguration{
			BlockPublicAcls:       aws.Bool(aws.ToBool(c.BlockPublicAcls)),
			IgnorePublicAcls:      aws.Bool(aws.ToBool(c.IgnorePublicAcls)),
			BlockPublicPolicy:     aws.Bool(aws.ToBool(c.BlockPublicPolicy)),
			RestrictPublicBuckets: aws.Bool(aws.ToBool(c.RestrictPublicBuckets)),
		}, nil
	},
	put: func(ctx context.Context, e *Engine, b Bucket, v *types.PublicAccessBlockConfiguration) error {
		_, err := e.s3(b).PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &b.Name, PublicAccessBlockConfiguration: v})
		return err
	},
	del: func(ctx context.Context, e *Engine, b Bucket) error {
		_, err := e.s3(b).DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: &b.Name})
		return err
	},
}
