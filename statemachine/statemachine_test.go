package statemachine

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestDefinition(t *testing.T) {
	want := []string{"ConfigureFunctionArn", "CreateFunctionArn", "EventBusName", "TableName"}
	if got := Placeholders(); !slices.Equal(got, want) {
		t.Fatalf("Placeholders() = %v, want %v", got, want)
	}
	if _, err := Definition(map[string]string{"TableName": "t"}); err == nil || !strings.Contains(err.Error(), "CreateFunctionArn") {
		t.Errorf("missing substitutions not reported: %v", err)
	}
	def, err := Definition(map[string]string{"TableName": "t", "CreateFunctionArn": "arn:c", "ConfigureFunctionArn": "arn:f", "EventBusName": "default"})
	if err != nil {
		t.Fatal(err)
	}
	var asl struct {
		StartAt string
		States  map[string]map[string]any
	}
	if err := json.Unmarshal([]byte(def), &asl); err != nil {
		t.Fatalf("substituted definition is not JSON: %v", err)
	}
	if asl.States["Create"]["Resource"] != "arn:c" || asl.States["Configure"]["Resource"] != "arn:f" {
		t.Errorf("task resources not substituted: %v %v", asl.States["Create"]["Resource"], asl.States["Configure"]["Resource"])
	}
	// Every path that is not FINISHED ends in MarkRunFailed -> MarkMirrorFailed -> Fail.
	for _, name := range []string{"Create", "Configure"} {
		catch, _ := asl.States[name]["Catch"].([]any)
		if len(catch) == 0 || catch[0].(map[string]any)["Next"] != "MarkRunFailed" {
			t.Errorf("%s does not catch into MarkRunFailed: %v", name, catch)
		}
	}
	if asl.States["MarkMirrorFailed"]["Next"] != "PublishRunFailed" || asl.States["PublishRunFailed"]["Next"] != "Failed" || asl.States["Failed"]["Type"] != "Fail" {
		t.Error("the failure path does not end in a Fail state")
	}
}

func TestSweepDefinition(t *testing.T) {
	want := []string{"SweepAggregateFunctionArn", "SweepBatchFunctionArn", "SweepListFunctionArn"}
	if got := SweepPlaceholders(); !slices.Equal(got, want) {
		t.Fatalf("SweepPlaceholders() = %v, want %v", got, want)
	}
	def, err := SweepDefinition(map[string]string{"SweepListFunctionArn": "arn:l", "SweepBatchFunctionArn": "arn:b", "SweepAggregateFunctionArn": "arn:a"})
	if err != nil {
		t.Fatal(err)
	}
	var asl struct {
		StartAt string
		States  map[string]map[string]any
	}
	if err := json.Unmarshal([]byte(def), &asl); err != nil {
		t.Fatalf("substituted sweep definition is not JSON: %v", err)
	}
	// Every way out of the Map, success or failure, reaches Aggregate, so a
	// sweep always ends with its summary.
	choice := asl.States[asl.States["ListSources"]["Next"].(string)]
	if choice["Type"] != "Choice" || choice["Default"] != "ReconcileBatches" {
		t.Errorf("ListSources does not choose between the inline and the manifest Map: %v", choice)
	}
	for _, name := range []string{"ReconcileBatches", "ReconcileInlineBatches"} {
		m := asl.States[name]
		catch, _ := m["Catch"].([]any)
		if m["Next"] != "Aggregate" || len(catch) != 1 || catch[0].(map[string]any)["Next"] != "Aggregate" {
			t.Errorf("%s does not always go on to Aggregate: %v", name, m)
		}
		inner := m["ItemProcessor"].(map[string]any)["States"].(map[string]any)["ReconcileBatch"].(map[string]any)
		if inner["Resource"] != "arn:b" {
			t.Errorf("%s: task resource not substituted", name)
		}
	}
	if asl.States["ListSources"]["Resource"] != "arn:l" || asl.States["Aggregate"]["Resource"] != "arn:a" {
		t.Errorf("task resources not substituted")
	}
}
