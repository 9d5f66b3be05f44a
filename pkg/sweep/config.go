package sweep

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
	"github.com/bucketmirror/bucketmirror/pkg/mirror"
)

// Defaults of Config.
const (
	DefaultTagPrefix   = "bucketmirror:"
	DefaultEventBus    = "default"
	DefaultConcurrency = 8
	// DefaultLeaseTTL covers the longest in-process run (sweep --local holds
	// the lease for the whole create+configure) and is Lambda's own limit.
	DefaultLeaseTTL = 15 * time.Minute
	// DefaultInFlightWindow is how long a STARTED or CREATED mirror counts
	// as being worked on: the state machine's TimeoutSeconds (1800). Older
	// ones are stalled runs and are started again.
	DefaultInFlightWindow = 30 * time.Minute
	// A FAILED mirror whose source has not changed is retried by the next
	// sweep after its first failed attempt, then after 1 h, 2 h, 4 h, ...
	// up to a day: a transient error heals at once, a permanent one (a KMS
	// alias missing in the destination Region) does not start a failing run
	// and an alarm every sweep. A change to the source retries at once.
	retryBackoffBase = time.Hour
	retryBackoffMax  = 24 * time.Hour
	// DefaultBatchSize is how many sources one item of the full sweep's
	// Distributed Map holds: 100 unchanged sources cost about 2,300 S3 reads,
	// well inside an EXPRESS child's five minutes.
	DefaultBatchSize = 100
	// DefaultMapConcurrency bounds the children running at once; each makes
	// Concurrency (8) sources' calls at a time.
	DefaultMapConcurrency = 40
	// DefaultDeadlineMargin is how long before its context's deadline a
	// sweep stops taking new sources: enough for the sources in flight
	// (a few seconds each) to finish and release their leases.
	DefaultDeadlineMargin = 30 * time.Second
	// DefaultDestinationReadEvery: every full sweep reads destinations
	// (the template parameter DestinationReadEvery's default too).
	DefaultDestinationReadEvery = 1
	// DefaultInlineBytes is the largest JSON of batches the list step hands
	// the Map inline (ItemsPath) instead of writing a manifest: the Map's
	// input and its results share the 256 KiB a state's data may hold
	// (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html),
	// and the aggregate step gets the listing again, so a quarter of it.
	DefaultInlineBytes = 64 << 10
)

// retryBackoff is how long after its last failure a mirror that failed
// attempts times in a row waits.
func retryBackoff(attempts int) time.Duration {
	if attempts <= 1 {
		return 0
	}
	// 2^5 h is past the cap already; the bound keeps the shift small.
	return min(retryBackoffBase<<min(attempts-2, 5), retryBackoffMax)
}

var (
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
)

// AccountsOrganization as BUCKETMIRROR_ACCOUNTS looks for sources in every
// ACTIVE account of the Organization.
const AccountsOrganization = "organization"

// Config is what a sweep needs besides its clients.
type Config struct {
	// TagPrefix of the control tags (default "bucketmirror:"); it must match
	// the Mirrorer's.
	TagPrefix string
	// Regions narrow where source buckets are looked for (the Tagging API
	// is Region-scoped). Empty: every Region that holds a bucket of the
	// account, as ListBuckets reports them (BucketRegion).
	Regions []string
	// DestinationRegions are the Regions mirrors may be created in. Empty:
	// Regions when those are set (BUCKETMIRROR_REGIONS alone has always
	// narrowed both), else every Region bucketmirror knows (mirror.Regions).
	DestinationRegions []string
	// AccountID is the deployment's own account (the state machine input
	// carries it): sources there are read with the functions' own
	// credentials.
	AccountID string
	// Accounts are the accounts to look for sources in (the deployment's
	// own only when it is listed); empty with Organization false means the
	// deployment's own account only. Sources in any other account are read
	// through the member role there (Member).
	Accounts []string
	// Organization: look for sources in every ACTIVE account of the
	// Organization (AWS Organizations ListAccounts, which answers in the
	// management account or a delegated administrator).
	Organization bool
	// Member is how to act in other accounts (BUCKETMIRROR_MEMBER_ROLE,
	// BUCKETMIRROR_EXTERNAL_ID), for clients that do not know it yet.
	Member awsclient.MemberRole
	// EventBus receives the sweep's events (default "default").
	EventBus string
	// Concurrency bounds the source buckets reconciled at once (default 8);
	// with the SDK's adaptive retryer it is also what keeps StartExecution
	// under its refill rate.
	Concurrency int
	// LeaseTTL is how long a source×Region lease lives (default 15 min).
	LeaseTTL time.Duration
	// InFlightWindow is how long a STARTED or CREATED mirror counts as being
	// worked on (default DefaultInFlightWindow). A sweep whose runs are all
	// in-process and over when it returns (sweep.LocalStarter) knows that a
	// record still STARTED or CREATED afterwards is a run that died without
	// recording its end, and may set it shorter to restart such runs at once.
	InFlightWindow time.Duration
	// Owner names this sweeper in leases; each Sweep call adds a random
	// suffix, so two sweeps never share a lease even in one process.
	Owner string
	// OwnRoles are the IAM role ARNs bucketmirror's functions write with
	// (create and configure): CloudTrail events they caused
	// (userIdentity.sessionContext.sessionIssuer.arn) are dropped before
	// any S3 call.
	OwnRoles []string
	// DeadlineMargin: a sweep stops taking new sources this long before its
	// context's deadline (default 30 s) and reports the rest as unreached.
	DeadlineMargin time.Duration

	// The full sweep through the sweep state machine (see fullsweep.go).

	// ManifestBucket receives the list step's batches (a bucket of
	// bucketmirror's, named with its prefix, emptied by a lifecycle rule).
	ManifestBucket string
	// BatchSize is the number of sources in one batch (default 100).
	BatchSize int
	// MapConcurrency is the Distributed Map's MaxConcurrency (default 40).
	MapConcurrency int
	// DestinationReadEvery: full sweeps read destinations only every Nth
	// round (default 1, every sweep). Worth raising only where destination
	// change events reach the sweep, which then repair damage within
	// seconds; without them a damaged destination waits up to N sweeps.
	DestinationReadEvery int
	// InlineBytes: batches whose JSON is at most this long go to the Map
	// inline, larger ones through a manifest in ManifestBucket (default
	// DefaultInlineBytes; negative: always a manifest).
	InlineBytes int
}

// ConfigFromEnv reads BUCKETMIRROR_TAG_PREFIX, BUCKETMIRROR_REGIONS and
// BUCKETMIRROR_DESTINATION_REGIONS (space-separated, either may be empty),
// BUCKETMIRROR_EVENT_BUS, BUCKETMIRROR_ACCOUNT_ID, BUCKETMIRROR_ACCOUNTS
// (space-separated account ids, or "organization"), BUCKETMIRROR_MEMBER_ROLE,
// BUCKETMIRROR_EXTERNAL_ID and
// BUCKETMIRROR_OWN_ROLE_ARNS (space-separated), and for the full sweep's
// functions BUCKETMIRROR_SWEEP_BUCKET, BUCKETMIRROR_SWEEP_BATCH_SIZE,
// BUCKETMIRROR_SWEEP_MAX_CONCURRENCY and BUCKETMIRROR_DESTINATION_READ_EVERY,
// with getenv (os.Getenv in
// production).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		TagPrefix:          getenv("BUCKETMIRROR_TAG_PREFIX"),
		Regions:            strings.Fields(getenv("BUCKETMIRROR_REGIONS")),
		DestinationRegions: strings.Fields(getenv("BUCKETMIRROR_DESTINATION_REGIONS")),
		EventBus:           getenv("BUCKETMIRROR_EVENT_BUS"),
		AccountID:          getenv("BUCKETMIRROR_ACCOUNT_ID"),
		Owner:              getenv("AWS_LAMBDA_LOG_STREAM_NAME"),
		OwnRoles:           strings.Fields(getenv("BUCKETMIRROR_OWN_ROLE_ARNS")),

		ManifestBucket: getenv("BUCKETMIRROR_SWEEP_BUCKET"),
	}
	if accounts := strings.Fields(getenv("BUCKETMIRROR_ACCOUNTS")); slices.Contains(accounts, AccountsOrganization) {
		if len(accounts) > 1 {
			return c, fmt.Errorf("BUCKETMIRROR_ACCOUNTS %q: %q stands alone (every ACTIVE account of the Organization); write either it or account ids", strings.Join(accounts, " "), AccountsOrganization)
		}
		c.Organization = true
	} else {
		c.Accounts = accounts
	}
	member, err := awsclient.MemberRoleFromEnv(getenv)
	if err != nil {
		return c, err
	}
	c.Member = member
	for _, n := range []struct {
		name string
		into *int
	}{
		{"BUCKETMIRROR_SWEEP_BATCH_SIZE", &c.BatchSize},
		{"BUCKETMIRROR_SWEEP_MAX_CONCURRENCY", &c.MapConcurrency},
		{"BUCKETMIRROR_DESTINATION_READ_EVERY", &c.DestinationReadEvery},
	} {
		v := getenv(n.name)
		if v == "" {
			continue
		}
		i, err := strconv.Atoi(v)
		if err != nil || i < 1 {
			return c, fmt.Errorf("%s %q must be a whole number of at least 1", n.name, v)
		}
		*n.into = i
	}
	c = c.withDefaults()
	return c, c.validate()
}

func (c Config) withDefaults() Config {
	if c.TagPrefix == "" {
		c.TagPrefix = DefaultTagPrefix
	}
	if c.EventBus == "" {
		c.EventBus = DefaultEventBus
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.InFlightWindow <= 0 {
		c.InFlightWindow = DefaultInFlightWindow
	}
	if c.Owner == "" {
		c.Owner = "sweep"
	}
	if c.DeadlineMargin <= 0 {
		c.DeadlineMargin = DefaultDeadlineMargin
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.MapConcurrency <= 0 {
		c.MapConcurrency = DefaultMapConcurrency
	}
	c.Accounts = slices.Compact(slices.Sorted(slices.Values(c.Accounts)))
	if c.DestinationReadEvery <= 0 {
		c.DestinationReadEvery = DefaultDestinationReadEvery
	}
	if c.InlineBytes == 0 {
		c.InlineBytes = DefaultInlineBytes
	}
	if len(c.DestinationRegions) == 0 {
		c.DestinationRegions = c.Regions
		if len(c.Regions) == 0 {
			c.DestinationRegions = mirror.Regions
		}
	}
	return c
}

func (c Config) validate() error {
	for _, r := range c.Regions {
		if err := mirror.ValidateRegion(r); err != nil {
			return fmt.Errorf("BUCKETMIRROR_REGIONS: %q is %s", r, err)
		}
	}
	for _, r := range c.DestinationRegions {
		if err := mirror.ValidateRegion(r); err != nil {
			return fmt.Errorf("BUCKETMIRROR_DESTINATION_REGIONS: %q is %s", r, err)
		}
	}
	for _, r := range c.OwnRoles {
		if !strings.HasPrefix(r, "arn:") || !strings.Contains(r, ":role/") {
			return fmt.Errorf("BUCKETMIRROR_OWN_ROLE_ARNS: %q is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)", r)
		}
	}
	if !accountRE.MatchString(c.AccountID) {
		return fmt.Errorf("BUCKETMIRROR_ACCOUNT_ID %q must be a 12-digit AWS account id", c.AccountID)
	}
	for _, a := range c.Accounts {
		if !accountRE.MatchString(a) {
			return fmt.Errorf("BUCKETMIRROR_ACCOUNTS: %q must be a 12-digit AWS account id (space-separated ids, or %q alone)", a, AccountsOrganization)
		}
	}

	return nil
}

func (c Config) allowsRegion(r string) bool { return slices.Contains(c.DestinationRegions, r) }

func (c Config) regionsTag() string { return c.TagPrefix + "destination-regions" }
func (c Config) bucketTag() string  { return c.TagPrefix + "destination-bucket" }
func (c Config) accountTag() string { return c.TagPrefix + "destination-account" }
func (c Config) sourceTag() string  { return c.TagPrefix + "source" }
