package mirror

import (
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/bucketconfig"
	"github.com/bucketmirror/bucketmirror/pkg/inventory"
)

// Config is what the Lambdas and the CLI read from their environment.
type Config struct {
	Table     string // BUCKETMIRROR_TABLE
	TagPrefix string // BUCKETMIRROR_TAG_PREFIX
	AccountID string // BUCKETMIRROR_ACCOUNT_ID (for log-delivery conditions)
	// KMSKeys is BUCKETMIRROR_KMS_KEY_MAP: a JSON object of source key (ARN,
	// id or alias) to destination key.
	KMSKeys map[string]string
}

// ConfigFromEnv reads Config with getenv (os.Getenv in production).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{Table: getenv("BUCKETMIRROR_TABLE"), TagPrefix: getenv("BUCKETMIRROR_TAG_PREFIX"), AccountID: getenv("BUCKETMIRROR_ACCOUNT_ID")}
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
		Clients:   clients,
		Engine:    bucketconfig.New(clients, opts),
		Store:     inventory.New(dynamodb.NewFromConfig(cfg), c.Table),
		TagPrefix: c.TagPrefix,
		Log:       log,
	}
}
