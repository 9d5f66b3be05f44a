package bucketconfig

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
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

	// mu guards Values and Errors while the snapshot is being read.
	mu    sync.Mutex
	facts facts
	// reads holds, per kind being read, a channel closed once its read is
	// in and the context the read ran in: a plan's kinds are planned and
	// written while other kinds are still being read, so whatever needs a
	// kind's value (its own or another's) waits for that read alone.
	reads map[string]*kindRead
}

type kindRead struct {
	done chan struct{}
	ctx  context.Context
}

// facts are what reading a bucket learns besides the kinds' values, kept so
// that a write needs no read of its own: the ACL's owner (S3 wants it in
// every ACL document), whether Object Lock is enabled (the object-lock
// kind's value is the retention rule alone), and the whole tag set (the tags
// kind's value leaves control tags out).
type facts struct {
	owner      *types.Owner
	objectLock *bool
	tags       []types.Tag
	tagsRead   bool
}

func newSnapshot(b Bucket) *Snapshot {
	return &Snapshot{Bucket: b, Values: map[string]value{}, Errors: map[string]error{}, Unavailable: map[string]string{},
		reads: map[string]*kindRead{}}
}

// waitRead waits until kind's read is in, when it is being read, and
// returns the context the read ran in (nil when it was not read).
func (s *Snapshot) waitRead(kind string) context.Context {
	s.mu.Lock()
	r := s.reads[kind]
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	<-r.done
	return r.ctx
}

// Tags returns the bucket's whole tag set as read, control tags included;
// ok is false when the tags were not read (or could not be).
func (s *Snapshot) Tags() (tags []types.Tag, ok bool) {
	s.waitRead(tagsKind.name)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.facts.tags, s.facts.tagsRead
}

func (s *Snapshot) learn(f func(*facts)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.facts)
}

// unavailable returns the code S3 answered when kind's API is not offered
// in the bucket's Region.
func (s *Snapshot) unavailable(kind string) (string, bool) {
	s.waitRead(kind)
	s.mu.Lock()
	defer s.mu.Unlock()
	code, ok := s.Unavailable[kind]
	return code, ok
}

// read says whether kind was read into the snapshot (a targeted plan reads
// some kinds only): only then does a missing value mean "not configured".
func (s *Snapshot) read(kind string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.kinds, kind)
}

// value returns the value of kind as read, and its read error.
func (s *Snapshot) value(kind string) (value, error) {
	s.waitRead(kind)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Values[kind], s.Errors[kind]
}

func (s *Snapshot) set(kind string, v value, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case isUnavailable(err):
		s.Unavailable[kind] = ErrorCode(err)
	case err != nil:
		s.Errors[kind] = err
	case v != nil:
		s.Values[kind] = v
	}
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
	s := newSnapshot(b)
	e.readInto(ctx, s, Kinds, false, nil)
	return s
}

// SnapshotKinds reads only the named kinds of b (nil: every kind); an
// unknown name is an error.
func (e *Engine) SnapshotKinds(ctx context.Context, b Bucket, names []string) (*Snapshot, error) {
	kinds, err := KindsNamed(names)
	if err != nil {
		return nil, err
	}
	s := newSnapshot(b)
	e.readInto(ctx, s, kinds, false, nil)
	return s, nil
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

// readInto reads kinds of s's bucket into s, concurrently (bounded by
// Concurrency), calling done(kind) after each (on its own goroutine, which
// must not wait for other reads). With propagating, a
// NoSuchBucket is retried until the propagation timeout: the bucket was
// just created and may not be visible everywhere yet.
func (e *Engine) readInto(ctx context.Context, s *Snapshot, kinds []Kind, propagating bool, done func(kind string)) {
	er := *e
	er.reading = s
	reads := make(map[string]*kindRead, len(kinds))
	s.mu.Lock()
	for _, k := range kinds {
		s.kinds = append(s.kinds, k.Name())
		r := &kindRead{done: make(chan struct{}), ctx: awsclient.Fork(ctx)}
		s.reads[k.Name()], reads[k.Name()] = r, r
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	sem := make(chan struct{}, e.opts.Concurrency)
	// The tags go first: a configure's gate checks the destination's before
	// any write may go out (the bucket is ours). Then the kinds that read
	// more once their own reads are in (logging), so that their further
	// reads overlap the rest of the round rather than follow it. S3 answers
	// each Region's requests in parallel; the emulator, one process, in
	// about the order they arrive.
	kinds = slices.Clone(kinds)
	first := func(k Kind) int {
		switch {
		case k.Name() == tagsKind.name:
			return 0
		case k.prepares():
			return 1
		}
		return 2
	}
	slices.SortStableFunc(kinds, func(a, b Kind) int { return first(a) - first(b) })
	for _, k := range kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx := reads[k.Name()].ctx
			sem <- struct{}{}
			var v value
			var err error
			if propagating {
				err = RetryWrite(rctx, e.opts.PropagationTimeout, func() error {
					v, err = er.readKind(rctx, k, s.Bucket)
					return err
				})
			} else {
				v, err = er.readKind(rctx, k, s.Bucket)
			}
			<-sem
			s.set(k.Name(), v, err)
			close(reads[k.Name()].done)
			if done != nil {
				done(k.Name())
			}
		}()
	}
	wg.Wait()
}

func (e *Engine) readKind(ctx context.Context, k Kind, b Bucket) (value, error) {
	v, err := k.read(ctx, e, b)
	if err != nil {
		var ke *KindError
		if errors.As(err, &ke) {
			return nil, err
		}
		return nil, &KindError{Op: "reading", Kind: k.Name(), Bucket: b.Name, Region: b.Region, Err: err}
	}
	return v, nil
}

// learn records facts about the bucket being read; a no-op outside a read
// into a snapshot.
func (e *Engine) learn(f func(*facts)) {
	if e.reading != nil {
		e.reading.learn(f)
	}
}

// destFacts are the facts a plan's destination snapshot holds, or nil when
// the engine is not applying a plan.
func (e *Engine) destFacts() *facts {
	if e.plan == nil || e.plan.Dest == nil {
		return nil
	}
	e.plan.Dest.mu.Lock()
	defer e.plan.Dest.mu.Unlock()
	f := e.plan.Dest.facts
	return &f
}
