// Command bench measures bucketmirror on the embedded local cloud (issue 9):
// configure speed under injected latency, sweep scale, convergence under
// injected faults, and the handling of malformed input. It writes
// bench/results/latest.json and bench/report.md and prints the JSON.
//
//	go run ./bench                      # everything (make bench)
//	go run ./bench -parts configure     # one part
//	go run ./bench -quick               # small sizes, for trying changes
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/bucketmirror/bucketmirror/pkg/localcloud"
)

type options struct {
	parts         []string
	out           string
	quick         bool
	levels        []int
	runs          int
	runs100       int
	sweepBuckets  int
	sweepTagged   int
	chaosBuckets  int
	chaosMaxSweep int
	merge         bool
}

// results is bench/results/latest.json; the keys issue 9 names are the
// stable ones, the rest is detail.
type results struct {
	Date      string  `json:"date"`
	GoVersion string  `json:"go_version"`
	CPUs      int     `json:"cpus"`
	Machine   string  `json:"machine"`
	DurationS float64 `json:"duration_s"`
	// PartDates says when each part was measured: `-merge` reruns some
	// parts into an earlier file, keeping the others.
	PartDates map[string]string `json:"part_dates,omitempty"`
	// RunParts are the parts the last run measured, in DurationS.
	RunParts []string `json:"run_parts,omitempty"`

	Configure *configureResult `json:"configure,omitempty"`
	// NewMirror is measured by the configure part.
	NewMirror *newMirrorResult `json:"new_mirror,omitempty"`
	Sweep     *sweepResult     `json:"sweep,omitempty"`
	Chaos     *chaosResult     `json:"chaos,omitempty"`
	BadInput  *badInputResult  `json:"bad_input,omitempty"`
	Events    *eventsResult    `json:"events,omitempty"`
	// Model is the full sweep at 1,000,000 buckets / 100,000 tagged,
	// computed from published quotas and prices and the sweep part's
	// measured calls per unchanged mirror.
	Model    *modelResult `json:"model,omitempty"`
	Errors   []string     `json:"errors,omitempty"`
	Warnings []string     `json:"warnings,omitempty"`
	// Load is /proc/loadavg (1, 5, 15 min) before and after each part: the
	// machine is shared, and other work on its 2 cores slows the emulator.
	Load []string `json:"load_avg"`
}

func main() {
	o := options{}
	parts := flag.String("parts", "configure,sweep,chaos,bad_input,events", "comma-separated parts to run")
	flag.StringVar(&o.out, "out", "bench/results/latest.json", "where to write the JSON results (the report goes next to bench/)")
	flag.BoolVar(&o.quick, "quick", false, "small sizes and few runs, to try the benchmark itself")
	flag.BoolVar(&o.merge, "merge", false, "keep the parts not run from the JSON at -out (their dates stay in part_dates)")
	render := flag.Bool("render", false, "only rewrite the report (and derived figures) from the JSON at -out")
	flag.IntVar(&o.runs, "runs", 10, "configure runs per mode at 0, 5 and 25 ms")
	flag.IntVar(&o.runs100, "runs100", 5, "configure runs per mode at 100 ms")
	scale := flag.String("sweep-scale", "10000/1000", "the sweep's final account, buckets/tagged (it is measured at a tenth of the buckets and half the tagged too); moto needs about 10 GB of memory at 10000/1000")
	flag.IntVar(&o.chaosBuckets, "chaos-buckets", 100, "tagged buckets in the chaos run")
	flag.IntVar(&o.chaosMaxSweep, "chaos-max-sweeps", 8, "give up converging after this many sweeps")
	flag.Parse()
	o.parts = strings.Split(*parts, ",")
	o.levels = []int{0, 5, 25, 100}
	if _, err := fmt.Sscanf(*scale, "%d/%d", &o.sweepBuckets, &o.sweepTagged); err != nil {
		fmt.Fprintf(os.Stderr, "bad -sweep-scale %q: %v\n", *scale, err)
		os.Exit(2)
	}
	if o.quick {
		o.runs, o.runs100 = 3, 2
		o.sweepBuckets, o.sweepTagged = 1000, 20
		o.chaosBuckets = 20
	}
	if *render {
		if err := rerender(o); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	raw, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(raw))
	if len(res.Errors) > 0 {
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (*results, error) {
	res := &results{}
	if o.merge {
		raw, err := os.ReadFile(o.out)
		if err != nil {
			return nil, fmt.Errorf("-merge: %w", err)
		}
		if err := json.Unmarshal(raw, res); err != nil {
			return nil, fmt.Errorf("-merge: reading %s: %w", o.out, err)
		}
		res.Errors, res.Warnings = nil, nil
		if res.PartDates == nil {
			res.PartDates = map[string]string{}
			for _, p := range []string{"configure", "sweep", "chaos", "bad_input"} {
				res.PartDates[p] = res.Date
			}
		}
	}
	res.Date = time.Now().UTC().Format(time.RFC3339)
	res.GoVersion, res.CPUs, res.Machine = runtime.Version(), runtime.NumCPU(), machine()
	if res.PartDates == nil {
		res.PartDates = map[string]string{}
	}
	res.Load = slices.DeleteFunc(res.Load, func(l string) bool {
		name, _, _ := strings.Cut(l, ":")
		return slices.Contains(o.parts, name)
	})
	res.RunParts = o.parts
	want := func(p string) bool {
		if !slices.Contains(o.parts, p) {
			return false
		}
		res.PartDates[p] = res.Date
		return true
	}
	// Each part gets a fresh local cloud: the sweep's thousands of buckets
	// would otherwise slow down and skew the parts after it.
	withCloud := func(name string, fn func(*localcloud.Cloud) error) {
		if ctx.Err() != nil {
			return
		}
		progress("%s: starting the local cloud", name)
		cloud, err := localcloud.Start(ctx, localcloud.Options{})
		if err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("%s: starting local cloud: %v", name, err))
			return
		}
		load := loadAvg()
		defer func() {
			res.Load = append(res.Load, fmt.Sprintf("%s: %s -> %s", name, load, loadAvg()))
			if err := cloud.Close(); err != nil {
				// The router's 2 s shutdown can expire on a connection the
				// SDK dialed but never used (http.Server waits 5 s for
				// those); moto itself is stopped before the router.
				if errors.Is(err, context.DeadlineExceeded) {
					res.Warnings = append(res.Warnings, fmt.Sprintf("%s: stopping the local cloud's router: %v", name, err))
					return
				}
				res.Errors = append(res.Errors, fmt.Sprintf("%s: stopping local cloud: %v", name, err))
			}
		}()
		if err := fn(cloud); err != nil {
			progress("%s failed: %v\nmoto log tail:\n%s", name, err, cloud.LogTail(15))
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", name, err))
		}
	}
	if want("configure") {
		withCloud("configure", func(c *localcloud.Cloud) error {
			r, nm, err := benchConfigure(ctx, c, o.levels, func(l int) int {
				if l >= 100 {
					return o.runs100
				}
				return o.runs
			})
			res.Configure, res.NewMirror = r, nm
			return err
		})
	}
	if want("sweep") {
		res.Sweep = &sweepResult{}
		withCloud("sweep", func(c *localcloud.Cloud) error {
			return benchSweep(ctx, c, o.sweepBuckets, o.sweepTagged, res.Sweep)
		})
		res.Sweep.finish()
		res.Model = res.Sweep.model()
	}
	if want("chaos") {
		withCloud("chaos", func(c *localcloud.Cloud) error {
			r, err := benchChaos(ctx, c, o.chaosBuckets, o.chaosMaxSweep)
			res.Chaos = r
			return err
		})
	}
	if want("bad_input") {
		withCloud("bad_input", func(c *localcloud.Cloud) error {
			r, err := benchBadInput(ctx, c)
			res.BadInput = r
			return err
		})
	}
	if want("events") {
		withCloud("events", func(c *localcloud.Cloud) error {
			r, err := benchEvents(ctx, c)
			res.Events = r
			return err
		})
	}
	res.DurationS = round1(time.Since(benchStart).Seconds())
	if ctx.Err() != nil || len(res.Errors) > 0 {
		// -out (bench/results/latest.json) holds complete measurements
		// only: under -merge a part cut short by a signal or an error would
		// replace the last good figures with partial ones.
		kept, err := keepAside(res)
		if err != nil {
			return res, err
		}
		if ctx.Err() != nil {
			return res, fmt.Errorf("interrupted: %s and the report left as they were; this run's partial results are in %s", o.out, kept)
		}
		progress("a part failed: %s and the report left as they were; this run's results are in %s", o.out, kept)
		return res, nil
	}
	if err := writeResults(o, res); err != nil {
		return res, err
	}
	return res, nil
}

// keepAside writes the results of a run that did not complete to a file of
// their own in the temporary directory, for a look at what went wrong.
func keepAside(res *results) (string, error) {
	raw, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "bucketmirror-bench-incomplete-*.json")
	if err != nil {
		return "", err
	}
	if _, err := f.Write(append(raw, '\n')); err != nil {
		f.Close()
		return "", err
	}
	return f.Name(), f.Close()
}

// rerender recomputes the derived figures and the report from saved results.
func rerender(o options) error {
	raw, err := os.ReadFile(o.out)
	if err != nil {
		return err
	}
	var res results
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("reading %s: %w", o.out, err)
	}
	if res.Configure != nil {
		res.Configure.derive()
	}
	if res.Sweep != nil {
		res.Sweep.finish()
		res.Model = res.Sweep.model()
	}
	return writeResults(o, &res)
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func machine() string {
	model := ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := statusMB("/proc/meminfo", "MemTotal:")
	return fmt.Sprintf("%s/%s, %d CPUs (%s), %.0f GiB RAM", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), model, mem/1024)
}

func writeResults(o options, res *results) error {
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(o.out, append(raw, '\n')); err != nil {
		return err
	}
	dir := filepath.Dir(filepath.Dir(o.out))
	if c := res.Configure; c != nil {
		if err := writeConfigureCharts(dir, c, res.NewMirror); err != nil {
			return err
		}
	}
	return writeFileAtomic(filepath.Join(dir, "report.md"), []byte(renderReport(res)))
}

// writeFileAtomic replaces path through a rename, so a bench killed while
// writing (SIGKILL cannot be caught) leaves the old file, not half a new one.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
