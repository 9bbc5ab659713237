package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"
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
	for _, args := range [][]string{{"-udp-ports", "9-1"}, {"-udp-ports", "x"}, {"-log-level", "loud"}, {"extra"}} {
		if _, err := ParseConfig(args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	var help strings.Builder
	if _, err := ParseConfig([]string{"-h"}, func(string) string { return "" }, &help); err == nil {
		t.Error("-h did not stop")
	}
	for _, flag := range []string{"-addr", "-allowed-origins", "-ice-loopback", "-ice-interfaces", "-ice-servers", "-public-ip", "-udp-ports", "-log-level", "-pprof", "MEETD_ADDR"} {
		if !strings.Contains(help.String(), flag) {
			t.Errorf("-h does not list %s", flag)
		}
	}
}
