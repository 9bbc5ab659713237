// The original Streamer and Viewer of the blog post meetd grew from, written
// as plain JavaScript pages instead of React components. Message shapes and
// the order of operations are the blog's; the only change is the WebSocket
// address (the test server instead of ws://localhost:8080/ws). The blog's
// listing lost its `send` lines; here they send once the socket is open.

const SEND_WHEN_OPEN = `
// The lost send lines: send now, or as soon as the socket opens.
function send(ws, text) {
  if (ws.readyState === WebSocket.OPEN) {
    ws.send(text);
  } else if (ws.readyState === WebSocket.CONNECTING) {
    ws.addEventListener("open", () => ws.send(text), { once: true });
  }
}
`;

/** The blog's Streamer component as a page. */
export function seedStreamerHtml(wsUrl) {
  return `<!doctype html>
<html>
<head><meta charset="utf-8"><title>Streamer (original client)</title></head>
<body>
<button id="toggle">toggle muted(current: muted)</button>
<video id="local" autoplay muted playsinline></video>
<script>
${SEND_WHEN_OPEN}
let muted = true;
const localVideoRef = { current: document.getElementById("local") };
const peerConnectionRef = { current: null };
const socket = { current: null };

document.getElementById("toggle").onclick = () => {
  muted = !muted;
  localVideoRef.current.muted = muted;
  document.getElementById("toggle").textContent = "toggle muted(current: " + (muted ? "muted" : "unmuted") + ")";
};

const handleSignal = async (data) => {
  if (data.type === "answer") {
    if (peerConnectionRef.current) {
      await peerConnectionRef.current.setRemoteDescription({
        type: "answer",
        sdp: data.sdp,
      });
    }
  } else if (data.type === "candidate") {
    if (peerConnectionRef.current && data.candidate) {
      await peerConnectionRef.current.addIceCandidate(data.candidate);
    }
  }
};

const initWebSocket = () => {
  const ws = new WebSocket(${JSON.stringify(wsUrl)});
  ws.onmessage = (event) => {
    const data = JSON.parse(event.data);
    handleSignal(data);
  };
  ws.onerror = (error) => {
    console.error("WebSocket Error:", error);
  };
  ws.onclose = () => {
    console.log("WebSocket closed");
  };
  socket.current = ws;
};

const initWebRTC = async () => {
  try {
    const pc = new RTCPeerConnection({
      iceServers: [{ urls: "stun:stun.l.google.com:19302" }],
    });
    peerConnectionRef.current = pc;
    pc.onicecandidate = (event) => {
      if (event.candidate && socket.current) {
        send(socket.current, JSON.stringify({ type: "candidate", candidate: event.candidate }));
      }
    };
    const stream = await navigator.mediaDevices.getUserMedia({
      video: true,
      audio: true,
    });
    if (localVideoRef.current) {
      localVideoRef.current.srcObject = stream;
    }
    stream.getTracks().forEach((track) => {
      pc.addTrack(track, stream);
    });
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    if (socket.current) {
      send(socket.current, JSON.stringify({ type: "offer", sdp: offer.sdp }));
    }
  } catch (error) {
    console.error("WebRTC initialization failed:", error);
  }
};

initWebSocket();
initWebRTC();
</script>
</body>
</html>
`;
}

/** The blog's Viewer component as a page. */
export function seedViewerHtml(wsUrl) {
  return `<!doctype html>
<html>
<head><meta charset="utf-8"><title>Viewer (original client)</title></head>
<body>
<button id="toggle">toggle muted(current: muted)</button>
<video id="remote" autoplay muted playsinline></video>
<script>
${SEND_WHEN_OPEN}
let muted = true;
const pc = { current: null };
const socket = { current: null };
const remoteVideoRef = { current: document.getElementById("remote") };

document.getElementById("toggle").onclick = () => {
  muted = !muted;
  remoteVideoRef.current.muted = muted;
  document.getElementById("toggle").textContent = "toggle muted(current: " + (muted ? "muted" : "unmuted") + ")";
};

socket.current = new WebSocket(${JSON.stringify(wsUrl)});
socket.current.onmessage = async (event) => {
  const data = JSON.parse(event.data);
  if (data.type === "offer") {
    pc.current = new RTCPeerConnection({
      iceServers: [{ urls: "stun:stun.l.google.com:19302" }],
    });
    pc.current.onicecandidate = (event) => {
      if (event.candidate && socket.current) {
        send(socket.current, JSON.stringify({ type: "candidate", candidate: event.candidate }));
      }
    };
    pc.current.ontrack = (event) => {
      if (remoteVideoRef.current && event.streams[0]) {
        remoteVideoRef.current.srcObject = event.streams[0];
      }
    };
    try {
      await pc.current.setRemoteDescription(
        new RTCSessionDescription(data)
      );
      const answer = await pc.current.createAnswer();
      await pc.current.setLocalDescription(answer);
      if (socket.current) {
        send(socket.current, JSON.stringify({ type: "answer", sdp: answer.sdp }));
      }
    } catch (error) {
      console.error("Error handling offer:", error);
    }
  } else if (data.type === "candidate") {
    try {
      await pc.current?.addIceCandidate(
        new RTCIceCandidate(data.candidate)
      );
    } catch (error) {
      console.error("Error adding ICE candidate:", error);
    }
  }
};
</script>
</body>
</html>
`;
}

/**
 * Serves the original pages from meetd's own origin (so /ws's same-origin
 * check passes): http://127.0.0.1:PORT/seed/streamer.html and /seed/viewer.html.
 */
export async function routeSeedPages(user, server) {
  // A page that Playwright fulfils has no server address, so Chromium treats
  // it as public and would block its socket to 127.0.0.1 (Local Network
  // Access). A page really served by meetd is not affected.
  await user.context.grantPermissions(['local-network-access'], { origin: server.origin });
  const pages = {
    '/seed/streamer.html': seedStreamerHtml(server.wsUrl),
    '/seed/viewer.html': seedViewerHtml(server.wsUrl),
  };
  for (const [p, body] of Object.entries(pages)) {
    await user.page.route(server.url(p), (route) =>
      route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body }),
    );
  }
}
