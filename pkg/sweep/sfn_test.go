package sweep_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

// waitExecution polls an execution of the deployed state machine until it
// is no longer running.
func waitExecution(t *testing.T, client *sfn.Client, name string) *sfn.DescribeExecutionOutput {
	t.Helper()
	arn := strings.Replace(machineARN, ":stateMachine:", ":execution:", 1) + ":" + name
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, err := client.DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("describing execution %s: %v", name, err)
		}
		if out.Status != sfntypes.ExecutionStatusRunning {
			return out
		}
	}
	t.Fatalf("execution %s still running after 30s", name)
	return nil
}

func TestSweepThroughStateMachine(t *testing.T) {
	e := newEnv(t, withStateMachine())
	a := e.source("sfn-a", "us-west-2")
	b := e.source("sfn-b", "eu-central-1")
	sum := e.sweep()
	wantCounts(t, sum, 2, 0, 0, 0, 0)
	client := sfn.NewFromConfig(cloud.AWSConfig())
	for _, c := range []struct{ source, region string }{{a, "us-west-2"}, {b, "eu-central-1"}} {
		d := wantDecision(t, sum, c.source, c.region, sweep.ActionStarted, "new")
		if len(d.Execution) > 80 || strings.Trim(d.Execution, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			t.Errorf("execution name %q is not a valid Step Functions name", d.Execution)
		}
		if out := waitExecution(t, client, d.Execution); out.Status != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("execution %s: %s %s %s", d.Execution, out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
		}
		m := e.mirror(c.source, c.region)
		if m == nil || m.Status != inventory.StatusFinished || m.LastRunID != d.Execution || m.Dest != e.m.DerivedName(c.source, c.region) {
			t.Errorf("mirror %s -> %s = %+v, want FINISHED by %s", c.source, c.region, m, d.Execution)
		}
		if !e.exists(e.m.DerivedName(c.source, c.region), c.region) {
			t.Errorf("no destination for %s in %s", c.source, c.region)
		}
		// A second start of the same name is a no-op, not an error.
		starter := sweep.NewSFNStarter(e.cfg, machineARN)
		if err := starter.Start(e.ctx, d.Execution, mirror.Input{SourceBucketARN: "arn:aws:s3:::" + c.source}); err != nil {
			t.Errorf("starting %s again: %v, want the duplicate ignored", d.Execution, err)
		}
	}

	e.rec.reset()
	again := e.sweep()
	wantCounts(t, again, 0, 2, 0, 0, 0)
	if w := e.rec.writes(); len(w) > 0 {
		t.Errorf("second sweep wrote: %v", w)
	}
}
