package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aws/smithy-go"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

const conformanceDoc = "../docs/s3-conformance.md"

// target is where the suite runs: the local cloud, or a real account.
type target struct {
	s3      *s3.Client
	cfg     aws.Config
	clients *awsclient.Clients
	region  string
	where   string // "local cloud" or "aws <region>"
	real    bool
	account string // the account's id, for the engine's S3 Control calls
}

func newTarget(t *testing.T) target {
	t.Helper()
	if os.Getenv("BUCKETMIRROR_E2E") != "1" {
		if cloud == nil {
			t.Fatal("the local cloud did not start (see TestMain's output)")
		}
		clients := awsclient.New(cloud.AWSConfig())
		return target{s3: clients.S3(cloud.Region), cfg: cloud.AWSConfig(), clients: clients, region: cloud.Region,
			where: "local cloud", account: localcloud.AccountID}
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatalf("BUCKETMIRROR_E2E=1 needs AWS configuration: %v", err)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		t.Fatalf("BUCKETMIRROR_E2E=1 needs AWS credentials: %v", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("finding the account of the credentials: %v", err)
	}
	clients := awsclient.New(cfg)
	return target{s3: clients.S3(cfg.Region), cfg: cfg, clients: clients, region: cfg.Region, where: "aws " + cfg.Region,
		real: true, account: aws.ToString(id.Account)}
}

// bucket creates a bmtest-<random> bucket and deletes it when the test
// ends. Nothing else is ever created or deleted.
func (tg target) bucket(t *testing.T) string {
	t.Helper()
	raw := make([]byte, 8)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	name := "bmtest-" + hex.EncodeToString(raw)
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if tg.region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(tg.region)}
	}
	ctx := context.Background()
	if _, err := tg.s3.CreateBucket(ctx, in); err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
	t.Cleanup(func() {
		if !strings.HasPrefix(name, "bmtest-") { // never anything the suite did not create
			return
		}
		var err error
		for i := 0; i < 5; i++ { // a just-created bucket may answer 409 for a moment
			if _, err = tg.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)}); err == nil {
				return
			}
			time.Sleep(time.Second)
		}
		t.Errorf("deleting %s: %v (delete it by hand)", name, err)
	})
	return name
}

// answer is the status and error code of a call (200 and "" on success).
func answer(err error) (int, string) {
	if err == nil {
		return 200, ""
	}
	status := 0
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return status, apiErr.ErrorCode()
	}
	return status, err.Error()
}

// row is a row of the evidence table: its Status and Error code cells.
func row(t *testing.T, id string) (status, code string) {
	t.Helper()
	doc, err := os.ReadFile(conformanceDoc)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(strings.ReplaceAll(line, `\|`, "/"), "|")
		if len(cells) > 6 && strings.TrimSpace(cells[1]) == id {
			return strings.TrimSpace(cells[4]), strings.TrimSpace(cells[5])
		}
	}
	t.Fatalf("docs/s3-conformance.md has no row %s", id)
	return "", ""
}

var (
	reportMu sync.Mutex
	reported []string
)

// check compares what the target answered with the row's claim, and
// records the observation for the report.
func check(t *testing.T, tg target, id string, err error) {
	t.Helper()
	status, code := answer(err)
	wantStatus, wantCode := row(t, id)
	line := fmt.Sprintf("| %s | %d | %s | %s | %s |", id, status, code, tg.where, time.Now().UTC().Format("2006-01-02"))
	reportMu.Lock()
	reported = append(reported, line)
	reportMu.Unlock()
	t.Log(line)
	if !strings.Contains(wantStatus, fmt.Sprint(status)) || (code != "" && !strings.Contains(wantCode, code)) || (code == "" && wantCode != "–") {
		t.Errorf("%s on %s answered %d %s; docs/s3-conformance.md says %s %s", id, tg.where, status, code, wantStatus, wantCode)
	}
}

// cloud is the local cloud every scenario shares when the suite does not
// run against a real account.
var cloud *localcloud.Cloud

func TestMain(m *testing.M) { os.Exit(runSuite(m)) }

func runSuite(m *testing.M) int {
	if os.Getenv("BUCKETMIRROR_E2E") != "1" {
		var err error
		if cloud, err = localcloud.Start(context.Background(), localcloud.Options{}); err != nil {
			fmt.Fprintln(os.Stderr, "starting the local cloud:", err)
			return 1
		}
		defer cloud.Close()
	}
	code := m.Run()
	if path := os.Getenv("BUCKETMIRROR_E2E_REPORT"); path != "" {
		body := "| Row id | Observed status | Observed code | Where | Date |\n|---|---|---|---|---|\n" + strings.Join(reported, "\n") + "\n"
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "writing the report:", err)
			code = 1
		}
	}
	if code != 0 && cloud != nil {
		fmt.Fprintf(os.Stderr, "moto log tail (%s):\n%s\n", cloud.LogPath, cloud.LogTail(30))
	}
	return code
}

// The scenarios. Each is the request behind one row, on a fresh bmtest-
// bucket, set up the way a new real bucket is (BPA on, BucketOwnerEnforced)
// where the row depends on it.
func TestConformance(t *testing.T) {
	tg := newTarget(t)
	ctx := context.Background()
	owned := func(t *testing.T) string {
		b := tg.bucket(t)
		_, err := tg.s3.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: &b,
			OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = tg.s3.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &b, PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Run("s3-metadata-v2-not-found", func(t *testing.T) {
		b := tg.bucket(t)
		_, err := tg.s3.GetBucketMetadataConfiguration(ctx, &s3.GetBucketMetadataConfigurationInput{Bucket: &b})
		check(t, tg, "s3-metadata-v2-not-found", err)
	})
	t.Run("s3-metadata-v1-not-allowed", func(t *testing.T) {
		b := tg.bucket(t)
		_, err := tg.s3.GetBucketMetadataTableConfiguration(ctx, &s3.GetBucketMetadataTableConfigurationInput{Bucket: &b})
		check(t, tg, "s3-metadata-v1-not-allowed", err)
	})
	t.Run("s3-bpa-block-public-policy", func(t *testing.T) {
		b := owned(t)
		policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + b + `/*"}]}`
		_, err := tg.s3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &b, Policy: &policy})
		check(t, tg, "s3-bpa-block-public-policy", err)
	})
	t.Run("s3-acl-owner-enforced", func(t *testing.T) {
		b := owned(t)
		_, err := tg.s3.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &b, ACL: types.BucketCannedACLPrivate})
		check(t, tg, "s3-acl-owner-enforced", err)
	})
	t.Run("s3-id-configuration-not-found", func(t *testing.T) {
		b := tg.bucket(t)
		_, err := tg.s3.GetBucketAnalyticsConfiguration(ctx, &s3.GetBucketAnalyticsConfigurationInput{Bucket: &b, Id: aws.String("none")})
		check(t, tg, "s3-id-configuration-not-found", err)
	})
	t.Run("s3-versioning-mfa-required", func(t *testing.T) {
		// Without the root user's MFA device this can only be refused.
		b := tg.bucket(t)
		_, err := tg.s3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &b,
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled, MFADelete: types.MFADeleteEnabled}})
		check(t, tg, "s3-versioning-mfa-required", err)
	})
	t.Run("s3-notification-target-exists", func(t *testing.T) {
		b := tg.bucket(t)
		missing := "arn:aws:sqs:" + tg.region + ":123456789012:bmtest-no-such-queue"
		_, err := tg.s3.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: &b,
			NotificationConfiguration: &types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{{
				QueueArn: aws.String(missing), Events: []types.Event{"s3:ObjectCreated:*"}}}}})
		check(t, tg, "s3-notification-target-exists", err)
	})
}
