package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
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
	source, region, dest string
	json, adopt          bool
}

func (a *App) parseTarget(name string, args []string, withAdopt bool) (target, error) {
	var t target
	fs := a.flags(name)
	fs.StringVar(&t.region, "to", "", "destination Region (required)")
	fs.StringVar(&t.dest, "dest", "", "destination bucket name (default: the recorded one, else derived)")
	fs.BoolVar(&t.json, "json", false, "print JSON")
	if withAdopt {
		fs.BoolVar(&t.adopt, "adopt", false, "take over an existing destination that is not tagged as bucketmirror's")
	}
	pos, err := a.parse(fs, args, 1)
	if err != nil {
		return t, err
	}
	t.source = pos[0]
	if err := mirror.ValidateBucketName(t.source); err != nil {
		return t, usagef("invalid source bucket name %q: %v", t.source, err)
	}
	if t.region == "" {
		return t, usagef("%s needs --to REGION", name)
	}
	if err := mirror.ValidateRegion(t.region); err != nil {
		return t, usagef("invalid Region %q: %v", t.region, err)
	}
	if t.dest != "" {
		if err := mirror.ValidateBucketName(t.dest); err != nil {
			return t, usagef("invalid destination bucket name %q: %v", t.dest, err)
		}
	}
	return t, nil
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
		if rec, err := m.Store.GetMirror(ctx, t.source, t.region); err == nil && rec != nil && rec.Dest != "" {
			dest = rec.Dest
		} else {
			dest = m.DerivedName(t.source, t.region)
		}
	}
	mir := bucketconfig.Mirror{Source: bucketconfig.Bucket{Name: t.source, Region: in.SourceRegion}, Dest: bucketconfig.Bucket{Name: dest, Region: t.region}}
	var p *bucketconfig.Plan
	_, err = m.Clients.S3(t.region).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(dest)})
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
	m, _, err := a.mirrorer(ctx)
	if err != nil {
		return err
	}
	mirrors, err := m.Store.Mirrors(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if mirrors == nil {
			return a.printJSON([]any{})
		}
		return a.printJSON(mirrors)
	}
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tREGION\tDESTINATION\tSTATUS\tLAST RUN\tLAST ERROR")
	for _, r := range mirrors {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Source, r.Region, r.Dest, r.Status, r.LastRunAt, sweep.OneLine(r.LastError, 80))
	}
	return tw.Flush()
}

func (a *App) confirm(question string) bool {
	fmt.Fprintf(a.Stdout, "%s [y/N] ", question)
	line, _ := bufio.NewReader(a.Stdin).ReadString('\n')
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes"
}
