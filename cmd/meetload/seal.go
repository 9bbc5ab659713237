package main

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"

	"github.com/meetd/meetd/internal/egress"
)

// srtpSealer encrypts RTP packets in place with AEAD_AES_128_GCM or
// AEAD_AES_256_GCM, laid out as RFC 7714 says and as meetd's sealer does:
// the RTP header is the associated data, the IV is the session salt XORed
// with SSRC, rollover counter and sequence number, and a 16-byte tag
// follows the payload. It is the floor's encryption: the standard
// library's AES-GCM, with nothing around it but the IV.
//
// One sealer sends one SSRC, with sequence numbers that only go forward
// (the floor resends nothing), so its rollover counter moves on a wrap.
type srtpSealer struct {
	aead cipher.AEAD
	salt [12]byte
	// iv is a field, not a local: a local would escape to the heap through
	// the cipher's interface, an allocation per packet.
	iv      [12]byte
	ssrc    uint32
	roc     uint32
	last    uint16
	started bool
}

// srtpTagSize is the length of AES-GCM's authentication tag in SRTP.
const srtpTagSize = 16

var errSealSizes = errors.New("AES-GCM SRTP takes a 16- or 32-byte master key and a 12-byte master salt")

// newSRTPSealer is the sealer of SSRC ssrc under the master key and salt,
// with the session key and salt derived from them as DTLS-SRTP does (RFC
// 3711 section 4.3, key derivation rate 0), so that a peer holding the
// same master key and salt decrypts what it seals.
func newSRTPSealer(masterKey, masterSalt []byte, ssrc uint32) (*srtpSealer, error) {
	if (len(masterKey) != 16 && len(masterKey) != 32) || len(masterSalt) != 12 {
		return nil, errSealSizes
	}
	key, err := egress.DeriveSessionKey(0x00, masterKey, masterSalt, len(masterKey))
	if err != nil {
		return nil, err
	}
	salt, err := egress.DeriveSessionKey(0x02, masterKey, masterSalt, len(masterSalt))
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	s := &srtpSealer{aead: aead, ssrc: ssrc}
	copy(s.salt[:], salt)
	return s, nil
}

// seal encrypts in place the RTP packet buf[:n], whose header takes hn
// bytes and names the sealer's SSRC, and returns it with its tag:
// buf[:n+srtpTagSize]. buf must have room for the tag.
func (s *srtpSealer) seal(buf []byte, hn, n int) []byte {
	seq := binary.BigEndian.Uint16(buf[2:])
	if s.started && seq < s.last {
		s.roc++ // the sequence number wrapped
	}
	s.started, s.last = true, seq
	iv := &s.iv
	iv[0], iv[1] = 0, 0
	binary.BigEndian.PutUint32(iv[2:], s.ssrc)
	binary.BigEndian.PutUint32(iv[6:], s.roc)
	binary.BigEndian.PutUint16(iv[10:], seq)
	for i := range iv {
		iv[i] ^= s.salt[i]
	}
	return buf[:hn+len(s.aead.Seal(buf[hn:hn], iv[:], buf[hn:n], buf[:hn]))]
}
