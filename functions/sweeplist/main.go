// Command sweeplist is the full sweep state machine's first step: it lists
// every tagged source (and every source the inventory knows) and writes
// them as batches to a manifest in the sweep bucket.
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
	lambdamain.Run("sweep-list", func(ctx context.Context, cfg aws.Config, log *slog.Logger) (any, error) {
		s, err := sweep.Setup(ctx, cfg, os.Getenv, false, log)
		if err != nil {
			return nil, err
		}
		return (&sweep.FullSweepHandler{Sweeper: s}).ListLambda(), nil
	})
}
