package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

func (a *App) setup(ctx context.Context, args []string) error {
	if _, err := a.parse(a.flags("setup"), args, 0); err != nil {
		return err
	}
	m, _, err := a.mirrorer(ctx)
	if err != nil {
		return err
	}
	if err := m.Store.CreateTable(ctx); err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "table %s ready\n", m.Store.Table())
	return nil
}

// target is SOURCE --to REGION [--dest NAME], validated before any AWS call.
type target struct {
	source, region, dest, destAccount string
	json, adopt                       bool
}

func (a *App) parseTarget(name string, args []string, withAdopt bool) (target, error) {
	var t target
	fs := a.flags(name)
	fs.StringVar(&t.region, "to", "", "destination Region (required)")
	fs.StringVar(&t.dest, "dest", "", "destination bucket name (default: the recorded one, else derived)")
	fs.StringVar(&t.destAccount, "dest-account", "", "12-digit account id of the destination, reached through its member role (default: the source's account)")
	fs.BoolVar(&t.json, "json", false, "print JSON")
	if withAdopt {
		fs.BoolVar(&t.adopt, "adopt", false, "take over an existing destination that is not tagged as bucketmirror's")
	}
	pos, err := a.parse(fs, args, 1)
	if err != nil {
		return t, err
	}
	if t.source, err = bucketArg("source", pos[0]); err != nil {
		return t, err
	}
	if t.region == "" {
		return t, usagef("%s needs --to REGION", name)
	}
	if err := mirror.ValidateRegion(t.region); err != nil {
		return t, usagef("invalid Region %q: %v", t.region, err)
	}
	if t.dest != "" {
		if t.dest, err = bucketArg("destination", t.dest); err != nil {
			return t, err
		}
	}
	if t.destAccount != "" && !accountRE.MatchString(t.destAccount) {
		return t, usagef("invalid --dest-account %q: an AWS account id is 12 digits", t.destAccount)
	}
	return t, nil
}

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)

// bucketARNForm is the one ARN form a bucket argument may take.
const bucketARNForm = "arn:aws:s3:::BUCKET"

// bucketArg accepts a bucket name or its ARN, the form the state machine
// input and the original blog use. An S3 bucket ARN has empty Region and
// account fields and an object ARN adds /KEY
// (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html#amazons3-resources-for-iam-policies);
// anything else names something that is not a general purpose bucket, so
// it is refused rather than guessed at.
func bucketArg(role, arg string) (string, error) {
	name := arg
	if strings.HasPrefix(arg, "arn:") {
		f := strings.SplitN(arg, ":", 6)
		switch {
		case len(f) != 6 || (f[1] != "aws" && f[1] != "aws-cn" && f[1] != "aws-us-gov") || f[2] != "s3":
			return "", usagef("invalid %s %q: not an S3 bucket ARN; give a bucket name or %s", role, arg, bucketARNForm)
		case f[3] != "" || f[4] != "":
			return "", usagef("invalid %s %q: a bucket ARN has no Region or account field; give a bucket name or %s", role, arg, bucketARNForm)
		case strings.Contains(f[5], "/"):
			return "", usagef("invalid %s %q: that is an object ARN; give a bucket name or %s", role, arg, bucketARNForm)
		}
		name = f[5]
	}
	if err := mirror.ValidateBucketName(name); err != nil {
		return "", usagef("invalid %s bucket name %q: %v", role, name, err)
	}
	return name, nil
}

// sourceRegion finds where the source lives (GetBucketLocation answers for
// any bucket from any Region).
func sourceRegion(ctx context.Context, m *mirror.Mirrorer, home, bucket string) (string, error) {
	out, err := m.Clients.S3(home).GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(bucket)})
	if err != nil {
		if bucketconfig.IsNoSuchBucket(err) {
			return "", fmt.Errorf("source bucket %q does not exist", bucket)
		}
		return "", fmt.Errorf("finding the Region of bucket %q: %w", bucket, err)
	}
	switch loc := string(out.LocationConstraint); loc {
	case "":
		return "us-east-1", nil
	case "EU":
		return "eu-west-1", nil
	default:
		return loc, nil
	}
}

// prepare parses SOURCE --to REGION, wires the engine and builds the
// workflow input; plan and mirror share it.
func (a *App) prepare(ctx context.Context, name string, args []string, withAdopt bool) (target, *mirror.Mirrorer, mirror.Input, error) {
	t, err := a.parseTarget(name, args, withAdopt)
	if err != nil {
		return t, nil, mirror.Input{}, err
	}
	m, cfg, err := a.mirrorer(ctx)
	if err != nil {
		return t, nil, mirror.Input{}, err
	}
	region, err := sourceRegion(ctx, m, cfg.Region, t.source)
	if err != nil {
		return t, nil, mirror.Input{}, err
	}
	if region == t.region {
		return t, nil, mirror.Input{}, usagef("bucket %q is already in %s: --to must name another Region", t.source, region)
	}
	in := mirror.Input{SourceBucketARN: "arn:aws:s3:::" + t.source, SourceRegion: region, DestRegion: t.region,
		SourceAccountNumber: m.Engine.Options().AccountID, DestAccountNumber: m.Engine.Options().AccountID,
		DeterministicName: true, Adopt: t.adopt}
	if t.destAccount != "" {
		in.DestAccountNumber = t.destAccount
	}
	if t.dest != "" {
		in.DestBucketARN = "arn:aws:s3:::" + t.dest
	}
	return t, m, in, nil
}

func (a *App) plan(ctx context.Context, args []string) error {
	t, m, in, err := a.prepare(ctx, "plan", args, false)
	if err != nil {
		return err
	}
	dest := t.dest
	if dest == "" {
		if rec, err := m.Store.GetMirror(ctx, t.source, in.Place()); err == nil && rec != nil && rec.Dest != "" {
			dest = rec.Dest
		} else {
			dest = m.DerivedNameIn(t.source, t.region, in.DestAccount())
		}
	}
	mir, destClients, err := m.Target(ctx, in, dest)
	if err != nil {
		return err
	}
	var p *bucketconfig.Plan
	_, err = destClients.S3(t.region).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(dest)})
	var notFound *types.NotFound
	switch {
	case errors.As(err, &notFound):
		p = m.Engine.PlanNew(ctx, mir)
		if !t.json {
			fmt.Fprintf(a.Stdout, "destination %s does not exist yet: planned against an empty bucket\n", dest)
		}
	case err != nil:
		return fmt.Errorf("reading destination bucket %q in %s: %w", dest, t.region, err)
	default:
		if p, err = m.Engine.Plan(ctx, mir); err != nil {
			return err
		}
	}
	if t.json {
		return a.printJSON(map[string]any{"source": mir.Source, "dest": mir.Dest, "changes": p.Changes(), "steps": p.Steps})
	}
	p.Render(a.Stdout)
	return nil
}

func (a *App) mirror(ctx context.Context, args []string) error {
	t, m, in, err := a.prepare(ctx, "mirror", args, true)
	if err != nil {
		return err
	}
	st, runErr := m.Run(ctx, in)
	if st.Status == "" {
		st.Status = mirror.StatusFailed
	}
	if t.json {
		if err := a.printJSON(st); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.Stdout, "%s -> %s (%s): %s\n", t.source, st.DestBucket, t.region, st.Status)
	}
	if runErr != nil {
		var ce *mirror.ConfigureError
		if t.json || errors.As(runErr, &ce) {
			fmt.Fprintf(a.Stderr, "bucketmirror: %v\n", runErr)
			return errSomeFailed
		}
		return runErr
	}
	return nil
}

func (a *App) status(ctx context.Context, args []string) error {
	fs := a.flags("status")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := a.parse(fs, args, 0); err != nil {
		return err
	}
	m, cfg, err := a.mirrorer(ctx)
	if err != nil {
		return err
	}
	mirrors, err := m.Store.Mirrors(ctx)
	if err != nil {
		return err
	}
	rows := make([]statusRow, len(mirrors))
	machine := a.Getenv("BUCKETMIRROR_STATE_MACHINE_ARN")
	var client *sfn.Client
	if machine != "" {
		client = sfn.NewFromConfig(cfg)
	}
	for i, r := range mirrors {
		rows[i].Mirror = r
		if r.LastRunID == "" {
			continue
		}
		// The run id is the execution's name; a run done in-process
		// (mirror, sweep --local) has no execution.
		rows[i].LastExecution = &sweep.Execution{Name: r.LastRunID, Status: "-"}
		if client == nil {
			continue
		}
		e, err := sweep.DescribeExecution(ctx, client, sweep.ExecutionARNOf(machine, r.LastRunID))
		switch {
		case errors.Is(err, sweep.ErrNoExecution):
			rows[i].LastExecution.Status = "in-process"
		case err != nil:
			return err
		default:
			rows[i].LastExecution = &e
		}
	}
	if *asJSON {
		return a.printJSON(rows)
	}
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tREGION\tDESTINATION\tSTATUS\tLAST RUN\tLAST EXECUTION\tEXECUTION STATUS\tLAST ERROR")
	for _, r := range rows {
		name, status := "-", "-"
		if e := r.LastExecution; e != nil {
			name, status = e.Name, e.Status
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Source, r.Region, r.Dest, r.Status, r.LastRunAt, name, status, sweep.OneLine(r.LastError, 80))
	}
	return tw.Flush()
}

// statusRow is a mirror record with what Step Functions says about its last
// run (lastExecution in --json; the record's own fields are unchanged).
type statusRow struct {
	inventory.Mirror
	LastExecution *sweep.Execution `json:"lastExecution,omitempty"`
}

func (a *App) confirm(question string) bool {
	fmt.Fprintf(a.Stdout, "%s [y/N] ", question)
	line, _ := bufio.NewReader(a.Stdin).ReadString('\n')
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes"
}
