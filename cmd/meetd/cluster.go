package main

import (
	"context"
	"net"
	"os"
	"strconv"

	"github.com/meetd/meetd/internal/cluster"
	"github.com/meetd/meetd/internal/metrics"
)

// joinCluster makes meetd a node of the cluster its NATS servers serve
// (docs/cluster.md): its rooms are shared with the other nodes.
// Waiting for NATS ends when ctx is done.
func (m *Main) joinCluster(ctx context.Context, met *metrics.Metrics) error {
	name := m.Config.Cluster.Node
	if name == "" {
		name = defaultNodeName(m.ln.Addr())
	}
	node, err := cluster.Start(ctx, cluster.Config{
		URLs: m.Config.Cluster.NATS, Name: cluster.Name(name), MediaAddr: m.Config.Cluster.MediaAddr,
		StartTimeout: m.Config.Cluster.StartTimeout, API: m.api, Log: m.log.With("part", "cluster"),
	})
	if err != nil {
		return err
	}
	m.cluster = node
	m.rooms.SetCluster(node)
	return met.Register(node.Collector())
}

// defaultNodeName is the host's name and the port meetd listens on: two
// nodes on one machine differ by their -addr.
func defaultNodeName(addr net.Addr) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "meetd"
	}
	if tcp, ok := addr.(*net.TCPAddr); ok {
		return host + "-" + strconv.Itoa(tcp.Port)
	}
	return host
}
