package localdeploy

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

// Names of the whole stack's other resources in the local cloud.
const (
	SweepFunction         = "bucketmirror-sweep"
	SweepStateMachineName = "bucketmirror-sweep"
	// SweepBucket is the full sweep's manifest bucket, named as the
	// template names its SweepBucket (bucketmirror's own bucket carries
	// DestinationNamePrefix; "local" stands for the stack id's group).
	SweepBucket = mirror.DefaultDestPrefix + "sweep-local"
	// StackDestinationRegions is the local stack's DestinationRegions
	// parameter: the Regions of the sample events in events/.
	StackDestinationRegions = "us-east-1 us-west-2"
)

// OwnRoleARNs are the local stack's create and configure roles, named as
// CloudFormation names SAM's generated roles (<stack>-<LogicalId>-<suffix>):
// events/cloudtrail-put-bucket-cors-by-bucketmirror.json is a write by the
// second.
var OwnRoleARNs = []string{
	"arn:aws:iam::" + localcloud.AccountID + ":role/bucketmirror-CreateFunctionRole-EXAMPLE1A2B3",
	"arn:aws:iam::" + localcloud.AccountID + ":role/bucketmirror-ConfigureFunctionRole-EXAMPLE1A2B3",
}

// Functions are the stack's Lambda functions by the name of their
// functions/ directory (the Makefile's FUNCTIONS), each with its
// template.yaml logical id.
var Functions = map[string]string{
	"sweep":          "SweepFunction",
	"sweeplist":      "SweepListFunction",
	"sweepbatch":     "SweepBatchFunction",
	"sweepaggregate": "SweepAggregateFunction",
	"create":         "CreateFunction",
	"configure":      "ConfigureFunction",
}

// Stack is bucketmirror's stack deployed into a local cloud the way
// template.yaml deploys it into an account: the inventory table, the
// mirror and full-sweep state machines with their Lambda steps (served
// in-process by the router), the manifest bucket.
type Stack struct {
	Mirrorer         *mirror.Mirrorer
	Sweeper          *sweep.Sweeper
	MirrorMachineARN string
	SweepMachineARN  string
}

// FunctionEnv is the environment template.yaml gives function fn (a
// functions/ directory name), with the template's parameter defaults and
// the local stack's resource names; deploy/ checks that it names exactly
// the variables the template sets.
func (s *Stack) FunctionEnv(fn string) []string {
	return FunctionEnv(fn, s.MirrorMachineARN)
}

// FunctionEnv is Stack.FunctionEnv for a stack whose mirror state machine
// is machineARN.
func FunctionEnv(fn, machineARN string) []string {
	// Globals.Function.Environment.Variables, at the parameters' defaults.
	env := []string{
		"BUCKETMIRROR_TABLE=" + inventory.DefaultTable,
		"BUCKETMIRROR_TAG_PREFIX=bucketmirror:",
		"BUCKETMIRROR_ACCOUNT_ID=" + localcloud.AccountID,
		"BUCKETMIRROR_KMS_KEY_MAP={}",
		"BUCKETMIRROR_REGIONS=",
		"BUCKETMIRROR_ACCOUNTS=",
		"BUCKETMIRROR_DESTINATION_REGIONS=" + StackDestinationRegions,
		"BUCKETMIRROR_POLICY_VALUE_MAP={}",
		"BUCKETMIRROR_DEST_PREFIX=" + mirror.DefaultDestPrefix,
		"BUCKETMIRROR_MEMBER_ROLE=" + awsclient.DefaultMemberRole,
		"BUCKETMIRROR_EXTERNAL_ID=",
		"BUCKETMIRROR_SWEEP_BUCKET=" + SweepBucket,
		"BUCKETMIRROR_SWEEP_BATCH_SIZE=100",
		"BUCKETMIRROR_SWEEP_MAX_CONCURRENCY=40",
		"BUCKETMIRROR_DESTINATION_READ_EVERY=1",
	}
	if strings.HasPrefix(fn, "sweep") {
		env = append(env,
			"BUCKETMIRROR_STATE_MACHINE_ARN="+machineARN,
			"BUCKETMIRROR_EVENT_BUS=default",
			"BUCKETMIRROR_OWN_ROLE_ARNS="+strings.Join(OwnRoleARNs, " "),
		)
	}
	return env
}

func getenv(env []string) func(string) string {
	return func(name string) string {
		for _, kv := range slices.Backward(env) {
			if v, ok := strings.CutPrefix(kv, name+"="); ok {
				return v
			}
		}
		return ""
	}
}

// DeployStack deploys the whole stack into cloud. Deploying into a cloud
// that was Reset gives the same names and ARNs again, so functions
// registered with FunctionEnv keep working.
func DeployStack(ctx context.Context, cloud *localcloud.Cloud, log *slog.Logger) (*Stack, error) {
	cfg := cloud.AWSConfig()
	cfg.Retryer = awsclient.NewRetryer
	machine := fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", cloud.Region, localcloud.AccountID, StateMachineName)
	m, err := mirror.Setup(ctx, cfg, getenv(FunctionEnv("create", machine)), log)
	if err != nil {
		return nil, err
	}
	arn, err := Workflow(ctx, cloud, m)
	if err != nil {
		return nil, err
	}
	if arn != machine {
		return nil, fmt.Errorf("the mirror state machine is %s, not %s as the functions' environment says", arn, machine)
	}
	s, err := sweep.Setup(ctx, cfg, getenv(FunctionEnv("sweeplist", arn)), false, log)
	if err != nil {
		return nil, err
	}
	s.Metrics = nil
	sweepARN, err := DeploySweep(ctx, cloud, s, SweepStateMachineName)
	if err != nil {
		return nil, err
	}
	return &Stack{Mirrorer: m, Sweeper: s, MirrorMachineARN: arn, SweepMachineARN: sweepARN}, nil
}
