#!/usr/bin/env python3
"""A small speech recognizer for youmen's tests, on premises like the real ones.

It serves the OpenAI-style transcription API that FunASR's server, whisper.cpp's server,
vLLM and LocalAI serve (POST /v1/audio/transcriptions: multipart `file`, `model`,
`language`; answered {"text": ...}), over a real engine: PocketSphinx (PyPI `pocketsphinx`,
5.x) with the US English acoustic model its wheel ships. It hears telephone audio poorly;
the tests check that what it heard reaches youmen's pages, not that it heard right.

For the tests of a misbehaving server, POST /mode with one of `ok`, `500`, `401`, `slow`
(answers after 30 s), `notjson`, `notext`, `huge`, `binary`. GET /requests counts the
transcriptions answered with a transcript (to check that each recording is sent once).

Usage: server.py PORT   (prints "ready" once the model is loaded)
"""

import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)
import audioop  # noqa: E402 (deprecated in 3.11, still here; PocketSphinx wants 16 kHz)
import io
import json
import sys
import threading
import time
import wave
from email.parser import BytesParser
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pocketsphinx import Decoder

DECODER = Decoder(samprate=16000, logfn="/dev/null")
LOCK = threading.Lock()
STATE = {"mode": "ok", "answered": 0, "received": 0}


def transcribe(wav_bytes):
    with wave.open(io.BytesIO(wav_bytes)) as w:
        rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
        pcm = w.readframes(w.getnframes())
    if channels > 1:
        pcm = audioop.tomono(pcm, width, 0.5, 0.5)
    if width != 2:
        pcm = audioop.lin2lin(pcm, width, 2)
    if rate != 16000:
        pcm, _ = audioop.ratecv(pcm, 2, 1, rate, 16000, None)
    with LOCK:
        DECODER.start_utt()
        DECODER.process_raw(pcm, full_utt=True)
        DECODER.end_utt()
        hyp = DECODER.hyp()
    return hyp.hypstr if hyp is not None else ""


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body, kind="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/requests":
            self.answer(200, {"answered": STATE["answered"], "received": STATE["received"]})
        else:
            self.answer(404, {"error": "no such path"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/mode":
            STATE["mode"] = json.loads(body)["mode"]
            return self.answer(200, {"mode": STATE["mode"]})
        if self.path != "/v1/audio/transcriptions":
            return self.answer(404, {"error": "no such path"})
        STATE["received"] += 1
        mode = STATE["mode"]
        if mode == "500":
            return self.answer(500, {"error": "the model is not loaded"})
        if mode == "401":
            return self.answer(401, {"error": "bad key"})
        if mode == "slow":
            time.sleep(30)
        if mode == "notjson":
            return self.answer(200, b"<html>proxy error</html>", "text/html")
        if mode == "notext":
            return self.answer(200, {"segments": []})
        if mode == "huge":
            return self.answer(200, {"text": "pension " * 5000})
        if mode == "binary":
            return self.answer(200, {"text": "\u0000\u0001\u0002\ufffd" * 50})
        message = BytesParser(policy=default).parsebytes(
            b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body
        )
        fields = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[name] = part.get_payload(decode=True)
        if "file" not in fields or "model" not in fields:
            return self.answer(400, {"error": "file and model are required"})
        text = transcribe(fields["file"])
        STATE["answered"] += 1
        self.answer(200, {"text": text})


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print("ready", flush=True)
    server.serve_forever()
