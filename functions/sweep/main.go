// Command sweep is the sweep Lambda: run by an EventBridge schedule (every
// tagged bucket), by CloudTrail bucket-change events (that bucket) and by a
// direct invoke {"buckets": [...]}; it starts executions of the mirror state
// machine for the mirrors that need a run.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/bucketmirror/bucketmirror/functions/internal/lambdamain"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

func main() {
	lambdamain.Run("sweep", func(ctx context.Context, cfg aws.Config, log *slog.Logger) (any, error) {
		s, err := sweep.Setup(ctx, cfg, os.Getenv, false, log)
		if err != nil {
			return nil, err
		}
		return sweep.NewHandler(s, log).Lambda(), nil
	})
}
