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
	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

func main() {
	log := lambdacontext.NewLogger()
	cfg, err := awsclient.Load(context.Background())
	if err == nil {
		var c mirror.Config
		if c, err = mirror.ConfigFromEnv(os.Getenv); err == nil {
			lambda.Start(mirror.NewMirrorer(cfg, c, bucketconfig.Options{}, log).ConfigureHandler)
			return
		}
	}
	log.Error("starting configure function", slog.Any("error", err))
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
