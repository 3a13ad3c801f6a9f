// The page: microphone → AudioWorklet (16 kHz PCM) → WebSocket /ws → partial and final text.
"use strict";

const RATE = 16000;
const button = document.getElementById("toggle");
const statusText = document.getElementById("status");
const level = document.getElementById("level");
const finals = document.getElementById("finals");
const partial = document.getElementById("partial");
let session = null;

function setStatus(text) { statusText.textContent = text; }

function showMessage(message) {
  if (message.type === "partial") {
    partial.textContent = message.text;
  } else if (message.type === "final") {
    partial.textContent = "";
    if (!message.text) return;
    const line = document.createElement("p");
    line.className = "final";
    const time = document.createElement("span");
    time.className = "time";
    time.textContent = message.start.toFixed(1) + "s";
    line.append(time, document.createTextNode(message.text));
    finals.append(line);
  } else if (message.type === "error") {
    setStatus("error: " + message.message);
  }
}

async function start() {
  button.disabled = true;
  setStatus("asking for the microphone…");
  let media;
  try {
    media = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  } catch (err) {
    setStatus("no microphone: " + err.message);
    button.disabled = false;
    return;
  }
  const context = new AudioContext({ sampleRate: RATE });  // the browser resamples the microphone to 16 kHz
  await context.audioWorklet.addModule("/static/pcm-worklet.js");
  const source = context.createMediaStreamSource(media);
  const capture = new AudioWorkletNode(context, "pcm-capture");
  const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  socket.binaryType = "arraybuffer";
  session = { media, context, socket, stopping: false };
  capture.port.onmessage = (event) => {
    level.style.width = Math.min(100, Math.round(event.data.level * 400)) + "%";
    if (socket.readyState === WebSocket.OPEN && !session.stopping) socket.send(event.data.pcm);
  };
  socket.onopen = () => { source.connect(capture); setStatus("listening"); };
  socket.onmessage = (event) => showMessage(JSON.parse(event.data));
  socket.onclose = (event) => {
    setStatus(event.code === 1000 || event.code === 1005 ? "stopped" : "closed: " + (event.reason || event.code));
    teardown();
  };
  socket.onerror = () => setStatus("connection error");
  button.textContent = "Stop";
  button.classList.add("recording");
  button.disabled = false;
}

function teardown() {
  if (!session) return;
  session.media.getTracks().forEach((track) => track.stop());
  session.context.close();
  session = null;
  level.style.width = "0";
  button.textContent = "Start";
  button.classList.remove("recording");
  button.disabled = false;
}

function stop() {
  if (!session) return;
  session.stopping = true;
  setStatus("finishing…");
  session.media.getTracks().forEach((track) => track.stop());
  if (session.socket.readyState === WebSocket.OPEN) {
    session.socket.send(JSON.stringify({ type: "stop" }));  // the server sends the last finals, then closes
  } else {
    teardown();
  }
}

button.addEventListener("click", () => (session ? stop() : start()));
