package bucketconfig

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Snapshot is a bucket's configuration, kind by kind, as read.
type Snapshot struct {
	Bucket Bucket
	// Values holds the configured kinds; a kind that is not configured has
	// no entry.
	Values map[string]value
	// Errors holds the kinds that could not be read.
	Errors map[string]error
	// kinds are the names of the kinds read, in catalog order.
	kinds []string
	// Unavailable holds the kinds whose API the bucket's Region does not
	// offer, with the code S3 answered: not an error, a note.
	Unavailable map[string]string
}

// JSON returns the canonical JSON of every configured kind.
func (s *Snapshot) JSON() map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(s.Values))
	for k, v := range s.Values {
		raw, err := canonical(v)
		if err != nil {
			raw, _ = json.Marshal(map[string]string{"unencodable": err.Error()})
		}
		out[k] = raw
	}
	return out
}

// Hash is a stable digest of the snapshot (kinds that failed to read
// included, so a read error never looks like "unchanged"): CombineHashes of
// KindHashes, so a digest kept per kind can be updated one kind at a time
// and still equal the digest of a full snapshot.
func (s *Snapshot) Hash() string { return CombineHashes(s.KindHashes()) }

// KindHashes digests each kind read: configured kinds by their canonical
// JSON, kinds that failed by their error code; a kind that is not
// configured has no entry. Only the kinds this snapshot read are present
// (SnapshotKinds reads some).
func (s *Snapshot) KindHashes() map[string]string {
	out := make(map[string]string, len(s.Values)+len(s.Errors))
	for k, raw := range s.JSON() {
		sum := sha256.Sum256(raw)
		out[k] = hex.EncodeToString(sum[:8])
	}
	for k, err := range s.Errors {
		out[k] = "error:" + ErrorCode(err)
	}
	for k, code := range s.Unavailable {
		out[k] = "unavailable:" + code
	}
	return out
}

// Read lists the kinds this snapshot read (configured, absent or failed).
func (s *Snapshot) Read() []string { return slices.Clone(s.kinds) }

// CombineHashes is the digest of a whole configuration from its per-kind
// digests (KindHashes), whatever order they were gathered in.
func CombineHashes(kinds map[string]string) string {
	raw, _ := json.Marshal(kinds) // maps marshal with sorted keys
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// MergeKindHashes returns base with the kinds read by s replaced by what s
// read: a kind s found absent is removed.
func MergeKindHashes(base map[string]string, s *Snapshot) map[string]string {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]string{}
	}
	fresh := s.KindHashes()
	for _, k := range s.kinds {
		if h, ok := fresh[k]; ok {
			out[k] = h
		} else {
			delete(out, k)
		}
	}
	return out
}

// Err returns the first read error in catalog order, or nil.
func (s *Snapshot) Err() error {
	for _, k := range Kinds {
		if err := s.Errors[k.Name()]; err != nil {
			return err
		}
	}
	return nil
}

// Snapshot reads every kind of b concurrently (bounded by Concurrency).
func (e *Engine) Snapshot(ctx context.Context, b Bucket) *Snapshot {
	return e.snapshotKinds(ctx, b, Kinds)
}

// SnapshotKinds reads only the named kinds of b (nil: every kind); an
// unknown name is an error.
func (e *Engine) SnapshotKinds(ctx context.Context, b Bucket, names []string) (*Snapshot, error) {
	kinds, err := KindsNamed(names)
	if err != nil {
		return nil, err
	}
	return e.snapshotKinds(ctx, b, kinds), nil
}

// KindsNamed returns the catalog entries called names, in catalog order;
// nil names every kind.
func KindsNamed(names []string) ([]Kind, error) {
	if names == nil {
		return Kinds, nil
	}
	for _, n := range names {
		if _, ok := KindByName(n); !ok {
			return nil, fmt.Errorf("unknown configuration kind %q", n)
		}
	}
	var out []Kind
	for _, k := range Kinds {
		if slices.Contains(names, k.Name()) {
			out = append(out, k)
		}
	}
	return out, nil
}

func (e *Engine) snapshotKinds(ctx context.Context, b Bucket, kinds []Kind) *Snapshot {
	s := &Snapshot{Bucket: b, Values: map[string]value{}, Errors: map[string]error{}, Unavailable: map[string]string{}}
	for _, k := range kinds {
		s.kinds = append(s.kinds, k.Name())
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, e.opts.Concurrency)
	for _, k := range kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			v, err := e.readKind(ctx, k, b)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case isUnavailable(err):
				s.Unavailable[k.Name()] = ErrorCode(err)
			case err != nil:
				s.Errors[k.Name()] = err
			case v != nil:
				s.Values[k.Name()] = v
			}
		}()
	}
	wg.Wait()
	return s
}

func (e *Engine) readKind(ctx context.Context, k Kind, b Bucket) (value, error) {
	v, err := k.read(ctx, e, b)
	if err != nil {
		return nil, &KindError{Op: "reading", Kind: k.Name(), Bucket: b.Name, Region: b.Region, Err: err}
	}
	return v, nil
}
