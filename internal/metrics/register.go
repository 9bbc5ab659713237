package metrics

import "github.com/prometheus/client_golang/prometheus"

// Register adds c's metrics to /metrics: those of a part of meetd that
// is not always there (the cluster, the recorder).
func (m *Metrics) Register(c prometheus.Collector) error { return m.reg.Register(c) }
