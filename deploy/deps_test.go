package deploy

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// notInLambdas are packages no Lambda bootstrap may link, with the reason.
var notInLambdas = map[string]string{
	"github.com/bucketmirror/bucketmirror/pkg/localcloud": "the embedded local cloud (emulator launcher, process management) is for the demo, the CLI and tests",
}

// TestLambdasLinkNoLocalCloud lists, as `make build-%` builds them (linux,
// the template's architecture, -tags lambda.norpc), every package each
// function links, and fails if a package of notInLambdas is among them.
func TestLambdasLinkNoLocalCloud(t *testing.T) {
	source, _ := loadTemplates(t)
	for _, id := range samFunctions(t, source) {
		pkg := "./" + functionDir(id)
		cmd := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", pkg)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+lambdaArch)
		out, err := cmd.Output()
		if err != nil {
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				t.Errorf("%s: go list -deps %s: %v\n%s", id, pkg, err, exit.Stderr)
			} else {
				t.Errorf("%s: go list -deps %s: %v", id, pkg, err)
			}
			continue
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Errorf("%s: go list -deps %s listed only %v", id, pkg, deps)
		}
		for _, dep := range deps {
			if why, bad := notInLambdas[dep]; bad {
				t.Errorf("%s (%s) links %s: %s", id, pkg, dep, why)
			}
		}
	}
}
