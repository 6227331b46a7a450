"""The framing module on its own (no server)."""

import pytest

from apikeys_client import framing, pb


def test_preface():
    assert framing.PREFACE == bytes.fromhex("41 50 49 4B 45 59 53 01")
    assert framing.encode_preface(2) == b"APIKEYS\x02"


def test_protocol_example_exchange_bytes():
    """PROTOCOL.md §8, byte for byte."""
    expected = bytes.fromhex(
        "41 50 49 4B 45 59 53 01"
        "00 00 00 1E"
        "0A 1C 08 01 12 18 2F 61 70 69 6B 65 79 73"
        "2E 76 31 2E 48 65 61 6C 74 68 2F 43 68 65"
        "63 6B")
    got = framing.PREFACE + framing.encode_frame(framing.request_frame(1, "/apikeys.v1.Health/Check"))
    assert got == expected


def test_decoder_byte_by_byte_and_in_one_piece():
    frames = [framing.request_frame(i, "/x/y", b"\x00" * i, metadata={"k": "v"}) for i in range(1, 20)]
    frames += [framing.ping_frame(7), framing.cancel_frame(3), framing.goaway_frame(5, 2, "m")]
    data = b"".join(framing.encode_frame(f) for f in frames)
    dec = framing.FrameDecoder()
    out = []
    for b in data:
        out += dec.feed(bytes([b]))
    assert out == frames
    assert dec.buffered == 0
    dec.eof()
    assert framing.FrameDecoder().feed(data) == frames


def test_decoder_rejects_large_length_before_body():
    dec = framing.FrameDecoder(max_frame_size=100)
    assert dec.feed(b"\x00\x00") == []
    with pytest.raises(framing.FrameTooLargeError) as info:
        dec.feed(b"\x00\x65")  # 101, and not one body byte yet
    assert info.value.length == 101
    with pytest.raises(framing.FrameTooLargeError):
        framing.FrameDecoder().feed(b"\xff\xff\xff\xff")


def test_decoder_exact_max_is_allowed():
    dec = framing.FrameDecoder(max_frame_size=10, raw=True)
    assert dec.feed(framing.encode_length(10) + b"x" * 10) == [b"x" * 10]


def test_truncated_stream():
    dec = framing.FrameDecoder()
    dec.feed(framing.encode_frame(framing.ping_frame(1))[:-1])
    with pytest.raises(framing.TruncatedFrameError):
        dec.eof()


def test_frame_without_kind_and_garbage_are_malformed():
    with pytest.raises(framing.MalformedFrameError):
        framing.decode_frame_body(b"")
    with pytest.raises(framing.MalformedFrameError):
        framing.decode_frame_body(b"\xff\xff\xff\xff")


def test_empty_submessages_are_still_set():
    # Frame{ping{}} must encode the (empty) ping, otherwise the peer sees no kind.
    assert framing.encode_frame(framing.ping_frame(0)) == b"\x00\x00\x00\x02\x22\x00"
    assert framing.decode_frame_body(framing.ping_frame(0).SerializeToString()).WhichOneof("kind") == "ping"
    assert framing.request_frame(0, "").SerializeToString() == b"\x0a\x00"
    assert pb.Frame.FromString(b"\x0a\x00").WhichOneof("kind") == "request"
