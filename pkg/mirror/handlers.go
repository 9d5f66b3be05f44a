package mirror

import (
	"context"
	"errors"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
)

// Event is what the create Lambda receives: the state machine wraps the
// payload with the execution's name and start time (which address the run
// record); a direct invoke may send the bare payload.
type Event struct {
	Input
	Payload *Input `json:"payload,omitempty"`
}

func (ev Event) input() Input {
	if ev.Payload == nil {
		return ev.Input
	}
	in := *ev.Payload
	in.inheritRun(ev.Input)
	return in
}

// inheritRun takes the execution's name and start time, which the state
// machine puts beside a wrapped payload, where the payload has none.
func (in *Input) inheritRun(outer Input) {
	if in.RunID == "" {
		in.RunID = outer.RunID
	}
	if in.StartedAt == "" {
		in.StartedAt = outer.StartedAt
	}
}

// TransientError is a failure worth retrying (throttling, a conflicting
// write, a timeout); the state machine retries it with backoff.
type TransientError struct{ Message string }

func (e *TransientError) Error() string { return e.Message }

// DeadlineError: the step ran out of its time (the Lambda's deadline less
// RecordTimeout). The run is recorded FAILED; the state machine does not
// retry it - another attempt would most likely run out of time as well,
// and retries of whole timeouts would outlast the execution - and the next
// sweep tries again.
type DeadlineError struct{ Message string }

func (e *DeadlineError) Error() string { return e.Message }

// InternalError is any other failure; the state machine does not retry it.
type InternalError struct{ Message string }

func (e *InternalError) Error() string { return e.Message }

// lambdaError maps a step's error to the few named types the state machine
// matches in Retry and Catch (the Go type name is the Lambda errorType).
func lambdaError(err error) error {
	var (
		invalid   *InvalidInputError
		malformed *MalformedEventError
		notFound  *SourceNotFoundError
		foreign   *ForeignBucketError
		conflict  *DestinationConflictError
		configure *ConfigureError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &invalid), errors.As(err, &malformed), errors.As(err, &notFound), errors.As(err, &foreign), errors.As(err, &conflict), errors.As(err, &configure):
		return err
	case errors.Is(err, context.DeadlineExceeded):
		return &DeadlineError{Message: "the step ran out of time: " + err.Error()}
	case bucketconfig.Classify(err) == bucketconfig.ClassRetryable:
		return &TransientError{Message: err.Error()}
	}
	return &InternalError{Message: err.Error()}
}

// workContext ends a step's work RecordTimeout before the Lambda's
// deadline, so that the step records its run before Lambda stops it.
func workContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, deadline.Add(-RecordTimeout))
	}
	return context.WithCancel(ctx)
}

// CreateHandler is the create Lambda's handler.
func (m *Mirrorer) CreateHandler(ctx context.Context, ev Event) (State, error) {
	ctx, cancel := workContext(ctx)
	defer cancel()
	st, err := m.Create(ctx, ev.input())
	if err != nil {
		m.log().ErrorContext(ctx, "create failed", "bucket", st.SourceBucketARN, "region", st.DestRegion, "dest", st.DestBucket, "run", st.RunID, "error", err)
	}
	return st, lambdaError(err)
}

// ConfigureEvent is what the configure Lambda receives: the create step's
// result from the state machine, or - on a direct invoke - the same shapes
// create takes (the bare payload with destBucketARN, or it wrapped in
// "payload").
type ConfigureEvent struct {
	State
	Payload *State `json:"payload,omitempty"`
}

func (ev ConfigureEvent) state() State {
	if ev.Payload == nil {
		return ev.State
	}
	st := *ev.Payload
	st.inheritRun(ev.Input)
	return st
}

// ConfigureHandler is the configure Lambda's handler.
func (m *Mirrorer) ConfigureHandler(ctx context.Context, ev ConfigureEvent) (State, error) {
	ctx, cancel := workContext(ctx)
	defer cancel()
	st := ev.state()
	out, err := m.Configure(ctx, st)
	if err != nil {
		m.log().ErrorContext(ctx, "configure failed", "bucket", st.SourceBucketARN, "region", st.DestRegion, "dest", out.DestBucket, "run", st.RunID, "kind", out.FailedKind, "code", out.ErrorCode, "error", err)
	}
	return out, lambdaError(err)
}
