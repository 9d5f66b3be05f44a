// Package lambdamain is the shared edge of the Lambda entrypoints: load the
// AWS configuration once, build the handler, start the runtime.
package lambdamain

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
)

// Run builds the handler with build and hands it to the Lambda runtime. A
// failure to build is logged once and ends the process: Lambda reports it as
// an init error, which is what a missing setting or bad configuration is.
func Run(name string, build func(ctx context.Context, cfg aws.Config, log *slog.Logger) (handler any, err error)) {
	ctx := context.Background()
	log := lambdacontext.NewLogger()
	cfg, err := awsclient.Load(ctx)
	if err == nil {
		var handler any
		if handler, err = build(ctx, cfg, log); err == nil {
			lambda.Start(handler)
			return
		}
	}
	log.Error("starting "+name+" function", slog.Any("error", err))
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
