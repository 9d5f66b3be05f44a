package sweep_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/localdeploy"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

// One local cloud serves the package: starting moto takes seconds. Tests
// isolate themselves by bucket names and, except those running the state
// machine (whose Lambdas use the default prefix and the shared table), by a
// tag prefix and an inventory table of their own: a deployment has one
// prefix per table, and a sweep treats every record in its table as its own.
var (
	cloud      *localcloud.Cloud
	deployed   *mirror.Mirrorer // the default-prefix mirrorer behind the state machine
	machineARN string
)

const (
	table      = "bucketmirror-sweep-test"
	homeRegion = "us-east-1"
)

// regions are the deployment's Regions in every test.
var regions = []string{"us-east-1", "us-west-2", "eu-central-1"}

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "bucketmirror-sweep-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Linking the Lambda bootstrap takes seconds: do it while moto starts.
	go buildBootstrap(filepath.Join(dir, "bootstrap"))
	if cloud, err = localcloud.Start(ctx, localcloud.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "starting local cloud:", err)
		return 1
	}
	defer cloud.Close()
	deployed = mirror.NewMirrorer(cloud.AWSConfig(), mirror.Config{Table: table, TagPrefix: sweep.DefaultTagPrefix, AccountID: localcloud.AccountID},
		bucketconfig.Options{PropagationTimeout: time.Second}, quiet())
	if machineARN, err = localdeploy.Workflow(ctx, cloud, deployed); err != nil {
		fmt.Fprintln(os.Stderr, "deploying the workflow:", err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "moto log tail (%s):\n%s\n", cloud.LogPath, cloud.LogTail(30))
	}
	return code
}

// bootstrap is the sweep function's binary, built as `make lambdas` does
// (for this machine's architecture); bootstrapReady closes when it is.
var (
	bootstrap      string
	bootstrapErr   error
	bootstrapReady = make(chan struct{})
)

func buildBootstrap(path string) {
	defer close(bootstrapReady)
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", path, "../../functions/sweep")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := build.CombinedOutput(); err != nil {
		bootstrapErr = fmt.Errorf("building the sweep function: %v\n%s", err, out)
		return
	}
	bootstrap = path
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// recorder records the operation name of every AWS call made through a
// config — recording only, the calls go to the local cloud unchanged.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("recordOperation",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			r.mu.Lock()
			r.calls = append(r.calls, awsclient.Operation(ctx))
			r.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = nil
}

// writes are the recorded calls that change something.
func (r *recorder) writes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.calls {
		op := c[strings.LastIndex(c, ".")+1:]
		for _, verb := range []string{"Put", "Create", "Delete", "Update", "Start", "Transact", "BatchWrite", "Tag", "Untag", "Send"} {
			if strings.HasPrefix(op, verb) {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

func (r *recorder) count(call string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if c == call {
			n++
		}
	}
	return n
}

func (r *recorder) byOperation() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, c := range r.calls {
		out[c]++
	}
	return out
}

var seq atomic.Int64

// env is one test's view: its own tag prefix, call recorder, mirrorer and
// sweeper, all talking to the shared local cloud.
type env struct {
	t      *testing.T
	ctx    context.Context
	prefix string
	rec    *recorder
	cfg    aws.Config
	m      *mirror.Mirrorer
	s      *sweep.Sweeper
	log    *bytes.Buffer
	emf    *bytes.Buffer
	opts   envOptions
}

type envOption func(*envOptions)

type envOptions struct {
	prefix     string
	table      string
	sfn        bool
	bus        string
	owner      string
	ownRoles   []string
	apiOptions []func(*middleware.Stack) error
	// regions are the source Regions (nil: discovered), destRegions the
	// allowed destinations (nil: the sweep's default).
	regions, destRegions []string
	// accounts and organization: BUCKETMIRROR_ACCOUNTS.
	accounts     []string
	organization bool
	// inFlight is the sweep's in-flight window (zero: the default).
	inFlight time.Duration
}

// withStateMachine starts runs through the deployed state machine, whose
// Lambdas use the default prefix and the shared table.
func withStateMachine() envOption {
	return func(o *envOptions) { o.sfn, o.prefix, o.table = true, sweep.DefaultTagPrefix, table }
}
func withBus(bus string) envOption     { return func(o *envOptions) { o.bus = bus } }
func withOwner(owner string) envOption { return func(o *envOptions) { o.owner = owner } }
func withRegions(sources, destinations []string) envOption {
	return func(o *envOptions) { o.regions, o.destRegions = sources, destinations }
}
func withOrganization() envOption { return func(o *envOptions) { o.organization = true } }
func withAPIOption(f func(*middleware.Stack) error) envOption {
	return func(o *envOptions) { o.apiOptions = append(o.apiOptions, f) }
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	n := seq.Add(1)
	o := envOptions{prefix: fmt.Sprintf("bm%d:", n), table: fmt.Sprintf("%s-%d", table, n), regions: regions}
	for _, f := range opts {
		f(&o)
	}
	e := &env{t: t, ctx: context.Background(), prefix: o.prefix, rec: &recorder{}, log: &bytes.Buffer{}, emf: &bytes.Buffer{}, opts: o}
	e.cfg = cloud.AWSConfig()
	e.cfg.APIOptions = append(append(e.cfg.APIOptions, e.rec.middleware), o.apiOptions...)
	e.m = mirror.NewMirrorer(e.cfg, mirror.Config{Table: o.table, TagPrefix: o.prefix, AccountID: localcloud.AccountID},
		bucketconfig.Options{PropagationTimeout: time.Second}, quiet())
	if o.table != table {
		if err := e.m.Store.CreateTable(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	var starter sweep.Starter = &sweep.LocalStarter{Mirrorer: e.m}
	if o.sfn {
		starter = sweep.NewSFNStarter(e.cfg, machineARN)
	}
	e.s = e.sweeper(starter, o)
	return e
}

func (e *env) sweeper(starter sweep.Starter, o envOptions) *sweep.Sweeper {
	e.t.Helper()
	s, err := sweep.New(e.cfg, sweep.Config{TagPrefix: o.prefix, Regions: o.regions, DestinationRegions: o.destRegions, AccountID: localcloud.AccountID,
		EventBus: o.bus, Owner: o.owner, OwnRoles: o.ownRoles, Concurrency: 8, Accounts: o.accounts, Organization: o.organization, InFlightWindow: o.inFlight}, e.m, starter, slog.New(slog.NewJSONHandler(syncWriter{e.log, &sync.Mutex{}}, nil)))
	if err != nil {
		e.t.Fatal(err)
	}
	s.Metrics = e.emf
	return s
}

// syncWriter serialises writes to a buffer shared by concurrent sweeps.
type syncWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (s syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (e *env) bucket(what string) string { return fmt.Sprintf("sw%d-%s", seq.Add(1), what) }

func (e *env) tag(k string) string { return e.prefix + k }

func (e *env) s3(region string) *s3.Client { return e.m.Clients.S3(region) }

// createBucket creates name in region with tags (none when nil).
func (e *env) createBucket(name, region string, tags map[string]string) {
	e.t.Helper()
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
	}
	if _, err := e.s3(region).CreateBucket(e.ctx, in); err != nil {
		e.t.Fatalf("creating bucket %s: %v", name, err)
	}
	if tags != nil {
		e.setTags(name, region, tags)
	}
}

// source creates a bucket in us-east-1 tagged for regions.
func (e *env) source(what, regions string) string {
	e.t.Helper()
	name := e.bucket(what)
	e.createBucket(name, homeRegion, map[string]string{e.tag("destination-regions"): regions})
	return name
}

func (e *env) setTags(name, region string, tags map[string]string) {
	e.t.Helper()
	var set []s3types.Tag
	for _, k := range slices.Sorted(mapKeys(tags)) {
		set = append(set, s3types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	if _, err := e.s3(region).PutBucketTagging(e.ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(name), Tagging: &s3types.Tagging{TagSet: set}}); err != nil {
		e.t.Fatalf("tagging bucket %s: %v", name, err)
	}
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// sweep runs a sweep, failing the test on a sweep error.
func (e *env) sweep(buckets ...string) sweep.Summary {
	e.t.Helper()
	if buckets == nil {
		return e.sweepWith(e.s, nil)
	}
	return e.sweepWith(e.s, buckets)
}

func (e *env) sweepWith(s *sweep.Sweeper, buckets []string) sweep.Summary {
	e.t.Helper()
	sum, err := s.Sweep(e.ctx, buckets)
	if err != nil {
		e.t.Fatalf("sweep: %v", err)
	}
	return sum
}

func (e *env) mirror(source, region string) *inventory.Mirror {
	e.t.Helper()
	m, err := e.m.Store.GetMirror(e.ctx, source, region)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func (e *env) exists(bucket, region string) bool {
	e.t.Helper()
	_, err := e.s3(region).HeadBucket(e.ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	var nf *s3types.NotFound
	if errors.As(err, &nf) || bucketconfig.ErrorCode(err) == "NoSuchBucket" {
		return false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return true
}

func (e *env) bucketCount() int {
	e.t.Helper()
	out, err := e.s3(homeRegion).ListBuckets(e.ctx, &s3.ListBucketsInput{})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(out.Buckets)
}

// decision returns the decision about source in region.
func decision(t *testing.T, sum sweep.Summary, source, region string) sweep.Decision {
	t.Helper()
	for _, d := range sum.Decisions {
		if d.Source == source && d.Region == region {
			return d
		}
	}
	t.Fatalf("no decision about %s -> %s in %+v", source, region, sum.Decisions)
	return sweep.Decision{}
}

// wantDecision fails unless the decision about source in region has action
// and reason.
func wantDecision(t *testing.T, sum sweep.Summary, source, region, action, reason string) sweep.Decision {
	t.Helper()
	d := decision(t, sum, source, region)
	if d.Action != action || d.Reason != reason {
		t.Errorf("%s -> %s: %s/%s (%s), want %s/%s", source, region, d.Action, d.Reason, d.Error, action, reason)
	}
	return d
}

// wantCounts compares the summary's counters.
func wantCounts(t *testing.T, sum sweep.Summary, started, skipped, failed, invalid, detached int) {
	t.Helper()
	got := [5]int{sum.Started, sum.Skipped, sum.Failed, sum.Invalid, sum.Detached}
	if want := [5]int{started, skipped, failed, invalid, detached}; got != want {
		t.Errorf("started/skipped/failed/invalid/detached = %v, want %v; decisions:\n%s", got, want, describe(sum))
	}
}

func describe(sum sweep.Summary) string {
	var b strings.Builder
	for _, d := range sum.Decisions {
		fmt.Fprintf(&b, "  %s -> %s: %s %s %s %s\n", d.Source, d.Region, d.Action, d.Reason, d.Execution, d.Error)
	}
	return b.String()
}
