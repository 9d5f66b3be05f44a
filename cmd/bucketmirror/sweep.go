package main

import (
	"context"
	"fmt"

	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

func (a *App) sweep(ctx context.Context, args []string) error {
	fs := a.flags("sweep")
	local := fs.Bool("local", false, "run the workflows in-process instead of starting the deployed state machine")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	retryFailed := fs.Bool("retry-failed", false, "retry FAILED mirrors now instead of after their backoff (after fixing the cause outside the source)")
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
	run := s.Sweep
	if *retryFailed {
		run = s.SweepRetryingFailed
	}
	sum, err := run(ctx, nil)
	if s.Progress != nil {
		fmt.Fprint(a.Stderr, "\r\033[K")
	}
	if err != nil && len(sum.Decisions) == 0 {
		return err
	}
	// A Region that refused the Tagging API (or a bucket whose Region is
	// unknown) keeps its buckets from this sweep, not the others: the
	// summary of what was done comes first, the error after it.
	if *asJSON {
		if err := a.printJSON(sum); err != nil {
			return err
		}
	} else if err := sum.Render(a.Stdout, ""); err != nil {
		return err
	}
	if err != nil {
		return err
	}
	// An invalid tag value is a failure too: the bucket is not mirrored.
	if sum.Failed > 0 || sum.Invalid > 0 {
		return errSomeFailed
	}
	return nil
}
