// Package inventory is bucketmirror's DynamoDB store: one table holding
// which buckets are mirrored where (mirror records), an audit trail of every
// run with configuration snapshots (run records), and leases that keep two
// sweeps from working on the same mirror at once.
//
//	mirror: PK=MIRROR#<source bucket ARN>  SK=REGION#<place>
//	run:    PK=MIRROR#<source bucket ARN>  SK=RUN#<RFC3339 start>#<run id>
//	lease:  PK=MIRROR#<source bucket ARN>  SK=LEASE#<place>
//
// A place is the destination Region, followed by "#<account>" when the
// destination is in another account than the source (Place): records of
// mirrors within one account keep the keys they always had.
package inventory

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DefaultTable is the table name when BUCKETMIRROR_TABLE is not set.
const DefaultTable = "bucketmirror-inventory"

// Mirror statuses.
const (
	StatusStarted  = "STARTED"  // an execution was started for it
	StatusCreated  = "CREATED"  // the destination exists, not yet configured
	StatusFinished = "FINISHED" // configured; AppliedHash is the source it matches
	StatusFailed   = "FAILED"
	StatusDetached = "DETACHED" // the source's tag was removed; destination kept
	StatusInvalid  = "INVALID"  // the source's tag value is invalid
)

// compressAbove is the snapshot size from which a run record stores it
// gzipped: an item may not exceed 400 KB, and a bucket with 1,000 inventory
// configurations has a snapshot well above that uncompressed.
const compressAbove = 16 * 1024

// maxSnapshotBytes keeps a run item under DynamoDB's 400 KB even with two
// compressed snapshots and per-kind results.
const maxSnapshotBytes = 160 * 1024

// ErrLeaseHeld is returned by AcquireLease when another sweep holds it.
var ErrLeaseHeld = errors.New("lease held by another sweep")

// Mirror is the record of one source bucket mirrored into one Region.
type Mirror struct {
	Source string `dynamodbav:"source"` // source bucket name
	Region string `dynamodbav:"region"` // destination Region
	// DestAccount is the destination's account when it is not the
	// source's ("" within one account); it is part of the key (Place).
	DestAccount string `dynamodbav:"destAccount,omitempty"`
	Dest        string `dynamodbav:"dest,omitempty"`
	Status      string `dynamodbav:"status"`
	AppliedHash string `dynamodbav:"appliedHash,omitempty"` // source snapshot hash last applied
	DestHash    string `dynamodbav:"destHash,omitempty"`    // destination snapshot hash right after
	// SourceKinds and DestKinds are the per-kind digests AppliedHash and
	// DestHash combine (bucketconfig.CombineHashes): a targeted run that
	// read only some kinds updates those and recomputes both hashes, so a
	// full sweep right after it finds them equal to a full snapshot's.
	SourceKinds map[string]string `dynamodbav:"sourceKinds"`
	DestKinds   map[string]string `dynamodbav:"destKinds"`
	// SourceRegion is where the source lives, so an event about the
	// destination can reconcile the mirror without looking the source up.
	SourceRegion string `dynamodbav:"sourceRegion,omitempty"`
	// SourceAccount is the account the source is in; absent (records
	// written before sources in other accounts) is the deployment's own.
	SourceAccount string    `dynamodbav:"sourceAccount,omitempty"`
	LastRunID     string    `dynamodbav:"lastRunId,omitempty"`
	LastRunAt     string    `dynamodbav:"lastRunAt,omitempty"` // RFC 3339
	LastError     string    `dynamodbav:"lastError,omitempty"`
	UpdatedAt     time.Time `dynamodbav:"updatedAt"`
	// Attempts counts the runs started since the mirror last FINISHED and
	// AttemptHash is the source snapshot hash the latest was started for:
	// the sweep backs off retrying a FAILED mirror whose source has not
	// changed since.
	Attempts    int    `dynamodbav:"attempts,omitempty"`
	AttemptHash string `dynamodbav:"attemptHash,omitempty"`
}

// Inherit copies from prev, the record m replaces, what a step that is not
// the end of a successful run keeps: the hashes of the last applied state and
// the attempt count.
func (m *Mirror) Inherit(prev *Mirror) {
	if prev == nil {
		return
	}
	m.AppliedHash, m.DestHash = prev.AppliedHash, prev.DestHash
	m.SourceKinds, m.DestKinds = prev.SourceKinds, prev.DestKinds
	if m.SourceRegion == "" {
		m.SourceRegion = prev.SourceRegion
	}
	if m.SourceAccount == "" {
		m.SourceAccount = prev.SourceAccount
	}
	m.Attempts, m.AttemptHash = prev.Attempts, prev.AttemptHash
}

// Run is one audit record: a create+configure of one mirror.
type Run struct {
	Source       string `dynamodbav:"source"`
	Region       string `dynamodbav:"region"`
	RunID        string `dynamodbav:"runId"`
	StartedAt    string `dynamodbav:"startedAt"` // RFC 3339, as the run key has it
	Dest         string `dynamodbav:"dest,omitempty"`
	Status       string `dynamodbav:"status"`
	Error        string `dynamodbav:"error,omitempty"`
	Cause        string `dynamodbav:"cause,omitempty"`
	Results      string `dynamodbav:"results,omitempty"` // JSON of per-kind results
	SourceHash   string `dynamodbav:"sourceHash,omitempty"`
	FinishedAt   string `dynamodbav:"finishedAt,omitempty"`
	ExecutionARN string `dynamodbav:"executionArn,omitempty"`
	// Kinds are the configuration kinds a targeted run read, compared and
	// applied; empty for a run of every kind.
	Kinds []string `dynamodbav:"kinds,omitempty,stringset"`
	// The accounts and roles of a run across accounts: the destination's
	// account (also in the mirror's key) and the source's, and the member
	// roles the run acted through in each ("" = the deployment's own
	// role). All empty for a run within the deployment's account.
	SourceAccount string `dynamodbav:"sourceAccount,omitempty"`
	DestAccount   string `dynamodbav:"destAccount,omitempty"`
	SourceRole    string `dynamodbav:"sourceRole,omitempty"`
	DestRole      string `dynamodbav:"destRole,omitempty"`

	// Snapshots are JSON documents; stored gzipped when large.
	SourceSnapshot []byte `dynamodbav:"-"`
	DestSnapshot   []byte `dynamodbav:"-"`
}

// Store reads and writes the inventory table.
type Store struct {
	ddb   *dynamodb.Client
	table string
	now   func() time.Time
}

// New returns a store on table.
func New(ddb *dynamodb.Client, table string) *Store {
	return &Store{ddb: ddb, table: table, now: func() time.Time { return time.Now().UTC() }}
}

// Table is the table's name.
func (s *Store) Table() string { return s.table }

// PK is the partition key of everything about a source bucket.
func PK(source string) string { return "MIRROR#arn:aws:s3:::" + source }

// Place is where a mirror's destination is, as its keys name it: the
// Region, and the account after it when the destination is in another
// account than the source (account set).
func Place(region, account string) string {
	if account == "" {
		return region
	}
	return region + "#" + account
}

// Place is the mirror's place (its key's part after REGION#).
func (m Mirror) Place() string { return Place(m.Region, m.DestAccount) }

// MirrorSK is the sort key of the mirror record for a place (Place).
func MirrorSK(place string) string { return "REGION#" + place }

// RunSK is the sort key of a run record. Step Functions executions use the
// execution's start time and name exactly as the context object spells them,
// so the state machine's MarkFailed state can address the record without a
// Lambda.
func RunSK(startedAt, runID string) string {
	return "RUN#" + startedAt + "#" + runID
}

func leaseSK(region string) string { return "LEASE#" + region }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: pk},
		"SK": &types.AttributeValueMemberS{Value: sk},
	}
}

// CreateTable creates the table (on-demand) if it does not exist and waits
// until it is active. It is idempotent.
func (s *Store) CreateTable(ctx context.Context) error {
	_, err := s.ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(s.table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("PK"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("SK"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("PK"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("SK"), KeyType: types.KeyTypeRange},
		},
		SSESpecification: &types.SSESpecification{Enabled: aws.Bool(true)},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("creating table %s: %w", s.table, err)
	}
	w := dynamodb.NewTableExistsWaiter(s.ddb)
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)}, 2*time.Minute); err != nil {
		return fmt.Errorf("waiting for table %s: %w", s.table, err)
	}
	return nil
}

// GetMirror returns the mirror record of source at place (a Region, or
// Place(region, account)), or nil when there is none.
func (s *Store) GetMirror(ctx context.Context, source, region string) (*Mirror, error) {
	out, err := s.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(PK(source), MirrorSK(region)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("reading mirror %s -> %s: %w", source, region, err)
	}
	if out.Item == nil {
		return nil, nil
	}
	m, err := decodeMirror(out.Item)
	if err != nil {
		return nil, fmt.Errorf("decoding mirror %s -> %s: %w", source, region, err)
	}
	return &m, nil
}

// decodeMirror also fills source and Region from the keys: the state
// machine's MarkFailed may create a record with only its keys and status.
func decodeMirror(item map[string]types.AttributeValue) (Mirror, error) {
	var m Mirror
	if err := attributevalue.UnmarshalMap(item, &m); err != nil {
		return m, err
	}
	var keys struct{ PK, SK string }
	_ = attributevalue.UnmarshalMap(item, &keys)
	if m.Source == "" {
		m.Source = SourceFromPK(keys.PK)
	}
	if m.Region == "" {
		m.Region, m.DestAccount, _ = strings.Cut(strings.TrimPrefix(keys.SK, "REGION#"), "#")
	}
	return m, nil
}

// MirrorsOf returns every mirror record of one source, whatever its
// destination Region: one consistent Query of the source's partition.
func (s *Store) MirrorsOf(ctx context.Context, source string) ([]Mirror, error) {
	var out []Mirror
	p := dynamodb.NewQueryPaginator(s.ddb, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :region)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":     &types.AttributeValueMemberS{Value: PK(source)},
			":region": &types.AttributeValueMemberS{Value: "REGION#"},
		},
		ConsistentRead: aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the mirrors of %s: %w", source, err)
		}
		for _, item := range page.Items {
			m, err := decodeMirror(item)
			if err != nil {
				return nil, fmt.Errorf("decoding a mirror of %s: %w", source, err)
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// PutMirror writes a mirror record whole.
func (s *Store) PutMirror(ctx context.Context, m Mirror) error {
	m.UpdatedAt = s.now()
	item, err := attributevalue.MarshalMap(m)
	if err != nil {
		return err
	}
	item["PK"] = &types.AttributeValueMemberS{Value: PK(m.Source)}
	item["SK"] = &types.AttributeValueMemberS{Value: MirrorSK(m.Place())}
	item["type"] = &types.AttributeValueMemberS{Value: "mirror"}
	if _, err := s.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fmt.Errorf("writing mirror %s -> %s: %w", m.Source, m.Region, err)
	}
	return nil
}

// Mirrors lists every mirror record (paginated scan).
func (s *Store) Mirrors(ctx context.Context) ([]Mirror, error) {
	var out []Mirror
	p := dynamodb.NewScanPaginator(s.ddb, &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		FilterExpression:          aws.String("#t = :m"),
		ExpressionAttributeNames:  map[string]string{"#t": "type"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":m": &types.AttributeValueMemberS{Value: "mirror"}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing mirrors in %s: %w", s.table, err)
		}
		for _, item := range page.Items {
			m, err := decodeMirror(item)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// PutRun writes a run record whole (snapshots compressed when large) and
// points the mirror record at it, in one transaction, so a run never exists
// without its mirror being updated or the other way round.
func (s *Store) PutRun(ctx context.Context, r Run, m Mirror) error {
	m.UpdatedAt = s.now()
	runItem, err := s.runItem(r)
	if err != nil {
		return err
	}
	mirrorItem, err := attributevalue.MarshalMap(m)
	if err != nil {
		return err
	}
	mirrorItem["PK"] = &types.AttributeValueMemberS{Value: PK(m.Source)}
	mirrorItem["SK"] = &types.AttributeValueMemberS{Value: MirrorSK(m.Place())}
	mirrorItem["type"] = &types.AttributeValueMemberS{Value: "mirror"}
	_, err = s.ddb.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.table), Item: runItem}},
		{Put: &types.Put{TableName: aws.String(s.table), Item: mirrorItem}},
	}})
	if err != nil {
		return fmt.Errorf("recording run %s of %s -> %s: %w", r.RunID, r.Source, r.Region, err)
	}
	return nil
}

func (s *Store) runItem(r Run) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMap(r)
	if err != nil {
		return nil, err
	}
	item["PK"] = &types.AttributeValueMemberS{Value: PK(r.Source)}
	item["SK"] = &types.AttributeValueMemberS{Value: RunSK(r.StartedAt, r.RunID)}
	item["type"] = &types.AttributeValueMemberS{Value: "run"}
	for name, snap := range map[string][]byte{"sourceSnapshot": r.SourceSnapshot, "destSnapshot": r.DestSnapshot} {
		if len(snap) == 0 {
			continue
		}
		av, err := encodeSnapshot(snap)
		if err != nil {
			return nil, fmt.Errorf("encoding %s of run %s: %w", name, r.RunID, err)
		}
		item[name] = av
	}
	return item, nil
}

// encodeSnapshot stores small snapshots as a string and large ones gzipped
// as binary; one that is still too large after compression is replaced by a
// note saying so (the hash still identifies it).
func encodeSnapshot(snap []byte) (types.AttributeValue, error) {
	if len(snap) <= compressAbove {
		return &types.AttributeValueMemberS{Value: string(snap)}, nil
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(snap); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() > maxSnapshotBytes {
		return &types.AttributeValueMemberS{Value: fmt.Sprintf(`{"truncated":true,"bytes":%d,"gzipBytes":%d}`, len(snap), buf.Len())}, nil
	}
	return &types.AttributeValueMemberB{Value: buf.Bytes()}, nil
}

func decodeSnapshot(av types.AttributeValue) ([]byte, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return []byte(v.Value), nil
	case *types.AttributeValueMemberB:
		zr, err := gzip.NewReader(bytes.NewReader(v.Value))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	}
	return nil, nil
}

// Runs returns a source's run records for a place (Place; "" = every
// place), oldest first.
func (s *Store) Runs(ctx context.Context, source, region string) ([]Run, error) {
	var runs []Run
	p := dynamodb.NewQueryPaginator(s.ddb, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :run)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":  &types.AttributeValueMemberS{Value: PK(source)},
			":run": &types.AttributeValueMemberS{Value: "RUN#"},
		},
		ConsistentRead: aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing runs of %s: %w", source, err)
		}
		for _, item := range page.Items {
			var r Run
			if err := attributevalue.UnmarshalMap(item, &r); err != nil {
				return nil, err
			}
			if region != "" && Place(r.Region, r.DestAccount) != region {
				continue
			}
			var err error
			if r.SourceSnapshot, err = decodeSnapshot(item["sourceSnapshot"]); err != nil {
				return nil, err
			}
			if r.DestSnapshot, err = decodeSnapshot(item["destSnapshot"]); err != nil {
				return nil, err
			}
			runs = append(runs, r)
		}
	}
	return runs, nil
}

// AcquireLease takes the lease on source×region for owner until ttl from
// now, unless another owner holds an unexpired one (ErrLeaseHeld).
func (s *Store) AcquireLease(ctx context.Context, source, region, owner string, ttl time.Duration) error {
	now := s.now()
	_, err := s.ddb.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			"PK":        &types.AttributeValueMemberS{Value: PK(source)},
			"SK":        &types.AttributeValueMemberS{Value: leaseSK(region)},
			"type":      &types.AttributeValueMemberS{Value: "lease"},
			"owner":     &types.AttributeValueMemberS{Value: owner},
			"expiresAt": &types.AttributeValueMemberN{Value: fmt.Sprint(now.Add(ttl).Unix())},
		},
		ConditionExpression:      aws.String("attribute_not_exists(PK) OR expiresAt < :now OR #o = :owner"),
		ExpressionAttributeNames: map[string]string{"#o": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now":   &types.AttributeValueMemberN{Value: fmt.Sprint(now.Unix())},
			":owner": &types.AttributeValueMemberS{Value: owner},
		},
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return ErrLeaseHeld
	}
	if err != nil {
		return fmt.Errorf("acquiring lease on %s -> %s: %w", source, region, err)
	}
	return nil
}

// ReleaseLease gives up owner's lease; releasing a lease held by someone
// else (or none) is a no-op.
func (s *Store) ReleaseLease(ctx context.Context, source, region, owner string) error {
	_, err := s.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(PK(source), leaseSK(region)),
		ConditionExpression:       aws.String("#o = :owner"),
		ExpressionAttributeNames:  map[string]string{"#o": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":owner": &types.AttributeValueMemberS{Value: owner}},
	})
	var failed *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &failed) {
		return fmt.Errorf("releasing lease on %s -> %s: %w", source, region, err)
	}
	return nil
}

// SourceFromPK recovers the bucket name from a partition key.
func SourceFromPK(pk string) string {
	return strings.TrimPrefix(pk, "MIRROR#arn:aws:s3:::")
}

// NextSweepRound counts full sweeps: it adds one to the counter item
// (PK=SWEEP, SK=ROUND; no "type", so Mirrors never lists it) and returns the
// new value, 1 for the first sweep. One conditional-free UpdateItem per full
// sweep, not per mirror: full sweeps that read destinations only every Nth
// time pick their round from it.
func (s *Store) NextSweepRound(ctx context.Context) (int, error) {
	out, err := s.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key("SWEEP", "ROUND"),
		UpdateExpression:          aws.String("ADD #r :one"),
		ExpressionAttributeNames:  map[string]string{"#r": "round"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, fmt.Errorf("counting the sweep round in %s: %w", s.table, err)
	}
	n, ok := out.Attributes["round"].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("counting the sweep round in %s: UpdateItem returned no round", s.table)
	}
	var round int
	if _, err := fmt.Sscan(n.Value, &round); err != nil {
		return 0, fmt.Errorf("counting the sweep round in %s: %q is not a number", s.table, n.Value)
	}
	return round, nil
}
