#!/usr/bin/env python3
"""Consume vodbridge events from NATS JetStream with nats-py and decode each message with the
CloudEvents SDK's JSON event format (``cloudevents.core.formats.json``): vodbridge's NATS sinks
publish in structured mode by default, the whole event as JSON in the payload.

An ordered consumer (ephemeral, no acknowledgements, resumed where it stopped if the connection
drops) reads the stream holding the subject from its first message, so events published before
the consumer started are printed too.

Prints one line per event::

    media=<id> outcome=<outcome> trace=<trace id> id=<event id>

Example::

    python nats_consumer.py --server nats://127.0.0.1:4222 --count 1 --timeout 30
"""

import argparse
import asyncio
import os
import sys
import time

import nats
from cloudevents.core.formats.json import JSONFormat
from nats.js.api import DeliverPolicy

DEFAULT_SUBJECT = "vod.media.uploaded"


def trace_id(traceparent):
    """The 32-hex trace id of a W3C traceparent (``<version>-<trace id>-<parent id>-<flags>``)."""
    fields = (traceparent or "").split("-")
    if len(fields) >= 2 and len(fields[1]) == 32:
        return fields[1]
    return None


def summary(event):
    """The line printed for one event; a missing value is ``-`` so every line has four fields."""
    data = event.get_data()
    media = event.get_subject()
    if not media and isinstance(data, dict):
        media = (data.get("media") or {}).get("id")
    outcome = event.get_extension("outcome")
    trace = trace_id(event.get_extension("traceparent"))
    return f"media={media or '-'} outcome={outcome or '-'} trace={trace or '-'} id={event.get_id()}"


def parse_args():
    env = os.environ.get
    p = argparse.ArgumentParser(description="Print vodbridge events from a NATS JetStream subject.")
    p.add_argument("--server", default=env("NATS_URL", "nats://127.0.0.1:4222"))
    p.add_argument("--subject", default=env("NATS_SUBJECT", DEFAULT_SUBJECT))
    p.add_argument("--stream", default=env("NATS_STREAM"),
                   help="JetStream stream holding the subject (default: looked up by subject)")
    p.add_argument("--count", type=int, default=int(env("CONSUMER_COUNT", "0")),
                   help="exit after this many events (0: no limit)")
    p.add_argument("--timeout", type=float, default=float(env("CONSUMER_TIMEOUT", "0")),
                   help="exit after this many seconds (0: no limit); non-zero status if no event came")
    return p.parse_args()


async def consume(args):
    nc = await nats.connect(args.server)
    try:
        js = nc.jetstream()
        stream = args.stream or await js.find_stream_name_by_subject(args.subject)
        sub = await js.subscribe(
            args.subject, stream=stream, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        event_format = JSONFormat()
        deadline = time.monotonic() + args.timeout if args.timeout > 0 else None
        seen = 0
        while args.count == 0 or seen < args.count:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                break
            try:
                msg = await sub.next_msg(timeout=wait)
            except nats.errors.TimeoutError:
                break
            try:
                event = event_format.read(None, msg.data)
            except Exception as e:  # a foreign message is reported, not fatal
                print(f"skipping a message on {msg.subject}: not a CloudEvent: {e}", file=sys.stderr)
                continue
            print(summary(event), flush=True)
            seen += 1
        return seen
    finally:
        await nc.close()


def main():
    args = parse_args()
    try:
        seen = asyncio.run(consume(args))
    except KeyboardInterrupt:
        return 130
    if seen == 0:
        print(f"no event on {args.subject} within {args.timeout}s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
