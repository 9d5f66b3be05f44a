package sweep_test

import (
	"testing"

	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

// untagLeavingRecords makes sources known only from the inventory (their
// regions tag removed), with stripped's records no longer naming the
// source's Region (as records written before sourceRegion existed).
func (e *env) untagLeavingRecords(stripped string, dests map[string]string, regionOf map[string]string) {
	e.t.Helper()
	rec := e.mirror(stripped, dests[stripped])
	rec.SourceRegion = ""
	if err := e.m.Store.PutMirror(e.ctx, *rec); err != nil {
		e.t.Fatal(err)
	}
	for src, region := range regionOf {
		e.setTags(src, region, map[string]string{"team": "gone"})
	}
}

// Sources known only from the inventory (untagged since, or looked up) are
// read from S3 for their tags, but their Region comes from what the sweep
// has already: the mirror record's source Region, else ListBuckets'
// BucketRegion when source Regions are not configured. Counted over the
// wire: no GetBucketLocation for them, on the Lambda path and on the
// Distributed Map path (list step, then each batch).
func TestInventorySourcesCostNoGetBucketLocation(t *testing.T) {
	e := newEnv(t, withRegions(nil, nil))
	phase := func(name string, run func() int) {
		recorded, listed := e.bucket("loc-recorded"), e.bucket("loc-listed")
		regionOf := map[string]string{recorded: "us-west-2", listed: "eu-west-1"}
		dests := map[string]string{recorded: "eu-west-1", listed: "us-west-2"}
		for src, region := range regionOf {
			e.createBucket(src, region, map[string]string{e.tag("destination-regions"): dests[src]})
		}
		sum := e.sweep()
		for src := range regionOf {
			wantDecision(t, sum, src, dests[src], sweep.ActionStarted, "new")
		}
		e.untagLeavingRecords(listed, dests, regionOf)
		e.rec.reset()
		if detached := run(); detached != 2 {
			t.Errorf("%s: %d mirrors detached, want 2", name, detached)
		}
		for src := range regionOf {
			if rec := e.mirror(src, dests[src]); rec.Status != inventory.StatusDetached {
				t.Errorf("%s: mirror of %s is %s, want DETACHED", name, src, rec.Status)
			}
		}
		if n := e.rec.count("S3.GetBucketLocation"); n != 0 {
			t.Errorf("%s: %d GetBucketLocation calls for sources whose Region the records or ListBuckets gave", name, n)
		}
		// Their tags are still read from S3 itself (consistent, where the
		// Tagging API is not).
		if n := e.rec.count("S3.GetBucketTagging"); n < 2 {
			t.Errorf("%s: %d GetBucketTagging calls, want the two sources' tags read from S3", name, n)
		}
	}
	phase("lambda", func() int {
		sum := e.sweep()
		for _, d := range sum.Decisions {
			if d.Action == sweep.ActionDetached && d.Reason != "tag-removed" {
				t.Errorf("decision %+v, want tag-removed", d)
			}
		}
		return sum.Detached
	})
	phase("distributed-map", func() int {
		l, err := e.s.List(e.ctx, sweep.ListRequest{Sweep: "locate-test"})
		if err != nil || !l.Inline {
			t.Fatalf("List: %+v, %v", l, err)
		}
		detached := 0
		for _, b := range l.Items {
			bs, err := e.s.ReconcileBatch(e.ctx, b)
			if err != nil {
				t.Fatalf("batch %d: %v", b.Index, err)
			}
			detached += bs.Detached
		}
		return detached
	})
}

// Where nothing names the Region — source Regions configured (so no
// ListBuckets) and a record without one — S3 is still asked.
func TestUnknownSourceRegionIsStillLookedUp(t *testing.T) {
	e := newEnv(t)
	src := e.bucket("loc-unknown")
	e.createBucket(src, "us-west-2", map[string]string{e.tag("destination-regions"): "eu-central-1"})
	wantDecision(t, e.sweep(), src, "eu-central-1", sweep.ActionStarted, "new")
	e.untagLeavingRecords(src, map[string]string{src: "eu-central-1"}, map[string]string{src: "us-west-2"})
	e.rec.reset()
	d := wantDecision(t, e.sweep(), src, "eu-central-1", sweep.ActionDetached, "tag-removed")
	if d.SourceRegion != "us-west-2" {
		t.Errorf("decision %+v, want the source Region S3 gave", d)
	}
	if n := e.rec.count("S3.GetBucketLocation"); n != 1 {
		t.Errorf("%d GetBucketLocation calls, want 1 (nothing else names the Region)", n)
	}
}
