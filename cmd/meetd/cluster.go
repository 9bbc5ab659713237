package main

import (
	"errors"
	"net"
	"os"
	"strconv"

	"github.com/meetd/meetd/internal/cluster"
	"github.com/meetd/meetd/internal/metrics"
)

// errClusterPionReads refuses a node that reads publishers' media through
// pion. Two nodes that share rooms both ways hold two connections between
// the same two media addresses; pion's UDP mux tells connections apart by
// the remote address alone, so their media would go to the wrong one.
// meetd's own read path at the shared socket routes each packet by its
// SSRC and keys, and keeps them apart.
var errClusterPionReads = errors.New("-nats cannot be used with -pion-read-path: node links need meetd's own read path (docs/cluster.md)")

// check refuses settings a node of a cluster cannot work with.
func (c ClusterConfig) check(pionReads bool) error {
	if len(c.NATS) > 0 && pionReads {
		return errClusterPionReads
	}
	return nil
}

// joinCluster makes meetd a node of the cluster its NATS servers serve
// (docs/cluster.md): its rooms are shared with the other nodes.
func (m *Main) joinCluster(met *metrics.Metrics) error {
	if err := m.Config.Cluster.check(m.Config.SFU.PionReadPath); err != nil {
		return err
	}
	name := m.Config.Cluster.Node
	if name == "" {
		name = defaultNodeName(m.ln.Addr())
	}
	node, err := cluster.Start(cluster.Config{
		URLs: m.Config.Cluster.NATS, Name: cluster.Name(name), MediaAddr: m.Config.Cluster.MediaAddr,
		API: m.api, Log: m.log.With("part", "cluster"),
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
