package cluster

import "github.com/prometheus/client_golang/prometheus"

// Collector reads the node's cluster figures for /metrics.
type Collector struct {
	n                               *Node
	nodes, links, tracks, connected *prometheus.Desc
}

// Collector makes the node's metrics.
func (n *Node) Collector() *Collector {
	return &Collector{
		n:         n,
		nodes:     prometheus.NewDesc("meetd_cluster_nodes", "Nodes of the cluster this node sees alive, itself included.", nil, nil),
		links:     prometheus.NewDesc("meetd_cluster_links", "Node links, by direction: out (sending this node's tracks) or in.", []string{"direction"}, nil),
		tracks:    prometheus.NewDesc("meetd_cluster_relayed_tracks", "Tracks on node links, by direction.", []string{"direction"}, nil),
		connected: prometheus.NewDesc("meetd_cluster_nats_connected", "1 while the NATS connection is up.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.nodes
	ch <- c.links
	ch <- c.tracks
	ch <- c.connected
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.n.Stats()
	connected := 0.0
	if s.Connected {
		connected = 1
	}
	ch <- prometheus.MustNewConstMetric(c.nodes, prometheus.GaugeValue, float64(s.Nodes))
	ch <- prometheus.MustNewConstMetric(c.links, prometheus.GaugeValue, float64(s.LinksOut), "out")
	ch <- prometheus.MustNewConstMetric(c.links, prometheus.GaugeValue, float64(s.LinksIn), "in")
	ch <- prometheus.MustNewConstMetric(c.tracks, prometheus.GaugeValue, float64(s.TracksOut), "out")
	ch <- prometheus.MustNewConstMetric(c.tracks, prometheus.GaugeValue, float64(s.TracksIn), "in")
	ch <- prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, connected)
}
