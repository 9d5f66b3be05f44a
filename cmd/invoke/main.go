// Command invoke is `make invoke FN=create EVENT=events/create.json`: it
// builds the function's real bootstrap, runs it under aws-lambda-rie against
// a fresh local cloud (with the inventory table and the event's source
// bucket in place) and prints the response — the job `sam local invoke` does
// in a Docker container.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: invoke FUNCTION EVENT_FILE   (e.g. invoke create events/create.json)")
		os.Exit(2)
	}
	if err := run(context.Background(), os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "invoke:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, fn, eventFile string) error {
	event, err := os.ReadFile(eventFile)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bucketmirror-invoke-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bootstrap := filepath.Join(dir, "bootstrap")
	// The flags of the Makefile's build-% (what `sam build` runs), for this
	// machine's architecture.
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", bootstrap, "./functions/"+fn)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building functions/%s: %w", fn, err)
	}
	cloud, err := localcloud.Start(ctx, localcloud.Options{Dir: dir})
	if err != nil {
		return err
	}
	defer cloud.Close()
	table := inventory.DefaultTable
	if err := inventory.New(dynamodb.NewFromConfig(cloud.AWSConfig()), table).CreateTable(ctx); err != nil {
		return err
	}
	if err := ensureSource(ctx, cloud, event); err != nil {
		return err
	}
	env := []string{"BUCKETMIRROR_TABLE=" + table, "BUCKETMIRROR_ACCOUNT_ID=" + localcloud.AccountID, "BUCKETMIRROR_REGIONS=us-east-1 us-west-2"}
	if err := cloud.RegisterBinary(ctx, fn, bootstrap, env); err != nil {
		return err
	}
	resp, err := http.Post(cloud.Endpoint+"/2015-03-31/functions/"+fn+"/invocations", "application/json", bytes.NewReader(event))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var pretty bytes.Buffer
	if json.Indent(&pretty, body, "", "  ") == nil {
		body = pretty.Bytes()
	}
	fmt.Printf("%s\n", body)
	if fe := resp.Header.Get("X-Amz-Function-Error"); fe != "" {
		return fmt.Errorf("function error (%s); its log: %s", fe, filepath.Join(dir, fn+".rie.log"))
	}
	return nil
}

// ensureSource creates the source bucket a workflow event names, so the
// sample events work on a fresh local cloud.
func ensureSource(ctx context.Context, cloud *localcloud.Cloud, event []byte) error {
	var ev mirror.Event
	if json.Unmarshal(event, &ev) != nil {
		return nil
	}
	in := ev.Input
	if ev.Payload != nil {
		in = *ev.Payload
	}
	name, err := mirror.BucketFromARN("sourceBucketARN", in.SourceBucketARN)
	if err != nil || mirror.ValidateRegion(in.SourceRegion) != nil {
		return nil // not a workflow event, or a deliberately bad one
	}
	s3c := awsclient.New(cloud.AWSConfig()).S3(in.SourceRegion)
	_, err = s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	if err == nil {
		fmt.Fprintf(os.Stderr, "created source bucket %s in the local cloud for the event\n", name)
	}
	return nil
}
