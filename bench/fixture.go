package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

// The setup below follows the helpers of pkg/bucketconfig/*_test.go, which
// a program cannot import: one bucket carrying every kind of the catalog
// that the local cloud serves.

const (
	srcRegion = "us-east-1"
	dstRegion = "us-west-2"
)

func createBucket(ctx context.Context, clients *awsclient.Clients, b bucketconfig.Bucket, objectLock bool, tags ...types.Tag) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(b.Name), ObjectLockEnabledForBucket: aws.Bool(objectLock)}
	if b.Region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(b.Region)}
	}
	if _, err := clients.S3(b.Region).CreateBucket(ctx, in); err != nil {
		return fmt.Errorf("creating bucket %s: %w", b, err)
	}
	if len(tags) > 0 {
		if _, err := clients.S3(b.Region).PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(b.Name), Tagging: &types.Tagging{TagSet: tags}}); err != nil {
			return fmt.Errorf("tagging bucket %s: %w", b, err)
		}
	}
	return nil
}

// deleteBucket deletes a bucket that holds no objects (the benchmark
// never writes any).
func deleteBucket(ctx context.Context, clients *awsclient.Clients, b bucketconfig.Bucket) error {
	_, err := clients.S3(b.Region).DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b.Name)})
	if err != nil && bucketconfig.ErrorCode(err) != "NoSuchBucket" {
		return fmt.Errorf("deleting bucket %s: %w", b, err)
	}
	return nil
}

// fullSource creates src (with Object Lock) and sets every kind on it. It
// also creates logTarget (src's server access log target, same Region) and
// a replication target in a third Region. Returns the kinds it set.
func fullSource(ctx context.Context, clients *awsclient.Clients, src bucketconfig.Bucket, logTarget, replica string) ([]string, error) {
	c := clients.S3(src.Region)
	name := aws.String(src.Name)
	arn := src.ARN()
	if err := createBucket(ctx, clients, src, true); err != nil {
		return nil, err
	}
	if err := createBucket(ctx, clients, bucketconfig.Bucket{Name: logTarget, Region: src.Region}, false); err != nil {
		return nil, err
	}
	rep := bucketconfig.Bucket{Name: replica, Region: "eu-west-1"}
	if err := createBucket(ctx, clients, rep, false); err != nil {
		return nil, err
	}
	if _, err := clients.S3(rep.Region).PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(rep.Name),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		return nil, err
	}
	owner, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: name})
	if err != nil {
		return nil, err
	}
	ownerID := owner.Owner.ID
	logDelivery := aws.String("http://acs.amazonaws.com/groups/s3/LogDelivery")
	days := func(n int32) *int32 { return aws.Int32(n) }

	steps := []struct {
		kind string
		do   func() error
	}{
		{"ownership", func() error {
			_, err := c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: name, OwnershipControls: &types.OwnershipControls{
				Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerPreferred}}}})
			return err
		}},
		{"public-access-block", func() error {
			_, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: name, PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
				BlockPublicAcls: aws.Bool(false), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}})
			return err
		}},
		{"versioning", func() error {
			_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: name, VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
			return err
		}},
		{"object-lock", func() error {
			_, err := c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: name, ObjectLockConfiguration: &types.ObjectLockConfiguration{
				ObjectLockEnabled: types.ObjectLockEnabledEnabled,
				Rule:              &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: days(7)}}}})
			return err
		}},
		{"encryption", func() error {
			_, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: name, ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{
				Rules: []types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256}, BucketKeyEnabled: aws.Bool(true)}}}})
			return err
		}},
		{"tags", func() error {
			_, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: name, Tagging: &types.Tagging{TagSet: []types.Tag{
				{Key: aws.String("team"), Value: aws.String("storage")}, {Key: aws.String("env"), Value: aws.String("prod")},
				{Key: aws.String("cost-center"), Value: aws.String("1234")}, {Key: aws.String("app"), Value: aws.String("web")},
				{Key: aws.String("data-class"), Value: aws.String("internal")}}}})
			return err
		}},
		{"acl", func() error {
			_, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: name, AccessControlPolicy: &types.AccessControlPolicy{
				Owner: &types.Owner{ID: ownerID},
				Grants: []types.Grant{
					{Permission: types.PermissionFullControl, Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: ownerID}},
					{Permission: types.PermissionWrite, Grantee: &types.Grantee{Type: types.TypeGroup, URI: logDelivery}},
					{Permission: types.PermissionReadAcp, Grantee: &types.Grantee{Type: types.TypeGroup, URI: logDelivery}},
				}}})
			return err
		}},
		{"policy", func() error {
			_, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: name, Policy: aws.String(fmt.Sprintf(
				`{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecure","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["%[1]s","%[1]s/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, arn))})
			return err
		}},
		{"lifecycle", func() error {
			_, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: name, LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{
				{ID: aws.String("logs"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
					Transitions: []types.Transition{{Days: days(30), StorageClass: types.TransitionStorageClassStandardIa}},
					Expiration:  &types.LifecycleExpiration{Days: days(365)}},
				{ID: aws.String("noncurrent"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
					NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: days(60)}},
			}}})
			return err
		}},
		{"cors", func() error {
			_, err := c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: name, CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{
				{AllowedMethods: []string{"GET", "HEAD"}, AllowedOrigins: []string{"https://www.example.com"}, MaxAgeSeconds: aws.Int32(3000)},
				{AllowedMethods: []string{"PUT"}, AllowedOrigins: []string{"https://upload.example.com"}, AllowedHeaders: []string{"*"}},
			}}})
			return err
		}},
		{"website", func() error {
			_, err := c.PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{Bucket: name, WebsiteConfiguration: &types.WebsiteConfiguration{
				IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")}, ErrorDocument: &types.ErrorDocument{Key: aws.String("error.html")}}})
			return err
		}},
		{"logging", func() error {
			policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"S3ServerAccessLogsPolicy","Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::%s/access/*"}]}`, logTarget)
			if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(logTarget), Policy: aws.String(policy)}); err != nil {
				return err
			}
			_, err := c.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: name, BucketLoggingStatus: &types.BucketLoggingStatus{
				LoggingEnabled: &types.LoggingEnabled{TargetBucket: aws.String(logTarget), TargetPrefix: aws.String("access/")}}})
			return err
		}},
		{"requester-pays", func() error {
			_, err := c.PutBucketRequestPayment(ctx, &s3.PutBucketRequestPaymentInput{Bucket: name, RequestPaymentConfiguration: &types.RequestPaymentConfiguration{Payer: types.PayerRequester}})
			return err
		}},
		{"accelerate", func() error {
			_, err := c.PutBucketAccelerateConfiguration(ctx, &s3.PutBucketAccelerateConfigurationInput{Bucket: name, AccelerateConfiguration: &types.AccelerateConfiguration{Status: types.BucketAccelerateStatusEnabled}})
			return err
		}},
		{"notifications", func() error {
			_, err := c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: name,
				NotificationConfiguration: &types.NotificationConfiguration{EventBridgeConfiguration: &types.EventBridgeConfiguration{}}})
			return err
		}},
		{"intelligent-tiering", func() error {
			for _, cfg := range []types.IntelligentTieringConfiguration{
				{Id: aws.String("archive-all"), Status: types.IntelligentTieringStatusEnabled, Tierings: []types.Tiering{
					{AccessTier: types.IntelligentTieringAccessTierArchiveAccess, Days: days(90)}, {AccessTier: types.IntelligentTieringAccessTierDeepArchiveAccess, Days: days(180)}}},
				{Id: aws.String("cold-logs"), Status: types.IntelligentTieringStatusEnabled, Filter: &types.IntelligentTieringFilter{Prefix: aws.String("logs/")},
					Tierings: []types.Tiering{{AccessTier: types.IntelligentTieringAccessTierArchiveAccess, Days: days(120)}}},
			} {
				if _, err := c.PutBucketIntelligentTieringConfiguration(ctx, &s3.PutBucketIntelligentTieringConfigurationInput{Bucket: name, Id: cfg.Id, IntelligentTieringConfiguration: &cfg}); err != nil {
					return err
				}
			}
			return nil
		}},
		{"analytics", func() error {
			for _, cfg := range []types.AnalyticsConfiguration{
				{Id: aws.String("self-export"), Filter: &types.AnalyticsFilterMemberPrefix{Value: "data/"}, StorageClassAnalysis: &types.StorageClassAnalysis{
					DataExport: &types.StorageClassAnalysisDataExport{OutputSchemaVersion: types.StorageClassAnalysisSchemaVersionV1,
						Destination: &types.AnalyticsExportDestination{S3BucketDestination: &types.AnalyticsS3BucketDestination{
							Bucket: aws.String(arn), Format: types.AnalyticsS3ExportFileFormatCsv, Prefix: aws.String("analysis/"), BucketAccountId: aws.String(localcloud.AccountID)}}}}},
				{Id: aws.String("by-tag"), Filter: &types.AnalyticsFilterMemberTag{Value: types.Tag{Key: aws.String("k"), Value: aws.String("v")}}, StorageClassAnalysis: &types.StorageClassAnalysis{}},
			} {
				if _, err := c.PutBucketAnalyticsConfiguration(ctx, &s3.PutBucketAnalyticsConfigurationInput{Bucket: name, Id: cfg.Id, AnalyticsConfiguration: &cfg}); err != nil {
					return err
				}
			}
			return nil
		}},
		{"metrics", func() error {
			for i := range 3 {
				id := fmt.Sprintf("metrics-%d", i)
				if _, err := c.PutBucketMetricsConfiguration(ctx, &s3.PutBucketMetricsConfigurationInput{Bucket: name, Id: &id,
					MetricsConfiguration: &types.MetricsConfiguration{Id: &id, Filter: &types.MetricsFilterMemberPrefix{Value: fmt.Sprintf("p%d/", i)}}}); err != nil {
					return err
				}
			}
			return nil
		}},
		{"inventory", func() error {
			for _, id := range []string{"daily", "weekly"} {
				cfg := types.InventoryConfiguration{Id: aws.String(id), IsEnabled: aws.Bool(true), IncludedObjectVersions: types.InventoryIncludedObjectVersionsCurrent,
					Schedule: &types.InventorySchedule{Frequency: types.InventoryFrequencyDaily},
					Destination: &types.InventoryDestination{S3BucketDestination: &types.InventoryS3BucketDestination{
						Bucket: aws.String(arn), Format: types.InventoryFormatCsv, AccountId: aws.String(localcloud.AccountID), Prefix: aws.String("inventory/")}}}
				if id == "weekly" {
					cfg.Schedule.Frequency = types.InventoryFrequencyWeekly
				}
				if _, err := c.PutBucketInventoryConfiguration(ctx, &s3.PutBucketInventoryConfigurationInput{Bucket: name, Id: cfg.Id, InventoryConfiguration: &cfg}); err != nil {
					return err
				}
			}
			return nil
		}},
		{"replication", func() error {
			_, err := c.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: name, ReplicationConfiguration: &types.ReplicationConfiguration{
				Role: aws.String("arn:aws:iam::" + localcloud.AccountID + ":role/replication"), Rules: []types.ReplicationRule{
					{ID: aws.String("logs"), Priority: aws.Int32(1), Status: types.ReplicationRuleStatusEnabled, Filter: &types.ReplicationRuleFilter{Prefix: aws.String("logs/")},
						DeleteMarkerReplication: &types.DeleteMarkerReplication{Status: types.DeleteMarkerReplicationStatusEnabled},
						Destination:             &types.Destination{Bucket: aws.String(rep.ARN())}}}}})
			return err
		}},
		{"abac", func() error {
			_, err := c.PutBucketAbac(ctx, &s3.PutBucketAbacInput{Bucket: name, AbacStatus: &types.AbacStatus{Status: types.BucketAbacStatusEnabled}})
			return err
		}},
		{"metadata", func() error {
			_, err := c.CreateBucketMetadataConfiguration(ctx, &s3.CreateBucketMetadataConfigurationInput{Bucket: name, MetadataConfiguration: &types.MetadataConfiguration{
				JournalTableConfiguration:   &types.JournalTableConfiguration{RecordExpiration: &types.RecordExpiration{Expiration: types.ExpirationStateEnabled, Days: days(30)}},
				InventoryTableConfiguration: &types.InventoryTableConfiguration{ConfigurationState: types.InventoryConfigurationStateEnabled}}})
			return err
		}},
	}
	var kinds []string
	for _, s := range steps {
		if err := s.do(); err != nil {
			return kinds, fmt.Errorf("setting %s on %s: %w", s.kind, src, err)
		}
		kinds = append(kinds, s.kind)
	}
	return kinds, nil
}

// configureFailures lists the kinds that failed or were skipped.
func configureFailures(results []bucketconfig.Result) []string {
	var out []string
	for _, r := range results {
		if r.Status == bucketconfig.StatusFailed || r.Status == bucketconfig.StatusSkipped {
			out = append(out, fmt.Sprintf("%s: %s %s", r.Kind, r.Status, r.Error))
		}
	}
	return out
}

// withRetry retries a setup call a few times (setup runs outside any fault
// proxy, but moto may answer a busy 5xx under load).
func withRetry(ctx context.Context, what string, fn func() error) error {
	var err error
	for attempt := range 5 {
		if err = fn(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
		}
	}
	return errors.Join(fmt.Errorf("%s", what), err)
}
