package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

var (
	errHelp       = errors.New("help shown")
	errSomeFailed = errors.New("some work failed")
)

// App is the CLI: parsed once per invocation, with its streams injected.
type App struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

type command struct {
	name, args, summary, examples string
	run                           func(a *App, ctx context.Context, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"setup", "", "create the DynamoDB inventory table (idempotent)", "  bucketmirror setup", (*App).setup},
		{"plan", "SOURCE --to REGION [--dest NAME] [--json]", "show per kind what mirroring would change; writes nothing",
			"  bucketmirror plan my-bucket --to eu-central-1\n  bucketmirror plan arn:aws:s3:::my-bucket --to eu-central-1", (*App).plan},
		{"mirror", "SOURCE --to REGION [--dest NAME] [--adopt] [--json]", "create (or find) the destination and copy every configuration kind, in-process",
			"  bucketmirror mirror my-bucket --to eu-central-1\n  bucketmirror mirror arn:aws:s3:::my-bucket --to eu-central-1\n  bucketmirror mirror my-bucket --to us-west-2 --dest my-bucket-west --json", (*App).mirror},
		{"sweep", "[--local] [--json] [--retry-failed] [--wait]", "mirror every tagged bucket that is new, drifted or damaged",
			"  bucketmirror sweep --local\n  bucketmirror sweep --wait   # start executions, wait, print each one's final status\n  BUCKETMIRROR_STATE_MACHINE_ARN=arn:aws:states:... bucketmirror sweep --json\n  bucketmirror sweep --local --retry-failed   # after creating a missing KMS alias", (*App).sweep},
		{"status", "[--json]", "list mirrors: source, Region, destination, status, last run, its execution and final status, last error", "  bucketmirror status", (*App).status},
		{"cleanup", "[--yes]", "delete every bucket carrying the bucketmirror:source tag (emptied first)", "  bucketmirror cleanup --yes", (*App).cleanup},
		{"local", "", "run the embedded local cloud with bucketmirror deployed in it until Ctrl-C", "  bucketmirror local > /tmp/bucketmirror.env &   # then, once it printed ready:\n  . <(grep '^export ' /tmp/bucketmirror.env)", (*App).local},
		{"version", "", "print the version", "  bucketmirror version", (*App).version},
	}
}

const envHelp = `Environment:
  AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID, ...   the standard AWS configuration
  AWS_ENDPOINT_URL                 a custom endpoint (path-style S3 is used then)
  BUCKETMIRROR_TABLE               inventory table (default bucketmirror-inventory)
  BUCKETMIRROR_STATE_MACHINE_ARN   the deployed state machine (sweep without --local)
  BUCKETMIRROR_TAG_PREFIX          tag prefix (default bucketmirror:)
  BUCKETMIRROR_REGIONS             Regions sweep looks for sources in, space-separated
                                   (default: every Region holding a bucket of the account);
                                   alone, also the only allowed destinations
  BUCKETMIRROR_DESTINATION_REGIONS Regions mirrors may be created in, space-separated
                                   (default: BUCKETMIRROR_REGIONS, else every Region)
  BUCKETMIRROR_DEST_PREFIX         prefix of generated destination names (default dest-)
  BUCKETMIRROR_KMS_KEY_MAP         JSON object: source KMS key ARN or alias -> destination key
  BUCKETMIRROR_POLICY_VALUE_MAP    JSON object: Region-bound bucket-policy condition value
                                   (vpc-, vpce-, KMS/SNS/SQS ARN) -> destination value
  BUCKETMIRROR_EVENT_BUS           EventBridge bus for sweep events (default: default)
  BUCKETMIRROR_ACCOUNT_ID          the account (default: found with sts:GetCallerIdentity)

Exit codes: 0 success, 1 some work failed, 2 usage error.
`

func (a *App) usage(w io.Writer) {
	fmt.Fprintf(w, "bucketmirror mirrors S3 bucket configurations across AWS Regions.\n\nUsage:\n  bucketmirror COMMAND [ARGS]\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun 'bucketmirror COMMAND --help' for a command's flags and examples.\n\n%s", envHelp)
}

// Run dispatches to a command.
func (a *App) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		a.usage(a.Stderr)
		return usagef("no command given")
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" {
		a.usage(a.Stdout)
		return errHelp
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(a, ctx, args[1:])
		}
	}
	return usagef("unknown command %q", name)
}

// flags builds a command's flag set; parse accepts flags before and after
// the positional arguments (`mirror SOURCE --to REGION`).
func (a *App) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func (a *App) parse(fs *flag.FlagSet, args []string, positional int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				a.commandHelp(fs)
				return nil, errHelp
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != positional {
		return nil, usagef("%s takes %d argument(s), got %d (%s)", fs.Name(), positional, len(pos), strings.Join(pos, " "))
	}
	return pos, nil
}

func (a *App) commandHelp(fs *flag.FlagSet) {
	for _, c := range commands {
		if c.name != fs.Name() {
			continue
		}
		fmt.Fprintf(a.Stdout, "Usage: bucketmirror %s %s\n\n%s\n\nFlags:\n", c.name, c.args, c.summary)
		fs.SetOutput(a.Stdout)
		fs.PrintDefaults()
		fmt.Fprintf(a.Stdout, "\nExamples:\n%s\n\n%s", c.examples, envHelp)
	}
}

// isTerminal says whether w is a terminal (for tables and progress).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (a *App) printJSON(v any) error {
	enc := json.NewEncoder(a.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// awsConfig loads the standard AWS configuration and checks, with one clear
// line instead of SDK text, that a Region and credentials are there.
func (a *App) awsConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := awsclient.Load(ctx, config.WithLogger(nil))
	if errors.Is(err, awsclient.ErrNoRegion) {
		return cfg, errors.New("no AWS Region: set AWS_REGION (or a region in your AWS profile)")
	}
	if err != nil {
		return cfg, err
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cfg.Credentials.Retrieve(cctx); err != nil {
		return cfg, errors.New("no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or run aws sso login)")
	}
	return cfg, nil
}

func (a *App) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(a.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// mirrorer wires the engine, clients and store from the environment.
func (a *App) mirrorer(ctx context.Context) (*mirror.Mirrorer, aws.Config, error) {
	cfg, err := a.awsConfig(ctx)
	if err != nil {
		return nil, cfg, err
	}
	m, err := mirror.Setup(ctx, cfg, a.Getenv, a.logger())
	return m, cfg, err
}

func (a *App) version(_ context.Context, args []string) error {
	if _, err := a.parse(a.flags("version"), args, 0); err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "bucketmirror %s\n", version)
	return nil
}
