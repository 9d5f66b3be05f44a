package sweep_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/sweep"
)

// memberWorld is an Organization seen from the deployment's account: member
// account a with the member role, c without it, a suspended one with it,
// each holding a source tagged for us-west-2, and a source in the
// deployment's own account.
type memberWorld struct {
	e                      *env
	a, c, suspended        string
	srcA, srcC, srcS, home string
}

func newMemberWorld(e *env) *memberWorld {
	e.t.Helper()
	n := seq.Add(1)
	w := &memberWorld{e: e}
	w.a = w.account(fmt.Sprintf("bm-a-%d", n), true)
	w.c = w.account(fmt.Sprintf("bm-c-%d", n), false)
	w.suspended = w.account(fmt.Sprintf("bm-s-%d", n), true)
	w.srcA = w.sourceIn(w.a, "acct-a")
	w.srcC = w.sourceIn(w.c, "acct-c")
	w.srcS = w.sourceIn(w.suspended, "acct-s")
	if err := cloud.CloseAccount(e.ctx, w.suspended); err != nil {
		e.t.Fatal(err)
	}
	w.home = e.source("acct-home", "us-west-2")
	return w
}

// account creates a member account, with the member role when role is set.
func (w *memberWorld) account(name string, role bool) string {
	w.e.t.Helper()
	id, err := cloud.CreateMemberAccount(w.e.ctx, name)
	if err != nil {
		w.e.t.Fatal(err)
	}
	if role {
		if _, err := cloud.CreateMemberRole(w.e.ctx, id, "", ""); err != nil {
			w.e.t.Fatal(err)
		}
	}
	return id
}

// s3In is an administrator's S3 client in account (not the code under
// test, which assumes the member role).
func (w *memberWorld) s3In(account, region string) *s3.Client {
	w.e.t.Helper()
	if account == localcloud.AccountID {
		return w.e.s3(region)
	}
	cfg, err := cloud.AccountConfig(w.e.ctx, account)
	if err != nil {
		w.e.t.Fatal(err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle, o.Region = true, region })
}

// sourceIn creates a source in us-east-1 of account, tagged for us-west-2.
func (w *memberWorld) sourceIn(account, what string) string {
	w.e.t.Helper()
	name := w.e.bucket(what)
	client := w.s3In(account, homeRegion)
	if _, err := client.CreateBucket(w.e.ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		w.e.t.Fatalf("creating %s in account %s: %v", name, account, err)
	}
	if _, err := client.PutBucketTagging(w.e.ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(name), Tagging: &s3types.Tagging{
		TagSet: []s3types.Tag{{Key: aws.String(w.e.tag("destination-regions")), Value: aws.String("us-west-2")}}}}); err != nil {
		w.e.t.Fatal(err)
	}
	return name
}

// sweepAccounts makes e sweep these accounts (BUCKETMIRROR_ACCOUNTS),
// once they exist.
func (e *env) sweepAccounts(ids ...string) {
	e.t.Helper()
	e.opts.accounts = ids
	e.s = e.sweeper(&sweep.LocalStarter{Mirrorer: e.m}, e.opts)
}

// existsIn says whether bucket exists in account (HeadBucket with the
// account's own credentials).
func (w *memberWorld) existsIn(account, bucket, region string) bool {
	w.e.t.Helper()
	_, err := w.s3In(account, region).HeadBucket(w.e.ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	var nf *s3types.NotFound
	if errors.As(err, &nf) || bucketconfig.ErrorCode(err) == "NoSuchBucket" {
		return false
	}
	if err != nil {
		w.e.t.Fatal(err)
	}
	return true
}

// wantMirrored checks src (in account) was mirrored into its account's
// us-west-2 and its record names that account.
func (w *memberWorld) wantMirrored(src, account string) {
	w.e.t.Helper()
	rec := w.e.mirror(src, "us-west-2")
	if rec == nil || rec.Status != inventory.StatusFinished {
		w.e.t.Fatalf("mirror of %s (account %s): %+v, want FINISHED", src, account, rec)
	}
	wantAccount := account
	if account == localcloud.AccountID {
		wantAccount = ""
	}
	if rec.SourceAccount != wantAccount {
		w.e.t.Errorf("record of %s names source account %q, want %q", src, rec.SourceAccount, wantAccount)
	}
	if !w.existsIn(account, rec.Dest, "us-west-2") {
		w.e.t.Errorf("destination %s of %s is not in account %s", rec.Dest, src, account)
	}
}

// wantRunFor checks the sweep decided about src in account (a new mirror)
// and its mirror record names that account. Whether the run itself
// succeeds is the create and configure steps' business (wantMirrored).
func (w *memberWorld) wantRunFor(sum sweep.Summary, src, account string) {
	w.e.t.Helper()
	d := decision(w.e.t, sum, src, "us-west-2")
	if d.Reason != "new" || d.SourceAccount != account || d.Execution == "" {
		w.e.t.Errorf("decision about %s: %+v, want a new run in account %s", src, d, account)
	}
	rec := w.e.mirror(src, "us-west-2")
	if rec == nil || rec.SourceAccount != account || rec.LastRunID != d.Execution {
		w.e.t.Errorf("record of %s: %+v, want run %s with source account %s", src, rec, d.Execution, account)
	}
}

// wantUnreachable checks the summary reports exactly account c, named with
// its member role and AccessDenied.
func (w *memberWorld) wantUnreachable(errs []sweep.AccountError) {
	w.e.t.Helper()
	role := "arn:aws:iam::" + w.c + ":role/bucketmirror-member"
	if len(errs) != 1 || errs[0].Account != w.c || errs[0].Code != "AccessDenied" || errs[0].Role != role || !strings.Contains(errs[0].Error, role) {
		w.e.t.Errorf("account errors %+v, want account %s (%s) AccessDenied", errs, w.c, role)
	}
}

// Sources in A and C and the deployment's own account swept by the Lambda
// path: C has no member role — reported (error, summary, event, metric)
// while A's source gets its run (with its account) and the own account's
// is mirrored.
func TestSweepAcrossAccounts(t *testing.T) {
	q := newEventQueue(t, fmt.Sprintf("sweep-accounts-%d", seq.Add(1)))
	e := newEnv(t, withBus(q.bus))
	w := newMemberWorld(e)
	e.sweepAccounts(localcloud.AccountID, w.a, w.c)

	sum, err := e.s.Sweep(e.ctx, nil)
	if err == nil || !strings.Contains(err.Error(), w.c) || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("sweep error %v, want one naming account %s and AccessDenied", err, w.c)
	}
	if sum.Accounts != 3 {
		t.Errorf("accounts %d, want 3", sum.Accounts)
	}
	w.wantUnreachable(sum.AccountErrors)
	w.wantRunFor(sum, w.srcA, w.a)
	w.wantMirrored(w.srcA, w.a)
	if d := wantDecision(t, sum, w.home, "us-west-2", sweep.ActionStarted, "new"); d.SourceAccount != localcloud.AccountID {
		t.Errorf("decision about %s names account %q, want %s", w.home, d.SourceAccount, localcloud.AccountID)
	}
	if slices.ContainsFunc(sum.Decisions, func(d sweep.Decision) bool { return d.Source == w.srcC }) {
		t.Errorf("a decision about %s, in the unreachable account", w.srcC)
	}
	w.wantMirrored(w.home, localcloud.AccountID)
	if !strings.Contains(e.emf.String(), `"AccountsFailed":1`) {
		t.Errorf("no AccountsFailed metric of 1: %s", e.emf.String())
	}
	var unreachable []sweep.EventDetail
	for _, ev := range q.receive(t, 5) { // two runs started, two ended, one account unreachable
		if ev.DetailType == sweep.DetailAccountUnreachable {
			unreachable = append(unreachable, ev.Detail)
		}
	}
	if len(unreachable) != 1 || unreachable[0].Account != w.c || unreachable[0].ErrorCode != "AccessDenied" || unreachable[0].Role == "" {
		t.Errorf("account unreachable events %+v, want one for %s with AccessDenied", unreachable, w.c)
	}

	// The role is deployed: the next sweep reaches C.
	if _, err := cloud.CreateMemberRole(e.ctx, w.c, "", ""); err != nil {
		t.Fatal(err)
	}
	sum, _ = e.s.Sweep(e.ctx, nil)
	if len(sum.AccountErrors) != 0 || sum.Accounts != 3 {
		t.Fatalf("second sweep: %d accounts, errors %+v", sum.Accounts, sum.AccountErrors)
	}
	w.wantRunFor(sum, w.srcC, w.c)
	w.wantMirrored(w.srcC, w.c)
	wantDecision(t, sum, w.srcA, "us-west-2", sweep.ActionSkipped, "unchanged")
}

// BUCKETMIRROR_ACCOUNTS=organization: every ACTIVE account of the
// Organization; the suspended one (which has the member role and a tagged
// source) is not looked in.
func TestSweepOrganizationActiveAccountsOnly(t *testing.T) {
	e := newEnv(t, withOrganization())
	w := newMemberWorld(e)
	sum, err := e.s.Sweep(e.ctx, nil)
	if err == nil {
		t.Error("sweep without error, but account c has no member role")
	}
	if slices.ContainsFunc(sum.Decisions, func(d sweep.Decision) bool { return d.Source == w.srcS }) {
		t.Errorf("the suspended account %s was swept: %s", w.suspended, describe(sum))
	}
	if slices.ContainsFunc(sum.AccountErrors, func(a sweep.AccountError) bool { return a.Account == w.suspended }) {
		t.Errorf("the suspended account %s was tried: %+v", w.suspended, sum.AccountErrors)
	}
	if !slices.ContainsFunc(sum.AccountErrors, func(a sweep.AccountError) bool { return a.Account == w.c && a.Code == "AccessDenied" }) {
		t.Errorf("account %s (no member role) not reported: %+v", w.c, sum.AccountErrors)
	}
	// The management account, a, c and other tests' accounts: at least 3.
	if sum.Accounts < 3 {
		t.Errorf("%d accounts listed", sum.Accounts)
	}
	w.wantRunFor(sum, w.srcA, w.a)
	w.wantMirrored(w.srcA, w.a)
	wantDecision(t, sum, w.home, "us-west-2", sweep.ActionStarted, "new")
}

// The full sweep state machine decides across accounts as the Lambda path
// does: the batch items carry the source account to the children (a child
// that lost it would look for the source in the wrong account); the
// unreachable account fails the execution after every other account was
// done, naming it and the AWS error code.
func TestFullSweepAcrossAccounts(t *testing.T) {
	e := newEnv(t)
	w := newMemberWorld(e)
	e.sweepAccounts(localcloud.AccountID, w.a, w.c)
	f := e.deployFullSweep(1, fullSweepOptions{})
	status, _, decided := f.run()
	if status != sfntypes.ExecutionStatusFailed {
		t.Fatalf("sweep execution %s, want FAILED for the unreachable account", status)
	}
	if cause := aws.ToString(f.last.Cause); !strings.Contains(cause, w.c) || !strings.Contains(cause, "AccessDenied") {
		t.Errorf("execution cause %q does not name account %s and AccessDenied", cause, w.c)
	}
	byName := map[string]sweep.Decision{}
	for _, d := range decided {
		byName[d.Source] = d
	}
	if d := byName[w.srcA]; d.Reason != "new" || d.SourceAccount != w.a {
		t.Errorf("decision about %s: %+v, want a new run in account %s", w.srcA, d, w.a)
	}
	if d := byName[w.home]; d.Action != sweep.ActionStarted {
		t.Errorf("decision about %s: %+v, want started", w.home, d)
	}
	if _, ok := byName[w.srcC]; ok {
		t.Errorf("a decision about %s, in the unreachable account", w.srcC)
	}
	w.wantMirrored(w.srcA, w.a)
	if !strings.Contains(e.emf.String(), `"AccountsFailed":1`) {
		t.Errorf("no AccountsFailed metric of 1 from the aggregate: %s", e.emf.String())
	}
}

func TestAccountsFromEnv(t *testing.T) {
	env := func(accounts string) func(string) string {
		return func(k string) string {
			return map[string]string{"BUCKETMIRROR_ACCOUNT_ID": "123456789012", "BUCKETMIRROR_ACCOUNTS": accounts}[k]
		}
	}
	for _, c := range []struct {
		value, err   string
		accounts     []string
		organization bool
	}{
		{value: ""},
		{value: "organization", organization: true},
		{value: " 210987654321  123456789012 210987654321 ", accounts: []string{"123456789012", "210987654321"}},
		{value: "organization 210987654321", err: `"organization" stands alone`},
		{value: "21098765432", err: `"21098765432" must be a 12-digit AWS account id`},
		{value: "210987654321,123456789012", err: "must be a 12-digit AWS account id"},
	} {
		cfg, err := sweep.ConfigFromEnv(env(c.value))
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "BUCKETMIRROR_ACCOUNTS") {
				t.Errorf("BUCKETMIRROR_ACCOUNTS=%q: %v, want an error naming the variable and %q", c.value, err, c.err)
			}
		case err != nil:
			t.Errorf("BUCKETMIRROR_ACCOUNTS=%q: %v", c.value, err)
		case !slices.Equal(cfg.Accounts, c.accounts) || cfg.Organization != c.organization:
			t.Errorf("BUCKETMIRROR_ACCOUNTS=%q: accounts %v organization %v, want %v %v", c.value, cfg.Accounts, cfg.Organization, c.accounts, c.organization)
		}
	}
}

// A source tagged destination-account: its mirror goes into that account
// and its record is keyed by Region and account, as create and configure
// key it — so the next sweep finds the mirror unchanged instead of
// starting it again under the Region-only key.
func TestSweepIntoDestinationAccount(t *testing.T) {
	e := newEnv(t)
	w := &memberWorld{e: e}
	b := w.account(fmt.Sprintf("bm-b-%d", seq.Add(1)), true)
	src := e.bucket("into-b")
	e.createBucket(src, homeRegion, map[string]string{e.tag("destination-regions"): "us-west-2", e.tag("destination-account"): b})

	sum, err := e.s.Sweep(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Step Functions allows only A-Z, a-z, 0-9, - and _ in execution names.
	if d := wantDecision(t, sum, src, "us-west-2", sweep.ActionStarted, "new"); !strings.HasSuffix(d.Execution[:len(d.Execution)-17], "-us-west-2-"+b) ||
		strings.ContainsFunc(d.Execution, func(r rune) bool {
			return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		}) {
		t.Fatalf("execution %q, want a name ending -us-west-2-%s-<hash> of allowed characters", d.Execution, b)
	}
	rec, err := e.m.Store.GetMirror(e.ctx, src, inventory.Place("us-west-2", b))
	if err != nil {
		t.Fatal(err)
	}
	if rec == nil || rec.Status != inventory.StatusFinished || rec.DestAccount != b {
		t.Fatalf("record under us-west-2#%s: %+v, want FINISHED with destAccount %s", b, rec, b)
	}
	if other := e.mirror(src, "us-west-2"); other != nil {
		t.Errorf("a record under the Region-only key too: %+v", other)
	}
	listed := func(account string) bool {
		out, err := w.s3In(account, "us-west-2").ListBuckets(e.ctx, &s3.ListBucketsInput{})
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(out.Buckets, func(bk s3types.Bucket) bool { return aws.ToString(bk.Name) == rec.Dest })
	}
	if !listed(b) || listed(localcloud.AccountID) {
		t.Errorf("destination %s: in account %s %v, in the deployment's %v; want only in %s", rec.Dest, b, listed(b), listed(localcloud.AccountID), b)
	}

	sum, err = e.s.Sweep(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantDecision(t, sum, src, "us-west-2", sweep.ActionSkipped, "unchanged")
}
