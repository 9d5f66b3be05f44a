package mirror

import (
	"context"
	"fmt"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
)

// runAccounts are the accounts of one run and the clients acting in each:
// the source's and the destination's (Input.SourceAccountNumber and
// DestAccountNumber), each the deployment's own clients or those of the
// account's member role (awsclient.Clients.ForAccount).
type runAccounts struct {
	sourceAccount, destAccountNumber string
	// destAccount is the destination's account when it is not the
	// source's, "" within one account: it goes into the mirror's key
	// (inventory.Place), its derived names and its records, so records of
	// mirrors within one account stay what they always were.
	destAccount string
	src, dst    *awsclient.Clients
}

// accountsOf names the accounts of in; actIn then finds their clients.
func accountsOf(in Input) runAccounts {
	a := runAccounts{sourceAccount: in.SourceAccountNumber, destAccountNumber: in.DestAccountNumber}
	if in.DestAccountNumber != "" && in.DestAccountNumber != in.SourceAccountNumber {
		a.destAccount = in.DestAccountNumber
	}
	return a
}

// actIn gets the clients acting in the run's accounts: one AssumeRole of
// each account's member role the first time in this process (a missing or
// refusing role is an *awsclient.AssumeRoleError naming account and role).
func (m *Mirrorer) actIn(ctx context.Context, a *runAccounts) error {
	if m.Clients.Account() == "" {
		// A Mirrorer built without the deployment's account (Config.AccountID)
		// knows no other account: it works within one, as it always did.
		if a.destAccount != "" {
			return fmt.Errorf("mirroring into account %s needs this deployment's own account id (BUCKETMIRROR_ACCOUNT_ID) to tell it from the others", a.destAccount)
		}
		a.src, a.dst = m.Clients, m.Clients
		return nil
	}
	var err error
	if a.src, err = m.Clients.ForAccount(ctx, a.sourceAccount); err != nil {
		return fmt.Errorf("reaching the source's account: %w", err)
	}
	if a.dst, err = m.Clients.ForAccount(ctx, a.destAccountNumber); err != nil {
		return fmt.Errorf("reaching the destination's account: %w", err)
	}
	return nil
}

// source and dest are the run's buckets, read and written in their accounts.
func (a runAccounts) source(name, region string) bucketconfig.Bucket {
	return bucketconfig.Bucket{Name: name, Region: region}.In(a.src)
}

func (a runAccounts) dest(name, region string) bucketconfig.Bucket {
	return bucketconfig.Bucket{Name: name, Region: region}.In(a.dst)
}

// place addresses the mirror's records (inventory.Place).
func (a runAccounts) place(region string) string { return inventory.Place(region, a.destAccount) }

// inDest says, for an error about a destination name, in which account it
// was looked for when that is not the source's.
func (a runAccounts) inDest() string {
	if a.destAccount == "" {
		return ""
	}
	return " (looked for in destination account " + a.destAccount + ")"
}

// run fills in the accounts and roles of a run across accounts: the audit
// record names them. Within one account it is r unchanged.
func (a runAccounts) run(r inventory.Run) inventory.Run {
	if a.destAccount == "" && (a.src == nil || a.src.RoleARN() == "") {
		return r
	}
	r.SourceAccount, r.DestAccount = a.sourceAccount, a.destAccountNumber
	if a.src != nil {
		r.SourceRole = a.src.RoleARN()
	}
	if a.dst != nil {
		r.DestRole = a.dst.RoleARN()
	}
	return r
}

// Target is what plan needs of a request without running it: the source
// and destination (dest) buckets, each in its account, the clients acting in
// the destination's account, and the place of the mirror's records
// (inventory.Place). It assumes the member roles the request needs.
func (m *Mirrorer) Target(ctx context.Context, in Input, dest string) (bucketconfig.Mirror, *awsclient.Clients, error) {
	a := accountsOf(in)
	if err := m.actIn(ctx, &a); err != nil {
		return bucketconfig.Mirror{}, nil, err
	}
	source, _ := BucketFromARN("sourceBucketARN", in.SourceBucketARN)
	return bucketconfig.Mirror{Source: a.source(source, in.SourceRegion), Dest: a.dest(dest, in.DestRegion)}, a.dst, nil
}

// Place is where the records of in's mirror are (inventory.Place): its
// destination Region, and its destination account when that is not the
// source's.
func (in Input) Place() string { return accountsOf(in).place(in.DestRegion) }

// DestAccount is in's destination account when it is not the source's, ""
// within one account.
func (in Input) DestAccount() string { return accountsOf(in).destAccount }

// foreignSource is the source's account when it is not the deployment's
// (the mirror record's sourceAccount), "" for the deployment's own.
func (a runAccounts) foreignSource() string {
	if a.src == nil || a.src.RoleARN() == "" {
		return ""
	}
	return a.sourceAccount
}
