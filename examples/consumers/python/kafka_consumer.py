#!/usr/bin/env python3
"""Consume vodbridge events from Kafka with confluent-kafka and decode each record with the
CloudEvents SDK's Kafka binding (``cloudevents.core.bindings.kafka``), which reads both of
vodbridge's Kafka modes: binary (the default: attributes in ``ce_*`` headers, ``data`` as the
value) and structured (the whole event as the value).

Prints one line per event::

    media=<id> outcome=<outcome> trace=<trace id> id=<event id>

Example::

    python kafka_consumer.py --bootstrap-servers 127.0.0.1:29092 --count 1 --timeout 30
"""

import argparse
import os
import sys
import time

from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka
from cloudevents.core.formats.json import JSONFormat
from confluent_kafka import Consumer, KafkaException

DEFAULT_TOPIC = "vod.media.uploaded"


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
    p = argparse.ArgumentParser(description="Print vodbridge events from a Kafka topic.")
    # Defaults: the docker-compose stack's host listener and the canonical type as topic.
    p.add_argument("--bootstrap-servers", default=env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:29092"))
    p.add_argument("--topic", default=env("KAFKA_TOPIC", DEFAULT_TOPIC))
    p.add_argument(
        "--group-id",
        default=env("KAFKA_GROUP_ID", "vodbridge-example-python"),
        help="a new group starts at the oldest record, an existing one where it left off",
    )
    p.add_argument("--count", type=int, default=int(env("CONSUMER_COUNT", "0")),
                   help="exit after this many events (0: no limit)")
    p.add_argument("--timeout", type=float, default=float(env("CONSUMER_TIMEOUT", "0")),
                   help="exit after this many seconds (0: no limit); non-zero status if no event came")
    return p.parse_args()


def main():
    args = parse_args()
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap_servers,
        "group.id": args.group_id,
        "auto.offset.reset": "earliest",
    })
    consumer.subscribe([args.topic])
    event_format = JSONFormat()
    deadline = time.monotonic() + args.timeout if args.timeout > 0 else None
    seen = 0
    try:
        while args.count == 0 or seen < args.count:
            wait = 1.0
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    break
            msg = consumer.poll(wait)
            if msg is None:
                continue
            if msg.error():
                raise KafkaException(msg.error())
            # confluent-kafka gives headers as a list of (name, bytes) pairs; the SDK wants a dict.
            headers = {k: v for k, v in (msg.headers() or []) if v is not None}
            record = KafkaMessage(headers=headers, key=msg.key(), value=msg.value() or b"")
            try:
                event = from_kafka(record, event_format)
            except Exception as e:  # a foreign record is reported, not fatal
                print(f"skipping {msg.topic()}/{msg.partition()}@{msg.offset()}: not a CloudEvent: {e}",
                      file=sys.stderr)
                continue
            print(summary(event), flush=True)
            seen += 1
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    if seen == 0:
        print(f"no event on {args.topic} within {args.timeout}s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
