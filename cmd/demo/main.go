// Command demo is what `make demo` runs: the whole bucketmirror job on the
// embedded local cloud. It creates realistic source buckets, deploys the
// real state machine, sweeps through Step Functions, shows source and
// destination side by side with the audit trail, then changes a source and
// damages a destination and shows the next sweep putting both right.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/localdeploy"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

const (
	home = "us-east-1"
	dest = "us-west-2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

type demo struct {
	out     io.Writer
	cloud   *localcloud.Cloud
	m       *mirror.Mirrorer
	sweeper *sweep.Sweeper
	starter *sweep.SFNStarter
}

func run(ctx context.Context, out io.Writer) error {
	began := time.Now()
	fmt.Fprintln(out, "== starting the local cloud (moto + Lambda router) and deploying bucketmirror")
	cloud, err := localcloud.Start(ctx, localcloud.Options{})
	if err != nil {
		return err
	}
	defer cloud.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := mirror.NewMirrorer(cloud.AWSConfig(), mirror.Config{Table: inventory.DefaultTable, TagPrefix: "bucketmirror:", AccountID: localcloud.AccountID},
		bucketconfig.Options{}, quiet)
	arn, err := localdeploy.Workflow(ctx, cloud, m)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   endpoint %s, state machine %s\n", cloud.Endpoint, arn)
	starter := sweep.NewSFNStarter(cloud.AWSConfig(), arn)
	s, err := sweep.New(cloud.AWSConfig(), sweep.Config{Regions: []string{home, dest}, AccountID: localcloud.AccountID, Owner: "demo"},
		m, starter, quiet)
	if err != nil {
		return err
	}
	s.Metrics = nil
	d := &demo{out: out, cloud: cloud, m: m, sweeper: s, starter: starter}

	fmt.Fprintln(out, "\n== creating source buckets in", home)
	if err := d.createSources(ctx); err != nil {
		return err
	}

	fmt.Fprintln(out, "\n== sweep 1: every tagged bucket is new; one execution per bucket and Region")
	if err := d.sweepAndWait(ctx); err != nil {
		return err
	}
	if err := d.showMirrors(ctx); err != nil {
		return err
	}

	fmt.Fprintln(out, "\n== changing a source (new CORS origin on shop-assets) and damaging a destination (lifecycle deleted on shop-orders' mirror)")
	if err := d.drift(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== sweep 2: drift and repair start runs, the rest is skipped without writes")
	if err := d.sweepAndWait(ctx); err != nil {
		return err
	}
	if err := d.showAudit(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== done in %.1fs; stopping the local cloud\n", time.Since(began).Seconds())
	return nil
}

// sweepAndWait runs a sweep and waits for the executions it started.
func (d *demo) sweepAndWait(ctx context.Context) error {
	sum, err := d.sweeper.Sweep(ctx, nil)
	if err != nil {
		return err
	}
	if err := sum.Render(d.out, "   "); err != nil {
		return err
	}
	// What a Step Functions user looks at: each execution, waited for, with
	// its final status.
	waitCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := d.starter.Wait(waitCtx, sum.Decisions, 200*time.Millisecond, nil); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	for _, dec := range sum.Decisions {
		if dec.ExecutionARN == "" {
			continue
		}
		fmt.Fprintf(tw, "   execution %s\t%s\t%s\n", dec.Execution, dec.ExecutionStatus, orDash(dec.ExecutionError))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return short(s)
}

// showMirrors prints, per mirror, each configured kind of the source next
// to the destination's.
func (d *demo) showMirrors(ctx context.Context) error {
	mirrors, err := d.m.Store.Mirrors(ctx)
	if err != nil {
		return err
	}
	slices.SortFunc(mirrors, func(a, b inventory.Mirror) int { return strings.Compare(a.Source, b.Source) })
	for _, rec := range mirrors {
		if rec.Dest == "" {
			fmt.Fprintf(d.out, "\n-- %s: %s %s\n", rec.Source, rec.Status, rec.LastError)
			continue
		}
		fmt.Fprintf(d.out, "\n-- %s (%s)  ->  %s (%s): %s\n", rec.Source, home, rec.Dest, rec.Region, rec.Status)
		src := d.m.Engine.Snapshot(ctx, bucketconfig.Bucket{Name: rec.Source, Region: home}).JSON()
		dst := d.m.Engine.Snapshot(ctx, bucketconfig.Bucket{Name: rec.Dest, Region: rec.Region}).JSON()
		tw := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "   KIND\tSOURCE\tDESTINATION")
		for _, k := range bucketconfig.Kinds {
			s, t := src[k.Name()], dst[k.Name()]
			if s == nil && t == nil {
				continue
			}
			fmt.Fprintf(tw, "   %s\t%s\t%s\n", k.Name(), short(string(s)), short(string(t)))
		}
		tw.Flush()
	}
	return nil
}

func short(s string) string {
	switch {
	case s == "":
		return "-"
	case len(s) > 48:
		return s[:47] + "…"
	}
	return s
}

// showAudit prints the audit trail: every run of every source.
func (d *demo) showAudit(ctx context.Context) error {
	mirrors, err := d.m.Store.Mirrors(ctx)
	if err != nil {
		return err
	}
	slices.SortFunc(mirrors, func(a, b inventory.Mirror) int { return strings.Compare(a.Source, b.Source) })
	fmt.Fprintln(d.out, "\n== audit trail (DynamoDB run records)")
	tw := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "   SOURCE\tREGION\tRUN\tSTATUS\tDESTINATION\tSNAPSHOTS\tERROR")
	for _, rec := range mirrors {
		runs, err := d.m.Store.Runs(ctx, rec.Source, rec.Region)
		if err != nil {
			return err
		}
		for _, r := range runs {
			snaps := fmt.Sprintf("%d B / %d B", len(r.SourceSnapshot), len(r.DestSnapshot))
			fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Source, r.Region, short(r.RunID), r.Status, r.Dest, snaps, short(r.Error))
		}
	}
	return tw.Flush()
}

func (d *demo) s3(region string) *s3.Client { return d.m.Clients.S3(region) }

func (d *demo) destOf(ctx context.Context, source string) (string, error) {
	rec, err := d.m.Store.GetMirror(ctx, source, dest)
	if err != nil || rec == nil {
		return "", fmt.Errorf("no mirror of %s: %v", source, err)
	}
	return rec.Dest, nil
}
