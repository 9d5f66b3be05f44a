// Command sweepaggregate is the full sweep's last step: it adds the
// batches' summaries into the sweep's summary, its log line, its EMF
// metrics and its Sweep Finished event, and names the sources failed
// batches left unreached.
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
	lambdamain.Run("sweep-aggregate", func(ctx context.Context, cfg aws.Config, log *slog.Logger) (any, error) {
		s, err := sweep.Setup(ctx, cfg, os.Getenv, false, log)
		if err != nil {
			return nil, err
		}
		return (&sweep.FullSweepHandler{Sweeper: s}).AggregateLambda(), nil
	})
}
