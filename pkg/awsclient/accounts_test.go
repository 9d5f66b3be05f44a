package awsclient_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

func TestForAccountAssumesTheMemberRole(t *testing.T) {
	cloud := localcloud.ForTest(t)
	ctx := context.Background()
	const missing = "333333333333"
	member, err := cloud.CreateMemberAccount(ctx, "for-account")
	if err != nil {
		t.Fatal(err)
	}
	role, err := awsclient.MemberRoleFromEnv(func(k string) string {
		return map[string]string{"BUCKETMIRROR_EXTERNAL_ID": "ext-1"}[k]
	})
	if err != nil || role.Name != awsclient.DefaultMemberRole {
		t.Fatalf("MemberRoleFromEnv: %+v %v", role, err)
	}
	if _, err := cloud.CreateMemberRole(ctx, member, "", "ext-1"); err != nil {
		t.Fatal(err)
	}
	home := awsclient.New(cloud.AWSConfig()).WithMemberRole(localcloud.AccountID, role)

	for _, own := range []string{"", localcloud.AccountID} {
		if c, err := home.ForAccount(ctx, own); c != home || err != nil {
			t.Errorf("ForAccount(%q) = %p, %v; want the deployment's own clients", own, c, err)
		}
	}
	mc, err := home.ForAccount(ctx, member)
	if err != nil {
		t.Fatalf("ForAccount(%s): %v", member, err)
	}
	wantARN := "arn:aws:iam::" + member + ":role/bucketmirror-member"
	if mc.Account() != member || mc.RoleARN() != wantARN || home.RoleARN() != "" {
		t.Errorf("member clients act in %s through %q (home through %q), want %s through %s", mc.Account(), mc.RoleARN(), home.RoleARN(), member, wantARN)
	}
	if again, _ := home.ForAccount(ctx, member); again != mc {
		t.Error("ForAccount built the member's clients twice")
	}
	if back, _ := mc.ForAccount(ctx, localcloud.AccountID); back != home {
		t.Error("a member's ForAccount of the deployment's account is not the deployment's clients")
	}
	// The member's clients act in the member account: a bucket they create
	// is the member's, invisible to the deployment's account.
	if _, err := mc.S3("us-east-1").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("member-only")}); err != nil {
		t.Fatal(err)
	}
	for c, want := range map[*awsclient.Clients]int{mc: 1, home: 0} {
		out, err := c.S3("us-east-1").ListBuckets(ctx, &s3.ListBucketsInput{})
		if err != nil || len(out.Buckets) != want {
			t.Errorf("account %s lists %d buckets (%v), want %d", c.Account(), len(out.Buckets), err, want)
		}
	}

	_, err = home.ForAccount(ctx, missing)
	var are *awsclient.AssumeRoleError
	if !errors.As(err, &are) || are.Account != missing || are.Code != "AccessDenied" {
		t.Fatalf("ForAccount of an account without the member role: %v, want AssumeRoleError AccessDenied", err)
	}
	if _, err := home.ForAccount(ctx, "12345"); err == nil {
		t.Error("ForAccount accepted a malformed account id")
	}
	// A wrong external id is refused like a missing role.
	wrong := awsclient.New(cloud.AWSConfig()).WithMemberRole(localcloud.AccountID, awsclient.MemberRole{ExternalID: "ext-2"})
	if _, err := wrong.ForAccount(ctx, member); !errors.As(err, &are) || strings.Contains(err.Error(), "BUCKETMIRROR_EXTERNAL_ID") {
		t.Errorf("ForAccount with the wrong external id: %v, want AssumeRoleError (not blaming an empty BUCKETMIRROR_EXTERNAL_ID)", err)
	}
	// None at all, the central stack deployed without its ExternalId: the
	// error names the variable and the parameter to set.
	none := awsclient.New(cloud.AWSConfig()).WithMemberRole(localcloud.AccountID, awsclient.MemberRole{})
	if _, err := none.ForAccount(ctx, member); !errors.As(err, &are) || !are.NoExternalID ||
		!strings.Contains(err.Error(), "BUCKETMIRROR_EXTERNAL_ID") || !strings.Contains(err.Error(), "ExternalId") || !strings.Contains(err.Error(), member) {
		t.Errorf("ForAccount without an external id: %v, want an AssumeRoleError naming the account, BUCKETMIRROR_EXTERNAL_ID and ExternalId", err)
	}
}
