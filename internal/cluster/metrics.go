package cluster

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// traffic is what node links carried to and from one node, once their
// tracks left them; a link's live tracks add theirs (Stats).
type traffic struct {
	sent, received atomic.Uint64
}

// trafficLocked is the count of node's links; n.mu must be held.
func (n *Node) trafficLocked(node string) *traffic {
	t := n.traffic[node]
	if t == nil {
		t = &traffic{}
		n.traffic[node] = t
	}
	return t
}

// Collector reads the node's cluster figures for /metrics.
type Collector struct {
	n                                             *Node
	nodes, links, conns, tracks, connected, bytes *prometheus.Desc
}

// Collector makes the node's metrics.
func (n *Node) Collector() *Collector {
	return &Collector{
		n:     n,
		nodes: prometheus.NewDesc("meetd_cluster_nodes", "Nodes of the cluster this node sees alive, itself included.", nil, nil),
		links: prometheus.NewDesc("meetd_cluster_links",
			"Node links carrying tracks, by direction: out (this node's tracks) or in (the other node's); a link carrying both counts in both.",
			[]string{"direction"}, nil),
		conns:     prometheus.NewDesc("meetd_cluster_link_connections", "Peer connections with other nodes: one per node at most, whichever way its tracks go.", nil, nil),
		tracks:    prometheus.NewDesc("meetd_cluster_relayed_tracks", "Tracks on node links, by direction.", []string{"direction"}, nil),
		connected: prometheus.NewDesc("meetd_cluster_nats_connected", "1 while the NATS connection is up.", nil, nil),
		bytes: prometheus.NewDesc("meetd_cluster_link_bytes_total",
			"Bytes of media node links carried, by the node at the other end and direction (sent, received): RTP payloads "+
				"with about 56 bytes of headers per packet; received bytes are counted about once a second.",
			[]string{"peer", "direction"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.nodes
	ch <- c.links
	ch <- c.conns
	ch <- c.tracks
	ch <- c.connected
	ch <- c.bytes
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
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(s.Links))
	ch <- prometheus.MustNewConstMetric(c.tracks, prometheus.GaugeValue, float64(s.TracksOut), "out")
	ch <- prometheus.MustNewConstMetric(c.tracks, prometheus.GaugeValue, float64(s.TracksIn), "in")
	ch <- prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, connected)
	for peer, n := range s.Sent {
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(n), peer, "sent")
	}
	for peer, n := range s.Received {
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(n), peer, "received")
	}
}
