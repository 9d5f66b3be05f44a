// Command create is the create step of the mirror state machine: it makes
// the destination bucket and records the run as CREATED.
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
			lambda.Start(m.CreateHandler)
			return
		}
	}
	log.Error("starting create function", slog.Any("error", err))
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
