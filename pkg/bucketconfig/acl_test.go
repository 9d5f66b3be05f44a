package bucketconfig

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const (
	logDeliveryURI = "http://acs.amazonaws.com/groups/s3/LogDelivery"
	// The canonical user ID of the S3 documentation's examples: another account.
	otherAccountID = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
)

var logDeliveryGrants = []aclGrant{
	{Type: types.TypeGroup, URI: logDeliveryURI, Permission: types.PermissionWrite},
	{Type: types.TypeGroup, URI: logDeliveryURI, Permission: types.PermissionReadAcp},
}

// ownerID is the canonical ID of b's owner.
func (f *fixture) ownerID(b Bucket) string {
	f.t.Helper()
	out, err := f.clients.S3(b.Region).GetBucketAcl(f.ctx, &s3.GetBucketAclInput{Bucket: &b.Name})
	f.must(err)
	if out.Owner == nil || aws.ToString(out.Owner.ID) == "" {
		f.t.Fatalf("ACL of %s names no owner", b)
	}
	return aws.ToString(out.Owner.ID)
}

// putGrants sets b's ACL to the owner's FULL_CONTROL plus grants.
func (f *fixture) putGrants(b Bucket, grants ...aclGrant) {
	f.t.Helper()
	f.must(f.tryPutGrants(b, grants...))
}

func (f *fixture) tryPutGrants(b Bucket, grants ...aclGrant) error {
	f.t.Helper()
	owner := f.ownerID(b)
	sdk := []types.Grant{{Permission: types.PermissionFullControl, Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: &owner}}}
	for _, g := range grants {
		sdk = append(sdk, types.Grant{Permission: g.Permission,
			Grantee: &types.Grantee{Type: g.Type, ID: grantField(g.ID), URI: grantField(g.URI)}})
	}
	_, err := f.clients.S3(b.Region).PutBucketAcl(f.ctx, &s3.PutBucketAclInput{Bucket: &b.Name,
		AccessControlPolicy: &types.AccessControlPolicy{Owner: &types.Owner{ID: &owner}, Grants: sdk}})
	return err
}

// readGrants is b's ACL, sorted.
func (f *fixture) readGrants(b Bucket) []aclGrant {
	f.t.Helper()
	out, err := f.clients.S3(b.Region).GetBucketAcl(f.ctx, &s3.GetBucketAclInput{Bucket: &b.Name})
	f.must(err)
	return canonicalGrants(out.Grants)
}

// wantGrants is the owner's FULL_CONTROL plus grants, sorted.
func (f *fixture) wantGrants(b Bucket, grants ...aclGrant) []aclGrant {
	sdk := []types.Grant{{Permission: types.PermissionFullControl, Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(f.ownerID(b))}}}
	for _, g := range grants {
		sdk = append(sdk, types.Grant{Permission: g.Permission, Grantee: &types.Grantee{Type: g.Type, ID: grantField(g.ID), URI: grantField(g.URI)}})
	}
	return canonicalGrants(sdk)
}

func TestACLCanonicalGrants(t *testing.T) {
	owner := &types.Owner{ID: aws.String("owner")}
	got := canonicalGrants([]types.Grant{
		{Permission: types.PermissionWrite, Grantee: &types.Grantee{Type: types.TypeGroup, URI: aws.String(logDeliveryURI)}},
		{Permission: types.PermissionRead, Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String("zz"), DisplayName: aws.String("someone")}},
		{Permission: types.PermissionFullControl, Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String("owner")}},
		{Permission: types.PermissionReadAcp, Grantee: &types.Grantee{Type: types.TypeGroup, URI: aws.String(logDeliveryURI)}},
		{Permission: types.PermissionWrite, Grantee: &types.Grantee{Type: types.TypeGroup, URI: aws.String(logDeliveryURI)}},
	})
	want := []aclGrant{
		{Type: types.TypeCanonicalUser, ID: "owner", Permission: types.PermissionFullControl},
		{Type: types.TypeCanonicalUser, ID: "zz", Permission: types.PermissionRead},
		{Type: types.TypeGroup, URI: logDeliveryURI, Permission: types.PermissionReadAcp},
		{Type: types.TypeGroup, URI: logDeliveryURI, Permission: types.PermissionWrite},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("canonical grants\n got %+v\nwant %+v", got, want)
	}
	if isPrivateACL(got, owner) {
		t.Error("an ACL with grants to others reads as private")
	}
	if !isPrivateACL(got[:1], owner) {
		t.Error("the owner's lone FULL_CONTROL does not read as private")
	}
	if isPrivateACL(got[1:2], &types.Owner{ID: aws.String("zz")}) {
		t.Error("the owner's lone READ reads as private")
	}
	if isPrivateACL(got[:1], nil) {
		t.Error("an ACL without owner reads as private")
	}
}

func TestACL(t *testing.T) {
	f := newFixture(t)
	// A source without ownership controls (created before April 2023) has
	// ACLs enabled.
	extra := []aclGrant{
		{Type: types.TypeCanonicalUser, ID: otherAccountID, Permission: types.PermissionRead},
		{Type: types.TypeGroup, URI: logDeliveryURI, Permission: types.PermissionWrite},
	}
	f.roundTrip("acl",
		func() { f.putGrants(f.m.Source, extra...) },
		func() {
			_, err := f.src().PutBucketAcl(f.ctx, &s3.PutBucketAclInput{Bucket: &f.m.Source.Name, ACL: types.BucketCannedACLPrivate})
			f.must(err)
		},
		func() {
			if got, want := f.readGrants(f.m.Dest), f.wantGrants(f.m.Dest, extra...); !reflect.DeepEqual(got, want) {
				t.Errorf("destination ACL\n got %+v\nwant %+v", got, want)
			}
		})
	if got, want := f.readGrants(f.m.Dest), f.wantGrants(f.m.Dest); !reflect.DeepEqual(got, want) {
		t.Errorf("destination ACL after removal\n got %+v\nwant %+v", got, want)
	}
}

// A canned ACL granting one grantee two permissions is listed by S3 as two
// grants, and both are copied.
func TestACLCannedPublicReadWrite(t *testing.T) {
	f := newFixture(t)
	_, err := f.src().PutBucketAcl(f.ctx, &s3.PutBucketAclInput{Bucket: &f.m.Source.Name, ACL: types.BucketCannedACLPublicReadWrite})
	f.must(err)
	public := []aclGrant{
		{Type: types.TypeGroup, URI: allUsersURI, Permission: types.PermissionRead},
		{Type: types.TypeGroup, URI: allUsersURI, Permission: types.PermissionWrite},
	}
	if got, want := f.readGrants(f.m.Source), f.wantGrants(f.m.Source, public...); !reflect.DeepEqual(got, want) {
		t.Fatalf("source ACL\n got %+v\nwant %+v", got, want)
	}
	if r := f.configure("acl"); r.Status != StatusApplied {
		t.Errorf("acl is %s (%s), want applied", r.Status, r.Error)
	}
	if got, want := f.readGrants(f.m.Dest), f.wantGrants(f.m.Dest, public...); !reflect.DeepEqual(got, want) {
		t.Errorf("destination ACL\n got %+v\nwant %+v", got, want)
	}
	if s := f.planAction("acl"); s.Action != ActionNone {
		t.Errorf("after configure, plan for acl is %s (current %s, desired %s), want none", s.Action, s.Current, s.Desired)
	}
}

// The destination starts as real S3 creates buckets now, ACLs disabled and
// Block Public Access on; the source is an ObjectWriter bucket whose ACL
// lets S3 server access logging deliver. Ownership (then BPA) must change
// before the ACL can be written.
func TestACLObjectWriterOwnershipWithGrants(t *testing.T) {
	f := newFixture(t)
	f.putOwnership(f.m.Source, types.ObjectOwnershipObjectWriter)
	extra := append([]aclGrant{{Type: types.TypeCanonicalUser, ID: otherAccountID, Permission: types.PermissionReadAcp}}, logDeliveryGrants...)
	f.putGrants(f.m.Source, extra...)
	f.givePost2023Defaults(f.m.Dest)
	err := f.tryPutGrants(f.m.Dest, logDeliveryGrants...)
	if code := ErrorCode(err); code != "AccessControlListNotSupported" {
		t.Fatalf("writing an ACL before ownership allows it: err %v (code %q), want AccessControlListNotSupported", err, code)
	}

	f.configureExpecting(map[string]Status{"ownership": StatusApplied, "public-access-block": StatusRemoved, "acl": StatusApplied})
	if got := f.readOwnership(f.m.Dest); got != types.ObjectOwnershipObjectWriter {
		t.Errorf("destination ownership = %q, want ObjectWriter", got)
	}
	if got, want := f.readGrants(f.m.Dest), f.wantGrants(f.m.Dest, extra...); !reflect.DeepEqual(got, want) {
		t.Errorf("destination ACL\n got %+v\nwant %+v", got, want)
	}
	for _, kind := range []string{"ownership", "public-access-block", "acl"} {
		if s := f.planAction(kind); s.Action != ActionNone {
			t.Errorf("after configure, plan for %s is %s (current %s, desired %s), want none", kind, s.Action, s.Current, s.Desired)
		}
	}
}

// A deliberately public bucket: ACLs enabled, Block Public Access turned off,
// AllUsers may list it. The destination, created with BPA on, must end up
// just as public.
func TestACLPublicWithBlockPublicAccessOff(t *testing.T) {
	f := newFixture(t)
	f.givePost2023Defaults(f.m.Source)
	f.putOwnership(f.m.Source, types.ObjectOwnershipBucketOwnerPreferred)
	_, err := f.src().PutBucketAcl(f.ctx, &s3.PutBucketAclInput{Bucket: &f.m.Source.Name, ACL: types.BucketCannedACLPublicRead})
	if code := ErrorCode(err); code != codeAccessDenied {
		t.Fatalf("a public ACL under BlockPublicAcls: err %v (code %q), want %s", err, code, codeAccessDenied)
	}
	off := &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(false), IgnorePublicAcls: aws.Bool(false),
		BlockPublicPolicy: aws.Bool(false), RestrictPublicBuckets: aws.Bool(false)}
	_, err = f.src().PutPublicAccessBlock(f.ctx, &s3.PutPublicAccessBlockInput{Bucket: &f.m.Source.Name, PublicAccessBlockConfiguration: off})
	f.must(err)
	_, err = f.src().PutBucketAcl(f.ctx, &s3.PutBucketAclInput{Bucket: &f.m.Source.Name, ACL: types.BucketCannedACLPublicRead})
	f.must(err)
	f.givePost2023Defaults(f.m.Dest)

	f.configureExpecting(map[string]Status{"ownership": StatusApplied, "public-access-block": StatusApplied, "acl": StatusApplied})
	out, err := f.dst().GetPublicAccessBlock(f.ctx, &s3.GetPublicAccessBlockInput{Bucket: &f.m.Dest.Name})
	f.must(err)
	if c := out.PublicAccessBlockConfiguration; c == nil || aws.ToBool(c.BlockPublicAcls) || aws.ToBool(c.IgnorePublicAcls) ||
		aws.ToBool(c.BlockPublicPolicy) || aws.ToBool(c.RestrictPublicBuckets) {
		t.Errorf("destination Block Public Access = %+v, want all four off", c)
	}
	if got := f.readOwnership(f.m.Dest); got != types.ObjectOwnershipBucketOwnerPreferred {
		t.Errorf("destination ownership = %q, want BucketOwnerPreferred", got)
	}
	public := aclGrant{Type: types.TypeGroup, URI: allUsersURI, Permission: types.PermissionRead}
	if got, want := f.readGrants(f.m.Dest), f.wantGrants(f.m.Dest, public); !reflect.DeepEqual(got, want) {
		t.Errorf("destination ACL\n got %+v\nwant %+v", got, want)
	}
	for _, kind := range []string{"ownership", "public-access-block", "acl"} {
		if s := f.planAction(kind); s.Action != ActionNone {
			t.Errorf("after configure, plan for %s is %s (current %s, desired %s), want none", kind, s.Action, s.Current, s.Desired)
		}
	}
}

// S3 shows a BucketOwnerEnforced bucket's ACL as the owner's FULL_CONTROL,
// so grants read from such a source can only be stale: they are not copied.
func TestACLSourceBucketOwnerEnforcedNotCopied(t *testing.T) {
	f := newFixture(t)
	f.putOwnership(f.m.Source, types.ObjectOwnershipBucketOwnerEnforced)
	grants := []aclGrant{{Type: types.TypeGroup, URI: allUsersURI, Permission: types.PermissionRead}}
	out, notes, err := aclKind.xform(context.Background(), f.engine, f.m, &grants)
	f.must(err)
	if out != nil {
		t.Errorf("desired ACL = %+v, want none", *out)
	}
	if len(notes) != 1 || notes[0].Severity != SeverityInfo || !strings.Contains(notes[0].Message, "BucketOwnerEnforced") {
		t.Errorf("notes = %+v, want one info note naming BucketOwnerEnforced", notes)
	}

	f.putOwnership(f.m.Source, types.ObjectOwnershipObjectWriter)
	out, notes, err = aclKind.xform(context.Background(), f.engine, f.m, &grants)
	f.must(err)
	if out == nil || !reflect.DeepEqual(*out, grants) || len(notes) != 0 {
		t.Errorf("with ObjectWriter: desired %v, notes %+v; want the grants unchanged and no note", out, notes)
	}
}
