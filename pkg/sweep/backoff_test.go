package sweep_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

// TestFailedMirrorBacksOff: a mirror that keeps failing for the same source
// (SSE-KMS with a key that has no counterpart in the destination Region) is
// retried by the next sweep once, then only after 1 h, 2 h, ...; a change to
// the source retries it at once, and success resets the count.
func TestFailedMirrorBacksOff(t *testing.T) {
	e := newEnv(t)
	src := e.source("backoff", "us-west-2")
	key, err := e.m.Clients.KMS(homeRegion).CreateKey(e.ctx, &kms.CreateKeyInput{Description: aws.String(t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.s3(homeRegion).PutBucketEncryption(e.ctx, &s3.PutBucketEncryptionInput{Bucket: &src,
		ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{
				SSEAlgorithm: s3types.ServerSideEncryptionAwsKms, KMSMasterKeyID: key.KeyMetadata.Arn}}}}})
	if err != nil {
		t.Fatal(err)
	}
	wantAttempts := func(n int) *inventory.Mirror {
		t.Helper()
		rec := e.mirror(src, "us-west-2")
		if rec == nil || rec.Status != inventory.StatusFailed || rec.Attempts != n {
			t.Fatalf("mirror record %+v, want FAILED after %d attempts", rec, n)
		}
		return rec
	}

	wantDecision(t, e.sweep(), src, "us-west-2", sweep.ActionFailed, "new")
	wantAttempts(1)
	// One immediate retry: most failures are transient.
	wantDecision(t, e.sweep(), src, "us-west-2", sweep.ActionFailed, "retry")
	rec := wantAttempts(2)

	e.rec.reset()
	d := wantDecision(t, e.sweep(), src, "us-west-2", sweep.ActionSkipped, "failed-backoff")
	if !strings.Contains(d.Error, "2 attempts failed") || !strings.Contains(d.Error, rec.LastError) {
		t.Errorf("backoff decision error %q does not say how many attempts failed and why", d.Error)
	}
	if w := e.rec.writes(); len(w) > 0 {
		t.Errorf("a sweep in backoff wrote: %v", w)
	}

	// An hour later (the wait after two failures) it is retried, and the
	// wait doubles.
	e.s.Now = func() time.Time { return time.Now().Add(61 * time.Minute) }
	wantDecision(t, e.sweep(), src, "us-west-2", sweep.ActionFailed, "retry")
	wantAttempts(3)
	wantDecision(t, e.sweep(), src, "us-west-2", sweep.ActionSkipped, "failed-backoff")
	e.s.Now = func() time.Time { return time.Now().Add(121 * time.Minute) }
	wantDecision(t, e.sweep(), src, "us-west-2", sweep.ActionFailed, "retry")
	wantAttempts(4)

	// An operator asks for the bucket by name (a direct invoke): no wait.
	sum, err := sweep.NewHandler(e.s, quiet()).Handle(e.ctx, json.RawMessage(`{"buckets":["`+src+`"]}`))
	if err != nil {
		t.Fatal(err)
	}
	wantDecision(t, sum, src, "us-west-2", sweep.ActionFailed, "retry")
	wantAttempts(5)
	sum, err = e.s.SweepRetryingFailed(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantDecision(t, sum, src, "us-west-2", sweep.ActionFailed, "retry")
	wantAttempts(6)

	// The owner fixes the source: the next sweep retries at once.
	e.s.Now = nil
	if _, err := e.s3(homeRegion).DeleteBucketEncryption(e.ctx, &s3.DeleteBucketEncryptionInput{Bucket: &src}); err != nil {
		t.Fatal(err)
	}
	wantDecision(t, e.sweep(), src, "us-west-2", sweep.ActionStarted, "retry")
	if rec := e.mirror(src, "us-west-2"); rec == nil || rec.Status != inventory.StatusFinished || rec.Attempts != 0 {
		t.Fatalf("mirror record after the fix %+v, want FINISHED with the attempts reset", rec)
	}
	wantDecision(t, e.sweep(), src, "us-west-2", sweep.ActionSkipped, "unchanged")
}
