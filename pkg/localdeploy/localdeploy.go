package localdeploy

// The mirror workflow's local deployment lives here, apart from pkg/mirror,
// so that no Lambda bootstrap links the local cloud (its emulator launcher
// and process management) or the embedded state machine definition.

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
	"github.com/bucketmirror/bucketmirror/statemachine"
)

// Function names of the workflow's Lambdas in the local cloud.
const (
	CreateFunction    = "bucketmirror-create"
	ConfigureFunction = "bucketmirror-configure"
	StateMachineName  = "bucketmirror-mirror"
)

// Workflow deploys the workflow of m into cloud: the table, the create and
// configure handlers served in-process by the router, and the state machine
// from statemachine/mirror.asl.json with its substitutions. It returns the
// state machine's ARN.
func Workflow(ctx context.Context, cloud *localcloud.Cloud, m *mirror.Mirrorer) (string, error) {
	if err := m.Store.CreateTable(ctx); err != nil {
		return "", err
	}
	cloud.Register(CreateFunction, m.CreateLambda())
	cloud.Register(ConfigureFunction, m.ConfigureLambda())
	def, err := statemachine.Definition(map[string]string{
		"CreateFunctionArn":    cloud.FunctionARN(CreateFunction),
		"ConfigureFunctionArn": cloud.FunctionARN(ConfigureFunction),
		"TableName":            m.Store.Table(),
		"EventBusName":         "default",
	})
	if err != nil {
		return "", err
	}
	out, err := sfn.NewFromConfig(cloud.AWSConfig()).CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(StateMachineName),
		Definition: aws.String(def),
		RoleArn:    aws.String(fmt.Sprintf("arn:aws:iam::%s:role/bucketmirror-state-machine", localcloud.AccountID)),
	})
	if err != nil {
		return "", fmt.Errorf("creating state machine %s: %w", StateMachineName, err)
	}
	return aws.ToString(out.StateMachineArn), nil
}
