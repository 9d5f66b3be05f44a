package localcloud

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// OrganizationAccessRole is the role AWS Organizations creates in every
// account it creates (CreateAccount's RoleName default), trusted by the
// management account; moto creates it too.
const OrganizationAccessRole = "OrganizationAccountAccessRole"

// orgMu serialises creating the Organization: moto refuses a second
// CreateOrganization (AlreadyInOrganizationException), and tests of one
// package share one local cloud.
var orgMu sync.Mutex

// CreateMemberAccount creates an account named name in the local cloud's
// Organization, whose management account is AccountID (the Organization is
// created on first use), and returns its id. With role set, it also
// creates that IAM role in the new account, as deploy/member-account.yaml
// would (moto checks no trust policy; the one written admits the management
// account). Without it, AssumeRole of any other role there is refused with
// AccessDenied, as in AWS (launcher row sts-assume-role-missing-role).
func (c *Cloud) CreateMemberAccount(ctx context.Context, name, role string) (string, error) {
	org := organizations.NewFromConfig(c.AWSConfig())
	orgMu.Lock()
	_, err := org.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll})
	orgMu.Unlock()
	var already *orgtypes.AlreadyInOrganizationException
	if err != nil && !errors.As(err, &already) {
		return "", fmt.Errorf("creating the local Organization: %w", err)
	}
	out, err := org.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String(name), Email: aws.String(name + "@example.com")})
	if err != nil {
		return "", fmt.Errorf("creating account %s in the local Organization: %w", name, err)
	}
	account := aws.ToString(out.CreateAccountStatus.AccountId)
	if role == "" {
		return account, nil
	}
	cfg, err := c.AccountConfig(ctx, account)
	if err != nil {
		return "", err
	}
	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole"}]}`, AccountID)
	if _, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		return "", fmt.Errorf("creating role %s in account %s: %w", role, account, err)
	}
	return account, nil
}

// CloseAccount closes a member account: ListAccounts then reports it
// SUSPENDED (AWS passes through PENDING_CLOSURE first; moto goes straight
// to SUSPENDED).
func (c *Cloud) CloseAccount(ctx context.Context, account string) error {
	if _, err := organizations.NewFromConfig(c.AWSConfig()).CloseAccount(ctx, &organizations.CloseAccountInput{AccountId: aws.String(account)}); err != nil {
		return fmt.Errorf("closing account %s: %w", account, err)
	}
	return nil
}

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
