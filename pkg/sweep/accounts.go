package sweep

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/sts"

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

// view returns the sweep's view of account ("" is the deployment's own).
func (s *Sweeper) view(account string) *accountView {
	if account == "" {
		account = s.cfg.AccountID
	}
	s.viewsMu.Lock()
	defer s.viewsMu.Unlock()
	if v := s.views[account]; v != nil {
		return v
	}
	v := &accountView{id: account, tagging: map[string]*rgt.Client{}}
	if account == s.cfg.AccountID {
		v.cfg, v.clients, v.engine = s.awsCfg, s.clients, s.engine
	} else {
		v.role = memberRoleARN(s.home, account, s.cfg.MemberRole)
		v.cfg = s.awsCfg.Copy()
		v.cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(s.awsCfg), v.role,
			func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "bucketmirror-sweep" }))
		v.clients = awsclient.New(v.cfg)
		opts := s.engine.Options()
		opts.AccountID = account
		v.engine = bucketconfig.New(v.clients, opts)
	}
	s.views[account] = v
	return v
}

// memberRoleARN is the member role's ARN in account, in the partition of
// the home Region.
func memberRoleARN(home, account, role string) string {
	partition := "aws"
	switch {
	case strings.HasPrefix(home, "cn-"):
		partition = "aws-cn"
	case strings.HasPrefix(home, "us-gov-"):
		partition = "aws-us-gov"
	}
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, account, role)
}

// reach returns the view of account after making sure the sweep can act
// there: in another account, that the member role can be assumed (the
// credentials are cached, so this costs one AssumeRole call per hour, not
// one per source). An account that cannot be reached is remembered for the
// run and reported once.
func (r *run) reach(ctx context.Context, account string) (*accountView, *AccountError) {
	v := r.view(account)
	if v.role == "" {
		return v, nil
	}
	r.mu.Lock()
	if e, ok := r.unreachable[v.id]; ok {
		r.mu.Unlock()
		return nil, &e
	}
	r.mu.Unlock()
	if _, err := v.cfg.Credentials.Retrieve(ctx); err != nil {
		return nil, r.accountFailed(v, fmt.Errorf("assuming %s to act in account %s (deploy deploy/member-account.yaml there, or drop the account from BUCKETMIRROR_ACCOUNTS): %w", v.role, v.id, err))
	}
	return v, nil
}

// accountFailed records that account v cannot be swept, once per run.
func (r *run) accountFailed(v *accountView, err error) *AccountError {
	e := AccountError{Account: v.id, Role: v.role, Code: bucketconfig.ErrorCode(err), Error: err.Error()}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unreachable == nil {
		r.unreachable = map[string]AccountError{}
	}
	if prev, ok := r.unreachable[v.id]; ok {
		return &prev
	}
	r.unreachable[v.id] = e
	return &e
}

// accountErrors are the run's unreachable accounts, in account order.
func (r *run) accountErrors() []AccountError {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []AccountError
	for _, e := range r.unreachable {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b AccountError) int { return cmp.Compare(a.Account, b.Account) })
	return out
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
func (r *run) organizationAccounts(ctx context.Context) ([]string, error) {
	client := organizations.NewFromConfig(r.awsCfg)
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
