#!/usr/bin/env python3
"""A librdkafka transactional producer for the interop tests (confluent-kafka from PyPI).

To partition --partition of --topic, with transactional.id --transactional-id:
  1. a committed transaction of --committed records "committed-0" .. "committed-{N-1}",
  2. an aborted transaction of --aborted records "aborted-0" .. "aborted-{M-1}",
  3. a committed transaction of --more records "committed-N" .. "committed-{N+K-1}".
Prints {"done": true} on stdout when all three are finished.
"""

import argparse
import json
import sys

from confluent_kafka import Producer


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--partition", type=int, default=0)
    ap.add_argument("--transactional-id", required=True)
    ap.add_argument("--committed", type=int, required=True)
    ap.add_argument("--aborted", type=int, required=True)
    ap.add_argument("--more", type=int, required=True)
    args = ap.parse_args()

    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "transactional.id": args.transactional_id,
            "linger.ms": 5,
        }
    )
    producer.init_transactions(30)

    def transaction(values, commit):
        producer.begin_transaction()
        for v in values:
            producer.produce(args.topic, value=v.encode(), key=b"k", partition=args.partition)
        producer.flush(30)
        if commit:
            producer.commit_transaction(30)
        else:
            producer.abort_transaction(30)

    n, m, k = args.committed, args.aborted, args.more
    transaction([f"committed-{i}" for i in range(n)], True)
    transaction([f"aborted-{j}" for j in range(m)], False)
    transaction([f"committed-{i}" for i in range(n, n + k)], True)
    sys.stdout.write(json.dumps({"done": True}) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
