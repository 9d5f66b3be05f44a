// Package awsclient builds the AWS SDK clients bucketmirror uses from one
// aws.Config, so every entrypoint (Lambda, CLI, tests) configures them the
// same way: standard AWS environment, adaptive retries, and path-style S3
// whenever a custom endpoint (AWS_ENDPOINT_URL, the local cloud) is set.
package awsclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
)

// maxAttempts bounds retries of throttling and transient errors; S3's
// SlowDown and 503s on busy accounts need more than the SDK's default 3.
const maxAttempts = 8

// ErrNoRegion is returned by Load when no Region is configured anywhere.
var ErrNoRegion = errors.New("no AWS Region configured: set AWS_REGION or a region in your AWS profile")

// Load reads the standard AWS configuration (environment, AWS_PROFILE, shared
// config and credentials files, AWS_ENDPOINT_URL) with adaptive retries.
func Load(ctx context.Context, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	opts = append([]func(*config.LoadOptions) error{config.WithRetryer(NewRetryer), config.WithHTTPClient(NewHTTPClient())}, opts...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, ErrNoRegion
	}
	return cfg, nil
}

// NewRetryer is the retry policy for every client: adaptive (client-side
// rate limiting on throttling) with a higher attempt bound.
func NewRetryer() aws.Retryer {
	return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
		o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) {
			so.MaxAttempts = maxAttempts
		})
	})
}

// maxIdleConnsPerHost keeps as many connections open to one endpoint as a
// configure has calls in flight to it (Options.Concurrency, 24 per bucket,
// plus the log bucket's checks), instead of the SDK's default of 10: every
// connection closed after a burst must be set up again for the next round,
// and to a Regional S3 endpoint a new connection costs a TCP and a TLS
// handshake, one to two round trips more, before its request is even sent.
const maxIdleConnsPerHost = 64

// NewHTTPClient is the HTTP client of every AWS client: the SDK's, keeping
// more connections warm per endpoint (see maxIdleConnsPerHost). Idle
// connections live 90 s (the SDK's default), longer than the pause between a
// plan's rounds and between the create and configure steps of one Lambda
// container.
func NewHTTPClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = maxIdleConnsPerHost
		t.MaxIdleConns = max(t.MaxIdleConns, 4*maxIdleConnsPerHost)
	})
}

// Clients hands out the Region-bound clients bucketmirror needs, one per
// service and Region, all built from one aws.Config. S3 bucket operations must
// be sent to the bucket's Region (PermanentRedirect otherwise), KMS keys and
// S3 Control resources are Regional too.
type Clients struct {
	cfg       aws.Config
	s3        perRegion[*s3.Client]
	kms       perRegion[*kms.Client]
	s3control perRegion[*s3control.Client]
	s3opts    []func(*s3.Options)

	// account is the account these clients act in ("" until WithMemberRole
	// names the deployment's), roleARN the member role they act through
	// ("" for the deployment's own), accounts what all of them share.
	account  string
	roleARN  string
	accounts *accounts
}

// perRegion builds a service's client once per Region, on first use.
type perRegion[C any] struct {
	mu      sync.Mutex
	clients map[string]C
	build   func(region string) C
}

func (p *perRegion[C]) get(region string) C {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[region]; ok {
		return c
	}
	if p.clients == nil {
		p.clients = map[string]C{}
	}
	c := p.build(region)
	p.clients[region] = c
	return c
}

// New returns a client cache built from cfg. Extra S3 options (middleware
// for call counting or fault injection) apply to every S3 client.
func New(cfg aws.Config, s3opts ...func(*s3.Options)) *Clients {
	c := &Clients{cfg: cfg, s3opts: s3opts}
	c.s3.build = func(region string) *s3.Client {
		opts := append([]func(*s3.Options){func(o *s3.Options) {
			o.Region = region
			// Virtual-hosted addressing needs DNS for BUCKET.host; custom
			// endpoints (the local cloud, S3-compatible proxies) rarely have it.
			o.UsePathStyle = cfg.BaseEndpoint != nil
		}}, s3opts...)
		return s3.NewFromConfig(cfg, opts...)
	}
	c.kms.build = func(region string) *kms.Client {
		return kms.NewFromConfig(cfg, func(o *kms.Options) { o.Region = region })
	}
	c.s3control.build = func(region string) *s3control.Client {
		return s3control.NewFromConfig(cfg, func(o *s3control.Options) {
			o.Region = region
			if cfg.BaseEndpoint != nil {
				o.EndpointResolverV2 = withoutAccountHost{s3control.NewDefaultEndpointResolverV2()}
			}
		})
	}
	return c
}

// S3 returns the S3 client for region.
func (c *Clients) S3(region string) *s3.Client { return c.s3.get(region) }

// KMS returns the KMS client for region.
func (c *Clients) KMS(region string) *kms.Client { return c.kms.get(region) }

// S3Control returns the S3 Control client for region.
func (c *Clients) S3Control(region string) *s3control.Client { return c.s3control.get(region) }

// withoutAccountHost resolves S3 Control endpoints without the account-id
// host label. The endpoint rules put "{AccountId}." in front of any custom
// endpoint's host, and the local cloud (like most S3-compatible proxies) has
// no DNS for 123456789012.127.0.0.1; the account id still travels in the
// x-amz-account-id header every S3 Control operation sends.
type withoutAccountHost struct {
	next s3control.EndpointResolverV2
}

func (r withoutAccountHost) ResolveEndpoint(ctx context.Context, p s3control.EndpointParameters) (smithyendpoints.Endpoint, error) {
	ep, err := r.next.ResolveEndpoint(ctx, p)
	if err == nil && p.AccountId != nil {
		ep.URI.Host = strings.TrimPrefix(ep.URI.Host, *p.AccountId+".")
	}
	return ep, err
}

// Config returns the configuration the clients are built from.
func (c *Clients) Config() aws.Config { return c.cfg }
