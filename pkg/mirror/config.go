package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

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
	// KMSKeys is BUCKETMIRROR_KMS_KEY_MAP: a JSON object of source key (ARN,
	// id or alias) to destination key.
	KMSKeys map[string]string
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
	if raw := getenv("BUCKETMIRROR_KMS_KEY_MAP"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &c.KMSKeys); err != nil {
			return c, fmt.Errorf("BUCKETMIRROR_KMS_KEY_MAP must be a JSON object of source key to destination key: %w", err)
		}
	}
	return c, nil
}

// NewMirrorer wires a Mirrorer from one loaded aws.Config.
func NewMirrorer(cfg aws.Config, c Config, opts bucketconfig.Options, log *slog.Logger) *Mirrorer {
	clients := awsclient.New(cfg)
	opts.TagPrefix = c.TagPrefix
	opts.AccountID = c.AccountID
	if opts.KMSKeys == nil {
		opts.KMSKeys = c.KMSKeys
	}
	return &Mirrorer{
		Clients:    clients,
		Engine:     bucketconfig.New(clients, opts),
		Store:      inventory.New(dynamodb.NewFromConfig(cfg), c.Table),
		TagPrefix:  c.TagPrefix,
		DestPrefix: c.DestPrefix,
		Log:        log,
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
