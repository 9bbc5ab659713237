package main

// Tests across real (virtual) networks: network namespaces joined by veth
// pairs, a router namespace that masquerades and drops UDP, and meetd, a
// publisher and viewers as helper processes inside them. Everything the
// tests send stays inside the namespaces they make.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	msg "github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// Environment of a helper process: its role and what it needs.
const (
	helperRole = "MEETD_TEST_HELPER"
	helperArgs = "MEETD_TEST_HELPER_ARGS"
)

// viewerJob is what a viewer helper does, and viewerResult what it saw.
type viewerJob struct {
	URL     string
	Network testclient.Network
}

type viewerResult struct {
	Path  testclient.Path
	Audio int
	Video int
	Err   string
}

// runHelper runs the role the test binary was started for, if any, and
// exits; it returns false in a normal test run.
func runHelper() bool {
	role := os.Getenv(helperRole)
	if role == "" {
		return false
	}
	var err error
	switch role {
	case "meetd":
		err = helperMeetd()
	case "publisher":
		err = helperPublisher(testclient.Options{})
	case "viewer":
		err = helperViewer()
	case "watcher":
		err = helperWatcher()
	case "simulcaster":
		err = helperPublisher(testclient.Options{Simulcast: true})
	case "recorder":
		err = helperRecorder()
	case "nats":
		err = helperNATS()
	default:
		err = fmt.Errorf("unknown helper role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper", role+":", err)
		os.Exit(1)
	}
	os.Exit(0)
	return true
}

func helperMeetd() error {
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv(helperArgs)), &args); err != nil {
		return err
	}
	cfg, err := ParseConfig(args, os.Getenv, os.Stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	m := NewMain(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})))
	if err := m.Run(ctx); err != nil {
		return err
	}
	fmt.Println("READY", m.Addr())
	<-ctx.Done()
	return m.Close()
}

// helperPublisher publishes a camera (as simulcast if opts say so) into
// the default broadcast and says READY.
func helperPublisher(opts testclient.Options) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	start, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c, err := testclient.Dial(start, os.Getenv(helperArgs), opts)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Join(start, "default", msg.RoleStage); err != nil {
		return err
	}
	if err := c.Publish(start); err != nil {
		return err
	}
	fmt.Println("READY")
	<-ctx.Done()
	return nil
}

func helperViewer() error {
	var job viewerJob
	if err := json.Unmarshal([]byte(os.Getenv(helperArgs)), &job); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	var res viewerResult
	err := func() error {
		c, err := testclient.Dial(ctx, job.URL, testclient.Options{Network: job.Network})
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Join(ctx, "default", msg.RoleAudience); err != nil {
			return err
		}
		err = c.WaitMedia(ctx, 25, 25)
		res.Audio, res.Video = c.Stats(webrtc.RTPCodecTypeAudio).Packets, c.Stats(webrtc.RTPCodecTypeVideo).Packets
		if err != nil {
			return err
		}
		res.Path, err = c.Path(msg.TargetSubscribe)
		return err
	}()
	if err != nil {
		res.Err = err.Error()
	}
	out, _ := json.Marshal(res)
	fmt.Println("RESULT", string(out))
	return nil
}

// netns is a test's set of namespaces, removed when the test ends.
type netns struct {
	t      *testing.T
	prefix string
	names  []string
}

// needNetns checks that namespaces can be made: root, ip and iptables.
// Without them the test cannot run (cannotRun).
func needNetns(t *testing.T) *netns {
	t.Helper()
	needTool(t, "ip", "Debian: apt-get install iproute2")
	needTool(t, "iptables", "Debian: apt-get install iptables")
	if os.Geteuid() != 0 {
		cannotRun(t, "network namespace tests need root")
	}
	// Short and unique: interface names are at most 15 characters.
	n := &netns{t: t, prefix: fmt.Sprintf("mt%x", os.Getpid()%0xfffff)}
	t.Cleanup(n.remove)
	return n
}

func (n *netns) run(args ...string) {
	n.t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// add makes a namespace with loopback up; its full name is returned.
func (n *netns) add(name string) string {
	full := n.prefix + name
	n.run("ip", "netns", "add", full)
	n.names = append(n.names, full)
	n.in(full, "ip", "link", "set", "lo", "up")
	n.in(full, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	return full
}

// in runs a command inside a namespace.
func (n *netns) in(ns string, args ...string) {
	n.t.Helper()
	n.run(append([]string{"ip", "netns", "exec", ns}, args...)...)
}

// link joins two namespaces with a veth pair, addressing each end.
func (n *netns) link(a, aIf, aAddr, b, bIf, bAddr string) {
	n.t.Helper()
	aName, bName := n.prefix+aIf, n.prefix+bIf
	n.run("ip", "link", "add", aName, "type", "veth", "peer", "name", bName)
	n.run("ip", "link", "set", aName, "netns", a)
	n.run("ip", "link", "set", bName, "netns", b)
	n.in(a, "ip", "addr", "add", aAddr, "dev", aName)
	n.in(b, "ip", "addr", "add", bAddr, "dev", bName)
	n.in(a, "ip", "link", "set", aName, "up")
	n.in(b, "ip", "link", "set", bName, "up")
}

func (n *netns) remove() {
	for _, ns := range n.names {
		// Deleting a namespace deletes its veth ends, and their peers.
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			n.t.Errorf("remove namespace %s: %v: %s", ns, err, out)
		}
	}
}

// helper starts the test binary in ns as a helper of role. It waits for a
// line starting with wait (when not empty) and returns the process's
// output lines after it.
func (n *netns) helper(ns, role, args, wait string) (<-chan string, *exec.Cmd) {
	n.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		n.t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, exe)
	cmd.Env = append(os.Environ(), helperRole+"="+role, helperArgs+"="+args)
	var errOut io.Writer = io.Discard
	if os.Getenv("MEETD_TEST_LOG") != "" {
		errOut = os.Stderr
	}
	cmd.Stderr = errOut
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		n.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 16<<20) // a recorder's result is one long line
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	if wait != "" {
		waitLine(n.t, lines, role+" helper in "+ns+" to start", 30*time.Second,
			func(line string) bool { return strings.HasPrefix(line, wait) })
	}
	return lines, cmd
}

// waitLine reads a helper's lines until match holds of one, and returns
// it; it fails the test when the helper ends first or limit passes.
func waitLine(t *testing.T, lines <-chan string, what string, limit time.Duration, match func(string) bool) string {
	t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the helper ended while waiting for %s; MEETD_TEST_LOG=1 shows why", what)
			}
			if match(line) {
				return line
			}
		case <-deadline:
			t.Fatalf("no %s within %v", what, limit)
		}
	}
}

// TestViewerBehindNATWithoutUDP puts meetd on one network and a viewer on
// another, behind a router that masquerades and drops all outgoing UDP.
// The viewer still plays the broadcast, over ICE-TCP or TURN over TCP.
func TestViewerBehindNATWithoutUDP(t *testing.T) {
	n := needNetns(t)
	server, router, home := n.add("srv"), n.add("rtr"), n.add("home")
	n.link(server, "s0", "10.231.0.1/24", router, "r0", "10.231.0.2/24")
	n.link(router, "r1", "192.168.231.1/24", home, "h0", "192.168.231.2/24")
	n.in(home, "ip", "route", "add", "default", "via", "192.168.231.1")
	n.in(router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	n.in(router, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", n.prefix+"r0", "-j", "MASQUERADE")
	n.in(router, "iptables", "-A", "FORWARD", "-i", n.prefix+"r1", "-p", "udp", "-j", "DROP")

	args, _ := json.Marshal([]string{"-addr", ":18080", "-ice-loopback", "-udp-port", "13479", "-tcp-port", "13480",
		"-turn", "-turn-port", "13478", "-state-dir", t.TempDir(), "-log-level", "debug"})
	n.helper(server, "meetd", string(args), "READY")
	n.helper(server, "publisher", "ws://127.0.0.1:18080/ws", "READY")

	for _, tc := range []struct {
		name string
		net  testclient.Network
		ok   func(testclient.Path) bool
	}{
		// No TURN: only ICE-TCP can work.
		{"ice-tcp", testclient.Network{AllInterfaces: true, TCP: true},
			func(p testclient.Path) bool {
				return p.Protocol == "tcp" && p.LocalType != "relay" && p.RemotePort == 13480
			}},
		// No ICE-TCP: only TURN over TCP can work.
		{"turn-tcp", testclient.Network{AllInterfaces: true, ICEServers: true},
			func(p testclient.Path) bool { return p.LocalType == "relay" && p.RelayProtocol == "tcp" }},
		// Everything a browser would try: any path but direct UDP.
		{"browser", testclient.Network{AllInterfaces: true, TCP: true, ICEServers: true},
			func(p testclient.Path) bool { return p.Protocol == "tcp" || p.RelayProtocol == "tcp" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job, err := json.Marshal(viewerJob{URL: "ws://10.231.0.1:18080/ws", Network: tc.net})
			if err != nil {
				t.Fatal(err)
			}
			lines, _ := n.helper(home, "viewer", string(job), "")
			var res *viewerResult
			for line := range lines {
				if rest, ok := strings.CutPrefix(line, "RESULT "); ok {
					if err := json.Unmarshal([]byte(rest), &res); err != nil {
						t.Fatal(err)
					}
				}
			}
			if res == nil {
				t.Fatal("the viewer helper gave no result; MEETD_TEST_LOG=1 shows why")
			}
			if res.Err != "" {
				t.Fatalf("viewer: %s (audio %d, video %d packets)", res.Err, res.Audio, res.Video)
			}
			t.Logf("path: %v", res.Path)
			if !tc.ok(res.Path) {
				t.Errorf("path %v is not the one expected for %s", res.Path, tc.name)
			}
		})
	}
}
