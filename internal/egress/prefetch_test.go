package sfu

import (
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// TestForwardingReadsOnlyTheHotDownTrack: the fields of a DownTrack that
// forwarding reads or writes for every packet lie in the part fanOut asks
// for ahead. A field moved after buf would be met cold again.
func TestForwardingReadsOnlyTheHotDownTrack(t *testing.T) {
	var d DownTrack
	for name, end := range map[string]uintptr{
		"track":   unsafe.Offsetof(d.track) + unsafe.Sizeof(d.track),
		"wire":    unsafe.Offsetof(d.wire) + unsafe.Sizeof(d.wire),
		"current": unsafe.Offsetof(d.current) + unsafe.Sizeof(d.current),
		"target":  unsafe.Offsetof(d.target) + unsafe.Sizeof(d.target),
		"egress":  unsafe.Offsetof(d.egress) + unsafe.Sizeof(d.egress),
		"packets": unsafe.Offsetof(d.packets) + unsafe.Sizeof(d.packets),
		"octets":  unsafe.Offsetof(d.octets) + unsafe.Sizeof(d.octets),
		"sending": unsafe.Offsetof(d.sending) + unsafe.Sizeof(d.sending),
		"rw":      unsafe.Offsetof(d.rw) + unsafe.Sizeof(d.rw),
		"hdr":     unsafe.Offsetof(d.hdr) + unsafe.Sizeof(d.hdr),
	} {
		if end > hotDownTrack {
			t.Errorf("DownTrack.%s ends at byte %d, after the %d bytes asked for ahead", name, end, hotDownTrack)
		}
	}
}

// TestPathNamesTheCiphersState: for each profile the sealer handles, the
// path an Egress sends with names the cipher's state, so that a fan-out
// can ask for it ahead: the sealer's AES-GCM, with its key schedule and
// GHASH table (256 bytes alone), behind a pointer.
func TestPathNamesTheCiphersState(t *testing.T) {
	for _, profile := range []srtp.ProtectionProfile{srtp.ProtectionProfileAeadAes128Gcm, srtp.ProtectionProfileAeadAes256Gcm} {
		keyLen, err := profile.KeyLen()
		if err != nil {
			t.Fatal(err)
		}
		seal, err := newRTPSealer(profile, make([]byte, keyLen), make([]byte, 12))
		if err != nil {
			t.Fatal(err)
		}
		e := newTestEgress()
		e.keys = &egressKeys{seal: seal}
		e.update()
		p := e.path.Load()
		if p.cipher == nil || p.cipherSize < 256 {
			t.Fatalf("%v: the path names %d bytes at %p as the cipher's state", profile, p.cipherSize, p.cipher)
		}
		if want := reflect.ValueOf(seal.aead).UnsafePointer(); p.cipher != want {
			t.Errorf("%v: the path names %p as the cipher's state, the cipher is at %p", profile, p.cipher, want)
		}
	}
}

// TestSubscribersJoinWhileForwarding: as in the server, a down track is in
// its track's list before its Egress is set and it is bound, while the
// read loop forwards; the fan-out (its stages that ask ahead included)
// reads a down track's Egress only once it is bound. Under -race this
// fails if a stage reads it sooner. Every subscriber is then sent
// packets.
func TestSubscribersJoinWhileForwarding(t *testing.T) {
	c := newTestBatchConn(t)
	tr := newTestTrack()
	tr.batch = &sendBatch{conns: []*batchConn{c}}
	rs := drained(receivers(t, 8))
	key, inter := vp8(t, 1, true), vp8(t, 2, false)
	done := make(chan struct{})
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		var pkt rtp.Packet
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			raw := inter
			if i%20 == 0 {
				raw = key
			}
			forwardFirst(tr, raw, &pkt)
			time.Sleep(100 * time.Microsecond)
		}
	}()
	for i, r := range rs {
		enc, _ := egressKeyPair(t)
		d := tr.Subscribe()
		d.SetEgress(testEgress(enc, c, r))
		d.bound.Store(&binding{w: discard{}})
		d.wire.Store(uint64(makeWire(uint32(100+i), 96)))
	}
	time.Sleep(200 * time.Millisecond)
	close(done)
	<-forwarded
	for i, d := range *tr.downs.Load() {
		if d.Packets() == 0 {
			t.Errorf("subscriber %d was sent nothing", i)
		}
	}
}
