package sweep

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
)

// Sources in many accounts (BUCKETMIRROR_ACCOUNTS): the sweep looks for
// tagged buckets in each account with the clients of that account — its own
// credentials in the deployment's account, the member role
// (deploy/member-account.yaml) everywhere else. An account it cannot act in
// is reported (AccountError: summary, event, metric) and the others go on.

// AccountError is an account the sweep could not look for sources in: its
// member role is missing, does not trust the deployment, or denies a call
// the listing needs.
type AccountError struct {
	Account string `json:"account"`
	// Role is the role the sweep assumed there ("" in the deployment's own
	// account, which needs none).
	Role string `json:"role,omitempty"`
	// Code is the AWS error code (AccessDenied, ...), or "" when the error
	// carried none.
	Code  string `json:"code"`
	Error string `json:"error"`
}

// accountView is one account as the sweep sees it: the configuration,
// clients and engine that act there, built once per Sweeper (credentials
// are cached and refreshed by the SDK).
type accountView struct {
	id      string
	role    string // "" for the deployment's own account
	cfg     aws.Config
	clients *awsclient.Clients
	engine  *bucketconfig.Engine

	taggingMu sync.Mutex
	tagging   map[string]*rgt.Client
}

// taggingClient is the Tagging API client of region in this account, made
// once: which Regions a sweep asks is known only after ListBuckets.
func (v *accountView) taggingClient(region string) *rgt.Client {
	v.taggingMu.Lock()
	defer v.taggingMu.Unlock()
	c := v.tagging[region]
	if c == nil {
		c = rgt.NewFromConfig(v.cfg, func(o *rgt.Options) { o.Region = region })
		v.tagging[region] = c
	}
	return c
}

// view returns the sweep's view of account ("" is the deployment's own):
// the deployment's clients there, the member role's elsewhere
// (awsclient.Clients.ForAccount: one AssumeRole on first use, then cached
// and refreshed by the SDK). A role that cannot be assumed is an
// *awsclient.AssumeRoleError and is not cached, so a role deployed later
// is found by the next sweep.
func (s *Sweeper) view(ctx context.Context, account string) (*accountView, error) {
	if account == "" {
		account = s.cfg.AccountID
	}
	s.viewsMu.Lock()
	v := s.views[account]
	s.viewsMu.Unlock()
	if v != nil {
		return v, nil
	}
	clients, err := s.clients.ForAccount(ctx, account)
	if err != nil {
		return nil, err
	}
	v = &accountView{id: account, role: clients.RoleARN(), cfg: clients.Config(), clients: clients, engine: s.engine, tagging: map[string]*rgt.Client{}}
	if account != s.cfg.AccountID {
		opts := s.engine.Options()
		opts.AccountID = account
		v.engine = bucketconfig.New(clients, opts)
	}
	s.viewsMu.Lock()
	defer s.viewsMu.Unlock()
	if have := s.views[account]; have != nil {
		return have, nil
	}
	s.views[account] = v
	return v, nil
}

// reach returns the view of account, or the AccountError that keeps the
// sweep out of it (remembered for the run, so it is tried and reported
// once per sweep).
func (r *run) reach(ctx context.Context, account string) (*accountView, *AccountError) {
	account = cmp.Or(account, r.cfg.AccountID)
	r.mu.Lock()
	if e, ok := r.unreachable[account]; ok {
		r.mu.Unlock()
		return nil, &e
	}
	r.mu.Unlock()
	v, err := r.view(ctx, account)
	if err != nil {
		role := ""
		var ae *awsclient.AssumeRoleError
		if errors.As(err, &ae) {
			role = ae.RoleARN
		}
		return nil, r.accountFailed(account, role, err)
	}
	return v, nil
}

// accountFailed records that account cannot be swept, once per run.
func (r *run) accountFailed(account, role string, err error) *AccountError {
	e := AccountError{Account: account, Role: role, Code: bucketconfig.ErrorCode(err), Error: err.Error()}
	var ae *awsclient.AssumeRoleError
	if errors.As(err, &ae) {
		e.Code = ae.Code
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unreachable == nil {
		r.unreachable = map[string]AccountError{}
	}
	if prev, ok := r.unreachable[account]; ok {
		return &prev
	}
	r.unreachable[account] = e
	return &e
}

// accountErrors are the run's unreachable accounts, in account order.
func (r *run) accountErrors() []AccountError {
	r.mu.Lock()
	defer r.mu.Unlock()
	return sortedAccountErrors(r.unreachable)
}

func sortedAccountErrors(m map[string]AccountError) []AccountError {
	return slices.SortedFunc(maps.Values(m), func(a, b AccountError) int { return cmp.Compare(a.Account, b.Account) })
}

// publishAccountErrors sends one Sweep Account Unreachable event per
// account.
func (r *run) publishAccountErrors(ctx context.Context, errs []AccountError) {
	for _, e := range errs {
		r.pub.add(ctx, DetailAccountUnreachable, EventDetail{Account: e.Account, Role: e.Role, ErrorCode: e.Code, Error: e.Error})
	}
}

// accountsToSweep are the accounts to look for sources in: the deployment's own
// (Config.Accounts and Organization unset), the listed ones, or every
// ACTIVE account of the Organization. A failed ListAccounts is an error and
// the deployment's own account is still swept.
func (r *run) accountsToSweep(ctx context.Context) ([]string, error) {
	switch {
	case r.cfg.Organization:
		ids, err := r.organizationAccounts(ctx)
		if err != nil {
			return []string{r.cfg.AccountID}, err
		}
		return ids, nil
	case len(r.cfg.Accounts) > 0:
		return r.cfg.Accounts, nil
	}
	return []string{r.cfg.AccountID}, nil
}

// organizationAccounts pages through AWS Organizations ListAccounts (20 a
// page at most, https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListAccounts.html)
// and keeps the ACTIVE accounts: a SUSPENDED or closing account has no
// member role to assume and its buckets cannot be used. The call answers
// only in the management account or a delegated administrator.
func (s *Sweeper) organizationAccounts(ctx context.Context) ([]string, error) {
	client := organizations.NewFromConfig(s.awsCfg)
	var ids []string
	p := organizations.NewListAccountsPaginator(client, &organizations.ListAccountsInput{MaxResults: aws.Int32(20)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the Organization's accounts (BUCKETMIRROR_ACCOUNTS=%s needs organizations:ListAccounts in the management account or a delegated administrator): %w",
				AccountsOrganization, err)
		}
		for _, a := range page.Accounts {
			if accountActive(a) {
				ids = append(ids, aws.ToString(a.Id))
			}
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(ids))), nil
}

// accountActive reads State, which replaces the Status that Organizations
// retires on 9 September 2026 (aws-sdk-go-v2 service/organizations
// types.Account); Status is read only from an answer without State.
func accountActive(a orgtypes.Account) bool {
	if a.State != "" {
		return a.State == orgtypes.AccountStateActive
	}
	return a.Status == orgtypes.AccountStatusActive //nolint:staticcheck // the fallback for answers without State
}

// UnknownAccountError: a change event came from an account this deployment
// does not work in — neither its own nor one of BUCKETMIRROR_ACCOUNTS (nor,
// with "organization", an ACTIVE account of the Organization). Nothing was
// read or assumed there; the central event bus policy should not have let
// the event in (see the README's Organization setup).
type UnknownAccountError struct {
	Account string
	Event   string
	Bucket  string
	// Accounts is what the deployment works in, as configured.
	Accounts string
}

func (e *UnknownAccountError) Error() string {
	return fmt.Sprintf("change event %s on bucket %q comes from account %s, which this deployment does not sweep (BUCKETMIRROR_ACCOUNTS=%q): refused, nothing read in that account",
		e.Event, e.Bucket, e.Account, e.Accounts)
}

// orgAccountsFresh is how long the Organization's account list admits
// change events before an event from an account not on it lists again:
// an account that just joined waits at most this long, and a burst of
// events costs one ListAccounts.
const orgAccountsFresh = time.Minute

// admitAccount says whether a change event from account may be acted on:
// the deployment's own ("" too), a listed one, or with Organization an
// ACTIVE account of it (ListAccounts in the deployment's own account: no
// call reaches the event's account). A refusal is an *UnknownAccountError.
func (s *Sweeper) admitAccount(ctx context.Context, account, event string, buckets []string) error {
	if account == "" || account == s.cfg.AccountID {
		return nil
	}
	configured := strings.Join(s.cfg.Accounts, " ")
	known := slices.Contains(s.cfg.Accounts, account)
	if s.cfg.Organization {
		configured = AccountsOrganization
		var err error
		if known, err = s.inOrganization(ctx, account); err != nil {
			return &SweepError{Message: fmt.Sprintf("change event %s from account %s: %v", event, account, err)}
		}
	}
	if known {
		return nil
	}
	bucket := ""
	if len(buckets) > 0 {
		bucket = buckets[0]
	}
	return &UnknownAccountError{Account: account, Event: event, Bucket: bucket, Accounts: configured}
}

// inOrganization says whether account is an ACTIVE account of the
// Organization, listing the accounts again when it is not on a list older
// than orgAccountsFresh.
func (s *Sweeper) inOrganization(ctx context.Context, account string) (bool, error) {
	s.orgMu.Lock()
	defer s.orgMu.Unlock()
	if slices.Contains(s.orgAccounts, account) {
		return true, nil
	}
	if !s.orgAt.IsZero() && s.now().Sub(s.orgAt) < orgAccountsFresh {
		return false, nil
	}
	ids, err := s.organizationAccounts(ctx)
	if err != nil {
		return false, err
	}
	s.orgAccounts, s.orgAt = ids, s.now()
	return slices.Contains(ids, account), nil
}

// isMemberRole says caller (a CloudTrail sessionIssuer.arn) is
// bucketmirror's member role in account, another account than the
// deployment's: the role only bucketmirror assumes, whose writes are
// create's and configure's there.
func (s *Sweeper) isMemberRole(caller, account string) bool {
	if account == "" || account == s.cfg.AccountID {
		return false
	}
	// arn:PARTITION:iam::ACCOUNT:role/NAME — the member template creates
	// it without a path.
	parts := strings.SplitN(caller, ":", 6)
	return len(parts) == 6 && parts[2] == "iam" && parts[4] == account &&
		parts[5] == "role/"+cmp.Or(s.cfg.Member.Name, awsclient.DefaultMemberRole)
}
