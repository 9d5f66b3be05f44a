package localcloud

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// OrganizationAccessRole is the role AWS Organizations creates in every
// account it creates (CreateAccount's RoleName default), trusted by the
// management account; moto creates it too.
const OrganizationAccessRole = "OrganizationAccountAccessRole"

// AccountConfig is the local cloud's configuration acting in account,
// through the role Organizations created there: for setting up buckets in
// a member account the way its own administrators would.
func (c *Cloud) AccountConfig(ctx context.Context, account string) (aws.Config, error) {
	out, err := sts.NewFromConfig(c.AWSConfig()).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(fmt.Sprintf("arn:aws:iam::%s:role/%s", account, OrganizationAccessRole)), RoleSessionName: aws.String("localcloud-setup")})
	if err != nil {
		return aws.Config{}, fmt.Errorf("acting in account %s through %s: %w", account, OrganizationAccessRole, err)
	}
	cfg := c.AWSConfig()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(out.Credentials.AccessKeyId),
		aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken))
	return cfg, nil
}

// CanonicalID is the local cloud's canonical user id of account, as its ACLs
// and ListBuckets show it (launcher.py canonical_id): deterministic, 64 hex.
func CanonicalID(account string) string {
	sum := sha256.Sum256([]byte("bucketmirror-local-canonical-user:" + account))
	return hex.EncodeToString(sum[:])
}

// CreateRole creates role name in account (through AccountConfig) with a
// trust policy admitting principal ("arn:aws:iam::<account>:root", a role
// ARN, "*") to sts:AssumeRole, only with externalID when it is not empty,
// and returns the role's ARN. The launcher evaluates that trust policy on
// AssumeRole (row sts-assume-role-trust). It attaches no permissions: the
// local cloud does not enforce IAM (the deploy/ tests check the templates'
// policies instead).
func (c *Cloud) CreateRole(ctx context.Context, account, name, principal, externalID string) (string, error) {
	stmt := map[string]any{"Effect": "Allow", "Principal": map[string]any{"AWS": principal}, "Action": "sts:AssumeRole"}
	if externalID != "" {
		stmt["Condition"] = map[string]any{"StringEquals": map[string]any{"sts:ExternalId": externalID}}
	}
	return c.CreateRoleTrusting(ctx, account, name, stmt)
}

// CreateRoleTrusting creates role name in account whose trust policy is the
// one statement stmt (a trust statement as a template writes it, e.g.
// deploy/member-account.yaml's by Organization), and returns its ARN.
func (c *Cloud) CreateRoleTrusting(ctx context.Context, account, name string, stmt map[string]any) (string, error) {
	trust, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{stmt}})
	if err != nil {
		return "", err
	}
	cfg, err := c.AccountConfig(ctx, account)
	if err != nil {
		return "", err
	}
	out, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(string(trust))})
	if err != nil {
		return "", fmt.Errorf("creating role %s in account %s: %w", name, account, err)
	}
	return aws.ToString(out.Role.Arn), nil
}

// CreateMemberRole creates the member role (name, default
// "bucketmirror-member") in account, trusting the deployment's account
// (AccountID) with externalID, as deploy/member-account.yaml does in AWS.
func (c *Cloud) CreateMemberRole(ctx context.Context, account, name, externalID string) (string, error) {
	if name == "" {
		name = "bucketmirror-member"
	}
	return c.CreateRole(ctx, account, name, "arn:aws:iam::"+AccountID+":root", externalID)
}

// StandaloneAccountConfig is the local cloud's configuration acting in
// account as its administrator, for an account outside the local
// Organization whose id is fixed in advance (the sample events' member
// account): moto takes a request's account from its x-moto-account-id
// header (moto/core/responses.py, BaseResponse.get_current_account). For
// setting up a world only; the code under test reaches such an account the
// way it reaches any other, through AssumeRole of the member role.
func (c *Cloud) StandaloneAccountConfig(account string) aws.Config {
	cfg := c.AWSConfig()
	cfg.APIOptions = append(append([]func(*middleware.Stack) error{}, cfg.APIOptions...), smithyhttp.AddHeaderValue("x-moto-account-id", account))
	return cfg
}
