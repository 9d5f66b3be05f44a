// Package localdeploy deploys bucketmirror's full sweep into the embedded
// local cloud, the way template.yaml deploys it into an account. It imports
// pkg/localcloud, so nothing a Lambda links may import it.
package localdeploy

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
	"github.com/bucketmirror/bucketmirror/statemachine"
)

// Function names of the full sweep's Lambdas in the local cloud.
const (
	SweepListFunction      = "bucketmirror-sweep-list"
	SweepBatchFunction     = "bucketmirror-sweep-batch"
	SweepAggregateFunction = "bucketmirror-sweep-aggregate"
)

// manifestExpiryDays matches the template's lifecycle rule on the manifest
// bucket: a manifest is only read during its sweep.
const manifestExpiryDays = 1

// DeploySweep deploys the full sweep: the manifest bucket named by s's
// Config.ManifestBucket (with the template's lifecycle rule), the list,
// reconcile-batch and aggregate handlers of s served in-process by the
// router, and statemachine/sweep.asl.json under name. It returns the state
// machine's ARN. Deploying a name again replaces its definition.
func DeploySweep(ctx context.Context, cloud *localcloud.Cloud, s *sweep.Sweeper, name string) (string, error) {
	cfg := cloud.AWSConfig()
	bucket := s.Config().ManifestBucket
	if bucket == "" {
		return "", fmt.Errorf("deploying the sweep: the sweeper has no manifest bucket (sweep.Config.ManifestBucket)")
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil && bucketconfig.ErrorCode(err) != "BucketAlreadyOwnedByYou" {
		return "", fmt.Errorf("creating the sweep manifest bucket %s: %w", bucket, err)
	}
	if _, err := client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String(bucket),
		LifecycleConfiguration: &s3types.BucketLifecycleConfiguration{Rules: []s3types.LifecycleRule{{
			ID: aws.String("expire-manifests"), Status: s3types.ExpirationStatusEnabled, Filter: &s3types.LifecycleRuleFilter{Prefix: aws.String("")},
			Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(manifestExpiryDays)}}}}}); err != nil {
		return "", fmt.Errorf("setting the lifecycle of the sweep manifest bucket %s: %w", bucket, err)
	}
	h := &sweep.FullSweepHandler{Sweeper: s}
	cloud.Register(SweepListFunction, h.ListLambda())
	cloud.Register(SweepBatchFunction, h.BatchLambda())
	cloud.Register(SweepAggregateFunction, h.AggregateLambda())
	def, err := statemachine.SweepDefinition(map[string]string{
		"SweepListFunctionArn":      cloud.FunctionARN(SweepListFunction),
		"SweepBatchFunctionArn":     cloud.FunctionARN(SweepBatchFunction),
		"SweepAggregateFunctionArn": cloud.FunctionARN(SweepAggregateFunction),
	})
	if err != nil {
		return "", err
	}
	sf := sfn.NewFromConfig(cfg)
	arn := fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", cloud.Region, localcloud.AccountID, name)
	if _, err := sf.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)}); err == nil {
		if _, err := sf.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{StateMachineArn: aws.String(arn), Definition: aws.String(def)}); err != nil {
			return "", fmt.Errorf("updating state machine %s: %w", name, err)
		}
		return arn, nil
	}
	out, err := sf.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(name),
		Definition: aws.String(def),
		RoleArn:    aws.String(fmt.Sprintf("arn:aws:iam::%s:role/bucketmirror-sweep-state-machine", localcloud.AccountID)),
	})
	if err != nil {
		return "", fmt.Errorf("creating state machine %s: %w", name, err)
	}
	return aws.ToString(out.StateMachineArn), nil
}
