package egress

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"reflect"
	"unsafe"

	"github.com/pion/srtp/v3"
)

// rtpSealer encrypts a connection's RTP with AEAD_AES_128_GCM or
// AEAD_AES_256_GCM (RFC 7714), the profiles meetd prefers, as pion's SRTP
// context does and with the same keys, in the bytes pion would write. It
// exists for the fan-out: per packet and subscriber, pion's context parses
// the header it was just given, looks the SSRC up in a map and checks
// options meetd never sets, and in a fan-out each of those meets the
// subscriber's state cold in the processor's cache. The sealer keeps the
// indexes of a connection's first SSRCs in its own cache line. The cipher
// is crypto/cipher's; RTCP and the other profiles stay with pion.
//
// The sealer's indexes and IV are guarded by the Conn's mu.
type rtpSealer struct {
	aead cipher.AEAD
	salt [12]byte
	// iv is where each packet's IV is made: a local would escape to the
	// heap through the cipher's interface, an allocation per packet.
	iv [12]byte
	// first holds the indexes of the first SSRCs sent (a viewer's audio
	// and video fit), more the rest (a meeting's).
	first [4]ssrcIndex
	more  map[uint32]*ssrcIndex
}

// ssrcIndex is an SSRC's SRTP packet index (RFC 3711 section 3.3.1): its
// rollover counter and highest sequence number, in the bits pion keeps
// them (roc << 16 | seq). sent marks an index that has seen a packet; an
// entry of first is free until then.
type ssrcIndex struct {
	ssrc  uint32
	sent  bool
	index uint64
}

// Labels of RFC 3711's key derivation.
const (
	labelSRTPEncryption = 0x00
	labelSRTPSalt       = 0x02
)

// newRTPSealer is the sealer of the master key and salt, nil for a profile
// other than AES-GCM.
func newRTPSealer(profile srtp.ProtectionProfile, masterKey, masterSalt []byte) (*rtpSealer, error) {
	if profile != srtp.ProtectionProfileAeadAes128Gcm && profile != srtp.ProtectionProfileAeadAes256Gcm {
		return nil, nil
	}
	if len(masterSalt) != 12 {
		return nil, errSealerSalt
	}
	key, err := DeriveSessionKey(labelSRTPEncryption, masterKey, masterSalt, len(masterKey))
	if err != nil {
		return nil, err
	}
	salt, err := DeriveSessionKey(labelSRTPSalt, masterKey, masterSalt, len(masterSalt))
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
	s := &rtpSealer{aead: aead}
	copy(s.salt[:], salt)
	return s, nil
}

// cipherState is where the cipher keeps its own state (key schedule and
// GHASH table) and its size, for asking for it ahead (prefetch.go).
func (s *rtpSealer) cipherState() (unsafe.Pointer, uintptr) { return cipherState(s.aead) }

// maxCipherState bounds what is asked for ahead of a cipher: a few cache
// lines, as an AES-GCM's key schedule and GHASH table take.
const maxCipherState = 2048

// cipherState is where aead keeps its state, and its size: the struct
// aead points to. It is nil when aead is no pointer to a struct, or to one
// larger than maxCipherState: a standard library that keeps its state
// elsewhere. Nothing is asked for ahead then, and sealing is the same.
func cipherState(aead cipher.AEAD) (unsafe.Pointer, uintptr) {
	v := reflect.ValueOf(aead)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Type().Elem().Kind() != reflect.Struct {
		return nil, 0
	}
	n := v.Type().Elem().Size()
	if n == 0 || n > maxCipherState {
		return nil, 0
	}
	return v.UnsafePointer(), n
}

// DeriveSessionKey is RFC 3711's AES-CM key derivation (section 4.3.3)
// with a key derivation rate of 0, as DTLS-SRTP uses it: the master salt
// with label at byte 7 is a counter block, encrypted with the master key.
func DeriveSessionKey(label byte, masterKey, masterSalt []byte, n int) ([]byte, error) {
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, err
	}
	var in [aes.BlockSize]byte
	copy(in[:], masterSalt)
	in[7] ^= label
	out := make([]byte, (n+aes.BlockSize-1)/aes.BlockSize*aes.BlockSize)
	for i := 0; i*aes.BlockSize < n; i++ {
		binary.BigEndian.PutUint16(in[aes.BlockSize-2:], uint16(i))
		block.Encrypt(out[i*aes.BlockSize:], in[:])
	}
	return out[:n], nil
}

var (
	errSealerSalt     = errors.New("AES-GCM SRTP needs a 12-byte master salt")
	errSRTPIndexSpent = errors.New("SRTP packet index exhausted: the keys must change")
)

// seal encrypts in place the RTP packet in buf, a header of hn bytes and
// a payload of n, for ssrc and its sequence number seq, and returns it
// with its authentication tag. buf must have room for the tag.
func (s *rtpSealer) seal(buf []byte, hn, n int, ssrc uint32, seq uint16) ([]byte, error) {
	if len(buf) < hn+n+gcmTagSize {
		return nil, errPacketTooLarge
	}
	roc, ok := s.indexOf(ssrc).next(seq)
	if !ok {
		return nil, errSRTPIndexSpent
	}
	// The IV (RFC 7714 section 8.1): 00 00, SSRC, ROC, SEQ, XORed with the
	// session salt.
	iv := &s.iv
	iv[0], iv[1] = 0, 0
	binary.BigEndian.PutUint32(iv[2:], ssrc)
	binary.BigEndian.PutUint32(iv[6:], roc)
	binary.BigEndian.PutUint16(iv[10:], seq)
	for i := range iv {
		iv[i] ^= s.salt[i]
	}
	sealed := s.aead.Seal(buf[hn:hn], iv[:], buf[hn:hn+n], buf[:hn])
	return buf[:hn+len(sealed)], nil
}

// indexOf is ssrc's index, made on its first packet: seal calls next on
// it at once, which marks it sent.
func (s *rtpSealer) indexOf(ssrc uint32) *ssrcIndex {
	for i := range s.first {
		x := &s.first[i]
		if !x.sent {
			x.ssrc = ssrc
			return x
		}
		if x.ssrc == ssrc {
			return x
		}
	}
	x := s.more[ssrc]
	if x == nil {
		if s.more == nil {
			s.more = map[uint32]*ssrcIndex{}
		}
		x = &ssrcIndex{ssrc: ssrc}
		s.more[ssrc] = x
	}
	return x
}

// gcmTagSize is the length of AES-GCM's authentication tag in SRTP.
const gcmTagSize = 16

// Sequence number arithmetic of the packet index.
const (
	seqSpan   = 1 << 16
	seqMedian = 1 << 15
	maxROC    = 1<<32 - 1
)

// next is the rollover counter of a packet sent with sequence number seq,
// and records seq as the highest when it is ahead. A packet far behind the
// highest (a retransmission from before a wrap) takes the counter before.
// It decides as pion's SRTP context does, so a peer that estimates the
// counter as RFC 3711 appendix A says agrees. ok is false when the index
// is spent (2^48 packets).
func (x *ssrcIndex) next(seq uint16) (roc uint32, ok bool) {
	if !x.sent {
		x.index, x.sent = uint64(seq), true
		return 0, true
	}
	index := x.index
	local := uint32(index >> 16)
	last := int32(index & (seqSpan - 1))
	s := int32(seq)
	roc = local
	var diff int32
	switch {
	case index <= seqMedian:
		diff = s - last
	case last < seqMedian:
		if s-last > seqMedian {
			roc, diff = local-1, s-last-seqSpan
		} else {
			diff = s - last
		}
	default:
		if last-seqMedian > s {
			roc, diff = local+1, s-last+seqSpan
		} else {
			diff = s - last
		}
	}
	if roc == 0 && local == maxROC {
		return 0, false
	}
	if diff > 0 {
		x.index += uint64(diff)
	}
	return roc, true
}
