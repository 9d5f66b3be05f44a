// Command create is the create step of the mirror state machine: it makes
// the destination bucket and records the run as CREATED.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/bucketmirror/bucketmirror/functions/internal/lambdamain"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

func main() {
	lambdamain.Run("create", func(ctx context.Context, cfg aws.Config, log *slog.Logger) (any, error) {
		m, err := mirror.Setup(ctx, cfg, os.Getenv, log)
		if err != nil {
			return nil, err
		}
		m.Metrics = os.Stdout
		return m.CreateLambda(), nil
	})
}
