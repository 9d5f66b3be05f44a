package mirror_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

var (
	recoveryOnce    sync.Once
	recoveryAccount string
	recoveryErr     error
)

// recovery is a member account of the local Organization with the member
// role, trusting the deployment's account: where the cross-account tests
// mirror into.
func recovery(t *testing.T) (string, *s3.Client) {
	t.Helper()
	ctx := context.Background()
	recoveryOnce.Do(func() {
		if recoveryAccount, recoveryErr = cloud.CreateMemberAccount(ctx, "recovery"); recoveryErr == nil {
			_, recoveryErr = cloud.CreateMemberRole(ctx, recoveryAccount, "", "")
		}
	})
	if recoveryErr != nil {
		t.Fatal(recoveryErr)
	}
	cfg, err := cloud.AccountConfig(ctx, recoveryAccount)
	if err != nil {
		t.Fatal(err)
	}
	return recoveryAccount, s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true; o.Region = "us-west-2" })
}

func crossPayload(source, destAccount string) mirror.Input {
	return mirror.Input{SourceBucketARN: "arn:aws:s3:::" + source, SourceAccountNumber: localcloud.AccountID,
		DestAccountNumber: destAccount, SourceRegion: "us-east-1", DestRegion: "us-west-2", DeterministicName: true}
}

// A source in the deployment's account mirrored into a member account
// through the state machine: every kind set on the source arrives; the ACL
// grant to the source's owner becomes a grant to the destination's owner
// (canonical ids of each account), other grants are kept; the policy naming
// the source's account is kept and reported; the log bucket is in the
// destination account; the records carry the destination account and the
// role used, under keys that name the account.
func TestCrossAccountDestinationThroughTheStateMachine(t *testing.T) {
	ctx := context.Background()
	account, dst := recovery(t)
	src, logs := bucketName(t, "xsrc"), bucketName(t, "xlogs")
	createSource(t, src)
	createSource(t, logs)
	c := s3c("us-east-1")
	home, other := localcloud.CanonicalID(localcloud.AccountID), localcloud.CanonicalID(account)
	third := strings.Repeat("ab", 32)
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"SourceAccountReads","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/*"}]}`, localcloud.AccountID, src)
	for _, step := range []func() error{
		func() error {
			_, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &src, Policy: &policy})
			return err
		},
		func() error {
			_, err := c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: &src, OwnershipControls: &s3types.OwnershipControls{
				Rules: []s3types.OwnershipControlsRule{{ObjectOwnership: s3types.ObjectOwnershipObjectWriter}}}})
			return err
		},
		func() error {
			_, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &src, AccessControlPolicy: &s3types.AccessControlPolicy{
				Owner: &s3types.Owner{ID: aws.String(home)}, Grants: []s3types.Grant{
					{Grantee: &s3types.Grantee{Type: s3types.TypeCanonicalUser, ID: aws.String(home)}, Permission: s3types.PermissionFullControl},
					{Grantee: &s3types.Grantee{Type: s3types.TypeCanonicalUser, ID: aws.String(third)}, Permission: s3types.PermissionRead},
				}}})
			return err
		},
		func() error {
			_, err := c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: &src, CORSConfiguration: &s3types.CORSConfiguration{CORSRules: []s3types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"*"}}}}})
			return err
		},
		func() error {
			_, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: &src, Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("team"), Value: aws.String("data")}}}})
			return err
		},
		func() error {
			_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &src, VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
			return err
		},
		func() error {
			logDelivery := aws.String(`uri="http://acs.amazonaws.com/groups/s3/LogDelivery"`)
			_, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &logs, GrantWrite: logDelivery, GrantReadACP: logDelivery,
				GrantFullControl: aws.String(`id="` + home + `"`)})
			return err
		},
		func() error {
			_, err := c.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: &src, BucketLoggingStatus: &s3types.BucketLoggingStatus{
				LoggingEnabled: &s3types.LoggingEnabled{TargetBucket: &logs, TargetPrefix: aws.String("src/")}}})
			return err
		},
		func() error {
			_, err := c.PutBucketRequestPayment(ctx, &s3.PutBucketRequestPaymentInput{Bucket: &src, RequestPaymentConfiguration: &s3types.RequestPaymentConfiguration{Payer: s3types.PayerRequester}})
			return err
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	in := crossPayload(src, account)
	body, _ := json.Marshal(in)
	out := execute(t, string(body))
	if out.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s: %s %s", out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
	}
	dest := mirrorer.DerivedNameIn(src, "us-west-2", account)
	if dest == mirrorer.DerivedName(src, "us-west-2") {
		t.Error("the derived name in another account is the one within the source's account")
	}

	// The destination is in the member account, not the deployment's.
	if _, err := s3c("us-west-2").GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &dest}); err == nil {
		t.Errorf("destination %s is reachable as a bucket of the deployment's account", dest)
	}
	acl, err := dst.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: &dest})
	if err != nil {
		t.Fatal(err)
	}
	grants, want := grantStrings(acl.Grants), []string{third + " READ", other + " FULL_CONTROL"}
	slices.Sort(want)
	if aws.ToString(acl.Owner.ID) != other || !slices.Equal(grants, want) {
		t.Errorf("destination ACL owner %s grants %v, want owner %s and grants %v (the source owner's FULL_CONTROL mapped to the destination's owner)",
			aws.ToString(acl.Owner.ID), grants, other, want)
	}
	pol, err := dst.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &dest})
	if err != nil || !strings.Contains(aws.ToString(pol.Policy), "arn:aws:iam::"+localcloud.AccountID+":root") ||
		!strings.Contains(aws.ToString(pol.Policy), "arn:aws:s3:::"+dest+"/*") {
		t.Errorf("destination policy %s (%v): want the statement naming the source account kept, resources rewritten", aws.ToString(pol.Policy), err)
	}
	for name, get := range map[string]func() error{
		"cors": func() error { _, err := dst.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: &dest}); return err },
		"versioning": func() error {
			v, err := dst.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &dest})
			if err == nil && v.Status != s3types.BucketVersioningStatusEnabled {
				err = fmt.Errorf("status %q", v.Status)
			}
			return err
		},
		"requester-pays": func() error {
			v, err := dst.GetBucketRequestPayment(ctx, &s3.GetBucketRequestPaymentInput{Bucket: &dest})
			if err == nil && v.Payer != s3types.PayerRequester {
				err = fmt.Errorf("payer %q", v.Payer)
			}
			return err
		},
		"logging": func() error {
			l, err := dst.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: &dest})
			if err != nil {
				return err
			}
			if l.LoggingEnabled == nil {
				return errors.New("not enabled")
			}
			// The log bucket is the member account's own.
			_, err = dst.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: l.LoggingEnabled.TargetBucket})
			return err
		},
	} {
		if err := get(); err != nil {
			t.Errorf("destination %s: %v", name, err)
		}
	}

	place := inventory.Place("us-west-2", account)
	rec, err := mirrorer.Store.GetMirror(ctx, src, place)
	if err != nil || rec == nil || rec.Status != inventory.StatusFinished || rec.DestAccount != account || rec.Dest != dest {
		t.Fatalf("mirror record at %s = %+v, %v", place, rec, err)
	}
	if same, _ := mirrorer.Store.GetMirror(ctx, src, "us-west-2"); same != nil {
		t.Errorf("a record under the single-account key too: %+v", same)
	}
	rs, err := mirrorer.Store.Runs(ctx, src, place)
	if err != nil || len(rs) != 1 {
		t.Fatalf("runs at %s: %d, %v", place, len(rs), err)
	}
	r := rs[0]
	wantRole := "arn:aws:iam::" + account + ":role/" + awsclient.DefaultMemberRole
	if r.SourceAccount != localcloud.AccountID || r.DestAccount != account || r.DestRole != wantRole || r.SourceRole != "" {
		t.Errorf("run record accounts %q -> %q, roles %q -> %q; want %s -> %s through %s", r.SourceAccount, r.DestAccount, r.SourceRole, r.DestRole,
			localcloud.AccountID, account, wantRole)
	}
	if !strings.Contains(r.Results, "SourceAccountReads") || !strings.Contains(r.Results, "grants to the destination's owner") {
		t.Errorf("run results do not report the policy statement naming the source account and the ACL owner mapping: %s", r.Results)
	}

	// A second run finds the mirror in sync: nothing to write.
	st, err := mirrorer.Run(ctx, crossPayload(src, account))
	if err != nil || st.Status != mirror.StatusFinished || st.DestBucket != dest {
		t.Fatalf("second run: %+v, %v", st, err)
	}
	rs, _ = mirrorer.Store.Runs(ctx, src, place)
	if n := len(rs); n != 2 || strings.Contains(rs[n-1].Results, `"applied"`) {
		t.Errorf("second run wrote something: %s", rs[n-1].Results)
	}
}

// A member account without the member role: a clear error naming the
// account and the role, a FAILED record, and no bucket anywhere.
func TestCrossAccountMissingMemberRole(t *testing.T) {
	ctx := context.Background()
	account, err := cloud.CreateMemberAccount(ctx, "no-member-role")
	if err != nil {
		t.Fatal(err)
	}
	src := bucketName(t, "xnorole")
	createSource(t, src)
	before := bucketCount(t)
	_, err = mirrorer.Run(ctx, crossPayload(src, account))
	var are *awsclient.AssumeRoleError
	if !errors.As(err, &are) || are.Account != account || !strings.Contains(err.Error(), "bucketmirror-member") {
		t.Fatalf("mirror into an account without the member role: %v, want an AssumeRoleError naming %s and the role", err, account)
	}
	rec, err := mirrorer.Store.GetMirror(ctx, src, inventory.Place("us-west-2", account))
	if err != nil || rec == nil || rec.Status != inventory.StatusFailed || !strings.Contains(rec.LastError, account) {
		t.Errorf("mirror record = %+v, %v; want FAILED naming the account", rec, err)
	}
	if after := bucketCount(t); after != before {
		t.Errorf("buckets in the deployment's account: %d, then %d", before, after)
	}
}

// The member role may not write (an AccessDenied the emulator cannot
// produce, injected on one write in the member account): the run is
// FAILED with the kind and the code, recorded; nothing is left without a
// record.
func TestCrossAccountDeniedWriteIsRecorded(t *testing.T) {
	ctx := context.Background()
	account, _ := recovery(t)
	src := bucketName(t, "xdenied")
	createSource(t, src)
	if _, err := s3c("us-east-1").PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: &src, CORSConfiguration: &s3types.CORSConfiguration{
		CORSRules: []s3types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"*"}}}}}); err != nil {
		t.Fatal(err)
	}
	dest := mirrorer.DerivedNameIn(src, "us-west-2", account)
	denyCORSOn.Store(dest)
	defer denyCORSOn.Store("")
	st, err := mirrorer.Run(ctx, crossPayload(src, account))
	if err == nil || st.Status != mirror.StatusFailed || st.FailedKind != "cors" || st.ErrorCode != "AccessDenied" {
		t.Fatalf("run with a denied write: %+v, %v; want FAILED on cors with AccessDenied", st, err)
	}
	place := inventory.Place("us-west-2", account)
	rec, err := mirrorer.Store.GetMirror(ctx, src, place)
	if err != nil || rec == nil || rec.Status != inventory.StatusFailed || rec.Dest != dest {
		t.Errorf("mirror record = %+v, %v", rec, err)
	}
	rs, _ := mirrorer.Store.Runs(ctx, src, place)
	if len(rs) == 0 || rs[len(rs)-1].Status != inventory.StatusFailed || rs[len(rs)-1].DestRole == "" {
		t.Errorf("run records %+v: want the last FAILED, naming the role", rs)
	}
}

// An explicit destination name that exists in another account is refused,
// saying so and where it was looked for.
func TestCrossAccountExplicitNameTakenElsewhere(t *testing.T) {
	ctx := context.Background()
	account, _ := recovery(t)
	src, taken := bucketName(t, "xtaken"), "dest-"+bucketName(t, "taken")
	createSource(t, src)
	if _, err := s3c("us-west-2").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &taken, CreateBucketConfiguration: &s3types.CreateBucketConfiguration{
		LocationConstraint: s3types.BucketLocationConstraintUsWest2}}); err != nil {
		t.Fatal(err)
	}
	in := crossPayload(src, account)
	in.DestBucketARN, in.DeterministicName = "arn:aws:s3:::"+taken, false
	_, err := mirrorer.Run(ctx, in)
	var foreign *mirror.ForeignBucketError
	if !errors.As(err, &foreign) || !strings.Contains(err.Error(), account) {
		t.Errorf("explicit name taken by another account: %v, want ForeignBucketError naming account %s", err, account)
	}
}

// Records of a mirror within one account keep their keys: the same
// source mirrored within the account and into another lives under two
// records, and the single-account one is found where it always was.
func TestCrossAccountKeepsSingleAccountRecords(t *testing.T) {
	ctx := context.Background()
	account, _ := recovery(t)
	src := bucketName(t, "xboth")
	createSource(t, src)
	same := crossPayload(src, localcloud.AccountID)
	if st, err := mirrorer.Run(ctx, same); err != nil || st.Status != mirror.StatusFinished {
		t.Fatalf("within one account: %+v, %v", st, err)
	}
	if st, err := mirrorer.Run(ctx, crossPayload(src, account)); err != nil || st.Status != mirror.StatusFinished {
		t.Fatalf("into %s: %+v, %v", account, st, err)
	}
	one, err := mirrorer.Store.GetMirror(ctx, src, "us-west-2")
	if err != nil || one == nil || one.DestAccount != "" || one.Dest != mirrorer.DerivedName(src, "us-west-2") {
		t.Errorf("single-account record = %+v, %v", one, err)
	}
	all, err := mirrorer.Store.MirrorsOf(ctx, src)
	if err != nil || len(all) != 2 {
		t.Fatalf("records of %s: %+v, %v", src, all, err)
	}
	for _, m := range all {
		if m.Region != "us-west-2" {
			t.Errorf("record %+v: Region %q, want us-west-2 (the account is not part of the Region)", m, m.Region)
		}
	}
	rs, _ := mirrorer.Store.Runs(ctx, src, "us-west-2")
	for _, r := range rs {
		if r.SourceAccount != "" || r.DestAccount != "" || r.DestRole != "" {
			t.Errorf("single-account run record names accounts: %+v", r)
		}
	}
}

// Through the state machine, a failed run across accounts marks the record
// under the destination account's key (the ASL's MirrorKey? states), never
// the single-account one.
func TestCrossAccountFailureMarksTheAccountsRecord(t *testing.T) {
	ctx := context.Background()
	account, err := cloud.CreateMemberAccount(ctx, "sfn-no-member-role")
	if err != nil {
		t.Fatal(err)
	}
	src := bucketName(t, "xsfnfail")
	createSource(t, src)
	body, _ := json.Marshal(crossPayload(src, account))
	out := execute(t, string(body))
	if out.Status != sfntypes.ExecutionStatusFailed || !strings.Contains(aws.ToString(out.Cause), account) {
		t.Fatalf("execution into an account without the member role: %s %s %s", out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
	}
	rec, err := mirrorer.Store.GetMirror(ctx, src, inventory.Place("us-west-2", account))
	if err != nil || rec == nil || rec.Status != inventory.StatusFailed || rec.LastRunID != aws.ToString(out.Name) || rec.DestAccount != account {
		t.Errorf("record at the account's key = %+v, %v; want FAILED by %s", rec, err, aws.ToString(out.Name))
	}
	if same, _ := mirrorer.Store.GetMirror(ctx, src, "us-west-2"); same != nil {
		t.Errorf("the failure path wrote the single-account record: %+v", same)
	}
}
