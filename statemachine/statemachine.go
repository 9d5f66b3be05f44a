// Package statemachine embeds bucketmirror's Amazon States Language
// definitions — the mirror workflow (mirror.asl.json) and the full sweep
// (sweep.asl.json) — so the CLI, the demo and the tests deploy exactly the
// files SAM deploys.
package statemachine

import (
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

//go:embed mirror.asl.json
var definition string

//go:embed sweep.asl.json
var sweepDefinition string

var placeholder = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// Placeholders lists the ${...} names the mirror definition needs, sorted.
func Placeholders() []string { return placeholders(definition) }

// SweepPlaceholders lists the ${...} names the sweep definition needs.
func SweepPlaceholders() []string { return placeholders(sweepDefinition) }

// SweepDefinition is Definition for the full sweep's state machine.
func SweepDefinition(values map[string]string) (string, error) {
	return substitute(sweepDefinition, values)
}

func placeholders(definition string) []string {
	var names []string
	for _, m := range placeholder.FindAllStringSubmatch(definition, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Definition returns the ASL with every ${NAME} replaced, as SAM's
// DefinitionSubstitutions do; a name without a value is an error.
func Definition(values map[string]string) (string, error) {
	return substitute(definition, values)
}

func substitute(definition string, values map[string]string) (string, error) {
	var missing []string
	out := placeholder.ReplaceAllStringFunc(definition, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := values[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("state machine definition needs values for %s", strings.Join(slices.Compact(missing), ", "))
	}
	return out, nil
}
