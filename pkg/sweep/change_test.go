package sweep_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	s3controltypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

// The fixtures' bucket names, replaced by each test's own.
const (
	fixtureSource = "example-source-bucket"
	fixtureWest   = "example-west-bucket"
	fixtureDest   = "dest-example-source-bucket-us-west-2"
	// fixtureOwnRole is the configure role in cloudtrail-put-bucket-cors-by-bucketmirror.json.
	fixtureOwnRole = "arn:aws:iam::123456789012:role/bucketmirror-ConfigureFunctionRole-EXAMPLE1A2B3"
)

// handleEvent runs events/file through the handler as the Lambda runtime
// does, with the fixture's bucket names replaced (old, new pairs).
func handleEvent(t *testing.T, h *sweep.Handler, file string, names ...string) sweep.Summary {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("../../events", file))
	if err != nil {
		t.Fatal(err)
	}
	raw = []byte(strings.NewReplacer(names...).Replace(string(raw)))
	out, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), raw)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var sum sweep.Summary
	if err := json.Unmarshal(out, &sum); err != nil {
		t.Fatalf("%s returned %s: %v", file, out, err)
	}
	return sum
}

// s3Calls counts the recorded S3 and S3 Control calls.
func (r *recorder) s3Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if strings.HasPrefix(c, "S3.") || strings.HasPrefix(c, "S3 Control.") {
			n++
		}
	}
	return n
}

func (e *env) putCORS(bucket, region string, origins ...string) {
	e.t.Helper()
	_, err := e.s3(region).PutBucketCors(e.ctx, &s3.PutBucketCorsInput{Bucket: aws.String(bucket), CORSConfiguration: &s3types.CORSConfiguration{
		CORSRules: []s3types.CORSRule{{AllowedMethods: []string{"GET", "HEAD"}, AllowedOrigins: origins, MaxAgeSeconds: aws.Int32(3000)}}}})
	if err != nil {
		e.t.Fatalf("putting CORS on %s: %v", bucket, err)
	}
}

// corsOrigins returns the origins of bucket's CORS rules ("" when it has none).
func (e *env) corsOrigins(bucket, region string) string {
	e.t.Helper()
	out, err := e.s3(region).GetBucketCors(e.ctx, &s3.GetBucketCorsInput{Bucket: aws.String(bucket)})
	if err != nil {
		if strings.Contains(err.Error(), "NoSuchCORSConfiguration") {
			return ""
		}
		e.t.Fatal(err)
	}
	var origins []string
	for _, r := range out.CORSRules {
		origins = append(origins, r.AllowedOrigins...)
	}
	return strings.Join(origins, " ")
}

func (e *env) lifecycleRules(bucket, region string) []string {
	e.t.Helper()
	out, err := e.s3(region).GetBucketLifecycleConfiguration(e.ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil {
		if strings.Contains(err.Error(), "NoSuchLifecycleConfiguration") {
			return nil
		}
		e.t.Fatal(err)
	}
	var ids []string
	for _, r := range out.Rules {
		ids = append(ids, aws.ToString(r.ID))
	}
	return ids
}

func (e *env) putLifecycle(bucket, region, id string) {
	e.t.Helper()
	_, err := e.s3(region).PutBucketLifecycleConfiguration(e.ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String(bucket),
		LifecycleConfiguration: &s3types.BucketLifecycleConfiguration{Rules: []s3types.LifecycleRule{{ID: aws.String(id), Status: s3types.ExpirationStatusEnabled,
			Filter: &s3types.LifecycleRuleFilter{Prefix: aws.String("tmp/")}, Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(7)}}}}})
	if err != nil {
		e.t.Fatalf("putting lifecycle on %s: %v", bucket, err)
	}
}

func bucketTarget(name, region string) bucketconfig.Bucket {
	return bucketconfig.Bucket{Name: name, Region: region}
}

// wantNothingStarted runs a sweep reading every kind (of every tagged
// bucket, or of buckets) and fails if it starts or writes anything.
func (e *env) wantNothingStarted(after string, buckets ...string) {
	e.t.Helper()
	e.rec.reset()
	sum := e.sweep(buckets...)
	if sum.Started != 0 || sum.Failed != 0 {
		e.t.Errorf("full sweep after %s: started %d failed %d, want nothing:\n%s", after, sum.Started, sum.Failed, describe(sum))
	}
	if w := e.rec.writes(); len(w) > 0 {
		e.t.Errorf("full sweep after %s wrote %v", after, w)
	}
}

func wantKinds(t *testing.T, d sweep.Decision, kinds ...string) {
	t.Helper()
	if !slices.Equal(d.Kinds, kinds) {
		t.Errorf("%s -> %s compared kinds %v, want %v", d.Source, d.Region, d.Kinds, kinds)
	}
}

// TestChangeEventsThroughTheHandler feeds every CloudTrail fixture to the
// real sweep handler (in-process runs) and checks what each one does, how
// few S3 calls a one-kind change costs, and that the per-kind hashes leave
// a full sweep right after each targeted repair with nothing to do.
func TestChangeEventsThroughTheHandler(t *testing.T) {
	e := newEnv(t)
	src := e.source("ev-src", "us-west-2")
	e.putCORS(src, homeRegion, "https://www.example.com")
	west := e.bucket("ev-west")
	e.createBucket(west, "us-west-2", map[string]string{e.tag("destination-regions"): "eu-central-1"})
	e.putLifecycle(west, "us-west-2", "keep-logs")
	wantCounts(t, e.sweep(), 2, 0, 0, 0, 0)
	dest, westDest := e.m.DerivedName(src, "us-west-2"), e.m.DerivedName(west, "eu-central-1")
	if m := e.mirror(src, "us-west-2"); m == nil || len(m.SourceKinds) == 0 || len(m.DestKinds) == 0 || m.SourceRegion != homeRegion {
		t.Fatalf("mirror record %+v, want per-kind hashes and the source Region", m)
	}
	names := []string{fixtureSource, src, fixtureDest, dest, fixtureWest, west}
	h := sweep.NewHandler(e.s, quiet())

	t.Run("source-cors", func(t *testing.T) {
		e.putCORS(src, homeRegion, "https://shop.example.com")
		e.rec.reset()
		sum := handleEvent(t, h, "cloudtrail-put-bucket-cors.json", names...)
		d := wantDecision(t, sum, src, "us-west-2", sweep.ActionStarted, "source-changed")
		wantKinds(t, d, "cors")
		if n := e.rec.s3Calls(); n > 8 {
			t.Errorf("a one-kind source change took %d S3 calls, want at most 8: %v", n, e.rec.byOperation())
		}
		if got := e.corsOrigins(dest, "us-west-2"); got != "https://shop.example.com" {
			t.Errorf("destination CORS origins %q, want the source's new one", got)
		}
		e.wantNothingStarted("a targeted source repair")
	})
	t.Run("destination-damaged", func(t *testing.T) {
		if _, err := e.s3("us-west-2").DeleteBucketCors(e.ctx, &s3.DeleteBucketCorsInput{Bucket: aws.String(dest)}); err != nil {
			t.Fatal(err)
		}
		e.rec.reset()
		sum := handleEvent(t, h, "cloudtrail-delete-bucket-cors-destination.json", names...)
		d := wantDecision(t, sum, src, "us-west-2", sweep.ActionStarted, "destination-changed")
		wantKinds(t, d, "cors")
		if got := e.corsOrigins(dest, "us-west-2"); got != "https://shop.example.com" {
			t.Errorf("destination CORS origins %q after the repair, want the source's", got)
		}
		e.wantNothingStarted("a targeted destination repair")
	})
	t.Run("loop", func(t *testing.T) {
		// The repair's own write fed back without the role filter: the
		// reconcile finds both sides equal and writes nothing.
		e.rec.reset()
		sum := handleEvent(t, h, "cloudtrail-put-bucket-cors-by-bucketmirror.json", names...)
		wantCounts(t, sum, 0, 1, 0, 0, 0)
		wantDecision(t, sum, src, "us-west-2", sweep.ActionSkipped, "unchanged")
		if w := e.rec.writes(); len(w) > 0 {
			t.Errorf("a repair's own write fed back wrote %v", w)
		}
		// With the role filter it is dropped before any call at all.
		own := e.sweeper(&sweep.LocalStarter{Mirrorer: e.m}, envOptions{prefix: e.prefix, ownRoles: []string{fixtureOwnRole}})
		e.rec.reset()
		sum = handleEvent(t, sweep.NewHandler(own, quiet()), "cloudtrail-put-bucket-cors-by-bucketmirror.json", names...)
		if len(sum.Decisions) != 0 || len(e.rec.calls) != 0 {
			t.Errorf("an event by bucketmirror's own role: decisions %+v, calls %v; want it dropped before any call", sum.Decisions, e.rec.calls)
		}
	})
	t.Run("forwarded-source", func(t *testing.T) {
		e.putLifecycle(west, "us-west-2", "expire-tmp")
		e.rec.reset()
		sum := handleEvent(t, h, "cloudtrail-forwarded-put-bucket-lifecycle.json", names...)
		d := wantDecision(t, sum, west, "eu-central-1", sweep.ActionStarted, "source-changed")
		wantKinds(t, d, "lifecycle")
		if d.SourceRegion != "us-west-2" {
			t.Errorf("source Region %q, want the event's us-west-2", d.SourceRegion)
		}
		if n := e.rec.count("S3.GetBucketLocation"); n != 0 {
			t.Errorf("GetBucketLocation called %d times: the forwarded event names the Region", n)
		}
		if got := e.lifecycleRules(westDest, "eu-central-1"); !slices.Equal(got, []string{"expire-tmp"}) {
			t.Errorf("destination lifecycle rules %v, want [expire-tmp]", got)
		}
		e.wantNothingStarted("a forwarded source change")
	})
	t.Run("tag-resource", func(t *testing.T) {
		// The event is S3 Control's; the tag change itself is made with
		// PutBucketTagging (the source has no ABAC), which is what S3 holds.
		e.setTags(src, homeRegion, map[string]string{e.tag("destination-regions"): "us-west-2", "cost-center": "5678"})
		sum := handleEvent(t, h, "cloudtrail-tag-resource.json", names...)
		d := wantDecision(t, sum, src, "us-west-2", sweep.ActionStarted, "source-changed")
		wantKinds(t, d, "tags")
		tags, err := e.m.Engine.Tags(e.ctx, bucketTarget(dest, "us-west-2"))
		if err != nil || !slices.ContainsFunc(tags, func(tg s3types.Tag) bool { return aws.ToString(tg.Key) == "cost-center" }) {
			t.Errorf("destination tags %v (%v), want cost-center copied", tags, err)
		}
		e.wantNothingStarted("a TagResource event")
	})
	t.Run("untag-resource", func(t *testing.T) {
		e.setTags(src, homeRegion, map[string]string{e.tag("destination-regions"): "us-west-2"})
		sum := handleEvent(t, h, "cloudtrail-untag-resource.json", names...)
		wantKinds(t, wantDecision(t, sum, src, "us-west-2", sweep.ActionStarted, "source-changed"), "tags")
		tags, _ := e.m.Engine.Tags(e.ctx, bucketTarget(dest, "us-west-2"))
		if slices.ContainsFunc(tags, func(tg s3types.Tag) bool { return aws.ToString(tg.Key) == "cost-center" }) {
			t.Errorf("destination still has cost-center after UntagResource: %v", tags)
		}
	})
	t.Run("tag-resource-abac", func(t *testing.T) {
		// With ABAC on, S3 takes tag changes only through S3 Control
		// TagResource: the change is made that way, and the event is the
		// one it records.
		abac := e.source("ev-abac", "us-west-2")
		if _, err := e.s3(homeRegion).PutBucketAbac(e.ctx, &s3.PutBucketAbacInput{Bucket: aws.String(abac),
			AbacStatus: &s3types.AbacStatus{Status: s3types.BucketAbacStatusEnabled}}); err != nil {
			t.Fatal(err)
		}
		wantDecision(t, e.sweep(abac), abac, "us-west-2", sweep.ActionStarted, "new")
		_, err := e.m.Clients.S3Control(homeRegion).TagResource(e.ctx, &s3control.TagResourceInput{AccountId: aws.String(localcloud.AccountID),
			ResourceArn: aws.String("arn:aws:s3:::" + abac), Tags: []s3controltypes.Tag{{Key: aws.String("cost-center"), Value: aws.String("9999")}}})
		if err != nil {
			t.Fatal(err)
		}
		sum := handleEvent(t, h, "cloudtrail-tag-resource.json", fixtureSource, abac)
		wantKinds(t, wantDecision(t, sum, abac, "us-west-2", sweep.ActionStarted, "source-changed"), "tags")
		tags, err := e.m.Engine.Tags(e.ctx, bucketTarget(e.m.DerivedName(abac, "us-west-2"), "us-west-2"))
		if err != nil || !slices.ContainsFunc(tags, func(tg s3types.Tag) bool {
			return aws.ToString(tg.Key) == "cost-center" && aws.ToString(tg.Value) == "9999"
		}) {
			t.Errorf("destination tags %v (%v), want cost-center=9999 from the ABAC source", tags, err)
		}
		e.wantNothingStarted("a TagResource event on an ABAC source")
	})
	t.Run("access-denied", func(t *testing.T) {
		e.rec.reset()
		sum := handleEvent(t, h, "cloudtrail-put-bucket-policy-access-denied.json", names...)
		if len(sum.Decisions) != 0 || len(e.rec.calls) != 0 {
			t.Errorf("a refused call: decisions %+v, calls %v; want nothing done", sum.Decisions, e.rec.calls)
		}
	})
	t.Run("delete-bucket", func(t *testing.T) {
		if _, err := e.s3(homeRegion).DeleteBucket(e.ctx, &s3.DeleteBucketInput{Bucket: aws.String(src)}); err != nil {
			t.Fatal(err)
		}
		sum := handleEvent(t, h, "cloudtrail-delete-bucket.json", names...)
		wantDecision(t, sum, src, "us-west-2", sweep.ActionDetached, "source-deleted")
		if m := e.mirror(src, "us-west-2"); m.Status != inventory.StatusDetached || !e.exists(dest, "us-west-2") {
			t.Errorf("after DeleteBucket: mirror %s, destination exists %v; want DETACHED and kept", m.Status, e.exists(dest, "us-west-2"))
		}
	})
}

// TestRepairThroughStateMachine is the acceptance: a destination
// damaged by hand, and a source changed in a Region other than the home
// one, are both repaired through their events by the deployed state
// machine, within seconds, and audited with the kinds the run touched.
func TestRepairThroughStateMachine(t *testing.T) {
	e := newEnv(t, withStateMachine())
	client := sfn.NewFromConfig(cloud.AWSConfig())
	src := e.source("sfn-ev", "us-west-2")
	e.putCORS(src, homeRegion, "https://www.example.com")
	west := e.bucket("sfn-ev-west")
	e.createBucket(west, "us-west-2", map[string]string{e.tag("destination-regions"): "eu-central-1"})
	e.putLifecycle(west, "us-west-2", "keep-logs")
	for _, d := range e.sweep().Decisions {
		if out := waitExecution(t, client, d.Execution); out.Status != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("first run %s: %s %s", d.Execution, out.Status, aws.ToString(out.Cause))
		}
	}
	dest, westDest := e.m.DerivedName(src, "us-west-2"), e.m.DerivedName(west, "eu-central-1")
	names := []string{fixtureSource, src, fixtureDest, dest, fixtureWest, west}
	h := sweep.NewHandler(e.s, quiet())
	// The state machine's table and tag prefix are shared with the other
	// state machine tests, whose full sweeps count every tagged source:
	// leave neither a tag nor a record behind.
	t.Cleanup(func() {
		ddb := dynamodb.NewFromConfig(cloud.AWSConfig())
		for _, m := range [][3]string{{src, homeRegion, "us-west-2"}, {west, "us-west-2", "eu-central-1"}} {
			if _, err := e.s3(m[1]).DeleteBucketTagging(e.ctx, &s3.DeleteBucketTaggingInput{Bucket: aws.String(m[0])}); err != nil {
				t.Errorf("untagging %s: %v", m[0], err)
			}
			_, err := ddb.DeleteItem(e.ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: map[string]ddbtypes.AttributeValue{
				"PK": &ddbtypes.AttributeValueMemberS{Value: inventory.PK(m[0])}, "SK": &ddbtypes.AttributeValueMemberS{Value: inventory.MirrorSK(m[2])}}})
			if err != nil {
				t.Errorf("removing the mirror record of %s: %v", m[0], err)
			}
		}
	})

	repair := func(t *testing.T, file, source, region, reason, kind string, repaired func() bool) {
		began := time.Now()
		sum := handleEvent(t, h, file, names...)
		d := wantDecision(t, sum, source, region, sweep.ActionStarted, reason)
		wantKinds(t, d, kind)
		if out := waitExecution(t, client, d.Execution); out.Status != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("repair %s: %s %s", d.Execution, out.Status, aws.ToString(out.Cause))
		}
		took := time.Since(began)
		if !repaired() {
			t.Fatalf("not repaired by %s", d.Execution)
		}
		t.Logf("%s repaired through the state machine in %v", file, took.Round(time.Millisecond))
		runs, err := e.m.Store.Runs(e.ctx, source, region)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(runs, func(r inventory.Run) bool { return r.RunID == d.Execution })
		if i < 0 || runs[i].Status != inventory.StatusFinished || !slices.Equal(runs[i].Kinds, []string{kind}) {
			t.Errorf("run record of %s: %+v, want FINISHED with kinds [%s]", d.Execution, runs, kind)
		}
	}
	t.Run("destination-damaged-by-hand", func(t *testing.T) {
		if _, err := e.s3("us-west-2").DeleteBucketCors(e.ctx, &s3.DeleteBucketCorsInput{Bucket: aws.String(dest)}); err != nil {
			t.Fatal(err)
		}
		repair(t, "cloudtrail-delete-bucket-cors-destination.json", src, "us-west-2", "destination-changed", "cors",
			func() bool { return e.corsOrigins(dest, "us-west-2") == "https://www.example.com" })
	})
	t.Run("source-in-another-region", func(t *testing.T) {
		e.putLifecycle(west, "us-west-2", "expire-tmp")
		repair(t, "cloudtrail-forwarded-put-bucket-lifecycle.json", west, "eu-central-1", "source-changed", "lifecycle",
			func() bool { return slices.Equal(e.lifecycleRules(westDest, "eu-central-1"), []string{"expire-tmp"}) })
	})
	// The shared table holds other tests' mirrors: sweep these two, every kind.
	e.wantNothingStarted("the event repairs", src, west)
}
