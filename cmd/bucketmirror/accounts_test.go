package main_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

// `bucketmirror sweep` across accounts, as an operator runs it from the
// deployment's account with BUCKETMIRROR_ACCOUNTS: a source in member
// account A (which has the member role) is mirrored there, member account
// C (without it) is named with AccessDenied, and the exit code says some
// work failed.
func TestSweepAcrossAccounts(t *testing.T) {
	ctx := context.Background()
	a, err := cloud.CreateMemberAccount(ctx, "cli-a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cloud.CreateMemberRole(ctx, a, "", ""); err != nil {
		t.Fatal(err)
	}
	c, err := cloud.CreateMemberAccount(ctx, "cli-c")
	if err != nil {
		t.Fatal(err)
	}
	cfgA, err := cloud.AccountConfig(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	inA := awsclient.New(cfgA)
	const src = "zq-acct-a-src"
	if _, err := inA.S3("us-east-1").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(src)}); err != nil {
		t.Fatal(err)
	}
	if _, err := inA.S3("us-east-1").PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(src), Tagging: &types.Tagging{
		TagSet: []types.Tag{{Key: aws.String("zq:destination-regions"), Value: aws.String("us-west-2")}}}}); err != nil {
		t.Fatal(err)
	}
	env := append(localEnv("cli-accounts"), "BUCKETMIRROR_TAG_PREFIX=zq:", "BUCKETMIRROR_REGIONS=us-east-1 us-west-2",
		"BUCKETMIRROR_ACCOUNTS="+strings.Join([]string{localcloud.AccountID, a, c}, " "))
	if r := bm(t, env, "", "setup"); r.code != 0 {
		t.Fatalf("setup: %d %s", r.code, r.stderr)
	}

	r := bm(t, env, "", "sweep", "--local", "--json")
	var sum struct {
		Accounts      int
		AccountErrors []struct{ Account, Role, Code, Error string }
		Decisions     []struct{ Source, SourceAccount, Region, Dest, Action, Reason, Error string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("sweep --json: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	if r.code != 1 || !strings.Contains(r.stderr, c) || !strings.Contains(r.stderr, "AccessDenied") {
		t.Errorf("sweep: exit %d, stderr %q; want 1 and an error naming account %s and AccessDenied", r.code, r.stderr, c)
	}
	if sum.Accounts != 3 || len(sum.AccountErrors) != 1 || sum.AccountErrors[0].Account != c || sum.AccountErrors[0].Code != "AccessDenied" {
		t.Errorf("accounts %d, errors %+v; want 3 and account %s AccessDenied", sum.Accounts, sum.AccountErrors, c)
	}
	dest := ""
	for _, d := range sum.Decisions {
		if d.Source == src {
			if d.SourceAccount != a || d.Action != "started" || d.Reason != "new" || d.Region != "us-west-2" {
				t.Errorf("decision about %s: %+v, want started (new) in account %s", src, d, a)
			}
			dest = d.Dest
		}
	}
	if dest == "" {
		t.Fatalf("no decision with a destination about %s: %+v", src, sum.Decisions)
	}
	if _, err := inA.S3("us-west-2").HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(dest)}); err != nil {
		t.Errorf("destination %s is not in account %s: %v", dest, a, err)
	}

	// The table names each source's account and the account not swept.
	r = bm(t, env, "", "sweep", "--local")
	if r.code != 1 || !strings.Contains(r.stdout, "ACCOUNT") || !strings.Contains(r.stdout, a) ||
		!strings.Contains(r.stdout, "account "+c+" not swept (AccessDenied)") {
		t.Errorf("sweep: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
