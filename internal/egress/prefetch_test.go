package egress

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	mrand "math/rand/v2"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// TestSealingIsCryptoCiphers: for random packets (headers with CSRCs and
// extensions, payloads of every size), what a Conn sends is AES-GCM as
// crypto/cipher seals it, with the session key and IV of RFC 7714, whether
// or not the cipher's state was asked for ahead.
func TestSealingIsCryptoCiphers(t *testing.T) {
	for _, profile := range []srtp.ProtectionProfile{srtp.ProtectionProfileAeadAes128Gcm, srtp.ProtectionProfileAeadAes256Gcm} {
		keyLen, _ := profile.KeyLen()
		key, salt := make([]byte, keyLen), make([]byte, 12)
		_, _ = rand.Read(key)
		_, _ = rand.Read(salt)
		sessionKey, err := DeriveSessionKey(labelSRTPEncryption, key, salt, keyLen)
		if err != nil {
			t.Fatal(err)
		}
		sessionSalt, err := DeriveSessionKey(labelSRTPSalt, key, salt, 12)
		if err != nil {
			t.Fatal(err)
		}
		block, err := aes.NewCipher(sessionKey)
		if err != nil {
			t.Fatal(err)
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			t.Fatal(err)
		}
		ice := &packets{}
		e := newTestConn(ice)
		enc, err := newEgressKeys(profile, srtp.SessionKeys{LocalMasterKey: key, LocalMasterSalt: salt,
			RemoteMasterKey: key, RemoteMasterSalt: salt})
		if err != nil {
			t.Fatal(err)
		}
		e.set(enc, route{})
		rng := mrand.New(mrand.NewPCG(1, 2))
		buf := make([]byte, MaxPacket+MaxOverhead)
		for i := range 300 {
			h := rtp.Header{Version: 2, PayloadType: 96, SSRC: rng.Uint32(), SequenceNumber: uint16(rng.Uint32()),
				Timestamp: rng.Uint32(), Marker: i%2 == 0}
			for range rng.IntN(4) {
				h.CSRC = append(h.CSRC, rng.Uint32())
			}
			if rng.IntN(2) == 0 {
				_ = h.SetExtension(uint8(1+rng.IntN(14)), []byte{byte(i), 2, 3})
			}
			payload := make([]byte, 1+rng.IntN(1100))
			_, _ = rand.Read(payload)
			if i%3 == 0 {
				for stage := PrefetchConn; stage <= PrefetchKeys; stage++ {
					e.Prefetch(stage)
				}
			}
			if _, _, err := e.WriteRTP(&h, payload, true, buf, nil); err != nil {
				t.Fatal(err)
			}
			hdr, _ := h.Marshal()
			// The first packet of its SSRC: its rollover counter is 0.
			var iv [12]byte
			binary.BigEndian.PutUint32(iv[2:], h.SSRC)
			binary.BigEndian.PutUint16(iv[10:], h.SequenceNumber)
			for j := range iv {
				iv[j] ^= sessionSalt[j]
			}
			want := append(hdr, gcm.Seal(nil, iv[:], payload, hdr)...)
			if got := ice.got[len(ice.got)-1]; !bytes.Equal(got, want) {
				t.Fatalf("%v, packet %d: sent %d bytes other than crypto/cipher's %d", profile, i, len(got), len(want))
			}
		}
	}
}

// valueAEAD is an AEAD that is not a pointer: its state is nowhere to
// ask for.
type valueAEAD struct{ cipher.AEAD }

// bigAEAD is an AEAD whose state is too large to ask for ahead.
type bigAEAD struct {
	cipher.AEAD
	state [1 << 16]byte
}

// TestCipherStateFallsBack: a cipher whose state is not a small struct
// behind a pointer names none, so nothing is asked for ahead of it, and
// a Conn sealing with it sends what the subscriber decrypts.
func TestCipherStateFallsBack(t *testing.T) {
	enc, dec := egressKeyPair(t)
	gcm := enc.seal.aead
	if p, n := cipherState(gcm); p == nil {
		t.Log("the standard library's AES-GCM is no small struct behind a pointer: nothing is asked for ahead")
	} else if n == 0 || n > maxCipherState {
		t.Errorf("the cipher's state named with %d bytes", n)
	}
	for name, aead := range map[string]cipher.AEAD{"a value": valueAEAD{gcm}, "too large": &bigAEAD{AEAD: gcm}, "nil": nil} {
		if p, n := cipherState(aead); p != nil || n != 0 {
			t.Errorf("%s: state of %d bytes named", name, n)
		}
	}
	enc.seal.aead = valueAEAD{gcm}
	ice := &packets{}
	e := newTestConn(ice)
	e.set(enc, route{})
	if p := e.path.Load(); p.cipher != nil || p.cipherSize != 0 {
		t.Fatalf("the path names %d bytes of a cipher that has no state to name", p.cipherSize)
	}
	for stage := PrefetchConn; stage <= PrefetchKeys; stage++ {
		e.Prefetch(stage)
	}
	h := rtp.Header{Version: 2, SSRC: 7, SequenceNumber: 1}
	if _, _, err := e.WriteRTP(&h, []byte("a frame"), true, make([]byte, MaxPacket+MaxOverhead), nil); err != nil {
		t.Fatal(err)
	}
	plain, err := dec.DecryptRTP(nil, ice.got[0], nil)
	var got rtp.Packet
	if err != nil || got.Unmarshal(plain) != nil || string(got.Payload) != "a frame" {
		t.Errorf("the subscriber got %q (%v)", got.Payload, err)
	}
}
