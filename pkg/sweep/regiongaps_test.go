package sweep_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

// s3-accelerate-not-in-region: a source with Transfer Acceleration on,
// mirrored into af-south-1 (which answers 405 MethodNotAllowed), cannot
// have it there. The first sweep mirrors it with a not-copied note and the
// run FINISHED; the next sweep starts nothing: the configuration that cannot
// exist is reported once per change of the source, never retried forever.
func TestSweepDoesNotRetryWhatTheDestinationRegionLacks(t *testing.T) {
	e := newEnv(t, withRegions([]string{homeRegion}, []string{"af-south-1"}))
	src := e.source("fast", "af-south-1")
	if _, err := e.s3(homeRegion).PutBucketAccelerateConfiguration(e.ctx, &s3.PutBucketAccelerateConfigurationInput{Bucket: aws.String(src),
		AccelerateConfiguration: &s3types.AccelerateConfiguration{Status: s3types.BucketAccelerateStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	sum := e.sweep()
	wantCounts(t, sum, 1, 0, 0, 0, 0)
	wantDecision(t, sum, src, "af-south-1", sweep.ActionStarted, "new")
	m := e.mirror(src, "af-south-1")
	if m == nil || m.Status != inventory.StatusFinished {
		t.Fatalf("mirror %+v, want FINISHED: a feature the Region lacks is a note", m)
	}
	_, err := e.s3("af-south-1").GetBucketAccelerateConfiguration(e.ctx, &s3.GetBucketAccelerateConfigurationInput{Bucket: aws.String(m.Dest)})
	if err == nil || !strings.Contains(err.Error(), "MethodNotAllowed") {
		t.Fatalf("accelerate of the destination in af-south-1: %v, want MethodNotAllowed", err)
	}
	runs, err := e.m.Store.Runs(e.ctx, src, "af-south-1")
	if err != nil || len(runs) != 1 || !strings.Contains(runs[0].Results, "accelerate is not available in af-south-1") {
		t.Fatalf("runs %+v (%v), want one whose results say accelerate is not available in af-south-1", runs, err)
	}

	e.rec.reset()
	again := e.sweep()
	wantCounts(t, again, 0, 1, 0, 0, 0)
	wantDecision(t, again, src, "af-south-1", sweep.ActionSkipped, "unchanged")
	if w := e.rec.writes(); len(w) > 0 {
		t.Errorf("second sweep wrote: %v", w)
	}
	if runs, _ := e.m.Store.Runs(e.ctx, src, "af-south-1"); len(runs) != 1 {
		t.Errorf("%d runs after the second sweep, want still 1", len(runs))
	}
}
