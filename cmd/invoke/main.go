// Command invoke is `make invoke FN=<function> EVENT=<file>`: it builds the
// function's real bootstrap, deploys bucketmirror's stack into a fresh
// local cloud (pkg/localdeploy: the table, both state machines, the
// manifest bucket, every variable template.yaml sets; SourceAccounts is the
// local account and the sample member account 111122223333), puts in place what
// the event names (world.go), runs the bootstrap under aws-lambda-rie with
// the event, waits for the mirror executions it started, and prints the
// response and its outcome — the job `sam local invoke` does in a Docker
// container, with a stack behind it. A function error prints the
// function's own log.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: invoke FUNCTION EVENT_FILE   (e.g. invoke create events/create.json; FUNCTION is a directory of functions/)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1], os.Args[2], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "invoke:", err)
		os.Exit(1)
	}
}

// errFunction is a function error: the response and the function's log
// are printed already.
var errFunction = errors.New("the function returned an error")

func run(ctx context.Context, fn, eventFile string, stdout, stderr io.Writer) error {
	event, err := os.ReadFile(eventFile)
	if err != nil {
		return err
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bucketmirror-invoke-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bootstraps, err := buildBootstraps(ctx, root, dir, stderr, fn)
	if err != nil {
		return err
	}
	s, err := startSession(ctx, dir)
	if err != nil {
		return err
	}
	defer s.close()
	if err := s.register(ctx, fn, bootstraps[fn]); err != nil {
		return err
	}
	notes, err := s.seed(ctx, fn, event)
	if err != nil {
		return fmt.Errorf("putting in place what %s names: %w", eventFile, err)
	}
	for _, n := range notes {
		fmt.Fprintln(stderr, "local cloud:", n)
	}
	res, err := s.invoke(ctx, fn, event)
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	body := res.Body
	if json.Indent(&pretty, body, "", "  ") == nil {
		body = pretty.Bytes()
	}
	fmt.Fprintf(stdout, "%s\n", body)
	for _, e := range res.Executions {
		fmt.Fprintf(stderr, "execution %s: %s%s\n", e.Name, e.Status, e.Error)
	}
	fmt.Fprintf(stderr, "outcome: %s\n", res.Outcome)
	if res.ErrorType != "" {
		fmt.Fprintf(stderr, "function %s's log:\n%s\n", fn, res.Log)
		return errFunction
	}
	return nil
}
