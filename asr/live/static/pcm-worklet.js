// Runs in the audio rendering thread: the microphone's float samples (at the AudioContext's rate, which the page
// asks to be 16 kHz) become 16-bit PCM messages of about 100 ms, each with the block's RMS level for the meter.
class PcmCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block = new Int16Array(Math.round(sampleRate / 10));
    this.filled = 0;
    this.energy = 0;
  }
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      const x = Math.max(-1, Math.min(1, channel[i]));
      this.energy += x * x;
      this.block[this.filled++] = x < 0 ? x * 0x8000 : x * 0x7fff;
      if (this.filled === this.block.length) {
        const pcm = this.block.slice(0);
        this.port.postMessage({ pcm: pcm.buffer, level: Math.sqrt(this.energy / this.filled) }, [pcm.buffer]);
        this.filled = 0;
        this.energy = 0;
      }
    }
    return true;
  }
}
registerProcessor("pcm-capture", PcmCapture);
