package bucketconfig

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// websiteKind copies static website hosting as it is: index and error
// documents, redirect-all, and routing rules in their order (S3 applies the
// first rule that matches). Redirect host names are kept: they name the
// site, not the bucket's Region.
var websiteKind = &spec[types.WebsiteConfiguration]{
	name:         "website",
	readActions:  []string{"s3:GetBucketWebsite"},
	writeActions: []string{"s3:PutBucketWebsite", "s3:DeleteBucketWebsite"},
	get: func(ctx context.Context, e *Engine, b Bucket) (*types.WebsiteConfiguration, error) {
		out, err := e.s3(b).GetBucketWebsite(ctx, &s3.GetBucketWebsiteInput{Bucket: &b.Name})
		if isNotFound(err, codeNoSuchWebsite) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &types.WebsiteConfiguration{
			ErrorDocument:         out.ErrorDocument,
			IndexDocument:         out.IndexDocument,
			RedirectAllRequestsTo: out.RedirectAllRequestsTo,
			RoutingRules:          out.RoutingRules,
		}, nil
	},
	put: func(ctx context.Context, e *Engine, b Bucket, v *types.WebsiteConfiguration) error {
		_, err := e.s3(b).PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{Bucket: &b.Name, WebsiteConfiguration: v})
		return err
	},
	del: func(ctx context.Context, e *Engine, b Bucket) error {
		_, err := e.s3(b).DeleteBucketWebsite(ctx, &s3.DeleteBucketWebsiteInput{Bucket: &b.Name})
		return err
	},
}
