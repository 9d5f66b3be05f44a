package localcloud

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

// orgMu serialises creating the Organization: moto refuses a second
// CreateOrganization (AlreadyInOrganizationException), and tests of one
// package share one local cloud.
var orgMu sync.Mutex

// CreateMemberAccount creates an account named name in the local cloud's
// Organization, whose management account is AccountID (the Organization is
// created on first use), and returns its id. Organizations also creates
// OrganizationAccountAccessRole there; bucketmirror's member role is
// created by CreateMemberRole.
func (c *Cloud) CreateMemberAccount(ctx context.Context, name string) (string, error) {
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
	return aws.ToString(out.CreateAccountStatus.AccountId), nil
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
