package bucketconfig

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// ownershipKind copies S3 Object Ownership. A source without ownership
// controls (created before April 2023) is absent here, and the destination's
// BucketOwnerEnforced default (every new bucket since then) is deleted to
// match: the destination then accepts ACLs like the source.
var ownershipKind = &spec[types.ObjectOwnership]{
	name:        "ownership",
	readActions: []string{"s3:GetBucketOwnershipControls"},
	// DeleteBucketOwnershipControls is authorised by s3:PutBucketOwnershipControls;
	// s3:PutBucketAcl resets an ACL that blocks BucketOwnerEnforced.
	writeActions: []string{"s3:PutBucketOwnershipControls", "s3:PutBucketAcl"},
	get:          getOwnership,
	put: func(ctx context.Context, e *Engine, b Bucket, v *types.ObjectOwnership) error {
		client := e.s3(b)
		in := &s3.PutBucketOwnershipControlsInput{Bucket: &b.Name,
			OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: *v}}}}
		_, err := client.PutBucketOwnershipControls(ctx, in)
		if ErrorCode(err) != codeInvalidBucketACLWithOwnership {
			return err
		}
		// S3 refuses BucketOwnerEnforced while the bucket ACL grants to anyone
		// but the owner; the source has ACLs disabled, so the destination's
		// grants are not wanted either (the acl kind plans them away too):
		// reset to the private ACL, as S3's "prerequisites for disabling
		// ACLs" prescribe, and try again.
		if _, err := client.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &b.Name, ACL: types.BucketCannedACLPrivate}); err != nil {
			return err
		}
		_, err = client.PutBucketOwnershipControls(ctx, in)
		return err
	},
	del: func(ctx context.Context, e *Engine, b Bucket) error {
		_, err := e.s3(b).DeleteBucketOwnershipControls(ctx, &s3.DeleteBucketOwnershipControlsInput{Bucket: &b.Name})
		return err
	},
}

// getOwnership reads a bucket's Object Ownership; nil when it has no
// ownership controls (ACLs enabled, objects owned by their writer).
func getOwnership(ctx context.Context, e *Engine, b Bucket) (*types.ObjectOwnership, error) {
	out, err := e.s3(b).GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: &b.Name})
	if isNotFound(err, codeNoSuchOwnershipControls) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if out.OwnershipControls == nil || len(out.OwnershipControls.Rules) == 0 {
		return nil, nil
	}
	// S3 allows exactly one rule.
	own := out.OwnershipControls.Rules[0].ObjectOwnership
	return &own, nil
}

// Ownership reads b's Object Ownership; nil when it has no ownership
// controls. pkg/mirror creates a destination with its source's.
func (e *Engine) Ownership(ctx context.Context, b Bucket) (*types.ObjectOwnership, error) {
	return getOwnership(ctx, e, b)
}
