package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/aws/smithy-go/middleware"
	"github.com/rs/zerolog"

	"github.com/bucketmirror/bucketmirror/pkg/awsclient"
)

// callCounter counts AWS calls by "Service.Operation" with SDK middleware:
// calls once per operation (Initialize step), attempts once per HTTP try
// (Finalize step, after the retry middleware).
type callCounter struct {
	mu       sync.Mutex
	calls    map[string]int
	attempts map[string]int
}

// timedCall is one SDK operation as it happened, with the call it waited
// for (awsclient.Recorder).
type timedCall struct {
	Op    string `json:"op"`
	ID    int64  `json:"id"`
	Cause int64  `json:"cause,omitempty"`
	// StartMS and EndMS are offsets from the start of the run.
	StartMS float64 `json:"start_ms"`
	EndMS   float64 `json:"end_ms"`
	// Critical marks the calls of the critical path.
	Critical bool `json:"critical,omitempty"`
}

func newCallCounter() *callCounter {
	return &callCounter{calls: map[string]int{}, attempts: map[string]int{}}
}

func opKey(ctx context.Context) string {
	return awsclient.Operation(ctx)
}

// apiOption goes into aws.Config.APIOptions, so every client built from the
// config (S3, DynamoDB, Step Functions, Tagging, EventBridge) is counted.
func (c *callCounter) apiOption(stack *middleware.Stack) error {
	if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("benchCountCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			c.calls[opKey(ctx)]++
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.Before); err != nil {
		return err
	}
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("benchCountAttempts",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			c.attempts[opKey(ctx)]++
			c.mu.Unlock()
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

// take returns the counts so far and starts again from zero.
func (c *callCounter) take() (calls, attempts map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls, attempts = c.calls, c.attempts
	c.calls, c.attempts = map[string]int{}, map[string]int{}
	return calls, attempts
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// byService sums counts per service prefix ("S3", "DynamoDB", ...).
func byService(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		svc, _, _ := strings.Cut(k, ".")
		out[svc] += v
	}
	return out
}

var dynamoReads = []string{"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
var dynamoWrites = []string{"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}

// dynamo counts DynamoDB read and write operations.
func dynamo(m map[string]int) (reads, writes int) {
	for k, v := range m {
		svc, op, _ := strings.Cut(k, ".")
		if svc != "DynamoDB" {
			continue
		}
		switch {
		case slices.Contains(dynamoReads, op):
			reads += v
		case slices.Contains(dynamoWrites, op):
			writes += v
		}
	}
	return reads, writes
}

// topOps renders the n largest counts as "Op=count, ...".
func topOps(m map[string]int, n int) string {
	keys := slices.Collect(maps.Keys(m))
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var parts []string
	for i, k := range keys {
		if i == n {
			parts = append(parts, fmt.Sprintf("… %d more ops", len(keys)-n))
			break
		}
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// faultProxy is a toxiproxy proxy run in-process, between the clients under
// test and the local cloud's endpoint.
type faultProxy struct {
	proxy *toxiproxy.Proxy
	// Endpoint is the URL clients use instead of the cloud's.
	Endpoint string
}

func newFaultProxy(name, upstreamURL string) (*faultProxy, error) {
	u, err := url.Parse(upstreamURL)
	if err != nil {
		return nil, err
	}
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(server, name, "127.0.0.1:0", u.Host)
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("starting toxiproxy %s: %w", name, err)
	}
	return &faultProxy{proxy: p, Endpoint: "http://" + p.Listen}, nil
}

// toxic adds one toxic; attrs are the toxic type's attributes.
func (f *faultProxy) toxic(name, kind, stream string, toxicity float64, attrs map[string]any) error {
	body, _ := json.Marshal(map[string]any{"name": name, "type": kind, "stream": stream, "toxicity": toxicity, "attributes": attrs})
	if _, err := f.proxy.Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
		return fmt.Errorf("adding toxic %s: %w", name, err)
	}
	return nil
}

// latency delays every byte by ms in both directions, so each request on
// a pooled connection pays one round trip of 2×ms.
func (f *faultProxy) latency(ms, jitter int) error {
	f.clear()
	if ms == 0 && jitter == 0 {
		return nil
	}
	for _, stream := range []string{"upstream", "downstream"} {
		if err := f.toxic("latency_"+stream, "latency", stream, 1, map[string]any{"latency": ms, "jitter": jitter}); err != nil {
			return err
		}
	}
	return nil
}

func (f *faultProxy) clear() { f.proxy.Toxics.ResetToxics(context.Background()) }

func (f *faultProxy) Close() { f.proxy.Stop() }

// progress prints a timestamped line to stderr.
var benchStart = time.Now()

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(benchStart).Seconds(), fmt.Sprintf(format, args...))
}

// peakRSS reads a process's VmHWM in MB (self when pid is 0).
func peakRSS(pid int) float64 {
	path := "/proc/self/status"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	return statusMB(path, "VmHWM:")
}

func statusMB(path, field string) float64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return round1(kb / 1024)
			}
		}
	}
	return 0
}

// processCPU reads a process's CPU time so far (user + system, from
// /proc/PID/stat fields 14 and 15, in clock ticks of 1/100 s on Linux).
func processCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; count fields after it.
	_, rest, ok := strings.Cut(string(data), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("reading CPU of process %d: unexpected /proc stat %q", pid, data)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("reading CPU of process %d: %w", pid, err)
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(utime+stime) * tick, nil
}

// resetPeakRSS restarts VmHWM from the current RSS (Linux: "5" >
// /proc/PID/clear_refs), so a phase's peak is its own.
func resetPeakRSS(pid int) {
	path := "/proc/self/clear_refs"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/clear_refs", pid)
	}
	_ = os.WriteFile(path, []byte("5"), 0o200)
}

func round1(f float64) float64   { return float64(int64(f*10+0.5)) / 10 }
func round2(f float64) float64   { return float64(int64(f*100+0.5)) / 100 }
func ms(d time.Duration) float64 { return round1(float64(d) / float64(time.Millisecond)) }

// stats are order statistics of a sample of durations.
type stats struct {
	N      int     `json:"n"`
	Median float64 `json:"median_ms"`
	P10    float64 `json:"p10_ms"`
	P90    float64 `json:"p90_ms"`
	Min    float64 `json:"min_ms"`
	Max    float64 `json:"max_ms"`
}

func summarize(ds []time.Duration) stats {
	if len(ds) == 0 {
		return stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) float64 {
		// linear interpolation between closest ranks
		pos := p * float64(len(s)-1)
		lo := int(pos)
		hi := min(lo+1, len(s)-1)
		frac := pos - float64(lo)
		return ms(time.Duration(float64(s[lo]) + frac*float64(s[hi]-s[lo])))
	}
	return stats{N: len(s), Median: q(0.5), P10: q(0.1), P90: q(0.9), Min: ms(s[0]), Max: ms(s[len(s)-1])}
}
