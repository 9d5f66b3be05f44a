package bucketconfig

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestPublicAccessBlock(t *testing.T) {
	f := newFixture(t)
	f.roundTrip("public-access-block",
		func() {
			_, err := f.src().PutPublicAccessBlock(f.ctx, &s3.PutPublicAccessBlockInput{Bucket: &f.m.Source.Name,
				PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true),
					IgnorePublicAcls: aws.Bool(false), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(false)}})
			f.must(err)
		},
		func() {
			_, err := f.src().DeletePublicAccessBlock(f.ctx, &s3.DeletePublicAccessBlockInput{Bucket: &f.m.Source.Name})
			f.must(err)
		},
		func() {
			out, err := f.dst().GetPublicAccessBlock(f.ctx, &s3.GetPublicAccessBlockInput{Bucket: &f.m.Dest.Name})
			f.must(err)
			c := out.PublicAccessBlockConfiguration
			if c == nil || !aws.ToBool(c.BlockPublicAcls) || aws.ToBool(c.IgnorePublicAcls) ||
				!aws.ToBool(c.BlockPublicPolicy) || aws.ToBool(c.RestrictPublicBuckets) {
				t.Errorf("destination Block Public Access = %+v, want BlockPublicAcls and BlockPublicPolicy only", c)
			}
		})
	_, err := f.dst().GetPublicAccessBlock(f.ctx, &s3.GetPublicAccessBlockInput{Bucket: &f.m.Dest.Name})
	if code := ErrorCode(err); code != codeNoSuchPublicAccessBlock {
		t.Errorf("destination Block Public Access after removal: err %v (code %q), want %s", err, code, codeNoSuchPublicAccessBlock)
	}
}

// Four explicit false flags are not "absent": the destination gets them
// written, replacing its all-on default, and the plan converges.
func TestPublicAccessBlockAllOffIsCopied(t *testing.T) {
	f := newFixture(t)
	off := &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(false), IgnorePublicAcls: aws.Bool(false),
		BlockPublicPolicy: aws.Bool(false), RestrictPublicBuckets: aws.Bool(false)}
	_, err := f.src().PutPublicAccessBlock(f.ctx, &s3.PutPublicAccessBlockInput{Bucket: &f.m.Source.Name, PublicAccessBlockConfiguration: off})
	f.must(err)
	f.givePost2023Defaults(f.m.Dest)
	if r := f.configure("public-access-block"); r.Status != StatusApplied {
		t.Errorf("public-access-block is %s (%s), want applied", r.Status, r.Error)
	}
	out, err := f.dst().GetPublicAccessBlock(f.ctx, &s3.GetPublicAccessBlockInput{Bucket: &f.m.Dest.Name})
	f.must(err)
	if c := out.PublicAccessBlockConfiguration; c == nil || aws.ToBool(c.BlockPublicAcls) || aws.ToBool(c.IgnorePublicAcls) ||
		aws.ToBool(c.BlockPublicPolicy) || aws.ToBool(c.RestrictPublicBuckets) {
		t.Errorf("destination Block Public Access = %+v, want all four off", c)
	}
	if s := f.planAction("public-access-block"); s.Action != ActionNone || s.Current == nil {
		t.Errorf("after configure, plan is %s with destination %s, want none and configured", s.Action, s.Current)
	}
}
