package main

// Three nodes of a cluster, each in its own network namespace, joined to
// a hub namespace by veth pairs: node links cross a real (virtual)
// network, not loopback.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// natsJob is what a NATS helper serves.
type natsJob struct {
	Host string
	Port int
	Dir  string
}

// helperNATS runs a NATS server with JetStream until it is told to stop.
func helperNATS() error {
	var job natsJob
	if err := json.Unmarshal([]byte(os.Getenv(helperArgs)), &job); err != nil {
		return err
	}
	s, err := natsserver.NewServer(&natsserver.Options{
		Host: job.Host, Port: job.Port, JetStream: true, StoreDir: job.Dir, NoLog: true, NoSigs: true,
	})
	if err != nil {
		return err
	}
	go s.Start()
	if !s.ReadyForConnections(20 * time.Second) {
		return fmt.Errorf("NATS did not start on %s:%d", job.Host, job.Port)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	fmt.Println("READY")
	<-stop
	s.Shutdown()
	return nil
}

// A broadcast across three nodes in three namespaces: NATS in the hub
// namespace that routes between them, the streamer on node 1, and a viewer
// on each node, a real pion client of its own node (as a load balancer
// would spread them): all three play. The node links offer only the
// nodes' veth addresses (-node-media-addr), so the viewers of nodes 2 and
// 3 play what crossed the hub.
func TestClusterThreeNodesInNamespaces(t *testing.T) {
	n := needNetns(t)
	hub := n.add("hub")
	n.in(hub, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	var nodes []string
	for i := 1; i <= 3; i++ {
		ns := n.add(fmt.Sprintf("n%d", i))
		n.link(hub, fmt.Sprintf("h%d", i), fmt.Sprintf("10.232.%d.1/24", i), ns, fmt.Sprintf("n%d", i), fmt.Sprintf("10.232.%d.2/24", i))
		n.in(ns, "ip", "route", "add", "default", "via", fmt.Sprintf("10.232.%d.1", i))
		nodes = append(nodes, ns)
	}
	job, _ := json.Marshal(natsJob{Host: "0.0.0.0", Port: 14222, Dir: t.TempDir()})
	n.helper(hub, "nats", string(job), "READY")
	for i, ns := range nodes {
		args, _ := json.Marshal([]string{"-addr", ":18080", "-ice-loopback", "-udp-port", "13479",
			"-nats", fmt.Sprintf("nats://10.232.%d.1:14222", i+1), "-node-name", fmt.Sprintf("node%d", i+1),
			"-node-media-addr", fmt.Sprintf("10.232.%d.2", i+1), "-state-dir", t.TempDir(), "-log-level", "debug"})
		n.helper(ns, "meetd", string(args), "READY")
	}
	n.helper(nodes[0], "publisher", "ws://127.0.0.1:18080/ws", "READY")

	// The viewers watch at once, each on its node.
	results := make([]<-chan string, len(nodes))
	for i, ns := range nodes {
		job, _ := json.Marshal(viewerJob{URL: "ws://127.0.0.1:18080/ws"})
		results[i], _ = n.helper(ns, "viewer", string(job), "")
	}
	for i, lines := range results {
		var res *viewerResult
		for line := range lines {
			if rest, ok := strings.CutPrefix(line, "RESULT "); ok {
				if err := json.Unmarshal([]byte(rest), &res); err != nil {
					t.Fatal(err)
				}
			}
		}
		switch {
		case res == nil:
			t.Errorf("the viewer on node %d gave no result; MEETD_TEST_LOG=1 shows why", i+1)
		case res.Err != "":
			t.Errorf("the viewer on node %d: %s (audio %d, video %d packets)", i+1, res.Err, res.Audio, res.Video)
		default:
			t.Logf("the viewer on node %d: audio %d, video %d packets", i+1, res.Audio, res.Video)
		}
	}
}
