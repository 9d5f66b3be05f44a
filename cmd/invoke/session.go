package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/localdeploy"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

// executionWait bounds the wait for the mirror executions an invocation
// started: a create and a configure step against the local cloud take
// seconds; minutes only on a machine shared by many builds.
const executionWait = 3 * time.Minute

// session is one local cloud with bucketmirror's stack deployed and the
// bootstraps under test registered under their functions/ names.
type session struct {
	cloud   *localcloud.Cloud
	stack   *localdeploy.Stack
	log     *slog.Logger
	clients *awsclient.Clients
	sfn     *sfn.Client
	// bootstraps are the registered functions' binaries, by function.
	bootstraps map[string]string
}

// moduleRoot is the directory of go.mod above the working directory:
// `make invoke` runs in the repository, the test in cmd/invoke.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run from the repository")
		}
		dir = parent
	}
}

// buildBootstraps builds functions/<fn> for each fn with the flags of the
// Makefile's build-% (what `sam build` runs), for this machine's
// architecture, in one go build. It returns each bootstrap's path.
func buildBootstraps(ctx context.Context, root, dir string, out io.Writer, fns ...string) (map[string]string, error) {
	bin := filepath.Join(dir, "bootstraps") + string(filepath.Separator)
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, err
	}
	args := []string{"build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", bin}
	paths := map[string]string{}
	for _, fn := range fns {
		if _, ok := localdeploy.Functions[fn]; !ok {
			return nil, fmt.Errorf("no function %q: the functions are %s", fn, strings.Join(slices.Sorted(maps.Keys(localdeploy.Functions)), " "))
		}
		args = append(args, "./functions/"+fn)
		paths[fn] = filepath.Join(bin, fn)
	}
	build := exec.CommandContext(ctx, "go", args...)
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	build.Stdout, build.Stderr = out, out
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("building %s: %w", strings.Join(fns, " "), err)
	}
	return paths, nil
}

// startSession starts a local cloud in dir and deploys the stack into it.
func startSession(ctx context.Context, dir string) (*session, error) {
	cloud, err := localcloud.Start(ctx, localcloud.Options{Dir: dir})
	if err != nil {
		return nil, err
	}
	s := &session{cloud: cloud, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	cfg := cloud.AWSConfig()
	cfg.Retryer = awsclient.NewRetryer
	s.clients = awsclient.New(cfg)
	s.sfn = sfn.NewFromConfig(cfg)
	if s.stack, err = localdeploy.DeployStack(ctx, cloud, s.log); err != nil {
		cloud.Close()
		return nil, fmt.Errorf("deploying the stack into the local cloud: %w", err)
	}
	return s, nil
}

func (s *session) close() error { return s.cloud.Close() }

// register serves fn by its bootstrap under aws-lambda-rie, with the
// environment template.yaml gives it.
func (s *session) register(ctx context.Context, fn, bootstrap string) error {
	if s.bootstraps == nil {
		s.bootstraps = map[string]string{}
	}
	s.bootstraps[fn] = bootstrap
	return s.cloud.RegisterBinary(ctx, fn, bootstrap, functionEnv(s.stack, fn))
}

// functionEnv is fn's environment in the stack, deployed as an
// Organization's central stack: SourceAccounts = memberAccounts.
func functionEnv(stack *localdeploy.Stack, fn string) []string {
	env := slices.Clone(stack.FunctionEnv(fn))
	for i, kv := range env {
		if strings.HasPrefix(kv, "BUCKETMIRROR_ACCOUNTS=") {
			env[i] = "BUCKETMIRROR_ACCOUNTS=" + memberAccounts
		}
	}
	return env
}

// reset wipes the local cloud and deploys the stack again (same names and
// ARNs, so the registered bootstraps' environment still holds).
func (s *session) reset(ctx context.Context) error {
	if err := s.cloud.Reset(ctx); err != nil {
		return err
	}
	stack, err := localdeploy.DeployStack(ctx, s.cloud, s.log)
	if err != nil {
		return fmt.Errorf("deploying the stack again: %w", err)
	}
	s.stack = stack
	// A new deployment gets cold functions: a warm one would keep member
	// roles' credentials that the wiped local cloud no longer knows (it
	// would then take them for the default account's).
	for _, fn := range slices.Sorted(maps.Keys(s.bootstraps)) {
		if err := s.register(ctx, fn, s.bootstraps[fn]); err != nil {
			return err
		}
	}
	return nil
}

// execution is a mirror execution an invocation started, once ended.
type execution struct {
	Name, Status string
	// Error is " (Error: cause)" for an execution that did not succeed.
	Error string
}

// result is one invocation: the response, and what it led to.
type result struct {
	Body                    []byte
	ErrorType, ErrorMessage string
	Executions              []execution
	// Outcome is the response in one line (outcome).
	Outcome string
	// Log is what the function wrote during this invocation.
	Log string
}

// invoke sends event to fn as Lambda's Invoke API does (through the local
// cloud's router) and waits for the mirror executions it started.
func (s *session) invoke(ctx context.Context, fn string, event []byte) (result, error) {
	var res result
	before, err := s.cloud.FunctionLog(fn)
	if err != nil {
		return res, err
	}
	earlier, err := s.waitExecutions(ctx)
	if err != nil {
		return res, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cloud.Endpoint+"/2015-03-31/functions/"+fn+"/invocations", bytes.NewReader(event))
	if err != nil {
		return res, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return res, fmt.Errorf("invoking %s: %w", fn, err)
	}
	res.Body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return res, fmt.Errorf("reading %s's response: %w", fn, err)
	}
	if resp.Header.Get("X-Amz-Function-Error") != "" {
		var fnErr struct{ ErrorType, ErrorMessage string }
		_ = json.Unmarshal(res.Body, &fnErr)
		res.ErrorType, res.ErrorMessage = fnErr.ErrorType, fnErr.ErrorMessage
		if res.ErrorType == "" {
			res.ErrorType = "Unhandled"
		}
	}
	all, err := s.waitExecutions(ctx)
	if err != nil {
		return res, err
	}
	for _, e := range all {
		if !slices.ContainsFunc(earlier, func(x execution) bool { return x.Name == e.Name }) {
			res.Executions = append(res.Executions, e)
		}
	}
	after, err := s.cloud.FunctionLog(fn)
	if err != nil {
		return res, err
	}
	res.Log = strings.TrimPrefix(after, before)
	res.Outcome = outcome(fn, res)
	return res, nil
}

// waitExecutions waits until no execution of the mirror state machine
// runs, and returns them all, sorted by name.
func (s *session) waitExecutions(ctx context.Context) ([]execution, error) {
	ctx, cancel := context.WithTimeout(ctx, executionWait)
	defer cancel()
	for {
		var all []sfntypes.ExecutionListItem
		p := sfn.NewListExecutionsPaginator(s.sfn, &sfn.ListExecutionsInput{StateMachineArn: aws.String(s.stack.MirrorMachineARN)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing the mirror executions: %w", err)
			}
			all = append(all, page.Executions...)
		}
		if !slices.ContainsFunc(all, func(e sfntypes.ExecutionListItem) bool { return e.Status == sfntypes.ExecutionStatusRunning }) {
			out := make([]execution, 0, len(all))
			for _, e := range all {
				ex := execution{Name: aws.ToString(e.Name), Status: string(e.Status)}
				if e.Status != sfntypes.ExecutionStatusSucceeded {
					d, err := s.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: e.ExecutionArn})
					if err != nil {
						return nil, fmt.Errorf("describing execution %s: %w", ex.Name, err)
					}
					ex.Error = fmt.Sprintf(" (%s: %s)", aws.ToString(d.Error), aws.ToString(d.Cause))
				}
				out = append(out, ex)
			}
			slices.SortFunc(out, func(a, b execution) int { return strings.Compare(a.Name, b.Name) })
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("mirror executions still running after %s", executionWait)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// outcome says in one line what the function answered, in the terms of
// its documented response: the errorType of a function error; the step's
// status (create, configure); the sweep's decisions; the full sweep steps'
// counts; then the final status of each mirror execution it started.
func outcome(fn string, res result) string {
	if res.ErrorType != "" {
		return res.ErrorType + ": " + res.ErrorMessage
	}
	var out string
	switch fn {
	case "create", "configure":
		var st mirror.State
		if err := json.Unmarshal(res.Body, &st); err != nil {
			return "unreadable response: " + err.Error()
		}
		out = "status " + st.Status
		if st.Error != "" {
			out += " (" + st.Error + ")"
		}
	case "sweep", "sweepaggregate":
		var sum sweep.Summary
		if err := json.Unmarshal(res.Body, &sum); err != nil {
			return "unreadable response: " + err.Error()
		}
		out = summaryOutcome(sum)
	case "sweeplist":
		var l sweep.Listing
		if err := json.Unmarshal(res.Body, &l); err != nil {
			return "unreadable response: " + err.Error()
		}
		out = fmt.Sprintf("listed %d sources in %d batches", l.Sources, l.Batches)
	case "sweepbatch":
		var b sweep.BatchSummary
		if err := json.Unmarshal(res.Body, &b); err != nil {
			return "unreadable response: " + err.Error()
		}
		out = fmt.Sprintf("batch %d: scanned %d, started %d, skipped %d, failed %d", b.Batch, b.Scanned, b.Started, b.Skipped, b.Failed)
	default:
		out = string(res.Body)
	}
	if len(res.Executions) > 0 {
		statuses := make([]string, len(res.Executions))
		for i, e := range res.Executions {
			statuses[i] = e.Status
		}
		out += "; executions " + strings.Join(statuses, " ")
	}
	return out
}

func summaryOutcome(sum sweep.Summary) string {
	scope := sum.Scope
	if sum.Via != "" {
		scope += " via " + sum.Via
	}
	out := fmt.Sprintf("%s: scanned %d, started %d, skipped %d, failed %d, detached %d", scope, sum.Scanned, sum.Started, sum.Skipped, sum.Failed, sum.Detached)
	if sum.Batches > 0 {
		out += fmt.Sprintf(", batches %d", sum.Batches)
	}
	if len(sum.FailedBatches) > 0 {
		out += fmt.Sprintf(", failed batches %v", sum.FailedBatches)
	}
	var ds []string
	for _, d := range sum.Decisions {
		s := d.Action + " " + d.Source
		if d.Region != "" {
			s += "→" + d.Region
		}
		s += " (" + d.Reason
		if len(d.Kinds) > 0 {
			s += ": " + strings.Join(d.Kinds, " ")
		}
		ds = append(ds, s+")")
	}
	slices.Sort(ds)
	if len(ds) == 0 {
		return out + " — no decision"
	}
	return out + " — " + strings.Join(ds, ", ")
}
