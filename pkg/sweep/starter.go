package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

// Starter starts the mirror workflow for one source×Region under a
// deterministic name.
type Starter interface {
	Start(ctx context.Context, name string, in mirror.Input) error
}

// synchronous is implemented by starters whose Start returns only once the
// run is over, so its error is the run's outcome (sweep --local).
type synchronous interface{ Synchronous() bool }

// SFNStarter starts executions of the deployed state machine. Throttling
// (StartExecution refills at 150-300/s per Region) is absorbed by the
// client's retryer — awsclient.Load configures the SDK's adaptive mode — and
// by the sweep's bounded concurrency.
type SFNStarter struct {
	Client          *sfn.Client
	StateMachineARN string
}

// NewSFNStarter builds an SFNStarter from one loaded aws.Config.
func NewSFNStarter(cfg aws.Config, stateMachineARN string) *SFNStarter {
	return &SFNStarter{Client: sfn.NewFromConfig(cfg), StateMachineARN: stateMachineARN}
}

// Start starts execution name with in as its input. An execution of that
// name that already exists is success: another sweep started the same work
// (Standard workflows keep names unique for 90 days).
func (s *SFNStarter) Start(ctx context.Context, name string, in mirror.Input) error {
	payload, err := json.Marshal(in)
	if err != nil {
		return err
	}
	_, err = s.Client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(s.StateMachineARN),
		Name:            aws.String(name),
		Input:           aws.String(string(payload)),
	})
	var exists *sfntypes.ExecutionAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("starting execution %s of %s: %w", name, s.StateMachineARN, err)
	}
	return nil
}

// LocalStarter runs create+configure in-process (bucketmirror sweep
// --local); Start returns when the run is over.
type LocalStarter struct {
	Mirrorer *mirror.Mirrorer
}

// Start runs the workflow; its error is the run's failure.
func (l *LocalStarter) Start(ctx context.Context, name string, in mirror.Input) error {
	in.RunID = name
	st, err := l.Mirrorer.Run(ctx, in)
	if err != nil {
		return err
	}
	if st.Status != mirror.StatusFinished {
		return fmt.Errorf("run %s of %s -> %s ended %s: %s", name, in.SourceBucketARN, in.DestRegion, st.Status, st.Error)
	}
	return nil
}

// Synchronous reports that Start waits for the run.
func (l *LocalStarter) Synchronous() bool { return true }
