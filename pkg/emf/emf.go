// Package emf writes CloudWatch Embedded Metric Format lines: Lambda ships
// stdout to CloudWatch Logs, which turns each line into metrics without a
// PutMetricData call (and without the IAM permission for one).
package emf

import (
	"encoding/json"
	"io"
	"time"
)

// Namespace is the CloudWatch namespace of bucketmirror's metrics.
const Namespace = "bucketmirror"

// Metric is one value of an Embedded Metric Format line.
type Metric struct {
	Name  string
	Unit  string // Count, Milliseconds, ...
	Value float64
}

// Count is a metric in Count units.
func Count(name string, n int) Metric { return Metric{Name: name, Unit: "Count", Value: float64(n)} }

// Milliseconds is a duration metric.
func Milliseconds(name string, d time.Duration) Metric {
	return Metric{Name: name, Unit: "Milliseconds", Value: float64(d.Milliseconds())}
}

type emfMetricDef struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type emfDirective struct {
	Namespace  string         `json:"Namespace"`
	Dimensions [][]string     `json:"Dimensions"`
	Metrics    []emfMetricDef `json:"Metrics"`
}

type emfMetadata struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

// Write writes one Embedded Metric Format line. dimensions become one
// dimension set, in the order given; none gives the metrics without
// dimensions (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
func Write(w io.Writer, at time.Time, dimensions [][2]string, metrics []Metric) error {
	doc := map[string]any{}
	dir := emfDirective{Namespace: Namespace, Dimensions: [][]string{{}}}
	for _, d := range dimensions {
		dir.Dimensions[0] = append(dir.Dimensions[0], d[0])
		doc[d[0]] = d[1]
	}
	for _, m := range metrics {
		dir.Metrics = append(dir.Metrics, emfMetricDef{Name: m.Name, Unit: m.Unit})
		doc[m.Name] = m.Value
	}
	doc["_aws"] = emfMetadata{Timestamp: at.UnixMilli(), CloudWatchMetrics: []emfDirective{dir}}
	line, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	_, err = w.Write(append(line, '\n'))
	return err
}
