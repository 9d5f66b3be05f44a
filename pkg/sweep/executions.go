package sweep

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// executionNamer is implemented by starters whose runs are Step Functions
// executions with an ARN.
type executionNamer interface{ ExecutionARN(name string) string }

// ExecutionARN is the ARN of this state machine's execution name:
// arn:PARTITION:states:REGION:ACCOUNT:execution:MACHINE:NAME
// (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html#awsstepfunctions-resources-for-iam-policies).
// Names are deterministic, so the ARN is known for an execution another
// sweep started as well.
func (s *SFNStarter) ExecutionARN(name string) string {
	return ExecutionARNOf(s.StateMachineARN, name)
}

// ExecutionARNOf derives an execution's ARN from its state machine's ARN.
func ExecutionARNOf(stateMachineARN, name string) string {
	return strings.Replace(stateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
}

// Execution is what Step Functions says about one execution.
type Execution struct {
	Name   string `json:"name"`
	ARN    string `json:"arn"`
	Status string `json:"status"` // RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, ...
	// Error is "Error: cause" of an execution that did not succeed.
	Error string `json:"error,omitempty"`
}

// Succeeded reports whether the execution ended well.
func (e Execution) Succeeded() bool { return e.Status == string(sfntypes.ExecutionStatusSucceeded) }

// Done reports whether the execution has ended.
func (e Execution) Done() bool {
	return e.Status != string(sfntypes.ExecutionStatusRunning) && e.Status != string(sfntypes.ExecutionStatusPendingRedrive)
}

// ErrNoExecution is returned by DescribeExecution for an execution Step
// Functions does not know (a run done in-process, or one expired after 90
// days).
var ErrNoExecution = errors.New("no such execution")

// DescribeExecution reads one execution's status.
func DescribeExecution(ctx context.Context, client *sfn.Client, arn string) (Execution, error) {
	out, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	var missing *sfntypes.ExecutionDoesNotExist
	if errors.As(err, &missing) {
		return Execution{ARN: arn}, ErrNoExecution
	}
	if err != nil {
		return Execution{ARN: arn}, fmt.Errorf("describing execution %s: %w", arn, err)
	}
	e := Execution{Name: aws.ToString(out.Name), ARN: arn, Status: string(out.Status)}
	if !e.Succeeded() && e.Done() {
		e.Error = strings.TrimSuffix(aws.ToString(out.Error)+": "+aws.ToString(out.Cause), ": ")
	}
	return e, nil
}

// Wait polls the executions of the started decisions until every one has
// ended (or ctx ends), fills in their ExecutionStatus and ExecutionError,
// and calls done for each as it ends. Decisions without an execution ARN
// (in-process runs, skipped buckets) are left alone.
func (s *SFNStarter) Wait(ctx context.Context, decisions []Decision, poll time.Duration, done func(Decision)) error {
	pending := map[int]bool{}
	for i, d := range decisions {
		if d.ExecutionARN != "" {
			pending[i] = true
		}
	}
	for len(pending) > 0 {
		for i := range decisions {
			if !pending[i] {
				continue
			}
			e, err := DescribeExecution(ctx, s.Client, decisions[i].ExecutionARN)
			if err != nil {
				return err
			}
			if !e.Done() {
				continue
			}
			decisions[i].ExecutionStatus, decisions[i].ExecutionError = e.Status, e.Error
			delete(pending, i)
			if done != nil {
				done(decisions[i])
			}
		}
		if len(pending) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d executions: %w", len(pending), ctx.Err())
		case <-time.After(poll):
		}
	}
	return nil
}
