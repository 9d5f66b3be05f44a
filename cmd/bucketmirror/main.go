// Command bucketmirror mirrors S3 bucket configurations across Regions from
// a laptop: setup, plan, mirror, sweep, status, cleanup, and a local cloud
// for demos and tests. The command-line contract is in docs/architecture.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, documented in --help and the README.
const (
	exitOK      = 0
	exitFailed  = 1 // some work failed (or AWS said no)
	exitUsage   = 2 // the command line was wrong
	programName = "bucketmirror"
)

var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// usageError is a bad command line: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// Run is the whole program, so tests can drive it like a user would.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	app := &App{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: getenv}
	err := app.Run(ctx, args)
	var usage *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "%s: %v\nRun '%s help' for usage.\n", programName, err, programName)
		return exitUsage
	case errors.Is(err, errSomeFailed):
		return exitFailed
	default:
		fmt.Fprintf(stderr, "%s: %v\n", programName, err)
		return exitFailed
	}
}
