package bucketconfig

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
)

// slowDown makes f's engine wait d before sending op for bucket (latency,
// not a different answer: the request still goes to the local cloud), and
// record causes; take returns the calls made since.
func (f *fixture) slowDown(op, bucket string, d time.Duration) (take func() *causes) {
	return f.recordCauses(func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("slowDown",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if awsmiddleware.GetOperationName(ctx) == op && bucketOf(in.Parameters) == bucket {
					time.Sleep(d)
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
}

func bucketOf(params any) string {
	switch in := params.(type) {
	case *s3.GetBucketReplicationInput:
		return aws.ToString(in.Bucket)
	case *s3.GetBucketTaggingInput:
		return aws.ToString(in.Bucket)
	}
	return ""
}

// TestWritesDoNotWaitForTheSlowestRead: a kind is written as soon as its
// own reads are in, not once the whole round is: with the destination's
// replication read held back, the CORS write goes out before that read has
// been answered, and waited for the CORS reads only.
func TestWritesDoNotWaitForTheSlowestRead(t *testing.T) {
	f := newFixture(t)
	src, dst := f.m.Source.Name, f.m.Dest.Name
	take := f.slowDown("GetBucketReplication", dst, 700*time.Millisecond)
	_, err := f.src().PutBucketCors(f.ctx, &s3.PutBucketCorsInput{Bucket: &src, CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"*"}}}}})
	f.must(err)
	take()

	f.configure("cors")
	c := take()
	put, slow := c.find("PutBucketCors"), c.find("GetBucketReplication")
	for _, call := range c.calls {
		if call.Op == "S3.GetBucketReplication" && call.End.After(slow.End) {
			slow = call // the destination's, held back
		}
	}
	if !put.Start.Before(slow.End) {
		t.Errorf("PutBucketCors started at +%v, after the held-back GetBucketReplication ended (+%v): the write waited for the whole round",
			put.Start.Sub(slow.Start), slow.End.Sub(slow.Start))
	}
	if cause := c.byID[put.Cause].Op; cause != "S3.GetBucketCors" && cause != "S3.GetBucketTagging" {
		t.Errorf("PutBucketCors waited for %s, want its own reads (or the destination's tags): %s", cause, c.chain("PutBucketCors"))
	}
	if s := f.planAction("cors"); s.Action != ActionNone {
		t.Errorf("cors not in line after configure: %s", s.Action)
	}
}

// TestGateHoldsEveryWrite: no write goes out before the gate has passed,
// the gate sees the destination's tags however late they are answered, and
// a gate that refuses leaves the destination unwritten and returns its own
// error.
func TestGateHoldsEveryWrite(t *testing.T) {
	f := newFixture(t)
	src, dst := f.m.Source.Name, f.m.Dest.Name
	take := f.slowDown("GetBucketTagging", dst, 500*time.Millisecond)
	_, err := f.src().PutBucketCors(f.ctx, &s3.PutBucketCorsInput{Bucket: &src, CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"*"}}}}})
	f.must(err)
	_, err = f.src().PutBucketVersioning(f.ctx, &s3.PutBucketVersioningInput{Bucket: &src, VersioningConfiguration: &types.VersioningConfiguration{
		Status: types.BucketVersioningStatusEnabled}})
	f.must(err)
	_, err = f.dst().PutBucketTagging(f.ctx, &s3.PutBucketTaggingInput{Bucket: &dst, Tagging: &types.Tagging{TagSet: []types.Tag{
		{Key: aws.String("owner"), Value: aws.String("someone-else")}}}})
	f.must(err)
	take()

	refusal := errors.New("the destination is not ours")
	var checks atomic.Int32
	var sawTags []types.Tag
	gate := NewGate(func(ctx context.Context, p *Plan) error {
		checks.Add(1)
		tags, ok := p.Dest.Tags()
		if !ok {
			return errors.New("the gate ran without the destination's tags")
		}
		sawTags = tags
		return refusal
	})
	_, _, err = f.engine.ConfigureGated(f.ctx, f.m, nil, gate)
	c := take()
	if !errors.Is(err, refusal) {
		t.Fatalf("ConfigureGated with a refusing gate: %v, want the gate's error", err)
	}
	if n := checks.Load(); n != 1 {
		t.Errorf("the gate's check ran %d times, want once", n)
	}
	if len(sawTags) != 1 || aws.ToString(sawTags[0].Key) != "owner" {
		t.Errorf("the gate saw the destination's tags %v, want owner=someone-else", sawTags)
	}
	for _, call := range c.calls {
		if op := strings.TrimPrefix(call.Op, "S3."); strings.HasPrefix(op, "Put") || strings.HasPrefix(op, "Delete") {
			t.Errorf("%s was sent though the gate refused", call.Op)
		}
	}
	if _, err := f.dst().GetBucketCors(f.ctx, &s3.GetBucketCorsInput{Bucket: &dst}); err == nil {
		t.Error("the destination has CORS though the gate refused")
	}

	// A gate that passes: the writes go out, none before the held-back
	// tags read was answered.
	pass := NewGate(func(ctx context.Context, p *Plan) error { _, _ = p.Dest.Tags(); return nil })
	_, results, err := f.engine.ConfigureGated(f.ctx, f.m, nil, pass)
	c = take()
	if err != nil || !Succeeded(results) {
		t.Fatalf("ConfigureGated with a passing gate: %v, %+v", err, results)
	}
	var tagsRead awsclient.Call
	for _, call := range c.calls {
		if call.Op == "S3.GetBucketTagging" && call.End.After(tagsRead.End) {
			tagsRead = call
		}
	}
	writes := 0
	for _, call := range c.calls {
		if op := strings.TrimPrefix(call.Op, "S3."); strings.HasPrefix(op, "Put") || strings.HasPrefix(op, "Delete") {
			writes++
			if call.Start.Before(tagsRead.End) {
				t.Errorf("%s started before the destination's tags were read, which the gate checks", call.Op)
			}
		}
	}
	if writes < 2 {
		t.Errorf("%d writes after the gate passed, want CORS and versioning at least", writes)
	}
}
