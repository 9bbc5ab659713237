package main

import (
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/httpd"
	"github.com/meetd/meetd/internal/record"
	"github.com/meetd/meetd/internal/sfu"
)

func TestParseConfig(t *testing.T) {
	env := map[string]string{"MEETD_ADDR": "127.0.0.1:9000", "MEETD_ICE_LOOPBACK": "true", "MEETD_ALLOWED_ORIGINS": "a.example, *.b.example"}
	cfg, err := ParseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9000" || !cfg.SFU.Loopback || len(cfg.AllowedOrigins) != 2 || cfg.AllowedOrigins[1] != "*.b.example" {
		t.Fatalf("from the environment: %+v", cfg)
	}
	cfg, err = ParseConfig([]string{"-addr", ":7000", "-udp-ports", "50000-50100", "-log-level", "debug"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":7000" || cfg.SFU.UDPPortMin != 50000 || cfg.SFU.UDPPortMax != 50100 || cfg.LogLevel != slog.LevelDebug {
		t.Fatalf("flags over the environment: %+v", cfg)
	}
	cfg, _ = ParseConfig(nil, func(string) string { return "" }, io.Discard)
	if cfg.Addr != ":8080" || cfg.SFU.Loopback {
		t.Fatalf("defaults: %+v", cfg)
	}
	cfg, err = ParseConfig([]string{"-udp-port", "3479", "-tcp-port", "3480", "-turn", "-turn-credential-lifetime", "2h", "-tls-self-signed", "-state-dir", "/tmp/x"},
		func(k string) string { return map[string]string{"MEETD_TURN_SECRET": "s3cret"}[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SFU.UDPPort != 3479 || cfg.SFU.TCPPort != 3480 || !cfg.TURN.Enabled || cfg.TURN.Port != 3478 ||
		cfg.TURN.Secret != "s3cret" || cfg.TURN.Lifetime.Hours() != 2 || !cfg.TLS.SelfSigned || cfg.TLS.ACMECacheDir != "/tmp/x/acme" {
		t.Fatalf("network settings: %+v", cfg)
	}
	cfg, err = ParseConfig([]string{"-http-read-timeout", "5s", "-http-idle-timeout", "1m30s"},
		func(k string) string { return map[string]string{"MEETD_HTTP_MAX_HEADER_BYTES": "8192"}[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.ReadTimeout != 5*time.Second || cfg.HTTP.IdleTimeout != 90*time.Second ||
		cfg.HTTP.WriteTimeout != httpd.DefaultLimits.WriteTimeout || cfg.HTTP.MaxHeaderBytes != 8192 {
		t.Fatalf("HTTP limits: %+v", cfg.HTTP)
	}
	cfg, err = ParseConfig(nil, func(k string) string {
		return map[string]string{"MEETD_ALLOWED_HOSTS": "meet.example.com, *.example.org"}[k]
	}, io.Discard)
	if err != nil || len(cfg.AllowedHosts) != 2 || cfg.AllowedHosts[1] != "*.example.org" {
		t.Fatalf("allowed hosts: %q %v", cfg.AllowedHosts, err)
	}
	cfg, err = ParseConfig([]string{"-subscriber-queue-age", "200ms", "-chat-history-bytes", "1000"},
		func(k string) string { return map[string]string{"MEETD_SUBSCRIBER_STALL": "2s"}[k] }, io.Discard)
	if err != nil || cfg.SFU.Queue.Age != 200*time.Millisecond || cfg.SFU.Queue.Stall != 2*time.Second ||
		cfg.SFU.Queue.Bytes != 262144 || cfg.Limits.ChatBytes != 1000 || cfg.Limits.ChatTotal != 64<<20 {
		t.Fatalf("queue and chat limits: %+v %+v %v", cfg.SFU.Queue, cfg.Limits, err)
	}
	cfg, _ = ParseConfig([]string{"-acme-domain", "meet.example.org"}, func(string) string { return "" }, io.Discard)
	if cfg.Addr != ":443" || cfg.TLS.ACMEHTTPAddr != ":80" {
		t.Fatalf("ACME defaults: %+v", cfg)
	}
	for _, args := range [][]string{{"-udp-ports", "9-1"}, {"-udp-ports", "x"}, {"-log-level", "loud"}, {"extra"},
		{"-udp-port", "70000"}, {"-tcp-port", "x"}, {"-turn-credential-lifetime", "1s"}, {"-tls-cert", "a.pem"},
		{"-tls-self-signed", "-acme-domain", "a.example"}, {"-http-read-timeout", "0"}, {"-http-idle-timeout", "soon"},
		{"-http-write-timeout", "-1s"}, {"-http-max-header-bytes", "10"}, {"-allowed-hosts", "[meet"},
		{"-subscriber-queue-bytes", "100"}, {"-subscriber-queue-age", "1ms"}, {"-subscriber-stall", "100ms"}} {
		if _, err := ParseConfig(args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	var help strings.Builder
	if _, err := ParseConfig([]string{"-h"}, func(string) string { return "" }, &help); err == nil {
		t.Error("-h did not stop")
	}
	for _, flag := range []string{"-addr", "-allowed-origins", "-ice-loopback", "-ice-interfaces", "-ice-servers", "-public-ip", "-udp-ports", "-log-level", "MEETD_ADDR",
		"-udp-port", "-tcp-port", "-public-ip-stun", "-turn", "-turn-port", "-turn-secret", "-turn-credential-lifetime",
		"-tls-cert", "-tls-key", "-tls-self-signed", "-state-dir", "-acme-domain", "-acme-email", "-acme-dir", "-acme-ca", "-acme-ca-roots", "-acme-http-addr", "-pprof",
		"-http-read-timeout", "-http-write-timeout", "-http-idle-timeout", "-http-max-header-bytes", "-allowed-hosts"} {
		if !strings.Contains(help.String(), flag) {
			t.Errorf("-h does not list %s", flag)
		}
	}
}

func TestParsePerAddressLimits(t *testing.T) {
	none := func(string) string { return "" }
	cfg, err := ParseConfig(nil, none, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PerAddr.Connections != 2000 || cfg.PerAddr.Rooms != 100 || cfg.PerAddr.RoomsOpened != 60 ||
		cfg.PerAddr.RoomsWindow != time.Minute || cfg.PerAddr.Sessions != 1000 || len(cfg.TrustProxy) != 0 ||
		cfg.Passwords.PerAddr != 100 || cfg.Passwords.PerRoom != 300 || cfg.Passwords.Window != 10*time.Minute ||
		cfg.Passwords.Comparisons < 1 {
		t.Fatalf("defaults: %+v %+v %v", cfg.PerAddr, cfg.Passwords, cfg.TrustProxy)
	}
	cfg, err = ParseConfig([]string{"-trust-proxy", "10.0.0.5, 192.168.7.9/16,::1,::ffff:172.16.0.1", "-ip-max-connections", "0",
		"-wrong-password-window", "1h"}, func(k string) string { return map[string]string{"MEETD_IP_MAX_ROOMS": "5"}[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32"), netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("172.16.0.1/32")}
	if !slices.Equal(cfg.TrustProxy, want) || cfg.PerAddr.Connections != 0 || cfg.PerAddr.Rooms != 5 || cfg.Passwords.Window != time.Hour {
		t.Fatalf("flags: %v %+v %v", cfg.TrustProxy, cfg.PerAddr, cfg.Passwords.Window)
	}
	for _, args := range [][]string{{"-trust-proxy", "proxy.example"}, {"-trust-proxy", "10.0.0.0/33"},
		{"-wrong-password-window", "10"}, {"-wrong-password-window", "0s"}} {
		if _, err := ParseConfig(args, none, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	var help strings.Builder
	_, _ = ParseConfig([]string{"-h"}, none, &help)
	for _, flag := range []string{"-trust-proxy", "-ip-max-connections", "-ip-max-rooms", "-ip-rooms-per-minute", "-ip-max-sessions",
		"-ip-wrong-passwords", "-room-wrong-passwords", "-wrong-password-window", "-password-checks"} {
		if !strings.Contains(help.String(), flag) {
			t.Errorf("-h does not list %s", flag)
		}
	}
}

// TestOnByDefaultSettings: -fast-egress and -abs-send-time are on unless
// the flag or its environment variable says false (off, 0); the flag wins,
// and a value that is not true or false is refused, in words.
func TestOnByDefaultSettings(t *testing.T) {
	for _, set := range []struct {
		flag, env string
		get       func(Config) bool
	}{
		{"fast-egress", "MEETD_FAST_EGRESS", func(c Config) bool { return c.SFU.FastEgress }},
		{"abs-send-time", "MEETD_ABS_SEND_TIME", func(c Config) bool { return c.SFU.AbsSendTime }},
	} {
		for _, c := range []struct {
			args []string
			env  string
			want bool
		}{
			{nil, "", true},
			{nil, "false", false},
			{nil, "off", false},
			{nil, "0", false},
			{nil, "true", true},
			{[]string{"-" + set.flag + "=false"}, "", false},
			{[]string{"-" + set.flag}, "false", true},
		} {
			cfg, err := ParseConfig(c.args, func(k string) string { return map[string]string{set.env: c.env}[k] }, io.Discard)
			if err != nil || set.get(cfg) != c.want {
				t.Errorf("%v with %s=%q: %v (%v), want %v", c.args, set.env, c.env, set.get(cfg), err, c.want)
			}
		}
		_, err := ParseConfig(nil, func(k string) string { return map[string]string{set.env: "maybe"}[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), set.env) {
			t.Errorf("%s=maybe: %v, want an error naming it", set.env, err)
		}
	}
}

// TestParseConfigRecord: sizes with units, the recordings directory under
// the state directory, recording turned off from the environment, and bad
// sizes refused in words.
func TestParseConfigRecord(t *testing.T) {
	cfg, err := ParseConfig([]string{"-record-max-bytes", "20G", "-state-dir", "/tmp/x"},
		func(k string) string { return map[string]string{"MEETD_RECORD_MIN_FREE": "512MiB"}[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Record.Enabled || cfg.Record.MaxBytes != 20<<30 || cfg.Record.MinFree != 512<<20 || cfg.Record.Dir != "/tmp/x/recordings" {
		t.Fatalf("record settings: %+v", cfg.Record)
	}
	cfg, err = ParseConfig(nil, func(k string) string { return map[string]string{"MEETD_RECORD": "false"}[k] }, io.Discard)
	if err != nil || cfg.Record.Enabled || cfg.Record.MinFree != 1<<30 || cfg.Record.MaxBytes != 0 {
		t.Fatalf("record off: %+v %v", cfg.Record, err)
	}
	if cfg.Record.JitterBuffer != record.SampleBuilder {
		t.Errorf("default jitter buffer %q, want pion's samplebuilder", cfg.Record.JitterBuffer)
	}
	cfg, err = ParseConfig([]string{"-record-jitter-buffer", "ring"}, func(string) string { return "" }, io.Discard)
	if err != nil || cfg.Record.JitterBuffer != record.Ring {
		t.Errorf("-record-jitter-buffer ring: %q %v", cfg.Record.JitterBuffer, err)
	}
	if _, err := ParseConfig([]string{"-record-jitter-buffer", "big"}, func(string) string { return "" }, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "-record-jitter-buffer") {
		t.Errorf("-record-jitter-buffer big: %v", err)
	}
	for _, v := range []string{"lots", "-5G", "12X"} {
		_, err := ParseConfig([]string{"-record-max-bytes", v}, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "-record-max-bytes") || !strings.Contains(err.Error(), "such as") {
			t.Errorf("-record-max-bytes %q: %v", v, err)
		}
	}
}

func TestParseClusterSettings(t *testing.T) {
	env := map[string]string{"MEETD_NATS": "nats://a:4222, nats://b:4222", "MEETD_NODE_NAME": "edge-1",
		"MEETD_NATS_START_TIMEOUT": "2m"}
	cfg, err := ParseConfig([]string{"-node-media-addr", "10.0.0.5"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"nats://a:4222", "nats://b:4222"}; !slices.Equal(cfg.Cluster.NATS, want) ||
		cfg.Cluster.Node != "edge-1" || cfg.Cluster.MediaAddr != "10.0.0.5" || cfg.Cluster.StartTimeout != 2*time.Minute {
		t.Errorf("cluster settings %+v", cfg.Cluster)
	}
	if cfg, err := ParseConfig(nil, func(string) string { return "" }, io.Discard); err != nil || cfg.Cluster.StartTimeout != 30*time.Second {
		t.Errorf("default -nats-start-timeout %v (%v), want 30s", cfg.Cluster.StartTimeout, err)
	}
	if _, err := ParseConfig([]string{"-nats-start-timeout", "0"}, func(string) string { return "" }, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "-nats-start-timeout") {
		t.Errorf("-nats-start-timeout 0: %v", err)
	}
	if _, err := ParseConfig([]string{"-node-media-addr", "media.example.com"}, func(string) string { return "" }, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "-node-media-addr") {
		t.Errorf("a host name as -node-media-addr: %v", err)
	}
}

// TestParseProbeSettings: -probes 0 turns probing off (sfu.Config's zero
// being its default), the environment sets both, bad values are refused.
func TestParseProbeSettings(t *testing.T) {
	parse := func(args []string, env map[string]string) (Config, error) {
		return ParseConfig(args, func(k string) string { return env[k] }, io.Discard)
	}
	cfg, err := parse(nil, nil)
	if err != nil || cfg.SFU.Probes != sfu.DefaultProbes || cfg.SFU.ProbeRate != sfu.DefaultProbeRate {
		t.Errorf("defaults: %d, %d (%v)", cfg.SFU.Probes, cfg.SFU.ProbeRate, err)
	}
	if cfg, err = parse([]string{"-probes", "0"}, nil); err != nil || cfg.SFU.Probes >= 0 {
		t.Errorf("-probes 0: %d (%v), want negative: none", cfg.SFU.Probes, err)
	}
	if cfg, err = parse(nil, map[string]string{"MEETD_PROBES": "4", "MEETD_PROBE_RATE": "1000000"}); err != nil ||
		cfg.SFU.Probes != 4 || cfg.SFU.ProbeRate != 1e6 {
		t.Errorf("from the environment: %d, %d (%v)", cfg.SFU.Probes, cfg.SFU.ProbeRate, err)
	}
	for _, args := range [][]string{{"-probes", "-1"}, {"-probe-rate", "0"}} {
		if _, err := parse(args, nil); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: %v, want an error naming it", args, err)
		}
	}
}
