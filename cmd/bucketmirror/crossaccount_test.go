package main_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// `bucketmirror plan/mirror SRC --to eu-west-1 --dest-account B` through the
// built binary: the destination is made and configured in account B through
// its member role; the deployment's account has no such bucket. A malformed
// account is a usage error; an account without the member role a clear
// failure naming it.
func TestMirrorIntoAnotherAccount(t *testing.T) {
	ctx := context.Background()
	env := localEnv("cli-cross")
	if r := bm(t, env, "", "setup"); r.code != 0 {
		t.Fatalf("setup: %d %s", r.code, r.stderr)
	}
	account, err := cloud.CreateMemberAccount(ctx, "cli-recovery")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cloud.CreateMemberRole(ctx, account, "", "cli-external"); err != nil {
		t.Fatal(err)
	}
	env = append(env, "BUCKETMIRROR_EXTERNAL_ID=cli-external")
	createBucket(t, "cli-cross-source")
	if _, err := s3c("us-east-1").PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String("cli-cross-source"),
		CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"https://example.org"}}}}}); err != nil {
		t.Fatal(err)
	}
	if r := bm(t, env, "", "mirror", "cli-cross-source", "--to", "eu-west-1", "--dest-account", "12345"); r.code != 2 || !strings.Contains(r.stderr, "--dest-account") {
		t.Errorf("malformed --dest-account: exit %d %s", r.code, r.stderr)
	}
	r := bm(t, env, "", "plan", "cli-cross-source", "--to", "eu-west-1", "--dest-account", account)
	if r.code != 0 || !strings.Contains(r.stdout, "+ cors") {
		t.Fatalf("plan --dest-account: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = bm(t, env, "", "mirror", "cli-cross-source", "--to", "eu-west-1", "--dest-account", account, "--json")
	var out struct{ DestBucket, Status string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || out.Status != "FINISHED" {
		t.Fatalf("mirror --dest-account: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	memberCfg, err := cloud.AccountConfig(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	member := s3.NewFromConfig(memberCfg, func(o *s3.Options) { o.UsePathStyle = true; o.Region = "eu-west-1" })
	cors, err := member.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String(out.DestBucket)})
	if err != nil || len(cors.CORSRules) != 1 || cors.CORSRules[0].AllowedOrigins[0] != "https://example.org" {
		t.Errorf("destination %s in account %s: CORS %+v, %v", out.DestBucket, account, cors, err)
	}
	home, err := s3c("us-east-1").ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range home.Buckets {
		if aws.ToString(b.Name) == out.DestBucket {
			t.Errorf("destination %s is a bucket of the deployment's account", out.DestBucket)
		}
	}
	// Without the external id the member role refuses: a clear error.
	noID := localEnv("cli-cross")
	if r := bm(t, noID, "", "mirror", "cli-cross-source", "--to", "eu-west-1", "--dest-account", account); r.code != 1 ||
		!strings.Contains(r.stderr, account) || !strings.Contains(r.stderr, "bucketmirror-member") || !strings.Contains(r.stderr, "BUCKETMIRROR_EXTERNAL_ID") {
		t.Errorf("mirror without the external id: exit %d %s", r.code, r.stderr)
	}
}
