// Command sweepbatch is the full sweep's reconcile-batch step, run by each
// child of the Distributed Map: it reconciles one batch of sources and
// starts mirror executions exactly as the sweep function does.
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
	lambdamain.Run("sweep-batch", func(ctx context.Context, cfg aws.Config, log *slog.Logger) (any, error) {
		s, err := sweep.Setup(ctx, cfg, os.Getenv, false, log)
		if err != nil {
			return nil, err
		}
		return (&sweep.FullSweepHandler{Sweeper: s}).BatchLambda(), nil
	})
}
