package sfu

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// TestSubscriberRTCPReadAtTheSocket: a subscriber's SRTCP that comes on
// the shared socket of its connection's path is handled where the socket
// is read: a NACK is answered with the packet asked for, encrypted for
// the subscriber, and is not passed on to pion. A replay of it is
// dropped; the same packet from an address no connection listens to, and
// datagrams that are not RTCP, go to pion; once the connection closes,
// so does its RTCP.
func TestSubscriberRTCPReadAtTheSocket(t *testing.T) {
	c := newTestSocket(t)
	rs := receivers(t, 2)
	sub, stranger := rs[0], rs[1]
	tr := newTestTrack()
	keys, dec := srtpKeyPair(t)
	// The subscriber's keys, which meetd decrypts its SRTCP with.
	subKeys, _ := srtpKeyPair(t)
	subEnc, err := srtp.CreateContext(subKeys.LocalMasterKey, subKeys.LocalMasterSalt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		t.Fatal(err)
	}
	keys.RemoteMasterKey, keys.RemoteMasterSalt = subKeys.LocalMasterKey, subKeys.LocalMasterSalt
	e := testEgress(t, keys, c, sub)
	d := subscribe(tr, 1111, 96, discard{})
	d.SetEgress(e)
	s := &Sender{}
	s.down.Store(d)
	e.addSender(1111, s)

	// The subscriber gets three packets.
	readSRTP := func() rtp.Packet {
		t.Helper()
		buf := make([]byte, 1500)
		_ = sub.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := sub.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := dec.DecryptRTP(nil, buf[:n], nil)
		if err != nil {
			t.Fatal(err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(plain); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var pkt rtp.Packet
	var seqs []uint16
	for seq := uint16(1); seq <= 3; seq++ {
		forwardFirst(tr, vp8(t, seq, seq == 1), &pkt)
		seqs = append(seqs, readSRTP().SequenceNumber)
	}

	// What reaches pion, in order.
	toPion := make(chan []byte, 8)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := c.ReadFromAddrPort(buf)
			if err != nil {
				close(toPion)
				return
			}
			toPion <- append([]byte(nil), buf[:n]...)
		}
	}()
	send := func(from *net.UDPConn, b []byte) {
		t.Helper()
		if _, err := from.WriteToUDPAddrPort(b, addrPort(c.UDPConn)); err != nil {
			t.Fatal(err)
		}
	}
	wantPion := func(step string, want []byte) {
		t.Helper()
		select {
		case got := <-toPion:
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: pion got %x, want %x", step, got, want)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%s: pion got nothing", step)
		}
	}

	nack, _ := (&rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: 1111,
		Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{seqs[1]})}).Marshal()
	sealed, err := subEnc.EncryptRTCP(nil, nack, nil)
	if err != nil {
		t.Fatal(err)
	}
	send(sub, sealed)
	if p := readSRTP(); p.SequenceNumber != seqs[1] || p.SSRC != 1111 {
		t.Fatalf("after the NACK of %d the subscriber got %d (SSRC %d)", seqs[1], p.SequenceNumber, p.SSRC)
	}
	// The count is added once the packet went out, so the subscriber may
	// read it first.
	for deadline := time.Now().Add(2 * time.Second); d.Retransmits() != 1 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if d.Retransmits() != 1 {
		t.Errorf("retransmits %d, want 1", d.Retransmits())
	}

	// A replay is dropped; a datagram that is not RTCP goes to pion,
	// after it, so the replay was not.
	marker := []byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42} // a STUN header's start
	send(sub, sealed)
	send(sub, marker)
	wantPion("a replay, then STUN", marker)
	// The same packet from another address is pion's to judge.
	send(stranger, sealed)
	wantPion("RTCP from an address no connection listens to", sealed)
	// Closed: the subscriber's RTCP is pion's again.
	e.fast.Disconnect()
	send(sub, sealed)
	wantPion("RTCP once the connection closed", sealed)

	reads := &e.counters.rtcpRead
	if got := [...]uint64{reads[RTCPAtSocket].Load(), reads[RTCPDropped].Load()}; got != [...]uint64{1, 1} {
		t.Errorf("read at the socket, dropped: %v, want [1 1]", got)
	}
	if d.Retransmits() != 1 {
		t.Errorf("retransmits %d after a replay, want 1", d.Retransmits())
	}
}
