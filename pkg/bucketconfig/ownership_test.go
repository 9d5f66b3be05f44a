package bucketconfig

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// putOwnership sets b's Object Ownership.
func (f *fixture) putOwnership(b Bucket, own types.ObjectOwnership) {
	f.t.Helper()
	_, err := f.clients.S3(b.Region).PutBucketOwnershipControls(f.ctx, &s3.PutBucketOwnershipControlsInput{Bucket: &b.Name,
		OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: own}}}})
	f.must(err)
}

// readOwnership is b's Object Ownership, "" when it has no ownership controls.
func (f *fixture) readOwnership(b Bucket) types.ObjectOwnership {
	f.t.Helper()
	out, err := f.clients.S3(b.Region).GetBucketOwnershipControls(f.ctx, &s3.GetBucketOwnershipControlsInput{Bucket: &b.Name})
	if ErrorCode(err) == codeNoSuchOwnershipControls {
		return ""
	}
	f.must(err)
	if len(out.OwnershipControls.Rules) != 1 {
		f.t.Fatalf("ownership controls of %s have %d rules, want 1", b, len(out.OwnershipControls.Rules))
	}
	return out.OwnershipControls.Rules[0].ObjectOwnership
}

// givePost2023Defaults gives b what real S3 gives every bucket created since
// April 2023 and the local cloud does not: BucketOwnerEnforced and all four
// Block Public Access flags on.
func (f *fixture) givePost2023Defaults(b Bucket) {
	f.t.Helper()
	f.putOwnership(b, types.ObjectOwnershipBucketOwnerEnforced)
	_, err := f.clients.S3(b.Region).PutPublicAccessBlock(f.ctx, &s3.PutPublicAccessBlockInput{Bucket: &b.Name,
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true),
			IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}})
	f.must(err)
}

// configureExpecting runs the engine once and checks the status of the
// kinds named in want.
func (f *fixture) configureExpecting(want map[string]Status) {
	f.t.Helper()
	_, results, err := f.engine.Configure(f.ctx, f.m)
	f.must(err)
	seen := 0
	for _, r := range results {
		if w, ok := want[r.Kind]; ok {
			seen++
			if r.Status != w {
				f.t.Errorf("%s is %s (%s), want %s", r.Kind, r.Status, r.Error, w)
			}
		}
	}
	if seen != len(want) {
		f.t.Errorf("configure reported %d of the kinds %v", seen, want)
	}
}

func TestOwnership(t *testing.T) {
	f := newFixture(t)
	f.roundTrip("ownership",
		func() { f.putOwnership(f.m.Source, types.ObjectOwnershipBucketOwnerPreferred) },
		func() {
			_, err := f.src().DeleteBucketOwnershipControls(f.ctx, &s3.DeleteBucketOwnershipControlsInput{Bucket: &f.m.Source.Name})
			f.must(err)
		},
		func() {
			if got := f.readOwnership(f.m.Dest); got != types.ObjectOwnershipBucketOwnerPreferred {
				t.Errorf("destination ownership = %q, want BucketOwnerPreferred", got)
			}
		})
	if got := f.readOwnership(f.m.Dest); got != "" {
		t.Errorf("destination ownership after removal = %q, want no ownership controls", got)
	}
}

// A source created before April 2023 has neither ownership controls nor
// Block Public Access; a destination created now has both, and must lose
// them to be configured like the source.
func TestOwnershipAbsentOnSourceDeletesDestinationDefaults(t *testing.T) {
	f := newFixture(t)
	f.givePost2023Defaults(f.m.Dest)
	f.configureExpecting(map[string]Status{"ownership": StatusRemoved, "public-access-block": StatusRemoved})
	if got := f.readOwnership(f.m.Dest); got != "" {
		t.Errorf("destination ownership = %q, want no ownership controls", got)
	}
	_, err := f.dst().GetPublicAccessBlock(f.ctx, &s3.GetPublicAccessBlockInput{Bucket: &f.m.Dest.Name})
	if code := ErrorCode(err); code != codeNoSuchPublicAccessBlock {
		t.Errorf("destination Block Public Access: err %v (code %q), want %s", err, code, codeNoSuchPublicAccessBlock)
	}
	for _, kind := range []string{"ownership", "public-access-block", "acl"} {
		if s := f.planAction(kind); s.Action != ActionNone {
			t.Errorf("after configure, plan for %s is %s (current %s, desired %s), want none", kind, s.Action, s.Current, s.Desired)
		}
	}
}

// S3 refuses BucketOwnerEnforced while the ACL grants to others: the
// ownership kind resets the destination's ACL on its way there.
func TestOwnershipEnforcedResetsDestinationACL(t *testing.T) {
	f := newFixture(t)
	f.putOwnership(f.m.Source, types.ObjectOwnershipBucketOwnerEnforced)
	f.putOwnership(f.m.Dest, types.ObjectOwnershipObjectWriter)
	f.putGrants(f.m.Dest, logDeliveryGrants...)
	_, err := f.dst().PutBucketOwnershipControls(f.ctx, &s3.PutBucketOwnershipControlsInput{Bucket: &f.m.Dest.Name,
		OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}})
	if code := ErrorCode(err); code != codeInvalidBucketACLWithOwnership {
		t.Fatalf("enforcing ownership over a granting ACL: err %v (code %q), want %s", err, code, codeInvalidBucketACLWithOwnership)
	}

	if r := f.configure("ownership"); r.Status != StatusApplied {
		t.Errorf("ownership is %s (%s), want applied", r.Status, r.Error)
	}
	if got := f.readOwnership(f.m.Dest); got != types.ObjectOwnershipBucketOwnerEnforced {
		t.Errorf("destination ownership = %q, want BucketOwnerEnforced", got)
	}
	if got := f.readGrants(f.m.Dest); len(got) != 1 || got[0].Permission != types.PermissionFullControl || got[0].ID != f.ownerID(f.m.Dest) {
		t.Errorf("destination ACL = %+v, want the owner's FULL_CONTROL only", got)
	}
	for _, kind := range []string{"ownership", "acl"} {
		if s := f.planAction(kind); s.Action != ActionNone {
			t.Errorf("after configure, plan for %s is %s (current %s, desired %s), want none", kind, s.Action, s.Current, s.Desired)
		}
	}
}
