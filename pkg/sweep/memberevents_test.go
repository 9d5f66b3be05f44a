package sweep_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

// The member-account fixtures' account and bucket names, replaced by each
// test's own.
const (
	fixtureMember     = "111122223333"
	fixtureMemberSrc  = "example-member-bucket"
	fixtureMemberDest = "dest-example-member-bucket-us-west-2"
)

// putCORSIn sets bucket's CORS origin with account's own credentials (a
// person in that account, not bucketmirror).
func (w *memberWorld) putCORSIn(account, bucket, region, origin string) {
	w.e.t.Helper()
	_, err := w.s3In(account, region).PutBucketCors(w.e.ctx, &s3.PutBucketCorsInput{Bucket: aws.String(bucket), CORSConfiguration: &s3types.CORSConfiguration{
		CORSRules: []s3types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{origin}}}}})
	if err != nil {
		w.e.t.Fatalf("putting CORS on %s in account %s: %v", bucket, account, err)
	}
}

// corsIn is bucket's CORS origins read in account ("" for none).
func (w *memberWorld) corsIn(account, bucket, region string) string {
	w.e.t.Helper()
	out, err := w.s3In(account, region).GetBucketCors(w.e.ctx, &s3.GetBucketCorsInput{Bucket: aws.String(bucket)})
	if err != nil {
		if strings.Contains(err.Error(), "NoSuchCORSConfiguration") {
			return ""
		}
		w.e.t.Fatal(err)
	}
	var origins []string
	for _, r := range out.CORSRules {
		origins = append(origins, r.AllowedOrigins...)
	}
	return strings.Join(origins, " ")
}

// invokeEvent runs events/file through h as the Lambda runtime does, with
// the fixture's names replaced (old, new pairs), and returns its error.
func invokeEvent(t *testing.T, h *sweep.Handler, file string, names ...string) error {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("../../events", file))
	if err != nil {
		t.Fatal(err)
	}
	raw = []byte(strings.NewReplacer(names...).Replace(string(raw)))
	_, err = lambda.NewHandler(h.Handle).Invoke(context.Background(), raw)
	return err
}

// TestMemberAccountChangeEvents: bucket-change events from a member
// account (forwarded to the central bus) are swept in that account: a
// source's change is mirrored into its destination there, a destination
// damaged there is repaired, bucketmirror's own member-role writes are
// dropped, a destination in another account than its source's is found
// by its record's place; an account the deployment does not work in is
// refused before any call.
func TestMemberAccountChangeEvents(t *testing.T) {
	e := newEnv(t)
	w := &memberWorld{e: e}
	n := seq.Add(1)
	a := w.account(fmt.Sprintf("bm-ev-a-%d", n), true)
	b := w.account(fmt.Sprintf("bm-ev-b-%d", n), true)
	srcA := w.sourceIn(a, "ev-member")
	w.putCORSIn(a, srcA, homeRegion, "https://www.example.com")
	e.sweepAccounts(localcloud.AccountID, a, b)
	sum, err := e.s.Sweep(e.ctx, nil)
	if err != nil {
		t.Fatalf("first sweep: %v\n%s", err, describe(sum))
	}
	w.wantMirrored(srcA, a)
	destA := e.mirror(srcA, "us-west-2").Dest
	names := []string{fixtureMemberSrc, srcA, fixtureMemberDest, destA, fixtureMember, a}
	h := sweep.NewHandler(e.s, quiet())

	t.Run("source-in-member-account", func(t *testing.T) {
		w.putCORSIn(a, srcA, homeRegion, "https://shop.example.com")
		sum := handleEvent(t, h, "cloudtrail-put-bucket-cors-member-account.json", names...)
		d := wantDecision(t, sum, srcA, "us-west-2", sweep.ActionStarted, "source-changed")
		wantKinds(t, d, "cors")
		if d.SourceAccount != a {
			t.Errorf("decision names source account %q, want %s", d.SourceAccount, a)
		}
		if got := w.corsIn(a, destA, "us-west-2"); got != "https://shop.example.com" {
			t.Errorf("destination %s in account %s has CORS origins %q, want the source's new one", destA, a, got)
		}
		if rec := e.mirror(srcA, "us-west-2"); rec.LastRunID != d.Execution || rec.SourceAccount != a {
			t.Errorf("record %+v, want run %s with source account %s", rec, d.Execution, a)
		}
	})
	t.Run("new-source-in-member-account", func(t *testing.T) {
		// No record names the bucket's account yet: only the event does.
		fresh := w.sourceIn(a, "ev-fresh")
		sum := handleEvent(t, h, "cloudtrail-put-bucket-cors-member-account.json", fixtureMemberSrc, fresh, fixtureMember, a)
		if d := wantDecision(t, sum, fresh, "us-west-2", sweep.ActionStarted, "new"); d.SourceAccount != a {
			t.Errorf("decision names source account %q, want %s", d.SourceAccount, a)
		}
		w.wantMirrored(fresh, a)
	})
	t.Run("destination-in-member-account", func(t *testing.T) {
		if _, err := w.s3In(a, "us-west-2").DeleteBucketCors(e.ctx, &s3.DeleteBucketCorsInput{Bucket: aws.String(destA)}); err != nil {
			t.Fatal(err)
		}
		sum := handleEvent(t, h, "cloudtrail-delete-bucket-cors-member-destination.json", names...)
		wantKinds(t, wantDecision(t, sum, srcA, "us-west-2", sweep.ActionStarted, "destination-changed"), "cors")
		if got := w.corsIn(a, destA, "us-west-2"); got != "https://shop.example.com" {
			t.Errorf("destination CORS origins %q after the repair, want the source's", got)
		}
	})
	t.Run("own-member-role-write", func(t *testing.T) {
		// The repair's own write in account A, made through the member
		// role: dropped before any call.
		role := "arn:aws:iam::" + a + ":role/bucketmirror-member"
		e.rec.reset()
		sum := handleEvent(t, h, "cloudtrail-put-bucket-cors-by-bucketmirror.json",
			fixtureOwnRole, role, fixtureDest, destA, "123456789012", a)
		if len(sum.Decisions) != 0 || len(e.rec.calls) != 0 {
			t.Errorf("a write by the member role in %s: decisions %+v, calls %v; want it dropped before any call", a, sum.Decisions, e.rec.calls)
		}
	})
	t.Run("destination-in-another-account", func(t *testing.T) {
		// A source of the deployment's own account mirrored into account
		// B (destination-account tag): its record is keyed by Region and
		// B, and B's event about the destination finds it.
		src := e.bucket("ev-to-b")
		e.createBucket(src, homeRegion, map[string]string{e.tag("destination-regions"): "us-west-2", e.tag("destination-account"): b})
		e.putCORS(src, homeRegion, "https://www.example.com")
		sum := e.sweep(src)
		wantDecision(t, sum, src, "us-west-2", sweep.ActionStarted, "new")
		rec := e.mirror(src, "us-west-2#"+b)
		if rec == nil || rec.Dest == "" || rec.DestAccount != b {
			t.Fatalf("record of %s at us-west-2#%s: %+v", src, b, rec)
		}
		if !w.existsIn(b, rec.Dest, "us-west-2") {
			t.Fatalf("destination %s is not in account %s", rec.Dest, b)
		}
		if _, err := w.s3In(b, "us-west-2").DeleteBucketCors(e.ctx, &s3.DeleteBucketCorsInput{Bucket: aws.String(rec.Dest)}); err != nil {
			t.Fatal(err)
		}
		sum = handleEvent(t, h, "cloudtrail-delete-bucket-cors-member-destination.json", fixtureMemberDest, rec.Dest, fixtureMember, b)
		d := wantDecision(t, sum, src, "us-west-2", sweep.ActionStarted, "destination-changed")
		wantKinds(t, d, "cors")
		if got := w.corsIn(b, rec.Dest, "us-west-2"); got != "https://www.example.com" {
			t.Errorf("destination %s in account %s has CORS origins %q after the repair, want the source's", rec.Dest, b, got)
		}
	})
	t.Run("unlisted-account", func(t *testing.T) {
		// The same events with the deployment working in its own account
		// and B only: A's are refused, nothing is read, assumed or written.
		e.sweepAccounts(localcloud.AccountID, b)
		h := sweep.NewHandler(e.s, quiet())
		before := e.mirror(srcA, "us-west-2")
		for file, account := range map[string]string{
			"cloudtrail-put-bucket-cors-member-account.json":        a,
			"cloudtrail-delete-bucket-cors-member-destination.json": a,
			"cloudtrail-put-bucket-cors-unlisted-account.json":      "444455556666",
		} {
			e.rec.reset()
			err := invokeEvent(t, h, file, names...)
			var unknown *sweep.UnknownAccountError
			if !errors.As(err, &unknown) || unknown.Account != account || !strings.Contains(err.Error(), account) || !strings.Contains(err.Error(), "BUCKETMIRROR_ACCOUNTS") {
				t.Errorf("%s from account %s: error %v, want an UnknownAccountError naming the account and BUCKETMIRROR_ACCOUNTS", file, account, err)
			}
			if len(e.rec.calls) != 0 {
				t.Errorf("%s from an unlisted account made calls %v, want none", file, e.rec.calls)
			}
		}
		if after := e.mirror(srcA, "us-west-2"); after.LastRunID != before.LastRunID || after.Status != before.Status {
			t.Errorf("record of %s changed after refused events: %+v -> %+v", srcA, before, after)
		}
	})
}

// With BUCKETMIRROR_ACCOUNTS=organization a change event is admitted from
// an ACTIVE account of the Organization and refused from a suspended one
// or one outside it; deciding costs Organizations calls in the deployment's
// account only, never a call into the event's account.
func TestOrganizationAdmitsChangeEvents(t *testing.T) {
	e := newEnv(t, withOrganization())
	w := &memberWorld{e: e}
	n := seq.Add(1)
	a := w.account(fmt.Sprintf("bm-org-a-%d", n), true)
	suspended := w.account(fmt.Sprintf("bm-org-s-%d", n), true)
	srcA := w.sourceIn(a, "org-ev")
	if err := cloud.CloseAccount(e.ctx, suspended); err != nil {
		t.Fatal(err)
	}
	h := sweep.NewHandler(e.s, quiet())
	sum := handleEvent(t, h, "cloudtrail-put-bucket-cors-member-account.json", fixtureMemberSrc, srcA, fixtureMember, a)
	if d := wantDecision(t, sum, srcA, "us-west-2", sweep.ActionStarted, "new"); d.SourceAccount != a {
		t.Errorf("decision names source account %q, want %s", d.SourceAccount, a)
	}
	w.wantMirrored(srcA, a)
	for _, account := range []string{suspended, "999988887777"} {
		e.rec.reset()
		err := invokeEvent(t, h, "cloudtrail-put-bucket-cors-member-account.json", fixtureMemberSrc, srcA, fixtureMember, account)
		var unknown *sweep.UnknownAccountError
		if !errors.As(err, &unknown) || unknown.Account != account || !strings.Contains(err.Error(), "organization") {
			t.Errorf("event from account %s: error %v, want an UnknownAccountError naming it and BUCKETMIRROR_ACCOUNTS=organization", account, err)
		}
		for _, c := range e.rec.calls {
			if !strings.HasPrefix(c, "Organizations.") {
				t.Errorf("event from account %s outside the Organization's ACTIVE accounts made call %s", account, c)
			}
		}
	}
}
