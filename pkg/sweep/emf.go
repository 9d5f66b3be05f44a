package sweep

import (
	"encoding/json"
	"io"
	"time"
)

// MetricsNamespace is the CloudWatch namespace of the sweep's metrics.
const MetricsNamespace = "bucketmirror"

// metric is one value of an Embedded Metric Format line.
type metric struct {
	Name  string
	Unit  string // Count, Milliseconds, ...
	Value float64
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

// writeEMF writes one CloudWatch Embedded Metric Format line: Lambda ships
// stdout to CloudWatch Logs, which turns the line into metrics without a
// PutMetricData call. dimensions become one dimension set, in the order
// given (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
func writeEMF(w io.Writer, at time.Time, dimensions [][2]string, metrics []metric) error {
	doc := map[string]any{}
	dir := emfDirective{Namespace: MetricsNamespace, Dimensions: [][]string{{}}}
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
