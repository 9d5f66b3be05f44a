package sweep_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

func TestSweepMirrorsTaggedBuckets(t *testing.T) {
	e := newEnv(t)
	one := e.source("one", "us-west-2")
	two := e.source("two", "eu-central-1 us-west-2")
	named := e.bucket("named")
	namedDest := e.bucket("named-copy")
	e.createBucket(named, homeRegion, map[string]string{e.tag("destination-regions"): "us-west-2", e.tag("destination-bucket"): namedDest, "team": "data"})
	bad := e.source("bad", "mars-1")
	plain := e.bucket("plain")
	e.createBucket(plain, homeRegion, map[string]string{"team": "data"})
	// A destination someone also tagged as a source: never swept (loop).
	decoy := e.bucket("decoy")
	e.createBucket(decoy, "us-west-2", map[string]string{e.tag("source"): "arn:aws:s3:::" + one, e.tag("destination-regions"): "eu-central-1"})
	before := e.bucketCount()

	sum := e.sweep()
	wantCounts(t, sum, 4, 1, 0, 1, 0)
	wantDecision(t, sum, one, "us-west-2", sweep.ActionStarted, "new")
	wantDecision(t, sum, two, "us-west-2", sweep.ActionStarted, "new")
	wantDecision(t, sum, two, "eu-central-1", sweep.ActionStarted, "new")
	wantDecision(t, sum, named, "us-west-2", sweep.ActionStarted, "new")
	wantDecision(t, sum, decoy, "", sweep.ActionSkipped, "is-destination")
	inv := wantDecision(t, sum, bad, "mars-1", sweep.ActionInvalid, "invalid-tag")
	for _, d := range sum.Decisions {
		if d.Source == plain || strings.HasPrefix(d.Source, "dest-") || d.Source == namedDest {
			t.Errorf("decision about %s, which is not a source: %+v", d.Source, d)
		}
	}

	want := map[string]string{
		e.m.DerivedName(one, "us-west-2"):    "us-west-2",
		e.m.DerivedName(two, "us-west-2"):    "us-west-2",
		e.m.DerivedName(two, "eu-central-1"): "eu-central-1",
		namedDest:                            "us-west-2",
	}
	for dest, region := range want {
		if !e.exists(dest, region) {
			t.Errorf("destination %s missing in %s", dest, region)
		}
	}
	if after := e.bucketCount(); after != before+len(want) {
		t.Errorf("%d buckets after the sweep, want %d: only the destinations may be created", after, before+len(want))
	}
	for _, c := range []struct{ source, region string }{{one, "us-west-2"}, {two, "us-west-2"}, {two, "eu-central-1"}, {named, "us-west-2"}} {
		if m := e.mirror(c.source, c.region); m == nil || m.Status != inventory.StatusFinished || m.AppliedHash == "" || m.DestHash == "" {
			t.Errorf("mirror %s -> %s = %+v, want FINISHED with hashes", c.source, c.region, m)
		}
	}
	if m := e.mirror(named, "us-west-2"); m == nil || m.Dest != namedDest {
		t.Errorf("named mirror = %+v, want destination %s", m, namedDest)
	}
	m := e.mirror(bad, "mars-1")
	if m == nil || m.Status != inventory.StatusInvalid || !strings.Contains(m.LastError, bad) || !strings.Contains(m.LastError, `"mars-1"`) {
		t.Errorf("invalid mirror = %+v, want INVALID naming the bucket and the tag value", m)
	}
	if inv.Error != m.LastError {
		t.Errorf("decision error %q, record %q", inv.Error, m.LastError)
	}

	// Nothing changed: nothing started, nothing written, anywhere.
	e.rec.reset()
	again := e.sweep()
	wantCounts(t, again, 0, 5, 0, 1, 0)
	for _, d := range again.Decisions {
		if d.Action == sweep.ActionSkipped && d.Reason != "unchanged" && d.Reason != "is-destination" {
			t.Errorf("second sweep: %+v", d)
		}
	}
	if w := e.rec.writes(); len(w) > 0 {
		t.Errorf("second sweep wrote: %v", w)
	}
	if n := e.rec.count("Resource Groups Tagging API.GetResources"); n < len(regions) {
		t.Errorf("%d GetResources calls, want at least one per Region", n)
	}
	t.Logf("calls of a sweep with nothing changed (6 sources, 4 mirrors): %v", e.rec.byOperation())

	// The summary: one JSON log line, one EMF line per sweep.
	var summaries []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(e.log.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		if rec["msg"] == "sweep finished" {
			summaries = append(summaries, rec)
		}
	}
	if len(summaries) != 2 || summaries[0]["started"] != 4.0 || summaries[1]["skipped"] != 5.0 || summaries[1]["scope"] != "full" {
		t.Errorf("summary log lines %v, want one per sweep with its counts", summaries)
	}
	emf := strings.Split(strings.TrimSpace(e.emf.String()), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(emf[len(emf)-1]), &last); err != nil || len(emf) != 2 || last["Skipped"] != 5.0 || last["Started"] != 0.0 || last["_aws"] == nil {
		t.Errorf("EMF lines %q: %v", emf, err)
	}
}

func TestSweepDriftAndRepair(t *testing.T) {
	e := newEnv(t)
	src := e.source("drift", "us-west-2")
	dest := e.m.DerivedName(src, "us-west-2")
	cors := &s3types.CORSConfiguration{CORSRules: []s3types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"*"}}}}
	if _, err := e.s3(homeRegion).PutBucketCors(e.ctx, &s3.PutBucketCorsInput{Bucket: &src, CORSConfiguration: cors}); err != nil {
		t.Fatal(err)
	}
	putLifecycle := func(days int32) {
		t.Helper()
		_, err := e.s3(homeRegion).PutBucketLifecycleConfiguration(e.ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: &src,
			LifecycleConfiguration: &s3types.BucketLifecycleConfiguration{Rules: []s3types.LifecycleRule{{
				ID: aws.String("expire"), Status: s3types.ExpirationStatusEnabled, Filter: &s3types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
				Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(days)}}}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	destLifecycleDays := func() int32 {
		t.Helper()
		lc, err := e.s3("us-west-2").GetBucketLifecycleConfiguration(e.ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &dest})
		if err != nil || len(lc.Rules) != 1 {
			t.Errorf("destination lifecycle: %+v, %v", lc, err)
			return 0
		}
		return aws.ToInt32(lc.Rules[0].Expiration.Days)
	}
	destCORS := func() bool {
		_, err := e.s3("us-west-2").GetBucketCors(e.ctx, &s3.GetBucketCorsInput{Bucket: &dest})
		return err == nil
	}
	putLifecycle(7)
	wantDecision(t, e.sweep(), src, "us-west-2", sweep.ActionStarted, "new")
	if !destCORS() || destLifecycleDays() != 7 {
		t.Fatal("destination not configured by the first sweep")
	}

	// Drift: the source's lifecycle changes and its CORS goes.
	putLifecycle(30)
	if _, err := e.s3(homeRegion).DeleteBucketCors(e.ctx, &s3.DeleteBucketCorsInput{Bucket: &src}); err != nil {
		t.Fatal(err)
	}
	sum := e.sweep()
	wantCounts(t, sum, 1, 0, 0, 0, 0)
	wantDecision(t, sum, src, "us-west-2", sweep.ActionStarted, "source-changed")
	if days := destLifecycleDays(); days != 30 {
		t.Errorf("destination lifecycle expires after %d days, want 30", days)
	}
	if destCORS() {
		t.Error("destination still has CORS after the source dropped it")
	}

	// Repair: someone deletes the destination's lifecycle.
	if _, err := e.s3("us-west-2").DeleteBucketLifecycle(e.ctx, &s3.DeleteBucketLifecycleInput{Bucket: &dest}); err != nil {
		t.Fatal(err)
	}
	wantDecision(t, e.sweep(), src, "us-west-2", sweep.ActionStarted, "destination-changed")
	if days := destLifecycleDays(); days != 30 {
		t.Errorf("destination lifecycle not restored (%d days)", days)
	}

	// Repair: someone deletes the destination itself.
	if _, err := e.s3("us-west-2").DeleteBucket(e.ctx, &s3.DeleteBucketInput{Bucket: &dest}); err != nil {
		t.Fatal(err)
	}
	wantDecision(t, e.sweep(), src, "us-west-2", sweep.ActionStarted, "destination-missing")
	if !e.exists(dest, "us-west-2") || destLifecycleDays() != 30 {
		t.Error("destination not recreated as the source is")
	}
	runs, err := e.m.Store.Runs(e.ctx, src, "us-west-2")
	if err != nil || len(runs) != 4 {
		t.Errorf("%d runs (%v), want 4", len(runs), err)
	}

	e.rec.reset()
	wantDecision(t, e.sweep(), src, "us-west-2", sweep.ActionSkipped, "unchanged")
	if w := e.rec.writes(); len(w) > 0 {
		t.Errorf("sweep after the repairs wrote: %v", w)
	}
}

func TestSweepDetachesAndNeverDeletes(t *testing.T) {
	e := newEnv(t)
	src := e.source("detach", "us-west-2 eu-central-1")
	gone := e.source("gone", "us-west-2")
	sum := e.sweep()
	wantCounts(t, sum, 3, 0, 0, 0, 0)

	// One Region dropped from the tag.
	e.setTags(src, homeRegion, map[string]string{e.tag("destination-regions"): "us-west-2", "team": "data"})
	// A source deleted.
	if _, err := e.s3(homeRegion).DeleteBucket(e.ctx, &s3.DeleteBucketInput{Bucket: &gone}); err != nil {
		t.Fatal(err)
	}
	sum = e.sweep()
	wantDecision(t, sum, src, "eu-central-1", sweep.ActionDetached, "region-removed")
	wantDecision(t, sum, gone, "us-west-2", sweep.ActionDetached, "source-deleted")
	// The tag change is a source change for the remaining Region (tags are
	// part of the snapshot); it must not be detached.
	if d := decision(t, sum, src, "us-west-2"); d.Action != sweep.ActionStarted && d.Action != sweep.ActionSkipped {
		t.Errorf("remaining Region: %+v", d)
	}

	// The tag removed altogether, other tags kept.
	e.setTags(src, homeRegion, map[string]string{"team": "data"})
	sum = e.sweep()
	wantCounts(t, sum, 0, 0, 0, 0, 1)
	wantDecision(t, sum, src, "us-west-2", sweep.ActionDetached, "tag-removed")
	for _, c := range []struct{ source, region string }{{src, "us-west-2"}, {src, "eu-central-1"}, {gone, "us-west-2"}} {
		m := e.mirror(c.source, c.region)
		if m == nil || m.Status != inventory.StatusDetached || !strings.Contains(m.LastError, "kept") {
			t.Errorf("mirror %s -> %s = %+v, want DETACHED", c.source, c.region, m)
			continue
		}
		if !e.exists(m.Dest, c.region) {
			t.Errorf("destination %s of a detached mirror was deleted", m.Dest)
		}
	}

	// Detached mirrors cost nothing on later sweeps.
	e.rec.reset()
	sum = e.sweep()
	wantCounts(t, sum, 0, 0, 0, 0, 0)
	if w := e.rec.writes(); len(w) > 0 {
		t.Errorf("sweep over detached mirrors wrote: %v", w)
	}

	// Tagged again: the mirror comes back.
	e.setTags(src, homeRegion, map[string]string{e.tag("destination-regions"): "us-west-2", "team": "data"})
	wantDecision(t, e.sweep(), src, "us-west-2", sweep.ActionStarted, "reattached")
}

func TestSweepInvalidTagValues(t *testing.T) {
	e := newEnv(t)
	good := e.source("good", "us-west-2")
	commas := e.source("commas", "us-west-2,eu-central-1")
	own := e.source("own", "us-east-1")
	elsewhere := e.source("elsewhere", "ap-south-1")
	several := e.bucket("several")
	e.createBucket(several, homeRegion, map[string]string{e.tag("destination-regions"): "us-west-2 eu-central-1", e.tag("destination-bucket"): "my-copy"})
	badName := e.bucket("badname")
	e.createBucket(badName, homeRegion, map[string]string{e.tag("destination-regions"): "us-west-2", e.tag("destination-bucket"): "Not_A_Bucket"})
	empty := e.source("empty", "")

	sum := e.sweep()
	wantCounts(t, sum, 1, 0, 0, 7, 0)
	wantDecision(t, sum, good, "us-west-2", sweep.ActionStarted, "new")
	for _, c := range []struct{ source, region, value, says string }{
		{commas, "us-west-2,eu-central-1", "us-west-2,eu-central-1", "not a known AWS Region"},
		{own, "us-east-1", "us-east-1", "own Region"},
		{elsewhere, "ap-south-1", "ap-south-1", "not one of this deployment's destination Regions"},
		{several, "us-west-2", "my-copy", "only with a single Region"},
		{several, "eu-central-1", "my-copy", "only with a single Region"},
		{badName, "us-west-2", "Not_A_Bucket", "not a valid bucket name"},
		{empty, "-", `""`, "names no Region"},
	} {
		d := wantDecision(t, sum, c.source, c.region, sweep.ActionInvalid, "invalid-tag")
		if !strings.Contains(d.Error, c.source) || !strings.Contains(d.Error, c.value) || !strings.Contains(d.Error, c.says) {
			t.Errorf("%s: message %q should name the bucket, %s and say %q", c.source, d.Error, c.value, c.says)
		}
		if m := e.mirror(c.source, c.region); m == nil || m.Status != inventory.StatusInvalid || m.LastError != d.Error {
			t.Errorf("%s -> %s record = %+v", c.source, c.region, m)
		}
	}

	e.rec.reset()
	wantCounts(t, e.sweep(), 0, 1, 0, 7, 0)
	if w := e.rec.writes(); len(w) > 0 {
		t.Errorf("unchanged invalid tags were written again: %v", w)
	}

	// Fixed: the INVALID record turns into a mirror, the stale one detaches.
	e.setTags(commas, homeRegion, map[string]string{e.tag("destination-regions"): "us-west-2 eu-central-1"})
	sum = e.sweep()
	wantCounts(t, sum, 2, 1, 0, 6, 1)
	wantDecision(t, sum, commas, "us-west-2,eu-central-1", sweep.ActionDetached, "region-removed")
}

func TestConcurrentSweepsStartEachMirrorOnce(t *testing.T) {
	e := newEnv(t, withOwner("first"))
	var sources []string
	for i := range 4 {
		sources = append(sources, e.source("race"+string(rune('a'+i)), "us-west-2"))
	}
	other := e.sweeper(&sweep.LocalStarter{Mirrorer: e.m}, envOptions{prefix: e.prefix, owner: "second"})
	before := e.bucketCount()
	var wg sync.WaitGroup
	sums := make([]sweep.Summary, 2)
	for i, s := range []*sweep.Sweeper{e.s, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sum, err := s.Sweep(context.Background(), nil)
			if err != nil {
				t.Error(err)
			}
			sums[i] = sum
		}()
	}
	wg.Wait()
	if started := sums[0].Started + sums[1].Started; started != len(sources) {
		t.Errorf("%d runs started by two concurrent sweeps, want %d:\n%s%s", started, len(sources), describe(sums[0]), describe(sums[1]))
	}
	for _, sum := range sums {
		if sum.Failed > 0 {
			t.Errorf("failures: %s", describe(sum))
		}
	}
	for _, src := range sources {
		runs, err := e.m.Store.Runs(e.ctx, src, "us-west-2")
		if err != nil || len(runs) != 1 {
			t.Errorf("%s: %d runs (%v), want 1", src, len(runs), err)
		}
	}
	if after := e.bucketCount(); after != before+len(sources) {
		t.Errorf("%d buckets, want %d: one destination per source", after, before+len(sources))
	}
}

func TestTargetedSweepReadsTagsDirectly(t *testing.T) {
	e := newEnv(t)
	a := e.source("target", "us-west-2")
	b := e.source("bystander", "us-west-2")
	sum := e.sweep(a, "no-such-bucket-"+e.prefix[:len(e.prefix)-1])
	if sum.Scope != "targeted" {
		t.Errorf("scope %q", sum.Scope)
	}
	wantCounts(t, sum, 1, 1, 0, 0, 0)
	wantDecision(t, sum, a, "us-west-2", sweep.ActionStarted, "new")
	for _, d := range sum.Decisions {
		if d.Source == b {
			t.Errorf("a targeted sweep of %s touched %s", a, b)
		}
	}
	if n := e.rec.count("Resource Groups Tagging API.GetResources"); n != 0 {
		t.Errorf("a targeted sweep called GetResources %d times; it must read tags with GetBucketTagging", n)
	}
}

func TestManyBucketsArePaged(t *testing.T) {
	e := newEnv(t)
	// The local cloud cuts Tagging API pages at 100 tags: 30 buckets of four
	// tags take two pages. Tagging them for their own Region makes them
	// INVALID, which is cheap to check in bulk.
	for i := range 30 {
		e.createBucket(e.bucket("many"), homeRegion, map[string]string{e.tag("destination-regions"): "us-east-1", "team": "data", "cost-center": "42", "env": "test"})
		if i%5 == 0 {
			e.createBucket(e.bucket("untagged"), homeRegion, nil)
		}
	}
	valid := e.source("valid", "eu-central-1")
	sum := e.sweep()
	wantCounts(t, sum, 1, 0, 0, 30, 0)
	wantDecision(t, sum, valid, "eu-central-1", sweep.ActionStarted, "new")
	// The Tagging API lists a bucket only in its own Region: two pages in
	// us-east-1, one (empty) page in each other Region.
	if n := e.rec.count("Resource Groups Tagging API.GetResources"); n < 2+len(regions)-1 {
		t.Errorf("%d GetResources calls for 31 tagged buckets in us-east-1 and %d other Regions; the listing was not paged", n, len(regions)-1)
	}
	e.rec.reset()
	wantCounts(t, e.sweep(), 0, 1, 0, 30, 0)
	if w := e.rec.writes(); len(w) > 0 {
		t.Errorf("second sweep wrote %d times", len(w))
	}
}

// TestStalledRunIsStartedAgain: a run that died after Create without
// recording its end leaves the mirror CREATED. Within the in-flight window
// a sweep leaves it to the run it believes is still going; once the window
// has passed (here set short, as a sweep whose runs are all in-process may)
// the sweep starts it again and the mirror finishes.
func TestStalledRunIsStartedAgain(t *testing.T) {
	e := newEnv(t)
	src := e.source("stalled", "us-west-2")
	wantDecision(t, e.sweep(), src, "us-west-2", sweep.ActionStarted, "new")
	rec := e.mirror(src, "us-west-2")
	if rec == nil || rec.Status != inventory.StatusFinished {
		t.Fatalf("after the first sweep the record is %+v, want FINISHED", rec)
	}
	dead := *rec
	dead.Status = inventory.StatusCreated // what a run that died after Create leaves
	if err := e.m.Store.PutMirror(e.ctx, dead); err != nil {
		t.Fatal(err)
	}
	wantDecision(t, e.sweep(), src, "us-west-2", sweep.ActionSkipped, "in-progress")

	short := e.sweeper(&sweep.LocalStarter{Mirrorer: e.m}, envOptions{prefix: e.prefix, regions: regions, inFlight: time.Nanosecond})
	wantDecision(t, e.sweepWith(short, nil), src, "us-west-2", sweep.ActionStarted, "stalled")
	if rec := e.mirror(src, "us-west-2"); rec == nil || rec.Status != inventory.StatusFinished {
		t.Errorf("after the stalled run was started again the record is %+v, want FINISHED", rec)
	}
}
