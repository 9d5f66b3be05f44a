package awsclient_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go/middleware"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

// A middleware at the very front of the stack (where the bench's call
// counter and the Recorder sit) names every client's calls, including the
// clients generated with RegisterServiceMetadata in their own stack (sfn):
// the bench's sweep report once counted their StartExecution as ".".
func TestOperationNamesCallsAtTheFrontOfTheStack(t *testing.T) {
	cloud := localcloud.ForTest(t)
	ctx := context.Background()
	var mu sync.Mutex
	var seen []string
	cfg := cloud.AWSConfig()
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("recordFirst",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				mu.Lock()
				seen = append(seen, awsclient.Operation(ctx))
				mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
	c := awsclient.New(cfg)
	if _, err := c.S3("us-east-1").ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sfn.NewFromConfig(cfg).ListStateMachines(ctx, &sfn.ListStateMachinesInput{MaxResults: 1}); err != nil {
		t.Fatal(err)
	}
	_, _ = c.S3("us-east-1").GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("no-such-bucket-for-operation")})
	want := []string{"S3.ListBuckets", "SFN.ListStateMachines", "S3.GetBucketCors"}
	if !slices.Equal(seen, want) {
		t.Errorf("calls named %q, want %q", seen, want)
	}
}
