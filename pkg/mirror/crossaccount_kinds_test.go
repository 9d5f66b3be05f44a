package mirror_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

// kmsKeyWithAlias creates a key and names it alias in region of the
// account cfg acts in; it returns the key's ARN.
func kmsKeyWithAlias(t *testing.T, cfg aws.Config, region, alias string) string {
	t.Helper()
	ctx := context.Background()
	c := kms.NewFromConfig(cfg, func(o *kms.Options) { o.Region = region })
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(key.KeyMetadata.Arn)
}

// grantStrings are an ACL's grants as "CANONICAL-ID PERMISSION", sorted.
func grantStrings(grants []s3types.Grant) []string {
	var out []string
	for _, g := range grants {
		out = append(out, aws.ToString(g.Grantee.ID)+" "+string(g.Permission))
	}
	slices.Sort(out)
	return out
}

// A source in account A (the deployment's) with every kind the engine
// mirrors, mirrored into account B through the state machine. Each kind is
// read back in B with B's credentials. Account-bound values are asserted as
// the transform leaves them: the KMS key is B's key of the same alias; the
// ACL's and the logging target grants to A's owner are grants to B's owner;
// the policy naming A is kept and reported; inventory and analytics
// exports into the source go to the destination, owned by B; the log
// bucket is B's; a notification queue and replication rules of A are not
// copied, saying so with both accounts; S3 Metadata is reported with the
// account to configure it in. A second run writes nothing.
func TestCrossAccountEveryKind(t *testing.T) {
	ctx := context.Background()
	account, dst := recovery(t)
	bcfg, err := cloud.AccountConfig(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	src, logs := bucketName(t, "xall"), bucketName(t, "xalllogs")
	c := s3c("us-east-1")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &src, ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	createSource(t, logs)
	home, other := localcloud.CanonicalID(localcloud.AccountID), localcloud.CanonicalID(account)
	third := strings.Repeat("cd", 32)
	srcARN := "arn:aws:s3:::" + src

	alias := fmt.Sprintf("alias/bm-xacct-%s", src)
	srcKey := kmsKeyWithAlias(t, cloud.AWSConfig(), "us-east-1", alias)
	dstKey := kmsKeyWithAlias(t, bcfg, "us-west-2", alias)

	sq := sqs.NewFromConfig(cloud.AWSConfig(), func(o *sqs.Options) { o.Region = "us-east-1" })
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(src), Attributes: map[string]string{
		string(sqstypes.QueueAttributeNamePolicy): `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},` +
			`"Action":"sqs:SendMessage","Resource":"*","Condition":{"StringEquals":{"aws:SourceAccount":"` + localcloud.AccountID + `"}}}]}`}})
	if err != nil {
		t.Fatal(err)
	}
	qa, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	queueARN := qa.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	replicationRole := "arn:aws:iam::" + localcloud.AccountID + ":role/replication"

	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"SourceAccountReads","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"s3:GetObject","Resource":"%s/*"}]}`,
		localcloud.AccountID, srcARN)
	logDelivery := aws.String(`uri="http://acs.amazonaws.com/groups/s3/LogDelivery"`)
	steps := map[string]func() error{
		"public-access-block": func() error {
			_, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &src, PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
				BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}})
			return err
		},
		"versioning": func() error {
			_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &src, VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
			return err
		},
		"object-lock": func() error {
			_, err := c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: &src, ObjectLockConfiguration: &s3types.ObjectLockConfiguration{
				ObjectLockEnabled: s3types.ObjectLockEnabledEnabled, Rule: &s3types.ObjectLockRule{DefaultRetention: &s3types.DefaultRetention{
					Mode: s3types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}}}})
			return err
		},
		"encryption": func() error {
			_, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: &src, ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{
				Rules: []s3types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{
					SSEAlgorithm: s3types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String(srcKey)}, BucketKeyEnabled: aws.Bool(true)}}}})
			return err
		},
		"policy": func() error {
			_, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &src, Policy: &policy})
			return err
		},
		"lifecycle": func() error {
			_, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: &src, LifecycleConfiguration: &s3types.BucketLifecycleConfiguration{
				Rules: []s3types.LifecycleRule{{ID: aws.String("tmp"), Status: s3types.ExpirationStatusEnabled, Filter: &s3types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
					Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(30)}}}}})
			return err
		},
		"cors": func() error {
			_, err := c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: &src, CORSConfiguration: &s3types.CORSConfiguration{CORSRules: []s3types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"https://example.com"}}}}})
			return err
		},
		"website": func() error {
			_, err := c.PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{Bucket: &src, WebsiteConfiguration: &s3types.WebsiteConfiguration{IndexDocument: &s3types.IndexDocument{Suffix: aws.String("index.html")}}})
			return err
		},
		"logging": func() error {
			if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &logs, GrantWrite: logDelivery, GrantReadACP: logDelivery,
				GrantFullControl: aws.String(`id="` + home + `"`)}); err != nil {
				return err
			}
			_, err := c.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: &src, BucketLoggingStatus: &s3types.BucketLoggingStatus{
				LoggingEnabled: &s3types.LoggingEnabled{TargetBucket: &logs, TargetPrefix: aws.String("all/"), TargetGrants: []s3types.TargetGrant{
					{Grantee: &s3types.Grantee{Type: s3types.TypeCanonicalUser, ID: aws.String(home)}, Permission: s3types.BucketLogsPermissionFullControl},
					{Grantee: &s3types.Grantee{Type: s3types.TypeCanonicalUser, ID: aws.String(third)}, Permission: s3types.BucketLogsPermissionRead},
				}}}})
			return err
		},
		"requester-pays": func() error {
			_, err := c.PutBucketRequestPayment(ctx, &s3.PutBucketRequestPaymentInput{Bucket: &src, RequestPaymentConfiguration: &s3types.RequestPaymentConfiguration{Payer: s3types.PayerRequester}})
			return err
		},
		"accelerate": func() error {
			_, err := c.PutBucketAccelerateConfiguration(ctx, &s3.PutBucketAccelerateConfigurationInput{Bucket: &src, AccelerateConfiguration: &s3types.AccelerateConfiguration{Status: s3types.BucketAccelerateStatusEnabled}})
			return err
		},
		"notifications": func() error {
			_, err := c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: &src, NotificationConfiguration: &s3types.NotificationConfiguration{
				EventBridgeConfiguration: &s3types.EventBridgeConfiguration{},
				QueueConfigurations:      []s3types.QueueConfiguration{{Id: aws.String("uploads"), QueueArn: aws.String(queueARN), Events: []s3types.Event{"s3:ObjectCreated:*"}}}}})
			return err
		},
		"intelligent-tiering": func() error {
			_, err := c.PutBucketIntelligentTieringConfiguration(ctx, &s3.PutBucketIntelligentTieringConfigurationInput{Bucket: &src, Id: aws.String("archive"),
				IntelligentTieringConfiguration: &s3types.IntelligentTieringConfiguration{Id: aws.String("archive"), Status: s3types.IntelligentTieringStatusEnabled,
					Tierings: []s3types.Tiering{{AccessTier: s3types.IntelligentTieringAccessTierArchiveAccess, Days: aws.Int32(90)}}}})
			return err
		},
		"analytics": func() error {
			_, err := c.PutBucketAnalyticsConfiguration(ctx, &s3.PutBucketAnalyticsConfigurationInput{Bucket: &src, Id: aws.String("self"),
				AnalyticsConfiguration: &s3types.AnalyticsConfiguration{Id: aws.String("self"), StorageClassAnalysis: &s3types.StorageClassAnalysis{
					DataExport: &s3types.StorageClassAnalysisDataExport{OutputSchemaVersion: s3types.StorageClassAnalysisSchemaVersionV1,
						Destination: &s3types.AnalyticsExportDestination{S3BucketDestination: &s3types.AnalyticsS3BucketDestination{
							Bucket: aws.String(srcARN), BucketAccountId: aws.String(localcloud.AccountID), Format: s3types.AnalyticsS3ExportFileFormatCsv, Prefix: aws.String("analytics/")}}}}}})
			return err
		},
		"metrics": func() error {
			_, err := c.PutBucketMetricsConfiguration(ctx, &s3.PutBucketMetricsConfigurationInput{Bucket: &src, Id: aws.String("all"), MetricsConfiguration: &s3types.MetricsConfiguration{Id: aws.String("all")}})
			return err
		},
		"inventory": func() error {
			_, err := c.PutBucketInventoryConfiguration(ctx, &s3.PutBucketInventoryConfigurationInput{Bucket: &src, Id: aws.String("self"),
				InventoryConfiguration: &s3types.InventoryConfiguration{Id: aws.String("self"), IsEnabled: aws.Bool(true), IncludedObjectVersions: s3types.InventoryIncludedObjectVersionsCurrent,
					Schedule: &s3types.InventorySchedule{Frequency: s3types.InventoryFrequencyDaily},
					Destination: &s3types.InventoryDestination{S3BucketDestination: &s3types.InventoryS3BucketDestination{
						Bucket: aws.String(srcARN), AccountId: aws.String(localcloud.AccountID), Format: s3types.InventoryFormatCsv, Prefix: aws.String("inventory/")}}}})
			return err
		},
		"replication": func() error {
			_, err := c.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: &src, ReplicationConfiguration: &s3types.ReplicationConfiguration{
				Role: aws.String(replicationRole), Rules: []s3types.ReplicationRule{{ID: aws.String("all"), Status: s3types.ReplicationRuleStatusEnabled, Priority: aws.Int32(1),
					Filter: &s3types.ReplicationRuleFilter{Prefix: aws.String("")}, DeleteMarkerReplication: &s3types.DeleteMarkerReplication{Status: s3types.DeleteMarkerReplicationStatusDisabled},
					Destination: &s3types.Destination{Bucket: aws.String("arn:aws:s3:::" + logs)}}}}})
			return err
		},
		"metadata": func() error {
			_, err := c.CreateBucketMetadataConfiguration(ctx, &s3.CreateBucketMetadataConfigurationInput{Bucket: &src, MetadataConfiguration: &s3types.MetadataConfiguration{
				JournalTableConfiguration: &s3types.JournalTableConfiguration{RecordExpiration: &s3types.RecordExpiration{Expiration: s3types.ExpirationStateDisabled}}}})
			return err
		},
	}
	// Order matters on the source as on any bucket: ownership before the
	// ACL, tags before ABAC; logs' versioning for replication to it.
	ordered := []struct {
		kind string
		do   func() error
	}{
		{"ownership", func() error {
			_, err := c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: &src, OwnershipControls: &s3types.OwnershipControls{
				Rules: []s3types.OwnershipControlsRule{{ObjectOwnership: s3types.ObjectOwnershipBucketOwnerPreferred}}}})
			return err
		}},
		{"acl", func() error {
			_, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &src, AccessControlPolicy: &s3types.AccessControlPolicy{
				Owner: &s3types.Owner{ID: aws.String(home)}, Grants: []s3types.Grant{
					{Grantee: &s3types.Grantee{Type: s3types.TypeCanonicalUser, ID: aws.String(home)}, Permission: s3types.PermissionFullControl},
					{Grantee: &s3types.Grantee{Type: s3types.TypeCanonicalUser, ID: aws.String(third)}, Permission: s3types.PermissionRead},
				}}})
			return err
		}},
		{"tags", func() error {
			_, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: &src, Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("team"), Value: aws.String("data")}}}})
			return err
		}},
		{"logs-versioning", func() error {
			_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &logs, VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
			return err
		}},
	}
	kinds := make([]string, 0, len(steps))
	for k := range steps {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		ordered = append(ordered, struct {
			kind string
			do   func() error
		}{k, steps[k]})
	}
	ordered = append(ordered, struct {
		kind string
		do   func() error
	}{"abac", func() error {
		_, err := c.PutBucketAbac(ctx, &s3.PutBucketAbacInput{Bucket: &src, AbacStatus: &s3types.AbacStatus{Status: s3types.BucketAbacStatusEnabled}})
		return err
	}})
	for _, s := range ordered {
		if err := s.do(); err != nil {
			t.Fatalf("setting %s on the source: %v", s.kind, err)
		}
	}

	body, _ := json.Marshal(crossPayload(src, account))
	out := execute(t, string(body))
	if out.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s: %s %s", out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
	}
	dest := mirrorer.DerivedNameIn(src, "us-west-2", account)
	destARN := "arn:aws:s3:::" + dest

	check := map[string]func() error{
		"ownership": func() error {
			o, err := dst.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: &dest})
			if err == nil && (o.OwnershipControls == nil || len(o.OwnershipControls.Rules) != 1 || o.OwnershipControls.Rules[0].ObjectOwnership != s3types.ObjectOwnershipBucketOwnerPreferred) {
				err = fmt.Errorf("%+v", o.OwnershipControls)
			}
			return err
		},
		"public-access-block": func() error {
			b, err := dst.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &dest})
			if err == nil {
				if p := b.PublicAccessBlockConfiguration; p == nil || !aws.ToBool(p.BlockPublicAcls) || !aws.ToBool(p.IgnorePublicAcls) || !aws.ToBool(p.BlockPublicPolicy) || !aws.ToBool(p.RestrictPublicBuckets) {
					err = fmt.Errorf("%+v", p)
				}
			}
			return err
		},
		"versioning": func() error {
			v, err := dst.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &dest})
			if err == nil && v.Status != s3types.BucketVersioningStatusEnabled {
				err = fmt.Errorf("status %q", v.Status)
			}
			return err
		},
		"object-lock": func() error {
			l, err := dst.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: &dest})
			if err == nil {
				if c := l.ObjectLockConfiguration; c == nil || c.Rule == nil || c.Rule.DefaultRetention == nil ||
					c.Rule.DefaultRetention.Mode != s3types.ObjectLockRetentionModeGovernance || aws.ToInt32(c.Rule.DefaultRetention.Days) != 1 {
					err = fmt.Errorf("%+v", c)
				}
			}
			return err
		},
		"encryption": func() error {
			e, err := dst.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &dest})
			if err != nil {
				return err
			}
			if r := e.ServerSideEncryptionConfiguration.Rules; len(r) != 1 || r[0].ApplyServerSideEncryptionByDefault == nil ||
				aws.ToString(r[0].ApplyServerSideEncryptionByDefault.KMSMasterKeyID) != dstKey || !aws.ToBool(r[0].BucketKeyEnabled) {
				return fmt.Errorf("rules %+v, want the key of %s in account %s (%s) with the bucket key", r, alias, account, dstKey)
			}
			return nil
		},
		"tags": func() error {
			tg, err := dst.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &dest})
			if err == nil && !slices.ContainsFunc(tg.TagSet, func(t s3types.Tag) bool { return aws.ToString(t.Key) == "team" && aws.ToString(t.Value) == "data" }) {
				err = fmt.Errorf("%+v", tg.TagSet)
			}
			return err
		},
		"acl": func() error {
			acl, err := dst.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: &dest})
			if err != nil {
				return err
			}
			grants, want := grantStrings(acl.Grants), []string{other + " FULL_CONTROL", third + " READ"}
			slices.Sort(want)
			if aws.ToString(acl.Owner.ID) != other || !slices.Equal(grants, want) {
				return fmt.Errorf("owner %s grants %v, want owner %s and grants %v", aws.ToString(acl.Owner.ID), grants, other, want)
			}
			return nil
		},
		"policy": func() error {
			p, err := dst.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &dest})
			if err == nil && (!strings.Contains(aws.ToString(p.Policy), "arn:aws:iam::"+localcloud.AccountID+":root") || !strings.Contains(aws.ToString(p.Policy), destARN+"/*")) {
				err = fmt.Errorf("%s: want the statement naming account A kept, resources rewritten", aws.ToString(p.Policy))
			}
			return err
		},
		"lifecycle": func() error {
			l, err := dst.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &dest})
			if err == nil && (len(l.Rules) != 1 || aws.ToString(l.Rules[0].ID) != "tmp" || l.Rules[0].Expiration == nil || aws.ToInt32(l.Rules[0].Expiration.Days) != 30) {
				err = fmt.Errorf("%+v", l.Rules)
			}
			return err
		},
		"cors": func() error {
			cr, err := dst.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: &dest})
			if err == nil && (len(cr.CORSRules) != 1 || !slices.Equal(cr.CORSRules[0].AllowedOrigins, []string{"https://example.com"})) {
				err = fmt.Errorf("%+v", cr.CORSRules)
			}
			return err
		},
		"website": func() error {
			w, err := dst.GetBucketWebsite(ctx, &s3.GetBucketWebsiteInput{Bucket: &dest})
			if err == nil && (w.IndexDocument == nil || aws.ToString(w.IndexDocument.Suffix) != "index.html") {
				err = fmt.Errorf("%+v", w.IndexDocument)
			}
			return err
		},
		"logging": func() error {
			l, err := dst.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: &dest})
			if err != nil {
				return err
			}
			le := l.LoggingEnabled
			if le == nil || aws.ToString(le.TargetPrefix) != "all/" {
				return fmt.Errorf("%+v", le)
			}
			var grants []string
			for _, g := range le.TargetGrants {
				grants = append(grants, aws.ToString(g.Grantee.ID)+" "+string(g.Permission))
			}
			slices.Sort(grants)
			want := []string{other + " FULL_CONTROL", third + " READ"}
			slices.Sort(want)
			if !slices.Equal(grants, want) {
				return fmt.Errorf("target grants %v, want %v (the grant to A's owner given to B's)", grants, want)
			}
			// The log bucket is B's own.
			_, err = dst.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: le.TargetBucket})
			return err
		},
		"requester-pays": func() error {
			v, err := dst.GetBucketRequestPayment(ctx, &s3.GetBucketRequestPaymentInput{Bucket: &dest})
			if err == nil && v.Payer != s3types.PayerRequester {
				err = fmt.Errorf("payer %q", v.Payer)
			}
			return err
		},
		"accelerate": func() error {
			a, err := dst.GetBucketAccelerateConfiguration(ctx, &s3.GetBucketAccelerateConfigurationInput{Bucket: &dest})
			if err == nil && a.Status != s3types.BucketAccelerateStatusEnabled {
				err = fmt.Errorf("status %q", a.Status)
			}
			return err
		},
		"notifications": func() error {
			n, err := dst.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: &dest})
			if err == nil && (n.EventBridgeConfiguration == nil || len(n.QueueConfigurations) != 0) {
				err = fmt.Errorf("EventBridge %v, queues %+v: want EventBridge on, A's queue not copied", n.EventBridgeConfiguration != nil, n.QueueConfigurations)
			}
			return err
		},
		"intelligent-tiering": func() error {
			it, err := dst.GetBucketIntelligentTieringConfiguration(ctx, &s3.GetBucketIntelligentTieringConfigurationInput{Bucket: &dest, Id: aws.String("archive")})
			if err == nil && (it.IntelligentTieringConfiguration == nil || it.IntelligentTieringConfiguration.Status != s3types.IntelligentTieringStatusEnabled) {
				err = fmt.Errorf("%+v", it.IntelligentTieringConfiguration)
			}
			return err
		},
		"analytics": func() error {
			a, err := dst.GetBucketAnalyticsConfiguration(ctx, &s3.GetBucketAnalyticsConfigurationInput{Bucket: &dest, Id: aws.String("self")})
			if err != nil {
				return err
			}
			d := a.AnalyticsConfiguration.StorageClassAnalysis.DataExport.Destination.S3BucketDestination
			if aws.ToString(d.Bucket) != destARN || aws.ToString(d.BucketAccountId) != account {
				return fmt.Errorf("exports to %s owned by %s, want %s owned by %s", aws.ToString(d.Bucket), aws.ToString(d.BucketAccountId), destARN, account)
			}
			return nil
		},
		"metrics": func() error {
			_, err := dst.GetBucketMetricsConfiguration(ctx, &s3.GetBucketMetricsConfigurationInput{Bucket: &dest, Id: aws.String("all")})
			return err
		},
		"inventory": func() error {
			i, err := dst.GetBucketInventoryConfiguration(ctx, &s3.GetBucketInventoryConfigurationInput{Bucket: &dest, Id: aws.String("self")})
			if err != nil {
				return err
			}
			d := i.InventoryConfiguration.Destination.S3BucketDestination
			if aws.ToString(d.Bucket) != destARN || aws.ToString(d.AccountId) != account {
				return fmt.Errorf("reports to %s owned by %s, want %s owned by %s", aws.ToString(d.Bucket), aws.ToString(d.AccountId), destARN, account)
			}
			return nil
		},
		"replication": func() error {
			if _, err := dst.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: &dest}); err == nil {
				return fmt.Errorf("A's replication rules (role %s) were copied", replicationRole)
			}
			return nil
		},
		"abac": func() error {
			a, err := dst.GetBucketAbac(ctx, &s3.GetBucketAbacInput{Bucket: &dest})
			if err == nil && (a.AbacStatus == nil || a.AbacStatus.Status != s3types.BucketAbacStatusEnabled) {
				err = fmt.Errorf("%+v", a.AbacStatus)
			}
			return err
		},
		"metadata": func() error {
			if _, err := dst.GetBucketMetadataConfiguration(ctx, &s3.GetBucketMetadataConfigurationInput{Bucket: &dest}); err == nil {
				return fmt.Errorf("S3 Metadata was configured on the destination")
			}
			return nil
		},
	}
	for _, kind := range bucketconfig.Kinds {
		k := kind.Name()
		get, ok := check[k]
		if !ok {
			t.Errorf("kind %s is not checked in account %s", k, account)
			continue
		}
		if err := get(); err != nil {
			t.Errorf("destination %s in account %s: %s: %v", dest, account, k, err)
		}
	}

	place := inventory.Place("us-west-2", account)
	rs, err := mirrorer.Store.Runs(ctx, src, place)
	if err != nil || len(rs) != 1 {
		t.Fatalf("runs at %s: %d, %v", place, len(rs), err)
	}
	for _, want := range []string{
		"SourceAccountReads", // the policy naming A, reported
		"grants to the destination's owner",
		"logging target grant(s) to the source's owner (account " + localcloud.AccountID + ") became grants to the destination's owner (account " + account + ")",
		`inventory configuration \"self\": the export bucket's expected owner, the source's account ` + localcloud.AccountID + ", became the destination's account " + account,
		`analytics configuration \"self\": the export bucket's expected owner`,
		queueARN + ` of notification \"uploads\" is bound to us-east-1 and account ` + localcloud.AccountID,
		"replicating to arn:aws:s3:::" + logs, // not copied without CopyReplication
		"there, in account " + account,        // S3 Metadata: where to configure it
	} {
		if !strings.Contains(rs[0].Results, want) {
			t.Errorf("run results do not say %q:\n%s", want, rs[0].Results)
		}
	}

	// A second run finds the mirror in sync: nothing to write.
	body, _ = json.Marshal(crossPayload(src, account))
	if out := execute(t, string(body)); out.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("second execution %s: %s %s", out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
	}
	rs, _ = mirrorer.Store.Runs(ctx, src, place)
	if n := len(rs); n != 2 || strings.Contains(rs[n-1].Results, `"applied"`) || strings.Contains(rs[n-1].Results, `"removed"`) {
		t.Errorf("second run wrote something: %s", rs[len(rs)-1].Results)
	}
}

// With CopyReplication, replication rules are copied unchanged, but not
// into another account while their role is the source account's (S3
// assumes the role for the bucket's owner): reported, naming the role and
// both accounts; once the rules name a role of the destination's account,
// they are copied.
func TestCrossAccountReplicationNeedsTheDestinationsRole(t *testing.T) {
	ctx := context.Background()
	account, dst := recovery(t)
	m := mirror.NewMirrorer(cloud.AWSConfig(), mirror.Config{Table: "bucketmirror-test", TagPrefix: "bucketmirror:", AccountID: localcloud.AccountID},
		bucketconfig.Options{PropagationTimeout: time.Second, CopyReplication: true}, nil)
	src, target := bucketName(t, "xrepl"), bucketName(t, "xrepltarget")
	createSource(t, src)
	createSource(t, target)
	c := s3c("us-east-1")
	for _, b := range []string{src, target} {
		if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &b, VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
			t.Fatal(err)
		}
	}
	replicate := func(role string) {
		t.Helper()
		if _, err := c.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: &src, ReplicationConfiguration: &s3types.ReplicationConfiguration{
			Role: aws.String(role), Rules: []s3types.ReplicationRule{{ID: aws.String("all"), Status: s3types.ReplicationRuleStatusEnabled, Priority: aws.Int32(1),
				Filter: &s3types.ReplicationRuleFilter{Prefix: aws.String("")}, DeleteMarkerReplication: &s3types.DeleteMarkerReplication{Status: s3types.DeleteMarkerReplicationStatusDisabled},
				Destination: &s3types.Destination{Bucket: aws.String("arn:aws:s3:::" + target), Account: aws.String(localcloud.AccountID)}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	place := inventory.Place("us-west-2", account)
	homeRole := "arn:aws:iam::" + localcloud.AccountID + ":role/replication"
	replicate(homeRole)
	st, err := m.Run(ctx, crossPayload(src, account))
	if err != nil || st.Status != mirror.StatusFinished {
		t.Fatalf("run: %+v, %v", st, err)
	}
	if _, err := dst.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: &st.DestBucket}); err == nil {
		t.Errorf("replication with role %s copied into account %s", homeRole, account)
	}
	rs, _ := m.Store.Runs(ctx, src, place)
	want := "with role " + homeRole + " of account " + localcloud.AccountID + "; they are not copied to " + st.DestBucket
	if len(rs) == 0 || !strings.Contains(rs[len(rs)-1].Results, want) || !strings.Contains(rs[len(rs)-1].Results, "needs a role of account "+account) {
		t.Errorf("run results do not say %q and which account's role is needed: %+v", want, rs)
	}

	ownRole := "arn:aws:iam::" + account + ":role/replication"
	replicate(ownRole)
	if st, err = m.Run(ctx, crossPayload(src, account)); err != nil || st.Status != mirror.StatusFinished {
		t.Fatalf("second run: %+v, %v", st, err)
	}
	got, err := dst.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: &st.DestBucket})
	if err != nil || aws.ToString(got.ReplicationConfiguration.Role) != ownRole {
		t.Errorf("destination replication with role %s: %+v, %v", ownRole, got, err)
	}
}
