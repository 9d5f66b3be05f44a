package bucketconfig

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// requesterPaysKind copies Requester Pays. S3 has no "not configured" state
// for it, only the default BucketOwner, which therefore reads as absent and
// is what removing it writes.
var requesterPaysKind = &spec[types.Payer]{
	name:         "requester-pays",
	readActions:  []string{"s3:GetBucketRequestPayment"},
	writeActions: []string{"s3:PutBucketRequestPayment"},
	get: func(ctx context.Context, e *Engine, b Bucket) (*types.Payer, error) {
		out, err := e.s3(b).GetBucketRequestPayment(ctx, &s3.GetBucketRequestPaymentInput{Bucket: &b.Name})
		if err != nil {
			return nil, err
		}
		if out.Payer == "" || out.Payer == types.PayerBucketOwner {
			return nil, nil
		}
		payer := out.Payer
		return &payer, nil
	},
	put: func(ctx context.Context, e *Engine, b Bucket, v *types.Payer) error {
		return putRequestPayment(ctx, e, b, *v)
	},
	del: func(ctx context.Context, e *Engine, b Bucket) error {
		return putRequestPayment(ctx, e, b, types.PayerBucketOwner)
	},
}

func putRequestPayment(ctx context.Context, e *Engine, b Bucket, payer types.Payer) error {
	_, err := e.s3(b).PutBucketRequestPayment(ctx, &s3.PutBucketRequestPaymentInput{Bucket: &b.Name,
		RequestPaymentConfiguration: &types.RequestPaymentConfiguration{Payer: payer}})
	return err
}
