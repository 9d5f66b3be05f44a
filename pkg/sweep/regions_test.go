package sweep_test

import (
	"context"
	"strings"
	"testing"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

// refuseTaggingIn makes the Tagging API of one Region answer
// AccessDeniedException, as a Region the account has not enabled or an SCP
// denies would: the local cloud answers in every Region, so this one error
// is injected (a stub of the refusal only; every other call goes over the
// wire).
func refuseTaggingIn(region string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("refuseTagging",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if awsmiddleware.GetServiceID(ctx) == "Resource Groups Tagging API" && awsmiddleware.GetRegion(ctx) == region {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not enabled in " + region}
				}
				return next.HandleFinalize(ctx, in)
			}), middleware.Before)
	}
}

// With no source Regions configured, the sweep finds sources in every
// Region that holds a bucket (ListBuckets' BucketRegion) and asks each
// Region's Tagging API only about its own buckets; a Region that refuses is
// reported and the others are swept.
func TestSweepDiscoversSourceRegions(t *testing.T) {
	e := newEnv(t, withRegions(nil, nil), withAPIOption(refuseTaggingIn("ap-northeast-1")))
	sources := map[string]string{} // name -> Region
	for _, c := range []struct{ region, to string }{{"us-east-1", "us-west-2"}, {"us-west-2", "eu-west-1"}, {"eu-west-1", "us-east-1"}} {
		name := e.bucket("disc-" + c.region)
		e.createBucket(name, c.region, map[string]string{e.tag("destination-regions"): c.to})
		sources[name] = c.region
	}
	refused := e.bucket("disc-refused")
	e.createBucket(refused, "ap-northeast-1", map[string]string{e.tag("destination-regions"): "us-east-1"})

	sum, err := e.s.Sweep(e.ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "ap-northeast-1") || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Errorf("sweep error = %v, want the refusing Region and its code named", err)
	}
	if sum.Started != 3 || sum.Failed != 0 {
		t.Fatalf("summary %+v, want the three reachable sources started", sum)
	}
	for _, d := range sum.Decisions {
		if d.Source == refused {
			t.Errorf("a source in the refusing Region was swept: %+v", d)
			continue
		}
		if want := sources[d.Source]; d.Action != sweep.ActionStarted || d.SourceRegion != want {
			t.Errorf("decision %+v, want started from %s", d, want)
		}
	}
	if n := e.rec.count("S3.ListBuckets"); n != 1 {
		t.Errorf("%d ListBuckets calls, want 1 (one page holds 10,000 buckets)", n)
	}
	// The Tagging API is asked in the Regions holding buckets, not in
	// every Region there is.
	if n := e.rec.count("Resource Groups Tagging API.GetResources"); n == 0 || n > 6 {
		t.Errorf("%d GetResources calls, want one per Region holding a bucket", n)
	}

	// Narrowed: only us-west-2 is searched; destinations stay open.
	e2 := newEnv(t, withRegions([]string{"us-west-2"}, []string{"us-east-1", "us-west-2", "eu-west-1"}))
	west := e2.bucket("narrow-west")
	e2.createBucket(west, "us-west-2", map[string]string{e2.tag("destination-regions"): "eu-west-1"})
	east := e2.bucket("narrow-east")
	e2.createBucket(east, "us-east-1", map[string]string{e2.tag("destination-regions"): "eu-west-1"})
	sum, err = e2.s.Sweep(e2.ctx, nil)
	if err != nil || sum.Started != 1 || len(sum.Decisions) != 1 || sum.Decisions[0].Source != west {
		t.Errorf("narrowed sweep: %+v (%v), want only %s started", sum, err, west)
	}
	if n := e2.rec.count("S3.ListBuckets"); n != 0 {
		t.Errorf("narrowed sweep listed the account's buckets %d times", n)
	}
}
