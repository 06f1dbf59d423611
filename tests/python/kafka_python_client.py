#!/usr/bin/python3
"""kafka-python (Debian python3-kafka 2.0.2) driven by the Go interop tests.

The client is used exactly as its README shows; the script only adds JSON
output so the Go test can check what happened. Any client exception ends the
script with a traceback and a non-zero status, which fails the Go test.

  kafka_python_client.py produce BOOTSTRAP TOPIC VALUE... [--acks all] [--retries N]
  kafka_python_client.py consume BOOTSTRAP TOPIC COUNT [--group G] [--commit]
"""
import argparse
import json
import sys

from kafka import KafkaConsumer, KafkaProducer


def produce(args):
    acks = args.acks if args.acks == "all" else int(args.acks)
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, acks=acks, retries=args.retries)
    futures = [producer.send(args.topic, v.encode()) for v in args.values]
    producer.flush()
    sent = []
    for f in futures:
        md = f.get(timeout=30)
        sent.append({"partition": md.partition, "offset": md.offset})
    producer.close()
    return {"sent": sent}


def consume(args):
    consumer = KafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=args.timeout_ms,
    )
    records = []
    for msg in consumer:
        records.append({
            "partition": msg.partition,
            "offset": msg.offset,
            "key": msg.key.decode() if msg.key is not None else None,
            "value": msg.value.decode(),
        })
        if len(records) >= args.count:
            break
    if args.commit:
        consumer.commit()  # synchronous: the position after the last record returned
    consumer.close(autocommit=False)
    return {"records": records}


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("produce")
    pp.add_argument("bootstrap")
    pp.add_argument("topic")
    pp.add_argument("values", nargs="+")
    pp.add_argument("--acks", default="1")  # kafka-python's default
    pp.add_argument("--retries", type=int, default=0)  # kafka-python's default
    pc = sub.add_parser("consume")
    pc.add_argument("bootstrap")
    pc.add_argument("topic")
    pc.add_argument("count", type=int)
    pc.add_argument("--group", default=None)
    pc.add_argument("--commit", action="store_true")
    pc.add_argument("--timeout-ms", type=int, default=20000)
    args = p.parse_args()
    out = produce(args) if args.cmd == "produce" else consume(args)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
