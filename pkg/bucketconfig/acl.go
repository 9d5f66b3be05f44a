package bucketconfig

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// aclGrant is one grant of a bucket ACL. DisplayName is left out: S3 no
// longer returns it and ignores it on writes.
type aclGrant struct {
	Type       types.Type       `json:"type"`
	ID         string           `json:"id,omitempty"`
	URI        string           `json:"uri,omitempty"`
	Email      string           `json:"email,omitempty"`
	Permission types.Permission `json:"permission"`
}

// aclKind copies the bucket ACL grant for grant: grants to the owner (both
// buckets belong to the same account, so the same canonical ID), to other
// canonical IDs and to groups such as LogDelivery or AllUsers. The owner's
// lone FULL_CONTROL, what every bucket starts with, reads as absent. A
// source with BucketOwnerEnforced has ACLs disabled, so nothing is copied
// from it. Written after ownership (a BucketOwnerEnforced destination
// refuses ACLs) and Block Public Access (BlockPublicAcls refuses public
// grants); see edges in catalog.go.
var aclKind = &spec[[]aclGrant]{
	name: "acl",
	// s3:GetBucketOwnershipControls: whether the source's ACL is in effect.
	readActions: []string{"s3:GetBucketAcl", "s3:GetBucketOwnershipControls"},
	// s3:GetBucketAcl: the destination's owner, required in the written ACL
	// (read with the destination's snapshot).
	writeActions: []string{"s3:PutBucketAcl", "s3:GetBucketAcl"},
	get: func(ctx context.Context, e *Engine, b Bucket) (*[]aclGrant, error) {
		out, err := e.s3(b).GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: &b.Name})
		if err != nil {
			return nil, err
		}
		e.learn(func(f *facts) { f.owner = out.Owner })
		grants := canonicalGrants(out.Grants)
		if isPrivateACL(grants, out.Owner) {
			return nil, nil
		}
		return &grants, nil
	},
	put: func(ctx context.Context, e *Engine, b Bucket, v *[]aclGrant) error {
		client := e.s3(b)
		// S3 wants the bucket owner in an ACL document: the destination's
		// read already told it.
		var owner *types.Owner
		if f := e.destFacts(); f != nil && f.owner != nil {
			owner = &types.Owner{ID: f.owner.ID}
		} else {
			cur, err := client.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: &b.Name})
			if err != nil {
				return err
			}
			if cur.Owner != nil {
				owner = &types.Owner{ID: cur.Owner.ID}
			}
		}
		grants := make([]types.Grant, 0, len(*v))
		for _, g := range *v {
			grants = append(grants, types.Grant{Permission: g.Permission, Grantee: &types.Grantee{Type: g.Type,
				ID: grantField(g.ID), URI: grantField(g.URI), EmailAddress: grantField(g.Email)}})
		}
		_, err := client.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &b.Name,
			AccessControlPolicy: &types.AccessControlPolicy{Owner: owner, Grants: grants}})
		return err
	},
	// The plan deletes only an ACL it read as granting to others, and does so
	// before ownership turns BucketOwnerEnforced (see edges), while S3 still
	// accepts ACL writes.
	del: func(ctx context.Context, e *Engine, b Bucket) error {
		_, err := e.s3(b).PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &b.Name, ACL: types.BucketCannedACLPrivate})
		return err
	},
	xform: func(ctx context.Context, e *Engine, m Mirror, v *[]aclGrant) (*[]aclGrant, []Note, error) {
		if v == nil {
			return nil, nil, nil
		}
		// The source's ownership is in the same snapshot (no read of its
		// own); outside a plan it is read.
		var own *types.ObjectOwnership
		var err error
		if e.plan != nil && e.plan.Source.read(ownershipKind.name) {
			var v value
			if v, err = e.plan.Source.value(ownershipKind.name); v != nil {
				own = v.(*types.ObjectOwnership)
			}
		} else {
			own, err = getOwnership(ctx, e, m.Source)
		}
		if err != nil {
			return nil, nil, err
		}
		if own != nil && *own == types.ObjectOwnershipBucketOwnerEnforced {
			return nil, []Note{{Severity: SeverityInfo,
				Message: "the source ACL is not copied: BucketOwnerEnforced disables it on the source"}}, nil
		}
		return e.ownerGrantsToDest(ctx, m, v)
	},
}

// ownerGrantsToDest turns the grants to the source bucket's owner into
// grants to the destination bucket's owner: in another account the
// destination has another owner (another canonical user id), and a grant to
// the source's owner there would give the source's account access to the
// copy while the copy's own owner lost its FULL_CONTROL. The owners' ids
// are those of each bucket's ACL (from the plan's snapshots, else read).
// Within one account both are the same and nothing changes.
func (e *Engine) ownerGrantsToDest(ctx context.Context, m Mirror, v *[]aclGrant) (*[]aclGrant, []Note, error) {
	srcOwner, dstOwner, err := e.ownersAcross(ctx, m)
	if err != nil || srcOwner == "" {
		return v, nil, err
	}
	out := make([]aclGrant, len(*v))
	mapped := 0
	for i, g := range *v {
		out[i] = g
		if g.Type == types.TypeCanonicalUser && g.ID == srcOwner {
			out[i].ID = dstOwner
			mapped++
		}
	}
	out = canonicalGrantList(out)
	var notes []Note
	if mapped > 0 {
		notes = append(notes, Note{Severity: SeverityInfo, Message: fmt.Sprintf(
			"%d ACL grant(s) to the source's owner (account %s) became grants to the destination's owner (account %s)",
			mapped, e.accountOf(m.Source), e.accountOf(m.Dest))})
	}
	return &out, notes, nil
}

// ownersAcross returns the canonical ids of the source's and the
// destination's owners when they differ (a destination in another
// account), else "" twice: grants naming the source's owner (the ACL's,
// the logging target grants) then name the destination's owner instead.
func (e *Engine) ownersAcross(ctx context.Context, m Mirror) (src, dst string, err error) {
	if e.accountOf(m.Source) == e.accountOf(m.Dest) {
		return "", "", nil
	}
	if src, err = e.aclOwner(ctx, m.Source, func(p *Plan) *Snapshot { return p.Source }); err != nil {
		return "", "", fmt.Errorf("reading the owner of source bucket %s: %w", m.Source, err)
	}
	if dst, err = e.aclOwner(ctx, m.Dest, func(p *Plan) *Snapshot { return p.Dest }); err != nil {
		return "", "", fmt.Errorf("reading the owner of destination bucket %s: %w", m.Dest, err)
	}
	if src == "" || dst == "" || src == dst {
		return "", "", nil
	}
	return src, dst, nil
}

// aclOwner is the canonical id of b's owner: from the ACL read into the
// plan's snapshot of b (pick), else read now.
func (e *Engine) aclOwner(ctx context.Context, b Bucket, pick func(*Plan) *Snapshot) (string, error) {
	if e.plan != nil {
		if s := pick(e.plan); s != nil {
			s.mu.Lock()
			owner := s.facts.owner
			s.mu.Unlock()
			if owner != nil {
				return aws.ToString(owner.ID), nil
			}
		}
	}
	out, err := e.s3(b).GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: &b.Name})
	if err != nil {
		return "", err
	}
	if out.Owner == nil {
		return "", nil
	}
	return aws.ToString(out.Owner.ID), nil
}

// canonicalGrants sorts and deduplicates grants, ACL order being
// meaningless.
func canonicalGrants(in []types.Grant) []aclGrant {
	out := make([]aclGrant, 0, len(in))
	for _, g := range in {
		a := aclGrant{Permission: g.Permission}
		if g.Grantee != nil {
			a.Type, a.ID, a.URI, a.Email = g.Grantee.Type, aws.ToString(g.Grantee.ID), aws.ToString(g.Grantee.URI), aws.ToString(g.Grantee.EmailAddress)
		}
		out = append(out, a)
	}
	return canonicalGrantList(out)
}

// canonicalGrantList sorts and deduplicates grants in place.
func canonicalGrantList(out []aclGrant) []aclGrant {
	slices.SortFunc(out, func(a, b aclGrant) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.ID, b.ID), cmp.Compare(a.URI, b.URI),
			cmp.Compare(a.Email, b.Email), cmp.Compare(a.Permission, b.Permission))
	})
	return slices.Compact(out)
}

// isPrivateACL says whether grants are the private canned ACL: the owner's
// FULL_CONTROL and nothing else.
func isPrivateACL(grants []aclGrant, owner *types.Owner) bool {
	return owner != nil && len(grants) == 1 && grants[0] == aclGrant{Type: types.TypeCanonicalUser,
		ID: aws.ToString(owner.ID), Permission: types.PermissionFullControl}
}

// grantField is a grantee field as the SDK wants it: nil when empty.
func grantField(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
