package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// TestPionWritesNoMediaOnSubscribeConnections: while media flows to
// viewers through meetd's fast egress, with its sender reports and their
// receiver reports, pion writes no RTP or RTCP of
// its own to a viewer (the rule in internal/sfu/api.go). A pion version
// that did (interceptors by default, reports or probes from its sender)
// would fail it: the shared socket counts what pion writes.
func TestPionWritesNoMediaOnSubscribeConnections(t *testing.T) {
	checkLeaks(t)
	m := runMeetdEgress(t, Config{}, true)
	if !m.api.FastEgress() {
		t.Skip("this pion version hides the SRTP keys: no fast egress")
	}
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	pub := goLive(t, ctx, url, "default", testclient.Options{})
	defer pub.Close()
	var reports atomic.Int64
	for range 2 {
		v := dial(t, ctx, url, testclient.Options{OnSenderReport: func(webrtc.RTPCodecType, *rtcp.SenderReport) { reports.Add(1) }})
		defer v.Close()
		join(t, ctx, v, "default", signal.RoleAudience)
		waitMedia(t, ctx, "viewer", v)
	}
	wantSendPaths(t, m, "the viewers", 2, 0, 0)
	// The viewers' RTCP is read at the socket: meetd's egress listens to
	// their addresses, where pion's writes are counted.
	waitRTCPRead(t, ctx, m, sfu.RTCPAtSocket)
	// Three rounds of sender reports for both viewers, a second apart: as
	// long as any interceptor of pion's would take to send its own.
	from := reports.Load()
	waitUntil(t, ctx, "three rounds of sender reports", func() bool { return reports.Load() >= from+12 })
	if st := m.api.BatchStats(); st.PionMedia != 0 {
		t.Errorf("pion wrote %d RTP or RTCP datagrams to viewers whose media meetd's egress sends", st.PionMedia)
	}
}
