package record

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// A room's stage credential is a bcrypt hash to check, on purpose slow,
// and the replay page's players ask for ranges of files many times: once
// a credential has opened a room's recordings, the answer carries a pass,
// a short-lived cookie signed with a key of this process, that opens that
// room's recordings, and only those, without the check.
const passLife = 10 * time.Minute

// passKeys sign passes; a restart makes new ones, ending every pass.
type passKeys struct{ key [32]byte }

func newPassKeys() *passKeys {
	k := &passKeys{}
	_, _ = rand.Read(k.key[:])
	return k
}

// passName is the cookie of room's pass: one per room.
func passName(room string) string {
	sum := sha256.Sum256([]byte(room))
	return "meetd_rec_" + hex.EncodeToString(sum[:8])
}

func (k *passKeys) sign(room, kinds, expiry string) string {
	m := hmac.New(sha256.New, k.key[:])
	m.Write([]byte(room + "\x00" + kinds + "\x00" + expiry))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// issue sets the pass of room, opened for kinds, on the answer.
func (k *passKeys) issue(w http.ResponseWriter, req *http.Request, room string, kinds []string, now time.Time) {
	ks := strings.Join(kinds, ",")
	exp := strconv.FormatInt(now.Add(passLife).Unix(), 10)
	http.SetCookie(w, &http.Cookie{
		Name: passName(room), Value: ks + "." + exp + "." + k.sign(room, ks, exp),
		Path: "/", MaxAge: int(passLife / time.Second), HttpOnly: true, Secure: req.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
}

// check is the kinds of room the request's pass of room opens, none
// without a valid one.
func (k *passKeys) check(req *http.Request, room string, now time.Time) []string {
	c, err := req.Cookie(passName(room))
	if err != nil {
		return nil
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		return nil
	}
	ks, exp, mac := parts[0], parts[1], parts[2]
	if !hmac.Equal([]byte(mac), []byte(k.sign(room, ks, exp))) {
		return nil
	}
	if t, err := strconv.ParseInt(exp, 10, 64); err != nil || now.Unix() >= t {
		return nil
	}
	return strings.Split(ks, ",")
}
