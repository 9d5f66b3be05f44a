// Command demo is what `make demo` runs: the whole bucketmirror job on the
// embedded local cloud, printed for a human.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	fmt.Println("starting the local cloud (moto + Lambda router)...")
	cloud, err := localcloud.Start(ctx, localcloud.Options{})
	if err != nil {
		return err
	}
	defer cloud.Close()
	fmt.Println("local cloud at", cloud.Endpoint)
	s3c := awsclient.New(cloud.AWSConfig()).S3(cloud.Region)
	bucket := aws.String("demo-source")
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		return err
	}
	_, err = s3c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: bucket, Tagging: &s3types.Tagging{
		TagSet: []s3types.Tag{{Key: aws.String("bucketmirror:destination-regions"), Value: aws.String("us-west-2")}}}})
	if err != nil {
		return err
	}
	fmt.Println("created source bucket demo-source tagged for us-west-2")
	return nil
}
