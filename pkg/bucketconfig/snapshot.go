package bucketconfig

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
// included, so a read error never looks like "unchanged").
func (s *Snapshot) Hash() string {
	doc := struct {
		Values map[string]json.RawMessage `json:"values"`
		Errors map[string]string          `json:"errors,omitempty"`
	}{Values: s.JSON()}
	if len(s.Errors) > 0 {
		doc.Errors = map[string]string{}
		for k, err := range s.Errors {
			doc.Errors[k] = ErrorCode(err)
		}
	}
	raw, _ := json.Marshal(doc) // maps marshal with sorted keys
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
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

func (e *Engine) snapshotKinds(ctx context.Context, b Bucket, kinds []Kind) *Snapshot {
	s := &Snapshot{Bucket: b, Values: map[string]value{}, Errors: map[string]error{}}
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
