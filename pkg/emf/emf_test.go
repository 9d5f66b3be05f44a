package emf

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	err := Write(&buf, at, [][2]string{{"Scope", "full"}}, []Metric{
		{"Scanned", "Count", 12}, {"Started", "Count", 3}, {"Duration", "Milliseconds", 1500},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Duration":1500,"Scanned":12,"Scope":"full","Started":3,"_aws":{"Timestamp":1795600800000,"CloudWatchMetrics":[{"Namespace":"bucketmirror","Dimensions":[["Scope"]],"Metrics":[{"Name":"Scanned","Unit":"Count"},{"Name":"Started","Unit":"Count"},{"Name":"Duration","Unit":"Milliseconds"}]}]}}` + "\n"
	if buf.String() != want {
		t.Errorf("EMF line\n got %s\nwant %s", buf.String(), want)
	}
	// The structure CloudWatch requires: every metric and dimension named in
	// the directive is a top-level member of the same object.
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	meta := doc["_aws"].(map[string]any)
	if meta["Timestamp"] != float64(at.UnixMilli()) {
		t.Errorf("Timestamp %v", meta["Timestamp"])
	}
	dir := meta["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if !reflect.DeepEqual(dir["Dimensions"], []any{[]any{"Scope"}}) || dir["Namespace"] != Namespace {
		t.Errorf("directive %v", dir)
	}
	for _, m := range dir["Metrics"].([]any) {
		name := m.(map[string]any)["Name"].(string)
		if _, ok := doc[name].(float64); !ok {
			t.Errorf("metric %s has no numeric top-level value", name)
		}
	}
}
