package bucketconfig

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func (f *fixture) putAccelerate(b Bucket, status types.BucketAccelerateStatus) {
	f.t.Helper()
	_, err := f.clients.S3(b.Region).PutBucketAccelerateConfiguration(f.ctx, &s3.PutBucketAccelerateConfigurationInput{Bucket: &b.Name,
		AccelerateConfiguration: &types.AccelerateConfiguration{Status: status}})
	f.must(err)
}

func TestAccelerate(t *testing.T) {
	f := newFixture(t)
	destStatus := func() types.BucketAccelerateStatus {
		out, err := f.dst().GetBucketAccelerateConfiguration(f.ctx, &s3.GetBucketAccelerateConfigurationInput{Bucket: &f.m.Dest.Name})
		f.must(err)
		return out.Status
	}
	if got := destStatus(); got != "" {
		t.Fatalf("a new bucket's acceleration = %q, want never set", got)
	}
	f.roundTrip("accelerate",
		func() { f.putAccelerate(f.m.Source, types.BucketAccelerateStatusEnabled) },
		func() { f.putAccelerate(f.m.Source, types.BucketAccelerateStatusSuspended) },
		func() {
			if got := destStatus(); got != types.BucketAccelerateStatusEnabled {
				t.Errorf("destination acceleration = %q, want Enabled", got)
			}
		})
	if got := destStatus(); got != types.BucketAccelerateStatusSuspended {
		t.Errorf("destination acceleration after removal = %q, want Suspended", got)
	}
}

// S3 cannot accelerate a bucket whose name has dots: the plan says so
// instead of failing at the write.
func TestAccelerateDottedDestination(t *testing.T) {
	f := newFixture(t)
	f.putAccelerate(f.m.Source, types.BucketAccelerateStatusEnabled)
	f.m.Dest.Name = strings.Replace(f.m.Dest.Name, "-dst", ".dst", 1)
	f.createBucket(f.m.Dest, false)
	s := f.planAction("accelerate")
	if s.Action != ActionError || s.Err == nil || !strings.Contains(s.Err.Error(), "dots") || !strings.Contains(s.Err.Error(), f.m.Dest.Name) {
		t.Errorf("plan for accelerate into %s is %s (%v), want an error about the dots", f.m.Dest.Name, s.Action, s.Err)
	}
}
