package awsclient

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// Acting in other accounts.
//
// bucketmirror's functions run in one account (the deployment's) and reach
// every other account through one role of the same name in each, the member
// role (deploy/member-account.yaml creates it). Clients.ForAccount hands out
// clients acting in an account: the deployment's own clients for its own
// account, else clients whose credentials come from sts:AssumeRole of
// arn:<partition>:iam::<account>:role/<member role>, refreshed by the SDK's
// stscreds provider before they expire, built once per account and process.

// DefaultMemberRole is the member role's name when BUCKETMIRROR_MEMBER_ROLE
// is unset (the member template's default).
const DefaultMemberRole = "bucketmirror-member"

// MemberRole says how to act in another account.
type MemberRole struct {
	// Name is the role's name in every member account
	// (BUCKETMIRROR_MEMBER_ROLE, default DefaultMemberRole).
	Name string
	// ExternalID is sent with every AssumeRole (BUCKETMIRROR_EXTERNAL_ID):
	// the member role's trust policy requires it, so a role ARN alone,
	// leaked or guessed, does not let another deployment in.
	ExternalID string
	// SessionName names the assumed sessions in the member accounts'
	// CloudTrail (default "bucketmirror").
	SessionName string
}

var (
	accountIDRE = regexp.MustCompile(`^[0-9]{12}$`)
	// IAM role names: 1-64 of letters, digits and +=,.@_- (IAM API
	// Reference, CreateRole RoleName).
	roleNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	// sts:ExternalId: 2-1224 of letters, digits and +=,.@:/- (STS API
	// Reference, AssumeRole ExternalId).
	externalIDRE = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
)

// MemberRoleFromEnv reads BUCKETMIRROR_MEMBER_ROLE and
// BUCKETMIRROR_EXTERNAL_ID with getenv.
func MemberRoleFromEnv(getenv func(string) string) (MemberRole, error) {
	r := MemberRole{Name: getenv("BUCKETMIRROR_MEMBER_ROLE"), ExternalID: getenv("BUCKETMIRROR_EXTERNAL_ID")}
	if r.Name == "" {
		r.Name = DefaultMemberRole
	}
	if !roleNameRE.MatchString(r.Name) {
		return r, fmt.Errorf("BUCKETMIRROR_MEMBER_ROLE %q is not an IAM role name (1-64 letters, digits and +=,.@_-)", r.Name)
	}
	if n := len(r.ExternalID); n > 0 && (n < 2 || n > 1224 || !externalIDRE.MatchString(r.ExternalID)) {
		return r, fmt.Errorf("BUCKETMIRROR_EXTERNAL_ID must be 2-1224 letters, digits and +=,.@:/- (an sts:ExternalId)")
	}
	return r, nil
}

// accounts is what a deployment's clients and every member account's
// clients built from them share.
type accounts struct {
	home    string // the deployment's account id
	role    MemberRole
	homeCfg aws.Config // the deployment's own credentials, which assume the member roles

	mu      sync.Mutex
	members map[string]*Clients
}

// WithMemberRole sets the deployment's own account (home) and how to act in
// the others, and returns c. Without it ForAccount knows no account but its
// own.
func (c *Clients) WithMemberRole(home string, role MemberRole) *Clients {
	if role.Name == "" {
		role.Name = DefaultMemberRole
	}
	if role.SessionName == "" {
		role.SessionName = "bucketmirror"
	}
	c.account = home
	c.accounts = &accounts{home: home, role: role, homeCfg: c.cfg, members: map[string]*Clients{home: c}}
	return c
}

// Account is the account these clients act in ("" when WithMemberRole was
// never called on the deployment's clients).
func (c *Clients) Account() string { return c.account }

// RoleARN is the member role these clients act through, "" for the
// deployment's own clients (they use the process's own credentials).
func (c *Clients) RoleARN() string { return c.roleARN }

// AssumeRoleError: the member role of an account could not be assumed — it
// does not exist there, its trust policy does not admit this deployment's
// roles or external id, or STS refused otherwise. STS answers a missing role
// and a refusing one alike (AccessDenied), so the message names both.
type AssumeRoleError struct {
	Account, RoleARN, Code string
	// NoExternalID says no external id was sent (BUCKETMIRROR_EXTERNAL_ID
	// empty), which every role of deploy/member-account.yaml refuses.
	NoExternalID bool
	Err          error
}

func (e *AssumeRoleError) Error() string {
	hint := "deploy deploy/member-account.yaml to that account"
	if e.NoExternalID {
		// STS answers the same AccessDenied for a missing role and for a
		// missing external id, so the likelier misconfiguration is named.
		hint = "BUCKETMIRROR_EXTERNAL_ID (template parameter ExternalId) is empty, and the member role of deploy/member-account.yaml requires " +
			"the external id it was deployed with: set it to that value, or deploy deploy/member-account.yaml to that account"
	}
	return fmt.Sprintf("assuming role %s in account %s (%s): the member role is missing there, or its trust policy does not admit this deployment (principal, external id); %s: %v",
		e.RoleARN, e.Account, e.Code, hint, e.Err)
}

func (e *AssumeRoleError) Unwrap() error { return e.Err }

// ForAccount returns clients acting in account: c itself when account is ""
// or the deployment's own, else the member role's clients, built and
// checked (one AssumeRole) on first use and cached for the process. A
// failed AssumeRole is returned as *AssumeRoleError and not cached, so a
// role deployed later is found by the next call.
func (c *Clients) ForAccount(ctx context.Context, account string) (*Clients, error) {
	a := c.accounts
	if account == "" || account == c.Account() {
		return c, nil
	}
	if a == nil {
		return nil, fmt.Errorf("acting in account %s: no member role configured for this deployment", account)
	}
	if account == a.home {
		return a.homeClients(), nil
	}
	if !accountIDRE.MatchString(account) {
		return nil, fmt.Errorf("acting in account %q: not a 12-digit AWS account id", account)
	}
	a.mu.Lock()
	member := a.members[account]
	a.mu.Unlock()
	if member != nil {
		return member, nil
	}
	roleARN := fmt.Sprintf("arn:%s:iam::%s:role/%s", partition(a.homeCfg.Region), account, a.role.Name)
	cfg := a.homeCfg.Copy()
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(a.homeCfg), roleARN,
		func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = a.role.SessionName
			if a.role.ExternalID != "" {
				o.ExternalID = aws.String(a.role.ExternalID)
			}
		}))
	// One AssumeRole now, so a missing or refusing role is one named error
	// here instead of a credentials failure inside the first S3 call.
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		code := "AssumeRoleFailed"
		var ae smithy.APIError
		if errors.As(err, &ae) {
			code = ae.ErrorCode()
		}
		return nil, &AssumeRoleError{Account: account, RoleARN: roleARN, Code: code, NoExternalID: a.role.ExternalID == "", Err: err}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if member := a.members[account]; member != nil {
		return member, nil
	}
	member = New(cfg, c.s3opts...)
	member.accounts, member.account, member.roleARN = a, account, roleARN
	a.members[account] = member
	return member, nil
}

// homeClients: the deployment's own clients, reached from a member's.
func (a *accounts) homeClients() *Clients {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.members[a.home]
}

// partition of a Region, for the role ARN.
func partition(region string) string {
	switch {
	case len(region) >= 3 && region[:3] == "cn-":
		return "aws-cn"
	case len(region) >= 7 && region[:7] == "us-gov-":
		return "aws-us-gov"
	}
	return "aws"
}
