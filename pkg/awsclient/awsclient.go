// Package awsclient builds the AWS SDK clients bucketmirror uses from one
// aws.Config, so every entrypoint (Lambda, CLI, tests) configures them the
// same way: standard AWS environment, adaptive retries, and path-style S3
// whenever a custom endpoint (AWS_ENDPOINT_URL, the local cloud) is set.
package awsclient

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// maxAttempts bounds retries of throttling and transient errors; S3's
// SlowDown and 503s on busy accounts need more than the SDK's default 3.
const maxAttempts = 8

// ErrNoRegion is returned by Load when no Region is configured anywhere.
var ErrNoRegion = errors.New("no AWS Region configured: set AWS_REGION or a region in your AWS profile")

// Load reads the standard AWS configuration (environment, AWS_PROFILE, shared
// config and credentials files, AWS_ENDPOINT_URL) with adaptive retries.
func Load(ctx context.Context, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	opts = append([]func(*config.LoadOptions) error{config.WithRetryer(NewRetryer)}, opts...)
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

// S3 hands out one S3 client per Region. S3 bucket operations must be sent
// to the bucket's Region (PermanentRedirect otherwise), so the engine asks
// for the client of the source's or the destination's Region.
type S3 struct {
	cfg     aws.Config
	mu      sync.Mutex
	clients map[string]*s3.Client
	opts    []func(*s3.Options)
}

// NewS3 returns a per-Region S3 client cache built from cfg. Extra options
// (middleware for call counting or fault injection) apply to every client.
func NewS3(cfg aws.Config, opts ...func(*s3.Options)) *S3 {
	return &S3{cfg: cfg, clients: map[string]*s3.Client{}, opts: opts}
}

// Region returns the client for region.
func (f *S3) Region(region string) *s3.Client {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.clients[region]; ok {
		return c
	}
	opts := append([]func(*s3.Options){func(o *s3.Options) {
		o.Region = region
		// Virtual-hosted addressing needs DNS for BUCKET.host; custom
		// endpoints (the local cloud, S3-compatible proxies) rarely have it.
		o.UsePathStyle = f.cfg.BaseEndpoint != nil
	}}, f.opts...)
	c := s3.NewFromConfig(f.cfg, opts...)
	f.clients[region] = c
	return c
}

// Config returns the configuration the clients are built from.
func (f *S3) Config() aws.Config { return f.cfg }
