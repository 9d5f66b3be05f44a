package bucketconfig

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// lockBuckets replaces the fixture's buckets by ones created with Object
// Lock: the source, and the destination too unless destWithout.
func (f *fixture) lockBuckets(destWithout bool) {
	f.t.Helper()
	f.m.Source.Name = uniqueBucket(f.t, "lsrc")
	f.m.Dest.Name = uniqueBucket(f.t, "ldst")
	f.createBucket(f.m.Source, true)
	f.createBucket(f.m.Dest, !destWithout)
}

func (f *fixture) putObjectLockRule(b Bucket, rule *types.ObjectLockRule) {
	f.t.Helper()
	_, err := f.clients.S3(b.Region).PutObjectLockConfiguration(f.ctx, &s3.PutObjectLockConfigurationInput{Bucket: &b.Name,
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled, Rule: rule}})
	f.must(err)
}

func (f *fixture) readObjectLock(b Bucket) *types.ObjectLockConfiguration {
	f.t.Helper()
	out, err := f.clients.S3(b.Region).GetObjectLockConfiguration(f.ctx, &s3.GetObjectLockConfigurationInput{Bucket: &b.Name})
	f.must(err)
	return out.ObjectLockConfiguration
}

func retentionRule(mode types.ObjectLockRetentionMode, days, years int32) *types.ObjectLockRule {
	r := &types.DefaultRetention{Mode: mode}
	if days > 0 {
		r.Days = aws.Int32(days)
	}
	if years > 0 {
		r.Years = aws.Int32(years)
	}
	return &types.ObjectLockRule{DefaultRetention: r}
}

func TestObjectLock(t *testing.T) {
	f := newFixture(t)
	f.lockBuckets(false)
	// Both have Object Lock without a default rule: nothing to copy.
	if s := f.planAction("object-lock"); s.Action != ActionNone || s.Current != nil || s.Desired != nil {
		t.Fatalf("plan for Object Lock without rules: %s (current %s, desired %s), want none", s.Action, s.Current, s.Desired)
	}
	f.roundTrip("object-lock",
		func() { f.putObjectLockRule(f.m.Source, retentionRule(types.ObjectLockRetentionModeGovernance, 5, 0)) },
		func() { f.putObjectLockRule(f.m.Source, nil) },
		func() {
			cfg := f.readObjectLock(f.m.Dest)
			if cfg.ObjectLockEnabled != types.ObjectLockEnabledEnabled || cfg.Rule == nil || cfg.Rule.DefaultRetention == nil {
				t.Fatalf("destination Object Lock = %+v, want enabled with a rule", cfg)
			}
			if r := cfg.Rule.DefaultRetention; r.Mode != types.ObjectLockRetentionModeGovernance || aws.ToInt32(r.Days) != 5 || aws.ToInt32(r.Years) != 0 {
				t.Errorf("destination retention = %s %d days %d years, want GOVERNANCE 5 days", r.Mode, aws.ToInt32(r.Days), aws.ToInt32(r.Years))
			}
		})
	// Removal leaves Object Lock on (it cannot be turned off) without a rule.
	if cfg := f.readObjectLock(f.m.Dest); cfg.ObjectLockEnabled != types.ObjectLockEnabledEnabled ||
		(cfg.Rule != nil && cfg.Rule.DefaultRetention != nil) {
		t.Errorf("destination after removal = %+v, want enabled without a rule", cfg)
	}

	// A rule in years, another mode: updated in place.
	f.putObjectLockRule(f.m.Dest, retentionRule(types.ObjectLockRetentionModeGovernance, 5, 0))
	f.putObjectLockRule(f.m.Source, retentionRule(types.ObjectLockRetentionModeCompliance, 0, 2))
	if r := f.configure("object-lock"); r.Status != StatusApplied || r.Action != ActionUpdate {
		t.Fatalf("changed rule: %s/%s (%s), want update/applied", r.Action, r.Status, r.Error)
	}
	if r := f.readObjectLock(f.m.Dest).Rule.DefaultRetention; r.Mode != types.ObjectLockRetentionModeCompliance ||
		aws.ToInt32(r.Years) != 2 || aws.ToInt32(r.Days) != 0 {
		t.Errorf("destination retention = %s %d days %d years, want COMPLIANCE 2 years", r.Mode, aws.ToInt32(r.Days), aws.ToInt32(r.Years))
	}
	if s := f.planAction("object-lock"); s.Action != ActionNone {
		t.Errorf("after update, plan is %s (current %s, desired %s), want none", s.Action, s.Current, s.Desired)
	}
}

func TestObjectLockDestinationWithoutObjectLock(t *testing.T) {
	f := newFixture(t)
	f.lockBuckets(true)
	ctx := f.ctx
	if on, err := f.engine.ObjectLockEnabled(ctx, f.m.Source); err != nil || !on {
		t.Fatalf("ObjectLockEnabled(source) = %v, %v; want true", on, err)
	}
	if on, err := f.engine.ObjectLockEnabled(ctx, f.m.Dest); err != nil || on {
		t.Fatalf("ObjectLockEnabled(destination) = %v, %v; want false", on, err)
	}
	f.putObjectLockRule(f.m.Source, retentionRule(types.ObjectLockRetentionModeGovernance, 1, 0))

	_, results, err := f.engine.Configure(ctx, f.m)
	f.must(err)
	for _, r := range results {
		switch r.Kind {
		case "object-lock":
			if r.Status != StatusFailed || !strings.Contains(r.Error, "created without Object Lock") ||
				!strings.Contains(r.Error, "recreate") || !strings.Contains(r.Error, f.m.Dest.Name) {
				t.Errorf("object-lock result = %s: %s; want failed, naming the destination, saying it must be recreated", r.Status, r.Error)
			}
		case "versioning":
			if r.Status != StatusApplied {
				t.Errorf("versioning (the source has it on for Object Lock) = %s %s, want applied", r.Status, r.Error)
			}
		default:
			if r.Status == StatusFailed || r.Status == StatusSkipped {
				t.Errorf("kind %s: %s %s", r.Kind, r.Status, r.Error)
			}
		}
	}
	// Object Lock was not turned on in place.
	_, err = f.dst().GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: &f.m.Dest.Name})
	if ErrorCode(err) != codeNoSuchObjectLock {
		t.Errorf("destination Object Lock read: %v, want %s", err, codeNoSuchObjectLock)
	}
}
