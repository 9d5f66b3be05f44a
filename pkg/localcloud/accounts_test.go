package localcloud_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

func bucketNames(t *testing.T, c *s3.Client) ([]string, string) {
	t.Helper()
	out, err := c.ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	var names []string
	for _, b := range out.Buckets {
		names = append(names, aws.ToString(b.Name))
	}
	return names, aws.ToString(out.Owner.ID)
}

// s3-account-canonical-id: every account has its own 64-hex canonical id in
// ACLs and the ListBuckets Owner, and sees only its own buckets; a grant to
// another account's id is kept as written.
func TestAccountsHaveTheirOwnBucketsAndCanonicalIDs(t *testing.T) {
	cloud := localcloud.ForTest(t)
	ctx := context.Background()
	memberAccount, err := cloud.CreateMemberAccount(ctx, "canonical-ids")
	if err != nil {
		t.Fatal(err)
	}
	memberCfg, err := cloud.AccountConfig(ctx, memberAccount)
	if err != nil {
		t.Fatal(err)
	}
	home := s3.NewFromConfig(cloud.AWSConfig(), func(o *s3.Options) { o.UsePathStyle = true })
	member := s3.NewFromConfig(memberCfg, func(o *s3.Options) { o.UsePathStyle = true })
	for c, name := range map[*s3.Client]string{home: "acct-home-bucket", member: "acct-member-bucket"} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Fatalf("CreateBucket %s: %v", name, err)
		}
	}
	homeID, memberID := localcloud.CanonicalID(localcloud.AccountID), localcloud.CanonicalID(memberAccount)
	if homeID == memberID || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(homeID) {
		t.Fatalf("canonical ids %q and %q: want two different 64-hex ids", homeID, memberID)
	}
	for _, tc := range []struct {
		c            *s3.Client
		bucket, id   string
		otherAccount string
	}{{home, "acct-home-bucket", homeID, memberID}, {member, "acct-member-bucket", memberID, homeID}} {
		names, owner := bucketNames(t, tc.c)
		if !slices.Equal(names, []string{tc.bucket}) || owner != tc.id {
			t.Errorf("ListBuckets = %v owner %s, want [%s] owner %s", names, owner, tc.bucket, tc.id)
		}
		acl, err := tc.c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String(tc.bucket)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(acl.Owner.ID) != tc.id || len(acl.Grants) != 1 || aws.ToString(acl.Grants[0].Grantee.ID) != tc.id {
			t.Errorf("%s ACL owner %s grants %+v, want owner and only grantee %s", tc.bucket, aws.ToString(acl.Owner.ID), acl.Grants, tc.id)
		}
		// A grant to the other account, and the owner's grant by its id.
		if _, err := tc.c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: aws.String(tc.bucket),
			OwnershipControls: &s3types.OwnershipControls{Rules: []s3types.OwnershipControlsRule{{ObjectOwnership: s3types.ObjectOwnershipObjectWriter}}}}); err != nil {
			t.Fatal(err)
		}
		_, err = tc.c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String(tc.bucket), AccessControlPolicy: &s3types.AccessControlPolicy{
			Owner: &s3types.Owner{ID: aws.String(tc.id)},
			Grants: []s3types.Grant{
				{Grantee: &s3types.Grantee{Type: s3types.TypeCanonicalUser, ID: aws.String(tc.id)}, Permission: s3types.PermissionFullControl},
				{Grantee: &s3types.Grantee{Type: s3types.TypeCanonicalUser, ID: aws.String(tc.otherAccount)}, Permission: s3types.PermissionRead},
			}}})
		if err != nil {
			t.Fatal(err)
		}
		acl, err = tc.c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String(tc.bucket)})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, g := range acl.Grants {
			got = append(got, aws.ToString(g.Grantee.ID)+" "+string(g.Permission))
		}
		if want := []string{tc.id + " FULL_CONTROL", tc.otherAccount + " READ"}; !slices.Equal(got, want) {
			t.Errorf("%s grants %v, want %v", tc.bucket, got, want)
		}
		// The owner's grant, written by id, is the owner's: a private ACL
		// lets ownership turn BucketOwnerEnforced again.
		if _, err := tc.c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String(tc.bucket), ACL: s3types.BucketCannedACLPrivate}); err != nil {
			t.Fatal(err)
		}
		if _, err := tc.c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: aws.String(tc.bucket),
			OwnershipControls: &s3types.OwnershipControls{Rules: []s3types.OwnershipControlsRule{{ObjectOwnership: s3types.ObjectOwnershipBucketOwnerEnforced}}}}); err != nil {
			t.Errorf("%s: BucketOwnerEnforced after a private ACL: %v", tc.bucket, err)
		}
	}
}

// sts-assume-role-trust: AssumeRole of a missing role, or with the wrong
// external id, is AccessDenied (403); with the role and its external id it
// gives credentials acting in the role's account.
func TestAssumeRoleNeedsTheRoleAndItsTrust(t *testing.T) {
	cloud := localcloud.ForTest(t)
	ctx := context.Background()
	memberAccount, err := cloud.CreateMemberAccount(ctx, "trust")
	if err != nil {
		t.Fatal(err)
	}
	client := sts.NewFromConfig(cloud.AWSConfig())
	roleARN := "arn:aws:iam::" + memberAccount + ":role/" + awsclient.DefaultMemberRole
	assume := func(externalID string) (*sts.AssumeRoleOutput, error) {
		in := &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("test")}
		if externalID != "" {
			in.ExternalId = aws.String(externalID)
		}
		return client.AssumeRole(ctx, in)
	}
	denied := func(what string, err error) {
		t.Helper()
		var ae smithy.APIError
		var re *awshttp.ResponseError
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" || !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
			t.Errorf("%s: %v, want 403 AccessDenied", what, err)
		}
	}
	_, err = assume("ext-1")
	denied("missing role", err)
	if _, err := cloud.CreateMemberRole(ctx, memberAccount, "", "ext-1"); err != nil {
		t.Fatal(err)
	}
	_, err = assume("")
	denied("no external id", err)
	_, err = assume("ext-2")
	denied("wrong external id", err)
	out, err := assume("ext-1")
	if err != nil {
		t.Fatalf("AssumeRole with the external id: %v", err)
	}
	cfg := cloud.AWSConfig()
	cfg.Credentials = aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		c := out.Credentials
		return aws.Credentials{AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey), SessionToken: aws.ToString(c.SessionToken)}, nil
	}))
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Account) != memberAccount {
		t.Errorf("GetCallerIdentity with the assumed role: %v %v, want account %s", id, err, memberAccount)
	}
}

// sts-assume-role-trust, by Organization: deploy/member-account.yaml with
// OrganizationId trusts any principal ("*") whose aws:PrincipalArn matches
// CentralRoleArns (ArnLike) from inside the Organization
// (aws:PrincipalOrgID), with the external id. The central function role is
// admitted; without the external id, another role of the same account, or
// a trust naming another Organization, it is AccessDenied.
func TestAssumeRoleTrustByOrganization(t *testing.T) {
	cloud := localcloud.ForTest(t)
	ctx := context.Background()
	member, err := cloud.CreateMemberAccount(ctx, "org-trust")
	if err != nil {
		t.Fatal(err)
	}
	org, err := organizations.NewFromConfig(cloud.AWSConfig()).DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if err != nil {
		t.Fatal(err)
	}
	orgID := aws.ToString(org.Organization.Id)
	// The template's statement with OrganizationId, CentralRoleArns a pattern.
	byOrg := func(orgID string) map[string]any {
		return map[string]any{"Sid": "CentralFunctionsOnly", "Effect": "Allow", "Principal": map[string]any{"AWS": "*"}, "Action": "sts:AssumeRole",
			"Condition": map[string]any{
				"StringEquals": map[string]any{"sts:ExternalId": "ext-org", "aws:PrincipalOrgID": orgID},
				"ArnLike":      map[string]any{"aws:PrincipalArn": []string{"arn:aws:iam::" + localcloud.AccountID + ":role/bucketmirror-*FunctionRole*"}}}}
	}
	memberRole, err := cloud.CreateRoleTrusting(ctx, member, "bucketmirror-member", byOrg(orgID))
	if err != nil {
		t.Fatal(err)
	}
	otherOrgRole, err := cloud.CreateRoleTrusting(ctx, member, "other-org-member", byOrg("o-aaaaaaaaaa"))
	if err != nil {
		t.Fatal(err)
	}
	// Roles of the deployment's account, as its functions would assume them.
	home := iam.NewFromConfig(cloud.AWSConfig())
	homeTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + localcloud.AccountID + `:root"},"Action":"sts:AssumeRole"}]}`
	session := func(name string) *sts.Client {
		t.Helper()
		r, err := home.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(homeTrust)})
		if err != nil {
			t.Fatal(err)
		}
		out, err := sts.NewFromConfig(cloud.AWSConfig()).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: r.Role.Arn, RoleSessionName: aws.String("fn")})
		if err != nil {
			t.Fatal(err)
		}
		cfg := cloud.AWSConfig()
		cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(out.Credentials.AccessKeyId),
			aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken))
		return sts.NewFromConfig(cfg)
	}
	central, stranger := session("bucketmirror-SweepFunctionRole-0RGTRUST"), session("reporting-reader")
	assume := func(c *sts.Client, role, externalID string) error {
		in := &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("bucketmirror")}
		if externalID != "" {
			in.ExternalId = aws.String(externalID)
		}
		_, err := c.AssumeRole(ctx, in)
		return err
	}
	if err := assume(central, memberRole, "ext-org"); err != nil {
		t.Errorf("the central function role with the external id, from inside the Organization: %v", err)
	}
	for what, err := range map[string]error{
		"no external id":              assume(central, memberRole, ""),
		"a role not matching":         assume(stranger, memberRole, "ext-org"),
		"trust naming another org id": assume(central, otherOrgRole, "ext-org"),
	} {
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
			t.Errorf("%s: %v, want AccessDenied", what, err)
		}
	}
}
