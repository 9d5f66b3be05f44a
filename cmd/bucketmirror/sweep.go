package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

func (a *App) sweep(ctx context.Context, args []string) error {
	fs := a.flags("sweep")
	local := fs.Bool("local", false, "run the workflows in-process instead of starting the deployed state machine")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	retryFailed := fs.Bool("retry-failed", false, "retry FAILED mirrors now instead of after their backoff (after fixing the cause outside the source)")
	wait := fs.Bool("wait", false, "wait for the executions started and print each one's final status (--local always waits)")
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
	var starter *sweep.SFNStarter
	if !*local {
		starter = sweep.NewSFNStarter(cfg, a.Getenv("BUCKETMIRROR_STATE_MACHINE_ARN"))
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
	executionsFailed := false
	if starter != nil && *wait && *asJSON {
		if werr := starter.Wait(ctx, sum.Decisions, executionPoll, nil); werr != nil {
			return werr
		}
		executionsFailed = anyExecutionFailed(sum.Decisions)
	}
	// A Region that refused the Tagging API (or a bucket whose Region is
	// unknown) keeps its buckets from this sweep, not the others: the
	// summary of what was done comes first, the error after it.
	if *asJSON {
		if err := a.printJSON(sum); err != nil {
			return err
		}
	} else {
		if err := sum.Render(a.Stdout, ""); err != nil {
			return err
		}
		if starter != nil {
			if executionsFailed, err = a.printExecutions(ctx, starter, sum.Decisions, *wait); err != nil {
				return err
			}
		}
	}
	if err != nil {
		return err
	}
	// An invalid tag value is a failure too: the bucket is not mirrored.
	if sum.Failed > 0 || sum.Invalid > 0 || executionsFailed {
		return errSomeFailed
	}
	return nil
}

// executionPoll is how often --wait asks Step Functions (DescribeExecution
// allows 15 requests a second, refilling 1 a second, per account).
const executionPoll = 2 * time.Second

// printExecutions lists each execution the sweep started, name and ARN, the
// way a Step Functions user finds it in the console; with wait, it then
// prints each one's final status as it ends.
func (a *App) printExecutions(ctx context.Context, starter *sweep.SFNStarter, decisions []sweep.Decision, wait bool) (bool, error) {
	var started []sweep.Decision
	for _, d := range decisions {
		if d.ExecutionARN != "" {
			started = append(started, d)
		}
	}
	if len(started) == 0 {
		return false, nil
	}
	fmt.Fprintf(a.Stdout, "\nexecutions started (%d):\n", len(started))
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	for _, d := range started {
		fmt.Fprintf(tw, "  %s\t%s\n", d.Execution, d.ExecutionARN)
	}
	if err := tw.Flush(); err != nil || !wait {
		return false, err
	}
	fmt.Fprintf(a.Stdout, "\nwaiting for them to finish:\n")
	failed := false
	err := starter.Wait(ctx, started, executionPoll, func(d sweep.Decision) {
		line := fmt.Sprintf("  %s  %s", d.Execution, d.ExecutionStatus)
		if d.ExecutionError != "" {
			failed = true
			line += "  " + sweep.OneLine(d.ExecutionError, 160)
		} else if d.ExecutionStatus != "SUCCEEDED" {
			failed = true
		}
		fmt.Fprintln(a.Stdout, line)
	})
	return failed, err
}

func anyExecutionFailed(decisions []sweep.Decision) bool {
	for _, d := range decisions {
		if d.ExecutionARN != "" && d.ExecutionStatus != "SUCCEEDED" {
			return true
		}
	}
	return false
}
