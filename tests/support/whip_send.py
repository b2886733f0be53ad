#!/usr/bin/python3
# A WHIP sender without a browser, as OBS Studio 30 sends: webrtcbin sends
# a recording's H.264 and Opus as they are (no encoding), in real time; the
# offer carries no candidates and nothing is trickled; Authorization:
# Bearer; the answer's Location is followed for the DELETE at the end,
# which must answer 200. The recording starts once the peer connection is
# up (its first frames held until then, as an encoder that starts with
# the connection), so what reaches the server is all of what was sent.
# The WHIP test's sender and the bench's.
#
# whip_send.py URL BEARER RECORDING [--seconds N] [--no-delete] [--status-at S]
#   --status-at S: S seconds after connecting, GET the Location (the
#   session's status) with the bearer and without, each printed as
#   "whip: status [no bearer] STATUS BODY".
#   RECORDING: a WebM/Matroska file, or a directory of chunk-*.bin (a
#   browser recording's MediaRecorder chunks, tests/data).
# WHIP_SEND_OFFER, WHIP_SEND_ANSWER: files the offer and the answer go to.
# Prints "whip: answered LOCATION", "whip: deleted STATUS"; exits 0 when
# the stream went as asked, 1 otherwise, 2 when the POST was refused
# (its status and body printed).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import argparse
import glob
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstSdp', '1.0')
gi.require_version('GstWebRTC', '1.0')
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

PIPELINE = '''
filesrc name=file ! matroskademux name=demux
webrtcbin name=send bundle-policy=max-bundle
demux.video_0 ! queue ! h264parse ! clocksync name=vsync !
  rtph264pay config-interval=-1 pt=96 aggregate-mode=zero-latency !
  application/x-rtp,media=video,encoding-name=H264,payload=96,clock-rate=90000,
  packetization-mode=(string)1,profile-level-id=(string)42c020 ! queue name=vq ! send.
demux.audio_0 ! queue ! clocksync name=async ! rtpopuspay pt=111 !
  application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000,
  encoding-params=(string)2 ! queue name=aq ! send.
'''


def recording_file(path):
    if os.path.isfile(path):
        return path, None
    chunks = sorted(glob.glob(os.path.join(path, 'chunk-*.bin')))
    temp = tempfile.NamedTemporaryFile(suffix='.webm', delete=False)
    for chunk in chunks:
        with open(chunk, 'rb') as f:
            temp.write(f.read())
    temp.close()
    return temp.name, temp.name


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('url')
    parser.add_argument('bearer')
    parser.add_argument('recording')
    parser.add_argument('--seconds', type=float, default=0)
    parser.add_argument('--no-delete', action='store_true')
    parser.add_argument('--status-at', type=float, default=0)
    args = parser.parse_args()

    Gst.init(None)
    path, temp = recording_file(args.recording)
    pipeline = Gst.parse_launch(PIPELINE)
    pipeline.get_by_name('file').set_property('location', path)
    webrtc = pipeline.get_by_name('send')
    loop = GLib.MainLoop()
    state = {'location': None, 'ok': True, 'code': 0}

    def fail(text, code=1):
        print('whip: ' + text, flush=True)
        state['ok'] = False
        state['code'] = code
        loop.quit()

    def post(offer_sdp):
        request = urllib.request.Request(args.url, data=offer_sdp.encode(), method='POST', headers={
            'Content-Type': 'application/sdp', 'Authorization': 'Bearer ' + args.bearer})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                if response.status != 201:
                    return fail('POST answered %d' % response.status)
                state['location'] = urllib.parse.urljoin(args.url, response.headers['Location'])
                answer = response.read().decode()
        except urllib.error.HTTPError as error:
            return fail('refused %d %s' % (error.code, error.read().decode().strip()), 2)
        print('whip: answered ' + state['location'], flush=True)
        if os.environ.get('WHIP_SEND_ANSWER'):
            with open(os.environ['WHIP_SEND_ANSWER'], 'w') as f:
                f.write(answer)
        _, sdp = GstSdp.SDPMessage.new_from_text(answer)
        description = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
        webrtc.emit('set-remote-description', description, None)

    def on_offer(promise, _):
        promise.wait()
        reply = promise.get_reply()
        if reply.has_field('error'):
            return GLib.idle_add(lambda: fail('create-offer: %s' % reply.get_value('error')) and False)
        offer = reply.get_value('offer')
        webrtc.emit('set-local-description', offer, None)
        # As OBS: the offer as made, without waiting for candidates.
        text = offer.sdp.as_text()
        if os.environ.get('WHIP_SEND_OFFER'):
            with open(os.environ['WHIP_SEND_OFFER'], 'w') as f:
                f.write(text)
        GLib.idle_add(lambda: post(text) and False)

    def on_negotiation_needed(element):
        promise = Gst.Promise.new_with_change_func(on_offer, None)
        element.emit('create-offer', None, promise)

    webrtc.connect('on-negotiation-needed', on_negotiation_needed)

    # Held until connected (the caps go ahead: the offer needs them), then
    # played from its start in real time.
    blocks = {}
    for name in ('vq', 'aq'):
        pad = pipeline.get_by_name(name).get_static_pad('sink')
        blocks[pad] = pad.add_probe(Gst.PadProbeType.BLOCK | Gst.PadProbeType.BUFFER,
                                    lambda *_: Gst.PadProbeReturn.OK)

    def start_media():
        if not blocks:
            return False
        running = pipeline.get_clock().get_time() - pipeline.get_base_time()
        for name in ('vsync', 'async'):
            pipeline.get_by_name(name).set_property('ts-offset', running)
        for pad, probe in blocks.items():
            pad.remove_probe(probe)
        blocks.clear()
        print('whip: connected, sending', flush=True)
        if args.seconds > 0:
            GLib.timeout_add(int(args.seconds * 1000), loop.quit)
        if args.status_at > 0:
            GLib.timeout_add(int(args.status_at * 1000), read_status)
        return False

    def read_status():
        for label, headers in (('', {'Authorization': 'Bearer ' + args.bearer}), ('no bearer ', {})):
            request = urllib.request.Request(state['location'], headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    print('whip: status %s%d %s' % (label, response.status, response.read().decode().strip()), flush=True)
            except urllib.error.HTTPError as error:
                print('whip: status %s%d %s' % (label, error.code, error.read().decode().strip()), flush=True)
        return False

    def on_connection_state(element, _):
        if element.get_property('connection-state') == GstWebRTC.WebRTCPeerConnectionState.CONNECTED:
            GLib.idle_add(start_media)

    webrtc.connect('notify::connection-state', on_connection_state)
    GLib.timeout_add(15000, lambda: blocks and fail('not connected after 15 s'))

    def on_message(_, message):
        if message.type == Gst.MessageType.EOS:
            loop.quit()
        elif message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            fail('error: %s (%s)' % (error.message, debug))

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect('message', on_message)
    pipeline.set_state(Gst.State.PLAYING)
    loop.run()
    if state['ok'] and state['location'] and not args.no_delete:
        request = urllib.request.Request(state['location'], method='DELETE')
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                print('whip: deleted %d' % response.status, flush=True)
                state['ok'] = response.status == 200
        except urllib.error.HTTPError as error:
            print('whip: deleted %d' % error.code, flush=True)
            state['ok'] = False
    if args.no_delete:
        # As a killed sender: no DELETE, no RTCP BYE either.
        os._exit(0 if state['ok'] else (state['code'] or 1))
    pipeline.set_state(Gst.State.NULL)
    if temp:
        os.unlink(temp)
    sys.exit(0 if state['ok'] else (state['code'] or 1))


if __name__ == '__main__':
    main()
