package bucketconfig

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func (f *fixture) putVersioning(b Bucket, c types.VersioningConfiguration, mfa string) {
	f.t.Helper()
	in := &s3.PutBucketVersioningInput{Bucket: &b.Name, VersioningConfiguration: &c}
	if mfa != "" {
		in.MFA = aws.String(mfa)
	}
	_, err := f.clients.S3(b.Region).PutBucketVersioning(f.ctx, in)
	f.must(err)
}

func (f *fixture) readVersioning(b Bucket) *s3.GetBucketVersioningOutput {
	f.t.Helper()
	out, err := f.clients.S3(b.Region).GetBucketVersioning(f.ctx, &s3.GetBucketVersioningInput{Bucket: &b.Name})
	f.must(err)
	return out
}

func TestVersioning(t *testing.T) {
	f := newFixture(t)
	f.roundTrip("versioning",
		func() {
			f.putVersioning(f.m.Source, types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}, "")
		},
		func() {
			f.putVersioning(f.m.Source, types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}, "")
		},
		func() {
			if got := f.readVersioning(f.m.Dest).Status; got != types.BucketVersioningStatusEnabled {
				t.Errorf("destination versioning = %q, want Enabled", got)
			}
		})
	// Removed means suspended: a bucket can never be unversioned again.
	if got := f.readVersioning(f.m.Dest).Status; got != types.BucketVersioningStatusSuspended {
		t.Errorf("destination versioning after removal = %q, want Suspended", got)
	}
}

func TestVersioningNeverEnabledIsAbsent(t *testing.T) {
	f := newFixture(t)
	if s := f.planAction("versioning"); s.Action != ActionNone || s.Current != nil || s.Desired != nil {
		t.Fatalf("plan for two never-versioned buckets: %s (current %s, desired %s), want none", s.Action, s.Current, s.Desired)
	}
	// A suspended source reads like a never-versioned one: nothing to copy.
	f.putVersioning(f.m.Source, types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}, "")
	if s := f.planAction("versioning"); s.Action != ActionNone || s.Desired != nil {
		t.Fatalf("plan for a suspended source: %s (desired %s), want none", s.Action, s.Desired)
	}
}

func TestVersioningMFADelete(t *testing.T) {
	f := newFixture(t)
	f.putVersioning(f.m.Source, types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled,
		MFADelete: types.MFADeleteEnabled}, "arn:aws:iam::123456789012:mfa/root-account-mfa-device 123456")
	if got := f.readVersioning(f.m.Source).MFADelete; got != types.MFADeleteStatusEnabled {
		t.Fatalf("the local cloud does not keep MFA delete: source reads %q", got)
	}

	r := f.configure("versioning")
	if r.Status != StatusManual || r.Action != ActionCreate {
		t.Fatalf("versioning result = %s/%s (%s), want create/manual", r.Action, r.Status, r.Error)
	}
	want := `aws s3api put-bucket-versioning --region ` + dstRegion + ` --bucket ` + f.m.Dest.Name +
		` --versioning-configuration Status=Enabled,MFADelete=Enabled --mfa "SERIAL CODE"`
	var manual []Note
	for _, n := range r.Notes {
		if n.Severity == SeverityManual {
			manual = append(manual, n)
		}
	}
	if len(manual) != 1 || manual[0].Command != want || manual[0].Kind != "versioning" ||
		!strings.Contains(manual[0].Message, "root user") || !strings.Contains(manual[0].Message, "MFA device") {
		t.Fatalf("manual notes = %+v, want one for versioning with command %s", manual, want)
	}
	got := f.readVersioning(f.m.Dest)
	if got.Status != types.BucketVersioningStatusEnabled || got.MFADelete == types.MFADeleteStatusEnabled {
		t.Errorf("destination versioning = %q, MFA delete %q; want Enabled without MFA delete", got.Status, got.MFADelete)
	}
	if s := f.planAction("versioning"); s.Action != ActionNone || len(s.Notes) != 1 {
		t.Fatalf("after configure: plan %s with %d notes, want none with the manual note", s.Action, len(s.Notes))
	}

	// Once the root user has run the command, the destination matches and is
	// never rewritten (a write without the MFA header would be refused).
	f.putVersioning(f.m.Dest, types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled,
		MFADelete: types.MFADeleteEnabled}, "arn:aws:iam::123456789012:mfa/root-account-mfa-device 654321")
	if r := f.configure("versioning"); r.Status != StatusManual || r.Action != ActionNone {
		t.Fatalf("after MFA delete on the destination: %s/%s, want none/manual", r.Action, r.Status)
	}
}
