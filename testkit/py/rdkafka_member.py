#!/usr/bin/env python3
"""A librdkafka group member for the interop tests (confluent-kafka from PyPI).

Joins --group on --topic with --strategy (range, roundrobin, cooperative-sticky) and prints
its whole current assignment as one JSON line on stdout every time it changes:

    {"assignment": [["topic", 0], ["topic", 3]], "event": "assign"}

Records are consumed and thrown away (offsets are not committed). It runs until stdin closes,
then closes the consumer (which leaves the group) and prints {"closed": true}.
"""

import argparse
import json
import sys
import threading

from confluent_kafka import Consumer


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--strategy", required=True)
    ap.add_argument("--session-timeout-ms", type=int, default=6000)
    ap.add_argument("--heartbeat-interval-ms", type=int, default=500)
    args = ap.parse_args()

    cooperative = args.strategy == "cooperative-sticky"
    owned = set()
    lock = threading.Lock()

    def emit(event):
        with lock:
            line = {"event": event, "assignment": sorted([t, p] for t, p in owned)}
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()

    # With cooperative-sticky, librdkafka hands the callbacks only the partitions that move,
    # and confluent-kafka calls incremental_assign/incremental_unassign for us after the
    # callback returns; with eager strategies it hands the whole new assignment (assign) or
    # everything (revoke).
    def on_assign(consumer, partitions):
        with lock:
            if not cooperative:
                owned.clear()
            owned.update((tp.topic, tp.partition) for tp in partitions)
        emit("assign")

    def on_revoke(consumer, partitions):
        with lock:
            if cooperative:
                owned.difference_update((tp.topic, tp.partition) for tp in partitions)
            else:
                owned.clear()
        emit("revoke")

    def on_lost(consumer, partitions):
        with lock:
            owned.difference_update((tp.topic, tp.partition) for tp in partitions)
        emit("lost")

    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "partition.assignment.strategy": args.strategy,
            "session.timeout.ms": args.session_timeout_ms,
            "heartbeat.interval.ms": args.heartbeat_interval_ms,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    consumer.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)

    stop = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    while not stop.is_set():
        msg = consumer.poll(0.1)
        if msg is not None and msg.error():
            sys.stderr.write(f"rdkafka_member: {msg.error()}\n")
    consumer.close()
    sys.stdout.write(json.dumps({"closed": True}) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
