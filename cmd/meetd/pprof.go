package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/meetd/meetd/internal/httpd"
)

// servePprof serves Go's profiles on addr, a listener of its own so that
// they are never reachable through the public address.
func servePprof(addr string, limits httpd.Limits, log *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// A profile or trace streams for as long as it was asked to.
	limits.WriteTimeout = -1
	srv := limits.NewServer(mux, log)
	go func() { _ = srv.Serve(ln) }()
	log.Info("profiles served", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return srv, nil
}
