package egress

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// TestSealerMatchesPion: for both AES-GCM profiles the sealer writes the
// bytes pion's SRTP context writes with the same master key, packet after
// packet: across sequence number wraps, for retransmissions from before a
// wrap, and for more SSRCs than it keeps in its first cache line.
func TestSealerMatchesPion(t *testing.T) {
	for _, profile := range []srtp.ProtectionProfile{srtp.ProtectionProfileAeadAes128Gcm, srtp.ProtectionProfileAeadAes256Gcm} {
		t.Run(profile.String(), func(t *testing.T) {
			keyLen, _ := profile.KeyLen()
			saltLen, _ := profile.SaltLen()
			key, salt := make([]byte, keyLen), make([]byte, saltLen)
			_, _ = rand.Read(key)
			_, _ = rand.Read(salt)
			ctx, err := srtp.CreateContext(key, salt, profile)
			if err != nil {
				t.Fatal(err)
			}
			s, err := newRTPSealer(profile, key, salt)
			if err != nil || s == nil {
				t.Fatalf("no sealer: %v", err)
			}
			// Each SSRC starts near a wrap, sends past it, then
			// retransmits from before it, from after it, and from long
			// ago; six SSRCs interleave.
			var seqs []uint16
			for i := range 40 {
				seqs = append(seqs, uint16(65520+i))
			}
			seqs = append(seqs, 65525, 3, 65535, 10, 40000, 20, 30000, 21)
			payload := make([]byte, 1100)
			_, _ = rand.Read(payload)
			buf := make([]byte, MaxPacket+MaxOverhead)
			for i, seq := range seqs {
				for ssrc := uint32(1); ssrc <= 6; ssrc++ {
					h := rtp.Header{Version: 2, PayloadType: 96, SSRC: ssrc * 1000, Timestamp: uint32(i) * 3000,
						SequenceNumber: seq + uint16(ssrc)}
					plain, _ := (&rtp.Packet{Header: h, Payload: payload[:100+i*10]}).Marshal()
					want, err := ctx.EncryptRTP(nil, plain, nil)
					if err != nil {
						t.Fatal(err)
					}
					copy(buf, plain)
					hn := len(plain) - (100 + i*10)
					got, err := s.seal(buf, hn, len(plain)-hn, h.SSRC, h.SequenceNumber)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("ssrc %d, packet %d (seq %d): the sealer wrote other bytes than pion", h.SSRC, i, h.SequenceNumber)
					}
				}
			}
			if len(s.more) != 2 {
				t.Errorf("%d SSRCs beyond the first four, want 2", len(s.more))
			}
		})
	}
}

// BenchmarkSeal compares the sealer with pion's context on one packet of
// the synthetic stream's size.
func BenchmarkSeal(b *testing.B) {
	const profile = srtp.ProtectionProfileAeadAes128Gcm
	key, salt := make([]byte, 16), make([]byte, 12)
	ctx, _ := srtp.CreateContext(key, salt, profile)
	s, _ := newRTPSealer(profile, key, salt)
	h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 7}
	plain, _ := (&rtp.Packet{Header: h, Payload: make([]byte, 1100)}).Marshal()
	buf := make([]byte, MaxPacket+MaxOverhead)
	var hdr rtp.Header
	for _, impl := range []string{"pion", "sealer"} {
		b.Run(fmt.Sprintf("impl=%s", impl), func(b *testing.B) {
			var seq uint16
			for b.Loop() {
				seq++
				plain[2], plain[3] = byte(seq>>8), byte(seq)
				copy(buf, plain)
				if impl == "pion" {
					_, _ = ctx.EncryptRTP(buf[:0], buf[:len(plain)], &hdr)
				} else {
					_, _ = s.seal(buf, 12, len(plain)-12, h.SSRC, seq)
				}
			}
		})
	}
}
