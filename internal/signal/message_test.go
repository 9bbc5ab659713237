package signal

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	long := strings.Repeat("a", 65)
	tests := []struct {
		name, in, code string
	}{
		{"seed offer", `{"type":"offer","sdp":"v=0\r\n"}`, ""},
		{"seed answer", `{"type":"answer","sdp":"v=0\r\n"}`, ""},
		{"seed candidate", `{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"x"}}`, ""},
		{"end of candidates", `{"type":"candidate","candidate":{"candidate":"","sdpMid":"0","sdpMLineIndex":0}}`, ""},
		{"join", `{"type":"join","room":"my-room_1","role":"audience"}`, ""},
		{"join with extra fields", `{"type":"join","room":"r","role":"stage","name":"Ana","x":1}`, ""},
		{"leave", `{"type":"leave"}`, ""},
		{"meeting join", `{"type":"join","room":"r","kind":"meeting","role":"stage"}`, ""},
		{"join with password", `{"type":"join","room":"r","role":"stage","password":"pw"}`, ""},
		{"join with long token", `{"type":"join","room":"r","role":"stage","token":"` + strings.Repeat("t", 4097) + `"}`, CodeBadMessage},
		{"bad kind", `{"type":"join","room":"r","kind":"party","role":"stage"}`, CodeBadKind},
		{"media", `{"type":"media","audio":false,"video":true}`, ""},
		{"media without video", `{"type":"media","audio":false}`, CodeBadMessage},
		{"media long screen", `{"type":"media","audio":false,"video":true,"screen":"` + long + `"}`, CodeBadMessage},
		{"chat", `{"type":"chat","text":"hi"}`, ""},
		{"empty chat", `{"type":"chat","text":"  "}`, CodeBadMessage},
		{"long chat", `{"type":"chat","text":"` + strings.Repeat("é", MaxChatText+1) + `"}`, CodeTooLarge},
		{"role", `{"type":"role","id":"abc","role":"stage"}`, ""},
		{"role without id", `{"type":"role","role":"stage"}`, CodeBadMessage},
		{"role bad role", `{"type":"role","id":"abc","role":"vip"}`, CodeBadRole},
		{"restart", `{"type":"restart","target":"subscribe"}`, ""},
		{"restart publish", `{"type":"restart","target":"publish"}`, CodeBadMessage},
		{"restart without target", `{"type":"restart"}`, CodeBadMessage},
		{"not json", `hello`, CodeBadMessage},
		{"array", `[1,2]`, CodeBadMessage},
		{"truncated", `{"type":"offer"`, CodeBadMessage},
		{"empty", ``, CodeBadMessage},
		{"no type", `{}`, CodeBadMessage},
		{"type not a string", `{"type":1}`, CodeBadMessage},
		{"unknown type", `{"type":"nope"}`, CodeUnknownType},
		{"server-only type", `{"type":"joined"}`, CodeUnknownType},
		{"offer without sdp", `{"type":"offer"}`, CodeBadMessage},
		{"sdp not a string", `{"type":"offer","sdp":5}`, CodeBadMessage},
		{"candidate without candidate", `{"type":"candidate"}`, CodeBadMessage},
		{"candidate null", `{"type":"candidate","candidate":null}`, CodeBadMessage},
		{"bad target", `{"type":"candidate","target":"x","candidate":{"candidate":""}}`, CodeBadMessage},
		{"join without room", `{"type":"join","role":"stage"}`, CodeBadRoom},
		{"join bad room", `{"type":"join","room":"a b","role":"stage"}`, CodeBadRoom},
		{"join long room", `{"type":"join","room":"` + long + long + `","role":"stage"}`, CodeBadRoom},
		{"join bad role", `{"type":"join","room":"r","role":"king"}`, CodeBadRole},
		{"join long name", `{"type":"join","room":"r","role":"stage","name":"` + long + `"}`, CodeBadMessage},
		{"too large", `{"type":"offer","sdp":"` + strings.Repeat("v", MaxMessageSize) + `"}`, CodeTooLarge},
		{"sdp too large", `{"type":"offer","sdp":"` + strings.Repeat("v", maxSDP+1) + `"}`, CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.in))
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				return
			}
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("Decode error %v (%T), want code %s", err, err, tt.code)
			}
			if e.Code != tt.code || e.Message == "" {
				t.Fatalf("Decode error %+v, want code %s with a message", e, tt.code)
			}
		})
	}
}

// TestProtocolDocSamples checks every sample in docs/protocol.md: client
// messages decode, server messages round-trip through Message, and every
// message type and error code is documented.
func TestProtocolDocSamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	clientPart, serverPart, ok := strings.Cut(text, "## Messages from meetd")
	if !ok {
		t.Fatal("docs/protocol.md has no 'Messages from meetd' section")
	}
	sample := regexp.MustCompile("(?s)```json\n(.*?)\n```")
	seen := map[string]bool{}
	for _, m := range sample.FindAllStringSubmatch(clientPart, -1) {
		msg, err := Decode([]byte(m[1]))
		if err != nil {
			t.Errorf("client sample %s: %v", m[1], err)
		}
		seen["client "+msg.Type] = true
	}
	for _, m := range sample.FindAllStringSubmatch(serverPart, -1) {
		var msg Message
		dec := json.NewDecoder(strings.NewReader(m[1]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&msg); err != nil {
			t.Errorf("server sample %s: %v", m[1], err)
			continue
		}
		out, err := json.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		_ = json.Unmarshal([]byte(m[1]), &a)
		_ = json.Unmarshal(out, &b)
		if ja, jb := mustJSON(a), mustJSON(b); ja != jb {
			t.Errorf("server sample does not round-trip:\n doc  %s\n Go   %s", ja, jb)
		}
		seen["server "+msg.Type] = true
	}
	for _, typ := range []string{TypeJoin, TypeOffer, TypeAnswer, TypeCandidate, TypeLeave, TypeMedia, TypeChat, TypeRole, TypeRestart, TypeView} {
		if !seen["client "+typ] {
			t.Errorf("no client sample for %q", typ)
		}
	}
	for _, typ := range []string{TypeJoined, TypeAnswer, TypeOffer, TypeCandidate, TypeState, TypeError,
		TypeParticipants, TypeRole, TypeChat, TypeSpeaker, TypeLayers} {
		if !seen["server "+typ] {
			t.Errorf("no server sample for %q", typ)
		}
	}
	for _, code := range []string{CodeBadMessage, CodeUnknownType, CodeTooLarge, CodeBadRoom, CodeBadRole,
		CodeNotJoined, CodeWrongState, CodeBadSDP, CodeAlreadyLive, CodeNotAllowed, CodeInternal,
		CodeBadKind, CodeRoomFull, CodeNotHost, CodeNotFound, CodeRateLimited, CodeShuttingDown, CodeAuthRequired, CodeBadCredentials, CodeServerFull} {
		if !strings.Contains(text, "| `"+code+"` |") {
			t.Errorf("error code %q is not in the table", code)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"offer","sdp":"v=0"}`,
		`{"type":"join","room":"default","role":"audience","name":"Ana"}`,
		`{"type":"candidate","target":"publish","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 1 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"leave"}`, `{}`, `[]`, `null`, `{"type":null}`,
		`{"type":"media","audio":true,"video":false,"screen":"s"}`, `{"type":"chat","text":"hi"}`,
		`{"type":"role","id":"abc","role":"audience"}`,
		`{"type":"view","track":"abc_camera","width":320,"height":180}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Code == "" || e.Message == "" {
				t.Fatalf("Decode(%q) error %v is not a coded *Error", data, err)
			}
			return
		}
		switch m.Type {
		case TypeJoin:
			if !ValidRoomName(m.Room) || (m.Role != RoleStage && m.Role != RoleAudience) {
				t.Fatalf("accepted invalid join %+v", m)
			}
		case TypeOffer, TypeAnswer:
			if m.SDP == "" {
				t.Fatalf("accepted %s without sdp", m.Type)
			}
		case TypeCandidate:
			if m.Candidate == nil {
				t.Fatal("accepted candidate without candidate")
			}
		case TypeMedia:
			if m.Audio == nil || m.Video == nil {
				t.Fatal("accepted media without audio and video")
			}
		case TypeChat:
			if strings.TrimSpace(m.Text) == "" {
				t.Fatal("accepted empty chat")
			}
		case TypeRole:
			if m.ID == "" || (m.Role != RoleStage && m.Role != RoleAudience) {
				t.Fatalf("accepted invalid role %+v", m)
			}
		case TypeView:
			if m.Track == "" || m.Width == nil || m.Height == nil || *m.Width < 0 || *m.Height < 0 {
				t.Fatalf("accepted invalid view %+v", m)
			}
		case TypeLeave:
		default:
			t.Fatalf("accepted unknown type %q", m.Type)
		}
	})
}
