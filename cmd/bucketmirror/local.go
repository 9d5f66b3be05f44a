package main

import (
	"context"
	"fmt"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/localdeploy"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

// local runs the embedded local cloud with bucketmirror deployed in it and
// prints the environment to use it, then `ready`; it stops every process it
// started on SIGINT or SIGTERM.
func (a *App) local(ctx context.Context, args []string) error {
	if _, err := a.parse(a.flags("local"), args, 0); err != nil {
		return err
	}
	cloud, arn, table, err := startLocal(ctx, a.Getenv)
	if err != nil {
		return err
	}
	defer cloud.Close()
	for _, kv := range cloud.Env() {
		fmt.Fprintf(a.Stdout, "export %s\n", kv)
	}
	fmt.Fprintf(a.Stdout, "export BUCKETMIRROR_TABLE=%s\nexport BUCKETMIRROR_STATE_MACHINE_ARN=%s\n", table, arn)
	// The sweep looks for sources, and allows destinations, in these.
	fmt.Fprintf(a.Stdout, "export BUCKETMIRROR_REGIONS='%s'\nready\n", localRegions)
	<-ctx.Done()
	return cloud.Close()
}

const localRegions = "us-east-1 us-west-2 eu-west-1 eu-central-1"

// startLocal starts a local cloud and deploys the workflow into it.
func startLocal(ctx context.Context, getenv func(string) string) (*localcloud.Cloud, string, string, error) {
	cloud, err := localcloud.Start(ctx, localcloud.Options{})
	if err != nil {
		return nil, "", "", err
	}
	table := getenv("BUCKETMIRROR_TABLE")
	if table == "" {
		table = inventory.DefaultTable
	}
	m := mirror.NewMirrorer(cloud.AWSConfig(), mirror.Config{Table: table, TagPrefix: "bucketmirror:", AccountID: localcloud.AccountID}, bucketconfig.Options{}, nil)
	arn, err := localdeploy.Workflow(ctx, cloud, m)
	if err != nil {
		cloud.Close()
		return nil, "", "", err
	}
	return cloud, arn, table, nil
}
