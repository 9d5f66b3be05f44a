// Command sweep is the sweep Lambda: run by an EventBridge schedule (every
// tagged bucket), by CloudTrail bucket-change events (that bucket) and by a
// direct invoke {"buckets": [...]}; it starts executions of the mirror state
// machine for the mirrors that need a run.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

func main() {
	ctx := context.Background()
	log := lambdacontext.NewLogger()
	cfg, err := awsclient.Load(ctx)
	if err == nil {
		var s *sweep.Sweeper
		if s, err = sweep.Setup(ctx, cfg, os.Getenv, false, log); err == nil {
			lambda.Start(sweep.NewHandler(s, log).Handle)
			return
		}
	}
	log.Error("starting sweep function", slog.Any("error", err))
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
