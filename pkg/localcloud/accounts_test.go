package localcloud_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

// Several accounts over the wire: an Organization with member accounts
// (ListAccounts paged, a closed account SUSPENDED), AssumeRole into a member
// role acting in that account, and AssumeRole of a role the account lacks
// refused with 403 AccessDenied (launcher row sts-assume-role-missing-role).
func TestAccountsOverTheWire(t *testing.T) {
	cloud := localcloud.ForTest(t)
	ctx := context.Background()
	withRole, err := cloud.CreateMemberAccount(ctx, "with-role", "bucketmirror-member")
	if err != nil {
		t.Fatal(err)
	}
	withoutRole, err := cloud.CreateMemberAccount(ctx, "without-role", "")
	if err != nil {
		t.Fatal(err)
	}
	closed, err := cloud.CreateMemberAccount(ctx, "closed", "bucketmirror-member")
	if err != nil {
		t.Fatal(err)
	}
	if err := cloud.CloseAccount(ctx, closed); err != nil {
		t.Fatal(err)
	}

	t.Run("ListAccounts pages and reports each account's State", func(t *testing.T) {
		org := organizations.NewFromConfig(cloud.AWSConfig())
		states := map[string]orgtypes.AccountState{}
		pages := 0
		p := organizations.NewListAccountsPaginator(org, &organizations.ListAccountsInput{MaxResults: aws.Int32(1)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, a := range page.Accounts {
				states[aws.ToString(a.Id)] = a.State
			}
		}
		want := map[string]orgtypes.AccountState{localcloud.AccountID: orgtypes.AccountStateActive, withRole: orgtypes.AccountStateActive,
			withoutRole: orgtypes.AccountStateActive, closed: orgtypes.AccountStateSuspended}
		for id, state := range want {
			if states[id] != state {
				t.Errorf("account %s: State %q, want %q (all: %v)", id, states[id], state, states)
			}
		}
		if pages < len(want) {
			t.Errorf("%d pages of MaxResults 1 for %d accounts", pages, len(states))
		}
	})

	t.Run("the member role acts in its account, which sees only its own buckets", func(t *testing.T) {
		client := sts.NewFromConfig(cloud.AWSConfig())
		out, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(fmt.Sprintf("arn:aws:iam::%s:role/bucketmirror-member", withRole)),
			RoleSessionName: aws.String("test")})
		if err != nil {
			t.Fatal(err)
		}
		cfg := cloud.AWSConfig()
		cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(out.Credentials.AccessKeyId), aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken))
		who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(who.Account) != withRole {
			t.Errorf("caller account %s, want %s", aws.ToString(who.Account), withRole)
		}
		member := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
		home := s3.NewFromConfig(cloud.AWSConfig(), func(o *s3.Options) { o.UsePathStyle = true })
		if _, err := member.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("acct-member-only")}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			who    string
			client *s3.Client
			sees   bool
		}{{"member", member, true}, {"home", home, false}} {
			list, err := c.client.ListBuckets(ctx, &s3.ListBucketsInput{})
			if err != nil {
				t.Fatal(err)
			}
			seen := false
			for _, b := range list.Buckets {
				seen = seen || aws.ToString(b.Name) == "acct-member-only"
			}
			if seen != c.sees {
				t.Errorf("%s account lists acct-member-only: %v, want %v", c.who, seen, c.sees)
			}
		}
	})

	t.Run("AssumeRole of a role the account lacks is 403 AccessDenied", func(t *testing.T) {
		arn := fmt.Sprintf("arn:aws:iam::%s:role/bucketmirror-member", withoutRole)
		_, err := sts.NewFromConfig(cloud.AWSConfig()).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String("test")})
		var api smithy.APIError
		var resp *smithyhttp.ResponseError
		if !errors.As(err, &api) || api.ErrorCode() != "AccessDenied" || !errors.As(err, &resp) || resp.HTTPStatusCode() != 403 {
			t.Fatalf("AssumeRole %s: %v, want 403 AccessDenied", arn, err)
		}
		if !strings.Contains(api.ErrorMessage(), "is not authorized to perform: sts:AssumeRole on resource: "+arn) {
			t.Errorf("message %q does not name the role as STS does", api.ErrorMessage())
		}
	})
}
