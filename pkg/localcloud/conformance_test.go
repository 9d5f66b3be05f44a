package localcloud

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// conformanceDoc is the evidence table every launcher patch must name a row of.
const conformanceDoc = "../../docs/s3-conformance.md"

var (
	pyTopDef      = regexp.MustCompile(`^def (\w+)\(`)
	conformanceRe = regexp.MustCompile(`#\s*conformance:\s*(.+)$`)
	// A function answers a request on moto's behalf when it builds an S3
	// error or XML body, or returns a (status, headers, body) tuple itself.
	answersRequest = regexp.MustCompile(`\b_error\(|\b_xml\(|return \d{3}, `)
	rowIDRe        = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// conformanceRows parses the table of docs/s3-conformance.md: row id -> its
// cells. Problems (a malformed id, a missing cell, no evidence) are returned.
func conformanceRows(doc string) (map[string][]string, []string) {
	rows := map[string][]string{}
	var problems []string
	inTable := false
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			inTable = false
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		// A `\|` inside a cell is a literal bar, not a column separator.
		for i := 0; i < len(cells)-1; i++ {
			if strings.HasSuffix(cells[i], `\`) {
				cells[i] = cells[i] + "|" + cells[i+1]
				cells = append(cells[:i+1], cells[i+2:]...)
				i--
			}
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if !inTable { // the header row
			inTable = true
			if len(cells) < 6 || !strings.EqualFold(cells[0], "row id") {
				problems = append(problems, "table header must be | Row id | Operation | Request / response shape | Status | Error code | Evidence |: "+line)
			}
			continue
		}
		if strings.HasPrefix(cells[0], "---") {
			continue
		}
		id := strings.Trim(cells[0], "`")
		switch {
		case !rowIDRe.MatchString(id):
			problems = append(problems, "row id is not kebab-case: "+cells[0])
		case len(cells) < 6:
			problems = append(problems, "row "+id+" has fewer than 6 cells")
		case cells[1] == "" || cells[2] == "" || cells[3] == "" || cells[4] == "":
			problems = append(problems, "row "+id+" has an empty cell (write – where nothing applies)")
		case cells[5] == "" || cells[5] == "–":
			problems = append(problems, "row "+id+" has no evidence: cite a source or write \"unverified\"")
		case rows[id] != nil:
			problems = append(problems, "row "+id+" appears twice")
		default:
			rows[id] = cells
		}
	}
	return rows, problems
}

// launcherPatches lists each patch of the launcher (every top-level patch_*
// / enable_* function and every function answering a request on moto's
// behalf) with the row ids its `# conformance:` lines name.
func launcherPatches(src string) map[string][]string {
	patches := map[string][]string{}
	var name string
	var body []string
	flush := func() {
		if name == "" || name == "_error" || name == "_xml" {
			return
		}
		text := strings.Join(body, "\n")
		if !strings.HasPrefix(name, "patch_") && !strings.HasPrefix(name, "enable_") && !answersRequest.MatchString(text) {
			return
		}
		ids := []string{}
		for _, l := range body {
			if m := conformanceRe.FindStringSubmatch(l); m != nil {
				for _, id := range strings.Split(m[1], ",") {
					if id = strings.TrimSpace(id); id != "" {
						ids = append(ids, id)
					}
				}
			}
		}
		patches[name] = ids
	}
	for _, line := range strings.Split(src, "\n") {
		if m := pyTopDef.FindStringSubmatch(line); m != nil {
			flush()
			name, body = m[1], nil
			continue
		}
		if line != "" && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, ")") {
			flush() // top-level statement: the function ended
			name, body = "", nil
			continue
		}
		body = append(body, line)
	}
	flush()
	return patches
}

// checkConformance returns every way launcher and doc break the convention.
func checkConformance(launcher, doc string) []string {
	rows, problems := conformanceRows(doc)
	named := map[string]bool{}
	patches := launcherPatches(launcher)
	names := make([]string, 0, len(patches))
	for n := range patches {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ids := patches[n]
		if len(ids) == 0 {
			problems = append(problems, "launcher patch "+n+" has no `# conformance: <row-id>` line")
		}
		for _, id := range ids {
			named[id] = true
			if rows[id] == nil {
				problems = append(problems, "launcher patch "+n+" names row "+id+", which docs/s3-conformance.md lacks")
			}
		}
	}
	for id := range rows {
		if !named[id] {
			problems = append(problems, "row "+id+" of docs/s3-conformance.md is named by no launcher patch")
		}
	}
	sort.Strings(problems)
	return problems
}

func TestConformanceRowsCoverLauncherPatches(t *testing.T) {
	doc, err := os.ReadFile(conformanceDoc)
	if err != nil {
		t.Fatalf("reading the conformance table: %v", err)
	}
	for _, p := range checkConformance(string(launcherPy), string(doc)) {
		t.Error(p)
	}
	if n := len(launcherPatches(string(launcherPy))); n < 10 {
		t.Errorf("found only %d launcher patches: the parser no longer sees them", n)
	}
}

// The check itself must catch each way of breaking the convention.
func TestConformanceCheckCatchesMissingRows(t *testing.T) {
	doc := strings.Join([]string{
		"| Row id | Operation | Request / response shape | Status | Error code | Evidence |",
		"|---|---|---|---|---|---|",
		"| s3-known | GetX | `<X>a\\|b</X>` | 200 | – | https://example.invalid/api |",
		"| s3-stale | GetY | – | 200 | – | unverified |",
		"| s3-no-evidence | GetZ | – | 200 | – |  |",
	}, "\n")
	launcher := strings.Join([]string{
		"def patch_known():",
		"    # conformance: s3-known",
		"    pass",
		"",
		"def patch_unnamed():",
		"    pass",
		"",
		"def _answers(bucket):",
		"    return _error(400, \"InvalidArgument\", \"x\", bucket)",
		"",
		"def _typo():",
		"    # conformance: s3-knwon",
		"    return 200, {}, \"\"",
		"",
		"def _helper():",
		"    return 1",
	}, "\n")
	got := strings.Join(checkConformance(launcher, doc), "\n")
	for _, want := range []string{
		"launcher patch patch_unnamed has no",
		"launcher patch _answers has no",
		"names row s3-knwon, which docs/s3-conformance.md lacks",
		"row s3-stale of docs/s3-conformance.md is named by no launcher patch",
		"row s3-no-evidence has no evidence",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("check missed %q; it reported:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"_helper", "patch_known has no", "s3-known of"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("check wrongly reported %q:\n%s", unwanted, got)
		}
	}
}
