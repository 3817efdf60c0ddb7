// Package prometheus holds the example Prometheus configuration for zhizhi (prometheus.yml) and its check.
package prometheus
