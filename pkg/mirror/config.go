package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
)

// Config is what the Lambdas and the CLI read from their environment.
type Config struct {
	Table     string // BUCKETMIRROR_TABLE
	TagPrefix string // BUCKETMIRROR_TAG_PREFIX
	AccountID string // BUCKETMIRROR_ACCOUNT_ID (for log-delivery conditions)
	// DestPrefix is BUCKETMIRROR_DEST_PREFIX: generated destination names
	// start with it (default "dest-"); the template's IAM is scoped to it.
	DestPrefix string
	// DestRegions is BUCKETMIRROR_DESTINATION_REGIONS (space-separated):
	// the Regions destinations may be in. Unset, BUCKETMIRROR_REGIONS
	// narrows them as it always did; both unset = any known Region.
	DestRegions []string
	// KMSKeys is BUCKETMIRROR_KMS_KEY_MAP: a JSON object of source key (ARN,
	// id or alias) to destination key.
	KMSKeys map[string]string
	// PolicyValues is BUCKETMIRROR_POLICY_VALUE_MAP: a JSON object of a
	// Region-bound bucket-policy condition value (vpc-…, vpce-…, KMS/SNS/SQS
	// ARN) to its counterpart in the destination Region.
	PolicyValues map[string]string
	// MemberRole is how to act in other accounts (BUCKETMIRROR_MEMBER_ROLE,
	// BUCKETMIRROR_EXTERNAL_ID).
	MemberRole awsclient.MemberRole
}

// ConfigFromEnv reads Config with getenv (os.Getenv in production).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{Table: getenv("BUCKETMIRROR_TABLE"), TagPrefix: getenv("BUCKETMIRROR_TAG_PREFIX"), AccountID: getenv("BUCKETMIRROR_ACCOUNT_ID"), DestPrefix: getenv("BUCKETMIRROR_DEST_PREFIX")}
	if c.Table == "" {
		c.Table = inventory.DefaultTable
	}
	if c.TagPrefix == "" {
		c.TagPrefix = "bucketmirror:"
	}
	c.DestRegions = strings.Fields(getenv("BUCKETMIRROR_DESTINATION_REGIONS"))
	if len(c.DestRegions) == 0 {
		c.DestRegions = strings.Fields(getenv("BUCKETMIRROR_REGIONS"))
	}
	for _, r := range c.DestRegions {
		if err := ValidateRegion(r); err != nil {
			return c, fmt.Errorf("BUCKETMIRROR_DESTINATION_REGIONS: %q is %w", r, err)
		}
	}
	if err := ValidateNamePrefix(c.DestPrefix); c.DestPrefix != "" && err != nil {
		return c, fmt.Errorf("BUCKETMIRROR_DEST_PREFIX %q %w", c.DestPrefix, err)
	}
	var err error
	if c.MemberRole, err = awsclient.MemberRoleFromEnv(getenv); err != nil {
		return c, err
	}
	if raw := getenv("BUCKETMIRROR_KMS_KEY_MAP"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &c.KMSKeys); err != nil {
			return c, fmt.Errorf("BUCKETMIRROR_KMS_KEY_MAP must be a JSON object of source key to destination key: %w", err)
		}
	}
	if raw := getenv("BUCKETMIRROR_POLICY_VALUE_MAP"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &c.PolicyValues); err != nil {
			return c, fmt.Errorf("BUCKETMIRROR_POLICY_VALUE_MAP must be a JSON object of source condition value to destination value: %w", err)
		}
	}
	return c, nil
}

// NewMirrorer wires a Mirrorer from one loaded aws.Config.
func NewMirrorer(cfg aws.Config, c Config, opts bucketconfig.Options, log *slog.Logger) *Mirrorer {
	clients := awsclient.New(cfg).WithMemberRole(c.AccountID, c.MemberRole)
	opts.TagPrefix = c.TagPrefix
	opts.AccountID = c.AccountID
	opts.NamePrefix = c.DestPrefix
	if opts.KMSKeys == nil {
		opts.KMSKeys = c.KMSKeys
	}
	if opts.PolicyValues == nil {
		opts.PolicyValues = c.PolicyValues
	}
	return &Mirrorer{
		Clients:     clients,
		Engine:      bucketconfig.New(clients, opts),
		Store:       inventory.New(dynamodb.NewFromConfig(cfg), c.Table),
		TagPrefix:   c.TagPrefix,
		DestPrefix:  c.DestPrefix,
		DestRegions: c.DestRegions,
		Log:         log,
	}
}

// Setup builds a Mirrorer the way the Lambdas and the CLI do: settings from
// getenv, and without BUCKETMIRROR_ACCOUNT_ID the caller's account (one STS
// GetCallerIdentity call).
func Setup(ctx context.Context, cfg aws.Config, getenv func(string) string, log *slog.Logger) (*Mirrorer, error) {
	c, err := ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	if c.AccountID == "" {
		out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return nil, fmt.Errorf("finding the AWS account (set BUCKETMIRROR_ACCOUNT_ID to skip this): %w", err)
		}
		c.AccountID = aws.ToString(out.Account)
	}
	return NewMirrorer(cfg, c, bucketconfig.Options{}, log), nil
}

var namePrefixRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)

// ValidateNamePrefix checks a name prefix as the template's
// DestinationNamePrefix parameter does: the start of a bucket name, short
// enough that every name bucketmirror derives from it fits S3's 63
// characters (bucketconfig.MaxNamePrefix).
func ValidateNamePrefix(prefix string) error {
	switch {
	case !namePrefixRE.MatchString(prefix):
		return fmt.Errorf("must start a bucket name: lowercase letters, digits, dots and hyphens, starting with a letter or digit")
	case len(prefix) > bucketconfig.MaxNamePrefix:
		return fmt.Errorf("is %d characters; at most %d leave room for the names bucketmirror derives from it", len(prefix), bucketconfig.MaxNamePrefix)
	}
	return nil
}
