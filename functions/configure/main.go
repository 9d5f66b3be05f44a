// Command configure is the configure step of the mirror state machine: it
// copies every configuration kind and records the run FINISHED or FAILED.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

func main() {
	ctx := context.Background()
	log := lambdacontext.NewLogger()
	cfg, err := awsclient.Load(ctx)
	if err == nil {
		var m *mirror.Mirrorer
		if m, err = mirror.Setup(ctx, cfg, os.Getenv, log); err == nil {
			lambda.Start(m.ConfigureHandler)
			return
		}
	}
	log.Error("starting configure function", slog.Any("error", err))
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
