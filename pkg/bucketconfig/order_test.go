package bucketconfig

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

// causes is one run's calls with the call each waited for, as the engine
// recorded them (awsclient.Recorder): the ordering tests check which write
// waited for which, not only which came first.
type causes struct {
	t     *testing.T
	calls []awsclient.Call
	byID  map[int64]awsclient.Call
}

// recordCauses makes f's engine record causes (with the extra API options
// after the recorder's); take returns the calls made since.
func (f *fixture) recordCauses(extra ...func(*middleware.Stack) error) (take func() *causes) {
	rec := &awsclient.Recorder{}
	cfg := cloud.AWSConfig()
	cfg.APIOptions = append(cfg.APIOptions, rec.APIOption)
	cfg.APIOptions = append(cfg.APIOptions, extra...)
	f.clients = awsclient.New(cfg)
	f.engine = New(f.clients, Options{AccountID: localcloud.AccountID})
	f.ctx = awsclient.WithCauses(f.ctx)
	return func() *causes {
		c := &causes{t: f.t, calls: rec.Take(), byID: map[int64]awsclient.Call{}}
		for _, call := range c.calls {
			c.byID[call.ID] = call
		}
		return c
	}
}

func (c *causes) find(op string) awsclient.Call {
	c.t.Helper()
	i := slices.IndexFunc(c.calls, func(call awsclient.Call) bool { return call.Op == "S3."+op })
	if i < 0 {
		c.t.Fatalf("no call to %s was made", op)
	}
	return c.calls[i]
}

// waited says whether the call to op waited, directly or through the calls
// it waited for, for a call to one of before.
func (c *causes) waited(op string, before ...string) bool {
	c.t.Helper()
	for id := c.find(op).Cause; id != 0; id = c.byID[id].Cause {
		if slices.Contains(before, strings.TrimPrefix(c.byID[id].Op, "S3.")) {
			return true
		}
	}
	return false
}

// chain is op's chain of causes, for failure messages.
func (c *causes) chain(op string) string {
	var ops []string
	for id := c.find(op).Cause; id != 0; id = c.byID[id].Cause {
		ops = append(ops, strings.TrimPrefix(c.byID[id].Op, "S3."))
	}
	return op + " <- " + strings.Join(ops, " <- ")
}

var bpaWrites = []string{"PutPublicAccessBlock", "DeletePublicAccessBlock"}

// TestOrderPublicWritesWaitForBPA: a public ACL and a public policy are
// written only after Block Public Access was relaxed and (for the ACL)
// ownership left BucketOwnerEnforced; ABAC after the tags.
func TestOrderPublicWritesWaitForBPA(t *testing.T) {
	f := newFixture(t)
	take := f.recordCauses()
	src, dst := f.m.Source.Name, f.m.Dest.Name
	ctx := f.ctx
	_, err := f.dst().PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: &dst, OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}})
	f.must(err)
	f.must(allBPA(f, f.dst(), dst))
	_, err = f.src().PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: &src, OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipObjectWriter}}}})
	f.must(err)
	_, err = f.src().PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &src, ACL: types.BucketCannedACLPublicRead})
	f.must(err)
	_, err = f.src().PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &src, Policy: aws.String(publicPolicy(src))})
	f.must(err)
	_, err = f.src().PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: &src, Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("team"), Value: aws.String("web")}}}})
	f.must(err)
	_, err = f.src().PutBucketAbac(ctx, &s3.PutBucketAbacInput{Bucket: &src, AbacStatus: &types.AbacStatus{Status: types.BucketAbacStatusEnabled}})
	f.must(err)
	take()

	f.configure("acl")
	c := take()
	// A call's cause is the last of the calls it waited for: the ACL waited
	// for both, and whichever finished first shows in the times only.
	if !c.waited("PutBucketAcl", append(bpaWrites, "PutBucketOwnershipControls")...) ||
		c.find("PutBucketAcl").Start.Before(c.find("PutBucketOwnershipControls").End) {
		t.Errorf("the public ACL did not wait for BPA and ownership: %s", c.chain("PutBucketAcl"))
	}
	if !c.waited("PutBucketPolicy", bpaWrites...) {
		t.Errorf("the public policy did not wait for BPA: %s", c.chain("PutBucketPolicy"))
	}
	if !c.waited("PutBucketAbac", "PutBucketTagging") {
		t.Errorf("ABAC did not wait for the tags: %s", c.chain("PutBucketAbac"))
	}
	for _, op := range []string{"PutBucketAcl", "PutBucketPolicy"} {
		if c.find(op).Start.Before(c.find("DeletePublicAccessBlock").End) {
			t.Errorf("%s started before BPA was relaxed", op)
		}
	}
	if s := f.planAction("policy"); s.Action != ActionNone {
		t.Errorf("policy not in line after configure: %s", s.Action)
	}
}

// TestOrderNonPublicWritesDoNotWait: a policy and an ACL that are not
// public, onto a destination whose ownership already allows ACLs, go out in
// the first write round with everything else: one round of writes.
func TestOrderNonPublicWritesDoNotWait(t *testing.T) {
	f := newFixture(t)
	take := f.recordCauses()
	src, dst := f.m.Source.Name, f.m.Dest.Name
	ctx := f.ctx
	for _, b := range []string{src, dst} {
		_, err := f.clients.S3(map[string]string{src: f.m.Source.Region, dst: f.m.Dest.Region}[b]).PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: &b,
			OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerPreferred}}}})
		f.must(err)
	}
	f.must(allBPA(f, f.dst(), dst))
	_, err := f.src().PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &src, PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
		BlockPublicAcls: aws.Bool(false), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}})
	f.must(err)
	_, err = f.src().PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &src, ACL: "log-delivery-write"})
	f.must(err)
	_, err = f.src().PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &src, Policy: aws.String(fmt.Sprintf(
		`{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecure","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::%[1]s","arn:aws:s3:::%[1]s/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, src))})
	f.must(err)
	p, err := f.engine.Plan(ctx, f.m)
	f.must(err)
	if n := p.WriteRounds(); n != 1 {
		t.Errorf("WriteRounds() = %d, want 1 (nothing public, ownership already allows ACLs)", n)
	}
	take()

	f.configure("acl")
	c := take()
	for _, op := range []string{"PutBucketAcl", "PutBucketPolicy"} {
		if cause := c.byID[c.find(op).Cause].Op; !strings.HasPrefix(cause, "S3.Get") && !strings.HasPrefix(cause, "S3.List") {
			t.Errorf("%s waited for a write, not only for the reads: %s", op, c.chain(op))
		}
	}
	for _, kind := range []string{"acl", "policy", "public-access-block"} {
		if s := f.planAction(kind); s.Action != ActionNone {
			t.Errorf("%s not in line after configure: %s", kind, s.Action)
		}
	}
}

// TestOrderNeverMorePublic: a destination more public than its source,
// hidden by its Block Public Access, gets its policy and ACL replaced before
// BPA is relaxed to the source's; otherwise they would take effect for a
// moment.
func TestOrderNeverMorePublic(t *testing.T) {
	f := newFixture(t)
	take := f.recordCauses()
	src, dst := f.m.Source.Name, f.m.Dest.Name
	ctx := f.ctx
	for _, b := range []Bucket{f.m.Source, f.m.Dest} {
		_, err := f.clients.S3(b.Region).PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: &b.Name,
			OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipObjectWriter}}}})
		f.must(err)
		_, err = f.clients.S3(b.Region).DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: &b.Name})
		f.must(err)
	}
	_, err := f.dst().PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &dst, Policy: aws.String(publicPolicy(dst))})
	f.must(err)
	_, err = f.dst().PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &dst, ACL: types.BucketCannedACLPublicRead})
	f.must(err)
	f.must(allBPA(f, f.dst(), dst))
	_, err = f.src().PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &src, Policy: aws.String(fmt.Sprintf(
		`{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecure","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::%s/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, src))})
	f.must(err)
	take()

	f.configure("policy")
	c := take()
	bpa := c.find("DeletePublicAccessBlock")
	if !c.waited("DeletePublicAccessBlock", "PutBucketPolicy", "PutBucketAcl") {
		t.Errorf("relaxing BPA did not wait for the policy and ACL: %s", c.chain("DeletePublicAccessBlock"))
	}
	for _, op := range []string{"PutBucketPolicy", "PutBucketAcl"} {
		if c.find(op).End.After(bpa.Start) {
			t.Errorf("BPA was relaxed before %s replaced the destination's public one", op)
		}
	}
	for _, kind := range []string{"acl", "policy", "public-access-block"} {
		if s := f.planAction(kind); s.Action != ActionNone {
			t.Errorf("%s not in line after configure: %s", kind, s.Action)
		}
	}
}

func allBPA(f *fixture, c *s3.Client, bucket string) error {
	_, err := c.PutPublicAccessBlock(f.ctx, &s3.PutPublicAccessBlockInput{Bucket: &bucket, PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
		BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}})
	return err
}

func publicPolicy(bucket string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"Public","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/*"}]}`, bucket)
}

func TestIsPublicPolicy(t *testing.T) {
	for _, c := range []struct {
		policy string
		public bool
	}{
		{publicPolicy("b"), true},
		{`{"Statement":{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","*"]},"Action":"s3:GetObject","Resource":"*"}}`, true},
		{`{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"*"}]}`, true},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}}]}`, false},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"StringLike":{"aws:SourceVpce":"vpce-*"}}}]}`, true},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}]}`, true},
		{`{"Statement":[{"Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"*"}]}`, false},
		{`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}]}`, false},
	} {
		raw := json.RawMessage(c.policy)
		if got := isPublicPolicy(&raw); got != c.public {
			t.Errorf("isPublicPolicy(%s) = %v, want %v", c.policy, got, c.public)
		}
	}
}

// TestTargetedTagsOnABACDestination: a plan of the tags kind alone has not
// read the destination's ABAC status; the tags write must not take that
// for "off" (PutBucketTagging is refused on an ABAC bucket).
func TestTargetedTagsOnABACDestination(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	src := f.m.Source.Name
	put := func(value string) {
		_, err := f.src().PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: &src, Tagging: &types.Tagging{TagSet: []types.Tag{
			{Key: aws.String("team"), Value: aws.String(value)}}}})
		f.must(err)
	}
	put("one")
	_, err := f.src().PutBucketAbac(ctx, &s3.PutBucketAbacInput{Bucket: &src, AbacStatus: &types.AbacStatus{Status: types.BucketAbacStatusEnabled}})
	f.must(err)
	f.configure("abac")
	// Source tags change (through S3 Control on an ABAC source in real S3;
	// the emulator's tag store is the same).
	_, err = f.src().PutBucketAbac(ctx, &s3.PutBucketAbacInput{Bucket: &src, AbacStatus: &types.AbacStatus{Status: types.BucketAbacStatusDisabled}})
	f.must(err)
	put("two")
	_, err = f.src().PutBucketAbac(ctx, &s3.PutBucketAbacInput{Bucket: &src, AbacStatus: &types.AbacStatus{Status: types.BucketAbacStatusEnabled}})
	f.must(err)
	_, results, err := f.engine.ConfigureKinds(ctx, f.m, []string{"tags"})
	f.must(err)
	if len(results) != 1 || results[0].Status != StatusApplied {
		t.Fatalf("targeted tags run: %+v, want tags applied", results)
	}
	if s := f.planAction("tags"); s.Action != ActionNone {
		t.Errorf("tags not in line after the targeted run: %s", s.Action)
	}
}
