package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

func (a *App) sweep(ctx context.Context, args []string) error {
	fs := a.flags("sweep")
	local := fs.Bool("local", false, "run the workflows in-process instead of starting the deployed state machine")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	if _, err := a.parse(fs, args, 0); err != nil {
		return err
	}
	cfg, err := a.awsConfig(ctx)
	if err != nil {
		return err
	}
	if !*local && a.Getenv("BUCKETMIRROR_STATE_MACHINE_ARN") == "" {
		return usagef("sweep without --local needs BUCKETMIRROR_STATE_MACHINE_ARN (the deployed state machine)")
	}
	s, err := sweep.Setup(ctx, cfg, a.Getenv, *local, a.logger())
	if err != nil {
		return err
	}
	s.Metrics = nil // stdout is for the summary
	if isTerminal(a.Stderr) && !*asJSON {
		n := 0
		s.Progress = func(d sweep.Decision) {
			n++
			fmt.Fprintf(a.Stderr, "\r\033[K[%d] %s -> %s: %s", n, d.Source, d.Region, d.Action)
		}
	}
	sum, err := s.Sweep(ctx, nil)
	if s.Progress != nil {
		fmt.Fprint(a.Stderr, "\r\033[K")
	}
	if err != nil {
		return err
	}
	if *asJSON {
		if err := a.printJSON(sum); err != nil {
			return err
		}
	} else {
		a.printSummary(sum)
	}
	// An invalid tag value is a failure too: the bucket is not mirrored.
	if sum.Failed > 0 || sum.Invalid > 0 {
		return errSomeFailed
	}
	return nil
}

func (a *App) printSummary(sum sweep.Summary) {
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tREGION\tDESTINATION\tACTION\tREASON")
	for _, d := range sum.Decisions {
		reason := d.Reason
		if d.Error != "" {
			reason += ": " + d.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Source, d.Region, d.Dest, d.Action, oneLine(reason, 100))
	}
	tw.Flush()
	fmt.Fprintf(a.Stdout, "scanned %d, started %d, skipped %d, failed %d, invalid %d, detached %d\n",
		sum.Scanned, sum.Started, sum.Skipped, sum.Failed, sum.Invalid, sum.Detached)
}
