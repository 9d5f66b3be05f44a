package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func tags(kv ...string) *types.Tagging {
	t := &types.Tagging{}
	for i := 0; i+1 < len(kv); i += 2 {
		t.TagSet = append(t.TagSet, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return t
}

// createSources makes buckets like the ones platform teams inherit:
// configured by hand over years, some tagged for mirroring, some not.
func (d *demo) createSources(ctx context.Context) error {
	c := d.s3(home)
	steps := []struct {
		what string
		do   func() error
	}{
		{"shop-access-logs: untagged log target with log delivery", func() error {
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shop-access-logs")}); err != nil {
				return err
			}
			_, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("shop-access-logs"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Sid":"S3ServerAccessLogs","Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::shop-access-logs/*","Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"}}}]}`)})
			return err
		}},
		{"scratch-bucket: untagged, never mirrored", func() error {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("scratch-bucket")})
			return err
		}},
		{"shop-assets: policy on its own ARN, CORS, lifecycle, SSE-S3, BPA, tags", func() error {
			b := aws.String("shop-assets")
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b})
			return errors.Join(err,
				ignore(c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b, Tagging: tags("bucketmirror:destination-regions", dest, "team", "web", "cost-center", "1234")})),
				ignore(c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::shop-assets","arn:aws:s3:::shop-assets/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`)})),
				ignore(c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: b, CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{
					{AllowedMethods: []string{"GET", "HEAD"}, AllowedOrigins: []string{"https://shop.example.com"}, MaxAgeSeconds: aws.Int32(3600)}}}})),
				ignore(c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: b, LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{
					{ID: aws.String("expire-tmp"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")}, Expiration: &types.LifecycleExpiration{Days: aws.Int32(7)}},
					{ID: aws.String("abort-uploads"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")}, AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(3)}}}}})),
				ignore(c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: b, ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{
					{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256}, BucketKeyEnabled: aws.Bool(true)}}}})),
				ignore(c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: b, PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
					BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}})),
			)
		}},
		{"shop-orders: versioning, Requester Pays, access logging, ObjectWriter ownership with an ACL grant, lifecycle", func() error {
			b := aws.String("shop-orders")
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b})
			if err != nil {
				return err
			}
			acl, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: b})
			if err != nil {
				return err
			}
			return errors.Join(
				ignore(c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b, Tagging: tags("bucketmirror:destination-regions", dest, "team", "orders")})),
				ignore(c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b, VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})),
				ignore(c.PutBucketRequestPayment(ctx, &s3.PutBucketRequestPaymentInput{Bucket: b, RequestPaymentConfiguration: &types.RequestPaymentConfiguration{Payer: types.PayerRequester}})),
				ignore(c.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: b, BucketLoggingStatus: &types.BucketLoggingStatus{LoggingEnabled: &types.LoggingEnabled{
					TargetBucket: aws.String("shop-access-logs"), TargetPrefix: aws.String("orders/")}}})),
				ignore(c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: b, OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipObjectWriter}}}})),
				ignore(c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: b, AccessControlPolicy: &types.AccessControlPolicy{Owner: acl.Owner, Grants: []types.Grant{
					{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: acl.Owner.ID}, Permission: types.PermissionFullControl},
					{Grantee: &types.Grantee{Type: types.TypeGroup, URI: aws.String("http://acs.amazonaws.com/groups/s3/LogDelivery")}, Permission: types.PermissionReadAcp}}}})),
				ignore(c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: b, LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{
					{ID: aws.String("old-versions"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")}, NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(90)}}}}})),
			)
		}},
		{"shop-archive: Object Lock with 30-day GOVERNANCE retention", func() error {
			b := aws.String("shop-archive")
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b, ObjectLockEnabledForBucket: aws.Bool(true)})
			return errors.Join(err,
				ignore(c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b, Tagging: tags("bucketmirror:destination-regions", dest, "retention", "legal")})),
				ignore(c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: b, ObjectLockConfiguration: &types.ObjectLockConfiguration{
					ObjectLockEnabled: types.ObjectLockEnabledEnabled, Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(30)}}}})),
			)
		}},
		{"shop-website: static website, public-read policy with Block Public Access off", func() error {
			b := aws.String("shop-website")
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b})
			return errors.Join(err,
				ignore(c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b, Tagging: tags("bucketmirror:destination-regions", dest)})),
				ignore(c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: b, PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
					BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(false), RestrictPublicBuckets: aws.Bool(false)}})),
				ignore(c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::shop-website/*"}]}`)})),
				ignore(c.PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{Bucket: b, WebsiteConfiguration: &types.WebsiteConfiguration{
					IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")}, ErrorDocument: &types.ErrorDocument{Key: aws.String("404.html")}}})),
			)
		}},
		{"legacy-reports: tagged with an invalid value (commas)", func() error {
			b := aws.String("legacy-reports")
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b})
			return errors.Join(err, ignore(c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b, Tagging: tags("bucketmirror:destination-regions", "us-west-2,eu-west-1")})))
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("creating %s: %w", s.what, err)
		}
		fmt.Fprintln(d.out, "   "+s.what)
	}
	return nil
}

// drift changes one source and damages one destination.
func (d *demo) drift(ctx context.Context) error {
	_, err := d.s3(home).PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String("shop-assets"), CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{
		{AllowedMethods: []string{"GET", "HEAD"}, AllowedOrigins: []string{"https://shop.example.com", "https://m.shop.example.com"}, MaxAgeSeconds: aws.Int32(3600)}}}})
	if err != nil {
		return err
	}
	orders, err := d.destOf(ctx, "shop-orders")
	if err != nil {
		return err
	}
	_, err = d.s3(dest).DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: aws.String(orders)})
	return err
}

// ignore keeps only the error of an SDK call.
func ignore[T any](_ T, err error) error { return err }
