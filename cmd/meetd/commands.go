package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/meetd/meetd/internal/access"
	"github.com/meetd/meetd/internal/signal"
)

// commands are meetd's helpers for operators, run as `meetd NAME ...`.
var commands = map[string]func(args []string, in io.Reader, out io.Writer, getenv func(string) string) error{
	"hash-password": hashPassword,
	"token":         makeToken,
}

// hashPassword prints the bcrypt hash of the password read from in, for
// the rooms file.
func hashPassword(_ []string, in io.Reader, out io.Writer, _ func(string) string) error {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return errors.New("hash-password reads the password from standard input; it was empty")
	}
	h, err := access.HashPassword(pw)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, h)
	return err
}

// makeToken prints an invitation token signed with the token secret.
func makeToken(args []string, _ io.Reader, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("meetd token", flag.ContinueOnError)
	fs.SetOutput(out)
	secret := fs.String("secret", getenv("MEETD_TOKEN_SECRET"), "the server's token secret (env MEETD_TOKEN_SECRET)")
	roomName := fs.String("room", "", "room name")
	kind := fs.String("kind", signal.KindBroadcast, "broadcast or meeting")
	role := fs.String("role", access.Audience, "stage or audience")
	name := fs.String("name", "", "display name the token gives")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *secret == "":
		return errors.New("token needs the secret: -secret or MEETD_TOKEN_SECRET")
	case !signal.ValidRoomName(*roomName):
		return fmt.Errorf("-room %q is not a room name", *roomName)
	case *role != access.Stage && *role != access.Audience:
		return fmt.Errorf("-role %q is not stage or audience", *role)
	case *kind != signal.KindBroadcast && *kind != signal.KindMeeting:
		return fmt.Errorf("-kind %q is not broadcast or meeting", *kind)
	}
	tok, err := access.Sign([]byte(*secret), access.Claims{Kind: *kind, Room: *roomName, Role: *role, Name: *name}, *ttl)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, tok)
	return err
}
