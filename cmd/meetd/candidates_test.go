package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"github.com/meetd/meetd/internal/signal"
)

// A browser offering with the default bundle policy (Firefox, the seed's
// pages) sends candidates of every media section, and of an RTCP
// component of each, where it will use one section's RTP socket. meetd
// checks only the candidates the connection will use: those of the other
// sockets, once chosen, left the browser deaf to meetd (its DTLS, its
// keyframe requests) while both sides said ICE was connected.
func TestOnlyBundledRTPCandidatesAreChecked(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	r := dialRaw(t, ctx, "ws://"+m.Addr()+"/ws", nil)
	r.send(ctx, `{"type":"join","room":"bundle","kind":"meeting","role":"stage"}`)
	if msg, err := r.next(ctx); err != nil || msg.Type != signal.TypeJoined {
		t.Fatalf("join: %+v %v", msg, err)
	}
	// The offer (audio "0", video "1", bundled on "0") comes from a
	// connection that never starts ICE: meetd keeps checking what it has.
	data, _ := json.Marshal(signal.Message{Type: signal.TypeOffer, SDP: offerSending(t, 1, 1)})
	r.send(ctx, string(data))
	for {
		msg, err := r.next(ctx)
		if err != nil {
			t.Fatalf("waiting for the answer: %v", err)
		}
		if msg.Type == signal.TypeAnswer {
			break
		}
	}

	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	used, rtcp, other := listen(), listen(), listen()
	candidate := func(component string, sock *net.UDPConn, mid string) {
		port := sock.LocalAddr().(*net.UDPAddr).Port
		line := "candidate:" + component + "00 " + component + " udp 2122260223 127.0.0.1 " +
			strconv.Itoa(port) + " typ host generation 0"
		data, _ := json.Marshal(signal.Message{Type: signal.TypeCandidate, Target: signal.TargetPublish,
			Candidate: &signal.Candidate{Candidate: line, SDPMid: &mid}})
		r.send(ctx, string(data))
	}
	candidate("2", rtcp, "0")  // the RTCP component of the bundle's section
	candidate("1", other, "1") // the video section's own transport
	candidate("1", used, "0")  // the one the browser will use

	// meetd checks the used candidate again and again while no check
	// succeeds; it checks every pair it has each time.
	checks := 0
	buf := make([]byte, 1500)
	for checks < 3 {
		used.SetReadDeadline(time.Now().Add(time.Until(deadline(ctx))))
		n, _, err := used.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("the used candidate got %d connectivity checks: %v", checks, err)
		}
		if stun.IsMessage(buf[:n]) {
			checks++
		}
	}
	for what, sock := range map[string]*net.UDPConn{"an RTCP candidate": rtcp, "a bundled section's candidate": other} {
		sock.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if n, _, err := sock.ReadFromUDP(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s got %d bytes (%v): meetd checks a socket the browser will not use", what, n, err)
		}
	}
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}
