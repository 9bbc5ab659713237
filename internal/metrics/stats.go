package metrics

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"

	"github.com/meetd/meetd/internal/bwe"
	"github.com/meetd/meetd/internal/sfu"
)

// ConnInfo is how a client is connected, for the operator's stats view.
type ConnInfo struct {
	ID      string `json:"id"`
	Remote  string `json:"remote"`
	Publish string `json:"publish,omitempty"`
	// Subscribe and Publish describe the ICE path in use, such as
	// "udp host 192.0.2.7:50312 -> 203.0.113.1:40000".
	Subscribe string `json:"subscribe,omitempty"`
	// Estimate is the subscribe connection's estimated bandwidth in bits
	// per second (0: none yet); Receiving what it carries.
	Estimate  uint64          `json:"estimate,omitempty"`
	Receiving []sfu.DownStats `json:"receiving,omitempty"`
	// Probe is how its link was probed before a step up, nil before
	// the first probe.
	Probe *bwe.ProbeStats `json:"probe,omitempty"`
}

// RoomStats is one room in the operator's stats view.
type RoomStats struct {
	Kind         string             `json:"kind"`
	Name         string             `json:"name"`
	Live         bool               `json:"live"`
	Viewers      int                `json:"viewers"`
	Tracks       int                `json:"tracks"`
	Participants []ParticipantStats `json:"participants"`
}

// ParticipantStats is one participant and how it is connected.
type ParticipantStats struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Role      string `json:"role"`
	Host      bool   `json:"host"`
	Audio     bool   `json:"audio"`
	Video     bool   `json:"video"`
	Remote    string `json:"remote,omitempty"`
	Publish   string `json:"publish,omitempty"`
	Subscribe string `json:"subscribe,omitempty"`
	// Publishing are the tracks the participant sends, with their layers.
	Publishing []sfu.TrackStats `json:"publishing,omitempty"`
	// Estimate is the subscribe connection's estimated bandwidth in bits
	// per second, 0 while there is none; Receiving what it carries.
	Estimate  uint64          `json:"estimate,omitempty"`
	Receiving []sfu.DownStats `json:"receiving,omitempty"`
	Probe     *bwe.ProbeStats `json:"probe,omitempty"`
	// Node is the node of the cluster the participant is on, empty for
	// this one (whose connections are described above).
	Node string `json:"node,omitempty"`
}

// Stats lists the rooms and their participants.
func (m *Metrics) Stats() []RoomStats {
	var out []RoomStats
	for _, r := range m.rooms.Rooms() {
		snap := r.Snapshot()
		conns := map[string]ConnInfo{}
		for _, mem := range r.Members() {
			if ci, ok := m.provider.Connection(mem); ok {
				conns[mem.ID()] = ci
			}
		}
		published := map[string][]sfu.TrackStats{}
		for _, t := range snap.Tracks {
			if st, ok := m.provider.Track(t.Track); ok {
				published[t.Publisher] = append(published[t.Publisher], st)
			}
		}
		rs := RoomStats{Kind: snap.Kind.String(), Name: snap.Name, Live: snap.Live, Viewers: snap.Viewers, Tracks: len(snap.Tracks)}
		for _, p := range snap.Participants {
			ci := conns[p.ID]
			rs.Participants = append(rs.Participants, ParticipantStats{
				ID: p.ID, Name: p.Name, Role: p.Role.String(), Host: p.Host, Audio: p.Audio, Video: p.Video, Node: p.Node,
				Remote: ci.Remote, Publish: ci.Publish, Subscribe: ci.Subscribe,
				Publishing: published[p.ID], Estimate: ci.Estimate, Receiving: ci.Receiving, Probe: ci.Probe,
			})
		}
		out = append(out, rs)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// StatsHandler serves the stats view: JSON for ?format=json or an Accept
// of application/json, a page otherwise.
func (m *Metrics) StatsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stats := m.Stats()
		if r.URL.Query().Get("format") == "json" || r.Header.Get("Accept") == "application/json" {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"rooms": stats})
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = statsPage.Execute(w, stats)
	})
}

// pageFuncs format figures for the stats page.
var pageFuncs = template.FuncMap{
	"kbps": func(bps uint64) string { return fmt.Sprintf("%d kbit/s", (bps+500)/1000) },
	"ms": func(ms *float64) string {
		if ms == nil {
			return "–"
		}
		return fmt.Sprintf("%.1f ms", *ms)
	},
	"pct": func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) },
	// short keeps a long track id readable on a phone; the page shows it
	// whole on hover (title).
	"short": shortID,
}

// shortID shortens an id longer than 20 characters to its first 10 and
// last 6, around an ellipsis.
func shortID(id string) string {
	r := []rune(id)
	if len(r) <= 20 {
		return id
	}
	return string(r[:10]) + "…" + string(r[len(r)-6:])
}

var statsPage = template.Must(template.New("stats").Funcs(pageFuncs).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<noscript><meta http-equiv="refresh" content="5"></noscript>
<link rel="icon" type="image/svg+xml" href="/favicon.svg">
<title>meetd stats</title>
<style>
body{font:14px system-ui,sans-serif;margin:2rem;background:#111418;color:#e8eaed}
h1{font-size:1.3rem} h2{font-size:1.05rem;margin-top:1.6rem}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #2a2f36}
th{color:#9aa0a6;font-weight:500} code{font-size:12px;color:#8ab4f8} .muted{color:#9aa0a6}
tr.media td{padding-top:0;font-size:12px;color:#bdc1c6} tr.media div{margin:.1rem 0 .1rem 1rem}
@media (max-width:700px){body{margin:1rem} table,tbody,tr,td{display:block;width:100%} th{display:none}
td{border:0;padding:.15rem 0} tr{border-bottom:1px solid #2a2f36;padding:.5rem 0} td[data-label]::before{content:attr(data-label) ": ";color:#9aa0a6}
tr.media div{margin-left:0} code{word-break:break-all}}
</style></head><body>
<h1>meetd — rooms and connections</h1>
<p class="muted">Updates every 5 seconds. <a href="?format=json" style="color:#8ab4f8">JSON</a></p>
<main id="rooms">
{{range .}}
<h2>{{.Kind}} <code>{{.Name}}</code> — {{if .Live}}live{{else}}not live{{end}}, {{len .Participants}} in the room, {{.Viewers}} watching, {{.Tracks}} tracks</h2>
<table><tr><th>participant</th><th>role</th><th>mic / camera</th><th>from</th><th>publish path</th><th>subscribe path</th></tr>
{{range .Participants}}<tr><td>{{if .Name}}{{.Name}}{{else}}<span class="muted">(no name)</span>{{end}} <code>{{.ID}}</code>{{if .Host}} · host{{end}}</td>
<td data-label="role">{{.Role}}</td><td data-label="mic / camera">{{if .Audio}}on{{else}}off{{end}} / {{if .Video}}on{{else}}off{{end}}</td><td data-label="from">{{if .Node}}node <code>{{.Node}}</code>{{else}}<code>{{.Remote}}</code>{{end}}</td>
<td data-label="publish"><code>{{.Publish}}</code></td><td data-label="subscribe"><code>{{.Subscribe}}</code></td></tr>
{{if or .Publishing .Receiving}}<tr class="media"><td colspan="6">
{{range .Publishing}}<div>sends <code title="{{.ID}}">{{short .ID}}</code> {{.Codec}} to {{.Subscribers}}{{range .Layers}} · {{if .RID}}{{.RID}} {{end}}{{if .Width}}{{.Width}}×{{.Height}} {{end}}{{kbps .Bitrate}}{{if .Paused}} paused{{end}}{{end}}</div>{{end}}
{{if .Receiving}}<div>receives{{if .Estimate}}, estimated {{kbps .Estimate}}{{end}}:</div>
{{range .Receiving}}<div><code title="{{.Track}}">{{short .Track}}</code>{{if .Layer}} layer {{.Layer}}{{end}}{{if ne .Layer .Target}} → {{.Target}}{{end}} · {{kbps .Bitrate}} · rtt {{ms .RTT}} · lost {{pct .Lost}}{{if .Retransmits}} · {{.Retransmits}} resent{{end}}</div>{{end}}{{end}}
</td></tr>{{end}}{{end}}
</table>
{{else}}<p>No rooms are open.</p>{{end}}
</main>
<script>
// Only the rooms are fetched again, so the page keeps its scroll position.
setInterval(async () => {
  try {
    const res = await fetch(location.href, { headers: { Accept: 'text/html' }, cache: 'no-store' });
    if (!res.ok) return;
    const next = new DOMParser().parseFromString(await res.text(), 'text/html').getElementById('rooms');
    if (next) document.getElementById('rooms').replaceChildren(...next.childNodes);
  } catch {}
}, 5000);
</script>
</body></html>
`))
