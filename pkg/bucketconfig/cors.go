package bucketconfig

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// corsKind copies CORS rules as they are; rule order is significant (S3
// uses the first match), so it is kept.
var corsKind = &spec[[]types.CORSRule]{
	name:         "cors",
	readActions:  []string{"s3:GetBucketCORS"},
	writeActions: []string{"s3:PutBucketCORS"}, // DeleteBucketCors is authorised by s3:PutBucketCORS
	get: func(ctx context.Context, e *Engine, b Bucket) (*[]types.CORSRule, error) {
		out, err := e.s3(b).GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: &b.Name})
		if isNotFound(err, codeNoSuchCORS) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &out.CORSRules, nil
	},
	put: func(ctx context.Context, e *Engine, b Bucket, v *[]types.CORSRule) error {
		_, err := e.s3(b).PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: &b.Name,
			CORSConfiguration: &types.CORSConfiguration{CORSRules: *v}})
		return err
	},
	del: func(ctx context.Context, e *Engine, b Bucket) error {
		_, err := e.s3(b).DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: &b.Name})
		return err
	},
}
