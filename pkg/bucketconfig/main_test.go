package bucketconfig

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

// One local cloud serves the whole package: starting moto takes seconds,
// and every test works on buckets named after itself.
var cloud *localcloud.Cloud

const (
	srcRegion = "us-east-1"
	dstRegion = "us-west-2"
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	var err error
	// A gap real S3 is not known to have, configured for this package only:
	// a write the destination Region refuses while its read answers
	// (TestWriteRefusedByDestinationRegion).
	if err := os.Setenv("BUCKETMIRROR_LOCALCLOUD_REGION_GAPS", writeGapConfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cloud, err = localcloud.Start(context.Background(), localcloud.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting local cloud:", err)
		return 1
	}
	defer cloud.Close()
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "moto log tail (%s):\n%s\n", cloud.LogPath, cloud.LogTail(30))
	}
	return code
}

// fixture is a source bucket in srcRegion and an empty destination in
// dstRegion, named after the test.
type fixture struct {
	t       *testing.T
	ctx     context.Context
	clients *awsclient.Clients
	engine  *Engine
	m       Mirror
}

var bucketSeq atomic.Int64

var nonBucketChars = regexp.MustCompile(`[^a-z0-9-]+`)

func uniqueBucket(t *testing.T, suffix string) string {
	base := nonBucketChars.ReplaceAllString(strings.ToLower(t.Name()), "-")
	name := fmt.Sprintf("%s-%d-%s", strings.Trim(base, "-"), bucketSeq.Add(1), suffix)
	if len(name) > 63 {
		name = fmt.Sprintf("%s-%d-%s", strings.Trim(base[:40], "-"), bucketSeq.Add(1), suffix)
	}
	return name
}

func newFixture(t *testing.T, opts ...func(*Options)) *fixture {
	t.Helper()
	clients := awsclient.New(cloud.AWSConfig())
	o := Options{AccountID: localcloud.AccountID}
	for _, fn := range opts {
		fn(&o)
	}
	f := &fixture{t: t, ctx: context.Background(), clients: clients, engine: New(clients, o),
		m: Mirror{Source: Bucket{Name: uniqueBucket(t, "src"), Region: srcRegion}, Dest: Bucket{Name: uniqueBucket(t, "dst"), Region: dstRegion}}}
	f.createBucket(f.m.Source, false)
	f.createBucket(f.m.Dest, false)
	return f
}

func (f *fixture) createBucket(b Bucket, objectLock bool) {
	f.t.Helper()
	in := &s3.CreateBucketInput{Bucket: aws.String(b.Name), ObjectLockEnabledForBucket: aws.Bool(objectLock)}
	if b.Region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(b.Region)}
	}
	if _, err := f.clients.S3(b.Region).CreateBucket(f.ctx, in); err != nil {
		f.t.Fatalf("creating bucket %s: %v", b, err)
	}
}

func (f *fixture) src() *s3.Client { return f.clients.S3(f.m.Source.Region) }
func (f *fixture) dst() *s3.Client { return f.clients.S3(f.m.Dest.Region) }

// must fails the test on err.
func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// configure runs the engine and returns the result for kind, failing the
// test if any kind failed.
func (f *fixture) configure(kind string) Result {
	f.t.Helper()
	_, results, err := f.engine.Configure(f.ctx, f.m)
	if err != nil {
		f.t.Fatalf("configure: %v", err)
	}
	var got Result
	for _, r := range results {
		if r.Status == StatusFailed || r.Status == StatusSkipped {
			f.t.Errorf("kind %s: %s %s", r.Kind, r.Status, r.Error)
		}
		if r.Kind == kind {
			got = r
		}
	}
	if got.Kind == "" {
		f.t.Fatalf("no result for kind %s", kind)
	}
	return got
}

// planAction is what a fresh plan would do to kind.
func (f *fixture) planAction(kind string) Step {
	f.t.Helper()
	p, err := f.engine.Plan(f.ctx, f.m)
	if err != nil {
		f.t.Fatalf("plan: %v", err)
	}
	for _, s := range p.Steps {
		if s.Kind == kind {
			return s
		}
	}
	f.t.Fatalf("no step for kind %s", kind)
	return Step{}
}

// roundTrip is the common life of a kind: configured on the source, copied;
// planned again, nothing to do; removed from the source, removed from the
// destination. check verifies the destination after the copy.
func (f *fixture) roundTrip(kind string, set func(), unset func(), check func()) {
	f.t.Helper()
	set()
	if r := f.configure(kind); r.Status != StatusApplied {
		f.t.Fatalf("first configure: %s is %s (%s), want applied", kind, r.Status, r.Error)
	}
	check()
	if s := f.planAction(kind); s.Action != ActionNone {
		f.t.Fatalf("after configure, plan for %s is %s (current %s, desired %s), want none", kind, s.Action, s.Current, s.Desired)
	}
	if unset == nil {
		return
	}
	unset()
	if r := f.configure(kind); r.Status != StatusRemoved {
		f.t.Fatalf("after removing %s from the source: %s (%s), want deleted", kind, r.Status, r.Error)
	}
	if s := f.planAction(kind); s.Action != ActionNone || s.Current != nil {
		f.t.Fatalf("after delete, plan for %s is %s with destination %s, want none and absent", kind, s.Action, s.Current)
	}
}
