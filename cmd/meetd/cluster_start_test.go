package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/testclient"
)

// A node started before its NATS server is there (services starting in
// any order): its first connection is dropped at once, as by a
// nats-server still starting, and the next ones are refused until NATS
// comes up seconds later. The node waits rather than exit, joins, and
// carries a broadcast to another node.
func TestClusterNodeStartsBeforeNATS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", port)
	ns, err := natsserver.NewServer(&natsserver.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	tried := make(chan struct{})
	go func() {
		// The node's first try: accepted and closed (EOF). Then nothing
		// listens (refused) for a while, then NATS starts on the port.
		c, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		c.Close()
		close(tried)
		time.Sleep(2 * time.Second) // NATS starts later: the case under test, not a wait for meetd
		ns.Start()
	}()
	t.Cleanup(func() { ln.Close() })

	a, urlA := runNode(t, natsURL) // returns once the node has joined
	select {
	case <-tried:
	default:
		t.Fatal("the node joined without trying the port first")
	}
	if !ns.ReadyForConnections(10 * time.Second) {
		cannotRun(t, "the in-process NATS server did not start")
	}
	inNodesBucket(t, ctx, natsURL, a.cluster.Name())

	b, urlB := runNode(t, natsURL)
	waitNodes(t, ctx, a, b)
	streamer := goLive(t, ctx, urlA, "show", testclient.Options{})
	defer streamer.Close()
	viewer := joinAudience(t, ctx, urlB, "show", 1)[0]
	n := viewer.Stats(webrtc.RTPCodecTypeVideo).Packets
	if err := viewer.WaitMedia(ctx, 0, n+50); err != nil {
		t.Fatal(err)
	}
}

// A node whose NATS never comes up gives up after -nats-start-timeout,
// saying so, rather than wait for ever.
func TestClusterNodeGivesUpWithoutNATS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	natsURL := "nats://" + ln.Addr().String()
	ln.Close() // refused from now on
	cfg := Config{Addr: "127.0.0.1:0", Cluster: ClusterConfig{NATS: []string{natsURL}, StartTimeout: 2 * time.Second}}
	cfg.SFU.Loopback, cfg.SFU.Interfaces = true, []string{"lo"}
	cfg.TLS.StateDir = testStateDir
	m := NewMain(cfg, testLog())
	err = m.Run(context.Background())
	if err == nil {
		m.Close()
		t.Fatal("the node started without NATS")
	}
	if msg := err.Error(); !strings.Contains(msg, "not ready after 2s") || !strings.Contains(msg, "-nats-start-timeout") ||
		!strings.Contains(msg, "refused") {
		t.Errorf("the node without NATS says %q; want it to name the timeout, its flag and the last error", msg)
	}
}

// A node waiting for NATS at start stops waiting when it is told to stop
// (SIGTERM cancels Run's context), rather than at -nats-start-timeout.
func TestClusterNodeStopsWaitingWhenStopped(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	natsURL := "nats://" + ln.Addr().String()
	ln.Close() // refused from now on
	cfg := Config{Addr: "127.0.0.1:0", Cluster: ClusterConfig{NATS: []string{natsURL}, StartTimeout: time.Minute}}
	cfg.SFU.Loopback, cfg.SFU.Interfaces = true, []string{"lo"}
	cfg.TLS.StateDir = testStateDir
	m := NewMain(cfg, testLog())
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- m.Run(ctx) }()
	time.Sleep(1500 * time.Millisecond) // a try or two
	stop()
	select {
	case err := <-ran:
		if err == nil {
			m.Close()
			t.Fatal("the node started without NATS")
		}
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stopped while waiting for NATS") {
			t.Errorf("the node stopped while waiting says %q; want it to say so", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the node told to stop still waits for NATS")
	}
}

// inNodesBucket waits until node has its key in the nodes bucket (its
// heartbeat puts it once it has joined).
func inNodesBucket(t *testing.T, ctx context.Context, natsURL, node string) {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, "meetd_nodes")
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ctx, "node "+node+" in meetd_nodes", func() bool {
		_, err := kv.Get(ctx, node)
		return err == nil
	})
}

// A node whose NATS answers but has no JetStream yet (a server started
// without it and restarted with it, or one whose JetStream is not ready)
// keeps trying to make its buckets, and joins once JetStream is there.
func TestClusterNodeWaitsForJetStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	plain, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go plain.Start()
	if !plain.ReadyForConnections(10 * time.Second) {
		cannotRun(t, "the in-process NATS server did not start")
	}
	t.Cleanup(plain.Shutdown)
	port := plain.Addr().(*net.TCPAddr).Port
	natsURL := plain.ClientURL()
	dir := t.TempDir()
	restarted := make(chan *natsserver.Server, 1)
	go func() {
		// Once the node has asked JetStream (and been told nobody
		// answers), the server comes back with it on the same port.
		for {
			v, err := plain.Varz(nil)
			if err != nil || v.InMsgs > 0 {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		plain.Shutdown()
		plain.WaitForShutdown()
		js, err := natsserver.NewServer(&natsserver.Options{
			Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
		})
		if err != nil {
			close(restarted)
			return
		}
		restarted <- js
		js.Start()
	}()

	a, _ := runNode(t, natsURL) // returns once the node has joined
	js, ok := <-restarted
	if !ok {
		t.Fatal("the NATS server with JetStream could not be made")
	}
	t.Cleanup(js.Shutdown)
	inNodesBucket(t, ctx, natsURL, a.cluster.Name())
}
